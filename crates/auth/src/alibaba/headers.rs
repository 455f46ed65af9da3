//! The header names of Alibaba's APP signature, in a module of their own so that the string to
//! sign, the client signer and the verifier share them without importing each other.

use http::HeaderName;

// Prebuilt names: a lookup by `&str` would parse the name again on every request.
pub const X_CA_KEY: HeaderName = HeaderName::from_static("x-ca-key");
pub const X_CA_SIGNATURE: HeaderName = HeaderName::from_static("x-ca-signature");
pub const X_CA_SIGNATURE_METHOD: HeaderName = HeaderName::from_static("x-ca-signature-method");
pub const X_CA_SIGNATURE_HEADERS: HeaderName = HeaderName::from_static("x-ca-signature-headers");
pub const X_CA_TIMESTAMP: HeaderName = HeaderName::from_static("x-ca-timestamp");
pub const X_CA_NONCE: HeaderName = HeaderName::from_static("x-ca-nonce");
pub const X_CA_STAGE: HeaderName = HeaderName::from_static("x-ca-stage");
pub const CONTENT_MD5: HeaderName = HeaderName::from_static("content-md5");
