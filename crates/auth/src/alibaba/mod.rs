//! Alibaba Cloud API Gateway's APP signature (`X-Ca-Key`, `X-Ca-Signature`, HmacSHA256 or
//! HmacSHA1 over the string to sign of wire-compat.md), server side and client side.
//!
//! The gateway's order: [`credentials`] (what the client sent), [`check_timestamp`], look the
//! AppKey up, [`string_to_sign`], [`verify`]; on a mismatch answer
//! [`invalid_signature_message`] so the client can compare its own string to sign.

mod client;
mod headers;
#[cfg(test)]
mod proptests;
mod string_to_sign;
#[cfg(test)]
mod tests;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderMap, HeaderValue};
use md5::{Digest, Md5};
use thiserror::Error;

pub use client::sign_request;
pub use headers::{
    CONTENT_MD5, X_CA_KEY, X_CA_NONCE, X_CA_SIGNATURE, X_CA_SIGNATURE_HEADERS,
    X_CA_SIGNATURE_METHOD, X_CA_STAGE, X_CA_TIMESTAMP,
};
pub use string_to_sign::{is_form, string_to_sign};

use crate::CLOCK_WINDOW_MS;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignatureMethod {
    #[default]
    HmacSha256,
    HmacSha1,
}

impl SignatureMethod {
    /// The `X-Ca-Signature-Method` value, spelled as Alibaba's clients send it.
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureMethod::HmacSha256 => "HmacSHA256",
            SignatureMethod::HmacSha1 => "HmacSHA1",
        }
    }

    /// Alibaba's clients send `HmacSHA256` / `HmacSHA1`; other spellings of the same names are
    /// accepted because nothing is gained by refusing them.
    pub fn parse(value: &str) -> Option<SignatureMethod> {
        if value.eq_ignore_ascii_case("HmacSHA256") {
            Some(SignatureMethod::HmacSha256)
        } else if value.eq_ignore_ascii_case("HmacSHA1") {
            Some(SignatureMethod::HmacSha1)
        } else {
            None
        }
    }
}

/// What can be decided from the request alone, before the AppSecret is known. Display is the
/// `X-Ca-Error-Message` Alibaba answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum AlibabaError {
    /// `X-Ca-Signature` without `X-Ca-Key`, or an `X-Ca-Key` that is not visible ASCII.
    #[error("Invalid AppKey")]
    MissingKey,
    /// `X-Ca-Key` without (or with an empty) `X-Ca-Signature`.
    #[error("Empty Signature")]
    EmptySignature,
    #[error("Invalid Signature Method")]
    InvalidSignatureMethod,
    #[error("Invalid Timestamp")]
    InvalidTimestamp,
    #[error("Timestamp Expired")]
    TimestampExpired,
    /// `X-Ca-Signature-Headers` lists more than [`MAX_SIGNED_HEADERS`] names.
    #[error("Invalid Signature Headers")]
    TooManySignedHeaders,
}

/// The most names `X-Ca-Signature-Headers` may list. A request carries at most 100 headers;
/// a longer list only makes the string to sign cost more (each name is looked up).
pub const MAX_SIGNED_HEADERS: usize = 100;

/// What the client sent, borrowed from the request headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials<'a> {
    pub key: &'a str,
    pub signature: &'a str,
    pub method: SignatureMethod,
    /// `X-Ca-Signature-Headers`, names as the client wrote them, in its order (trimmed, empty
    /// entries dropped). [`string_to_sign`] filters and sorts them.
    pub signed_headers: Vec<&'a str>,
    pub timestamp: Option<i64>,
    pub nonce: Option<&'a str>,
}

/// The `X-Ca-*` headers [`credentials`] reads, each its first value, found in one pass over
/// the request's headers: cheaper than six hashed lookups of names that are mostly present.
#[derive(Default)]
struct CaHeaders<'a> {
    key: Option<&'a HeaderValue>,
    signature: Option<&'a HeaderValue>,
    method: Option<&'a HeaderValue>,
    list: Option<&'a HeaderValue>,
    timestamp: Option<&'a HeaderValue>,
    nonce: Option<&'a HeaderValue>,
}

impl<'a> CaHeaders<'a> {
    fn find(headers: &'a HeaderMap) -> CaHeaders<'a> {
        let mut found = CaHeaders::default();
        for (name, value) in headers {
            let Some(rest) = name.as_str().strip_prefix("x-ca-") else {
                continue;
            };
            let slot = match rest {
                "key" => &mut found.key,
                "signature" => &mut found.signature,
                "signature-method" => &mut found.method,
                "signature-headers" => &mut found.list,
                "timestamp" => &mut found.timestamp,
                "nonce" => &mut found.nonce,
                _ => continue,
            };
            slot.get_or_insert(value);
        }
        found
    }
}

fn text(value: Option<&HeaderValue>) -> Option<Result<&str, ()>> {
    value.map(|v| v.to_str().map_err(|_| ()))
}

/// `Ok(None)`: neither `X-Ca-Key` nor `X-Ca-Signature` (the caller may try an AppCode).
pub fn credentials(headers: &HeaderMap) -> Result<Option<Credentials<'_>>, AlibabaError> {
    let found = CaHeaders::find(headers);
    let key = text(found.key);
    let signature = text(found.signature);
    let (key, signature) = match (key, signature) {
        (None, None) => return Ok(None),
        (None, Some(_)) | (Some(Err(())), _) => return Err(AlibabaError::MissingKey),
        (Some(Ok("")), _) => return Err(AlibabaError::MissingKey),
        (Some(Ok(_)), None | Some(Err(()))) => return Err(AlibabaError::EmptySignature),
        (Some(Ok(k)), Some(Ok(s))) => (k, s.trim()),
    };
    if signature.is_empty() {
        return Err(AlibabaError::EmptySignature);
    }
    let method = match text(found.method) {
        None => SignatureMethod::HmacSha256,
        Some(Ok(m)) => {
            SignatureMethod::parse(m.trim()).ok_or(AlibabaError::InvalidSignatureMethod)?
        }
        Some(Err(())) => return Err(AlibabaError::InvalidSignatureMethod),
    };
    let timestamp = match text(found.timestamp) {
        None => None,
        Some(Ok(t)) => Some(
            t.trim()
                .parse::<i64>()
                .map_err(|_| AlibabaError::InvalidTimestamp)?,
        ),
        Some(Err(())) => return Err(AlibabaError::InvalidTimestamp),
    };
    let nonce = match text(found.nonce) {
        Some(Ok(n)) if !n.is_empty() => Some(n),
        _ => None,
    };
    let signed_headers: Vec<&str> = match text(found.list) {
        Some(Ok(list)) => list
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .take(MAX_SIGNED_HEADERS + 1)
            .collect(),
        _ => Vec::new(),
    };
    if signed_headers.len() > MAX_SIGNED_HEADERS {
        return Err(AlibabaError::TooManySignedHeaders);
    }
    Ok(Some(Credentials {
        key,
        signature,
        method,
        signed_headers,
        timestamp,
        nonce,
    }))
}

