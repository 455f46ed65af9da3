//! Alibaba Cloud API Gateway's APP signature (`X-Ca-Key`, `X-Ca-Signature`, HmacSHA256 or
//! HmacSHA1 over the string to sign of wire-compat.md), server side and client side.
//!
//! The gateway's order: [`credentials`] (what the client sent), [`check_timestamp`], look the
//! AppKey up, [`string_to_sign`], [`verify`]; on a mismatch answer
//! [`invalid_signature_message`] so the client can compare its own string to sign.

mod client;
mod string_to_sign;
#[cfg(test)]
mod tests;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use http::HeaderMap;
use md5::{Digest, Md5};
use thiserror::Error;

pub use client::sign_request;
pub use string_to_sign::{is_form, string_to_sign};

use crate::CLOCK_WINDOW_MS;

pub const X_CA_KEY: &str = "x-ca-key";
pub const X_CA_SIGNATURE: &str = "x-ca-signature";
pub const X_CA_SIGNATURE_METHOD: &str = "x-ca-signature-method";
pub const X_CA_SIGNATURE_HEADERS: &str = "x-ca-signature-headers";
pub const X_CA_TIMESTAMP: &str = "x-ca-timestamp";
pub const X_CA_NONCE: &str = "x-ca-nonce";
pub const X_CA_STAGE: &str = "x-ca-stage";

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
}

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

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<Result<&'a str, ()>> {
    headers.get(name).map(|v| v.to_str().map_err(|_| ()))
}

/// `Ok(None)`: neither `X-Ca-Key` nor `X-Ca-Signature` (the caller may try an AppCode).
pub fn credentials(headers: &HeaderMap) -> Result<Option<Credentials<'_>>, AlibabaError> {
    let key = header_str(headers, X_CA_KEY);
    let signature = header_str(headers, X_CA_SIGNATURE);
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
    let method = match header_str(headers, X_CA_SIGNATURE_METHOD) {
        None => SignatureMethod::HmacSha256,
        Some(Ok(m)) => {
            SignatureMethod::parse(m.trim()).ok_or(AlibabaError::InvalidSignatureMethod)?
        }
        Some(Err(())) => return Err(AlibabaError::InvalidSignatureMethod),
    };
    let timestamp = match header_str(headers, X_CA_TIMESTAMP) {
        None => None,
        Some(Ok(t)) => Some(
            t.trim()
                .parse::<i64>()
                .map_err(|_| AlibabaError::InvalidTimestamp)?,
        ),
        Some(Err(())) => return Err(AlibabaError::InvalidTimestamp),
    };
    let nonce = match header_str(headers, X_CA_NONCE) {
        Some(Ok(n)) if !n.is_empty() => Some(n),
        _ => None,
    };
    let signed_headers = match header_str(headers, X_CA_SIGNATURE_HEADERS) {
        Some(Ok(list)) => list
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .collect(),
        _ => Vec::new(),
    };
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

fn mac_bytes(secret: &[u8], method: SignatureMethod, string_to_sign: &str) -> Vec<u8> {
    // HMAC takes keys of any length, so new_from_slice cannot fail; the empty fallback keeps
    // that promise out of the request path without an unwrap.
    match method {
        SignatureMethod::HmacSha256 => Hmac::<sha2::Sha256>::new_from_slice(secret)
            .map(|m| {
                m.chain_update(string_to_sign)
                    .finalize()
                    .into_bytes()
                    .to_vec()
            })
            .unwrap_or_default(),
        SignatureMethod::HmacSha1 => Hmac::<sha1::Sha1>::new_from_slice(secret)
            .map(|m| {
                m.chain_update(string_to_sign)
                    .finalize()
                    .into_bytes()
                    .to_vec()
            })
            .unwrap_or_default(),
    }
}

/// Base64(HMAC(secret, string_to_sign)): the `X-Ca-Signature` value.
pub fn sign(secret: &[u8], method: SignatureMethod, string_to_sign: &str) -> String {
    BASE64.encode(mac_bytes(secret, method, string_to_sign))
}

/// Compares in constant time (through the MAC's own `verify_slice`).
pub fn verify(secret: &[u8], c: &Credentials, string_to_sign: &str) -> bool {
    let Ok(given) = BASE64.decode(c.signature) else {
        return false;
    };
    match c.method {
        SignatureMethod::HmacSha256 => Hmac::<sha2::Sha256>::new_from_slice(secret)
            .is_ok_and(|m| m.chain_update(string_to_sign).verify_slice(&given).is_ok()),
        SignatureMethod::HmacSha1 => Hmac::<sha1::Sha1>::new_from_slice(secret)
            .is_ok_and(|m| m.chain_update(string_to_sign).verify_slice(&given).is_ok()),
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