/// `X-Ca-Timestamp` must be within 15 minutes of `now_ms`, both ways; absent is fine (Alibaba
/// makes it optional).
pub fn check_timestamp(ts: Option<i64>, now_ms: i64) -> Result<(), AlibabaError> {
    match ts {
        Some(ts) if ts.abs_diff(now_ms) > CLOCK_WINDOW_MS.unsigned_abs() => {
            Err(AlibabaError::TimestampExpired)
        }
        _ => Ok(()),
    }
}

/// An AppSecret made ready to verify with. HMAC hashes its key into an inner and an outer
/// state before it sees the message; done once here, when the gateway compiles its apps, that
/// is two SHA compressions fewer per request. Debug never shows the secret.
#[derive(Clone)]
pub struct SigningKey {
    sha256: Hmac<sha2::Sha256>,
    sha1: Hmac<sha1::Sha1>,
}

impl SigningKey {
    pub fn new(secret: &[u8]) -> SigningKey {
        SigningKey {
            sha256: keyed(secret),
            sha1: keyed(secret),
        }
    }

    fn mac(&self, method: SignatureMethod, string_to_sign: &str) -> Mac256Or1 {
        match method {
            SignatureMethod::HmacSha256 => {
                Mac256Or1::Sha256(self.sha256.clone().chain_update(string_to_sign))
            }
            SignatureMethod::HmacSha1 => {
                Mac256Or1::Sha1(self.sha1.clone().chain_update(string_to_sign))
            }
        }
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

enum Mac256Or1 {
    Sha256(Hmac<sha2::Sha256>),
    Sha1(Hmac<sha1::Sha1>),
}

/// HMAC takes keys of any length, so `new_from_slice` cannot fail; the fallback to a zero key
/// keeps that promise without an unwrap.
fn keyed<D: hmac::EagerHash>(secret: &[u8]) -> Hmac<D> {
    Hmac::<D>::new_from_slice(secret).unwrap_or_else(|_| Hmac::<D>::new(&Default::default()))
}

/// Base64(HMAC(secret, string_to_sign)): the `X-Ca-Signature` value.
pub fn sign(secret: &[u8], method: SignatureMethod, string_to_sign: &str) -> String {
    // One signature: key only the hash it uses, not both as a `SigningKey` does.
    match method {
        SignatureMethod::HmacSha256 => {
            let mac = keyed::<sha2::Sha256>(secret).chain_update(string_to_sign);
            BASE64.encode(mac.finalize().into_bytes())
        }
        SignatureMethod::HmacSha1 => {
            let mac = keyed::<sha1::Sha1>(secret).chain_update(string_to_sign);
            BASE64.encode(mac.finalize().into_bytes())
        }
    }
}

/// Compares in constant time (through the MAC's own `verify_slice`).
pub fn verify(key: &SigningKey, c: &Credentials, string_to_sign: &str) -> bool {
    // A SHA-256 MAC is 32 bytes; a signature much longer cannot match and needs no decoding.
    // (48: the decoder wants room for its estimate, 33 bytes for a 44-character SHA-256 value.)
    let mut given = [0u8; 48];
    let Ok(len) = BASE64.decode_slice(c.signature, &mut given) else {
        return false;
    };
    match key.mac(c.method, string_to_sign) {
        Mac256Or1::Sha256(m) => m.verify_slice(&given[..len]).is_ok(),
        Mac256Or1::Sha1(m) => m.verify_slice(&given[..len]).is_ok(),
    }
}

/// Base64(MD5(body)): the `Content-MD5` value.
pub fn content_md5(body: &[u8]) -> String {
    BASE64.encode(Md5::digest(body))
}

/// `a\nb` -> ``Invalid Signature, Server StringToSign:`a#b` ``. Other control characters
/// (only possible from percent-decoded parameters) become `?` so the message stays a valid
/// header value.
pub fn invalid_signature_message(string_to_sign: &str) -> String {
    let mut out = String::with_capacity(string_to_sign.len() + 42);
    out.push_str("Invalid Signature, Server StringToSign:`");
    out.extend(string_to_sign.chars().map(|c| match c {
        '\n' => '#',
        c if c.is_ascii_control() => '?',
        c => c,
    }));
    out.push('`');
    out
}
