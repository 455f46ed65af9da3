//! Tencent Cloud API Gateway's key-pair authentication (`Authorization: hmac id="..",
//! algorithm="..", headers="..", signature=".."`, the Kong hmac-auth scheme), server side and
//! client side.
//!
//! The gateway's order: [`parse_authorization`], [`check_date`], look the id up,
//! [`signing_string`] over `auth.headers`, [`verify`].

use std::time::{Duration, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use http::header::{AUTHORIZATION, DATE, InvalidHeaderValue};
use http::{HeaderMap, HeaderValue};
use thiserror::Error;

use crate::CLOCK_WINDOW_MS;

pub const X_DATE: &str = "x-date";
pub const SOURCE: &str = "source";

/// 9999-12-31T23:59:59Z, the last instant an HTTP date can express.
const LAST_HTTP_DATE_MS: i64 = 253_402_300_799_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl Algorithm {
    /// The `algorithm=` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha1 => "hmac-sha1",
            Algorithm::Sha256 => "hmac-sha256",
            Algorithm::Sha384 => "hmac-sha384",
            Algorithm::Sha512 => "hmac-sha512",
        }
    }

    pub fn parse(value: &str) -> Option<Algorithm> {
        [
            Algorithm::Sha1,
            Algorithm::Sha256,
            Algorithm::Sha384,
            Algorithm::Sha512,
        ]
        .into_iter()
        .find(|a| a.as_str().eq_ignore_ascii_case(value))
    }
}

/// The parsed `Authorization: hmac ...` header, borrowed from the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPairAuth<'a> {
    pub id: &'a str,
    pub algorithm: Algorithm,
    /// `headers=`, as written (the signing string lowercases them).
    pub headers: Vec<&'a str>,
    pub signature: &'a str,
}

/// Display is the 401 message the gateway answers (Kong's and Tencent's wording).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum TencentError {
    /// Neither `X-Date` nor `Date` is a valid HTTP date, or `headers=` signs neither of them.
    #[error(
        "HMAC signature cannot be verified, a valid x-date header is required for HMAC Authentication"
    )]
    MissingDate,
    #[error(
        "HMAC signature cannot be verified, the x-date header is out of date for HMAC Authentication"
    )]
    DateOutOfWindow,
    /// No `Authorization: hmac`, or it lacks `id`, `signature` or a non-empty `headers`.
    #[error("HMAC id or signature missing")]
    MissingIdOrSignature,
    #[error("HMAC algorithm not supported")]
    UnsupportedAlgorithm,
    /// For the caller: the id names no key.
    #[error("HMAC signature cannot be verified, unknown id")]
    UnknownId,
    /// For the caller: [`verify`] said no, or [`signing_string`] found a header missing.
    #[error("HMAC signature does not match")]
    SignatureMismatch,
}

/// `key="value"` pairs separated by commas, in any order, spaces optional, values quoted or
/// not. Keys are matched ignoring case; unknown keys are ignored; the first of a repeated key
/// wins.
fn params(s: &str) -> impl Iterator<Item = (&str, &str)> {
    let mut rest = s;
    std::iter::from_fn(move || {
        loop {
            rest = rest.trim_start_matches(|c: char| c == ',' || c.is_ascii_whitespace());
            if rest.is_empty() {
                return None;
            }
            let Some((key, after)) = rest.split_once('=') else {
                rest = "";
                return None;
            };
            let key = key.trim();
            let after = after.trim_start();
            let value;
            if let Some(quoted) = after.strip_prefix('"') {
                let end = quoted.find('"').unwrap_or(quoted.len());
                value = &quoted[..end];
                rest = quoted.get(end + 1..).unwrap_or("");
            } else {
                let end = after.find(',').unwrap_or(after.len());
                value = after[..end].trim();
                rest = &after[end..];
            }
            // A key with a comma in it means garbage before it; skip to the next pair.
            if !key.contains(',') {
                return Some((key, value));
            }
        }
    })
}

/// Finds the `hmac` credentials among the request's `Authorization` headers.
///
/// `headers=` must be non-empty (a signature over nothing would be a constant, replayable
/// token) and must include `x-date` or `date` (otherwise a replay could carry a fresh date):
/// the first is reported as [`TencentError::MissingIdOrSignature`], the second as
/// [`TencentError::MissingDate`].
pub fn parse_authorization(headers: &HeaderMap) -> Result<KeyPairAuth<'_>, TencentError> {
    let value = headers
        .get_all(AUTHORIZATION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::trim_start)
        .find_map(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("hmac").then_some(rest)
        })
        .ok_or(TencentError::MissingIdOrSignature)?;
    let (mut id, mut algorithm, mut names, mut signature) = (None, None, None, None);
    for (k, v) in params(value) {
        let slot = if k.eq_ignore_ascii_case("id") || k.eq_ignore_ascii_case("username") {
            &mut id
        } else if k.eq_ignore_ascii_case("algorithm") {
            &mut algorithm
        } else if k.eq_ignore_ascii_case("headers") {
            &mut names
        } else if k.eq_ignore_ascii_case("signature") {
            &mut signature
        } else {
            continue;
        };
        slot.get_or_insert(v);
    }
    let (Some(id), Some(signature)) = (id, signature) else {
        return Err(TencentError::MissingIdOrSignature);
    };
    if id.is_empty() || signature.is_empty() {
        return Err(TencentError::MissingIdOrSignature);
    }
    let algorithm = algorithm
        .and_then(Algorithm::parse)
        .ok_or(TencentError::UnsupportedAlgorithm)?;
    let names: Vec<&str> = names.unwrap_or("").split_ascii_whitespace().collect();
    if names.is_empty() {
        return Err(TencentError::MissingIdOrSignature);
    }
    if !names
        .iter()
        .any(|n| n.eq_ignore_ascii_case(X_DATE) || n.eq_ignore_ascii_case("date"))
    {
        return Err(TencentError::MissingDate);
    }
    Ok(KeyPairAuth {
        id,
        algorithm,
        headers: names,
        signature,
    })
}

/// `X-Date`, else `Date`, must be an HTTP date within 15 minutes of `now_ms`, both ways.
pub fn check_date(headers: &HeaderMap, now_ms: i64) -> Result<(), TencentError> {
    let value = headers
        .get(X_DATE)
        .or_else(|| headers.get(DATE))
        .and_then(|v| v.to_str().ok())
        .ok_or(TencentError::MissingDate)?;
    let when = httpdate::parse_http_date(value.trim()).map_err(|_| TencentError::MissingDate)?;
    let ms = match when.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(_) => return Err(TencentError::DateOutOfWindow),
    };
    if ms.abs_diff(now_ms) > CLOCK_WINDOW_MS.unsigned_abs() {
        return Err(TencentError::DateOutOfWindow);
    }
    Ok(())
}

/// `lowercasename: value` for each name, joined by `\n`. `None` when a named header is absent:
/// a mismatch for the caller. Kong's pseudo-header `request-line` is not supported (nothing
/// in Tencent's clients signs it) and so counts as absent.
pub fn signing_string(headers: &HeaderMap, names: &[&str]) -> Option<String> {
    let mut out = String::with_capacity(128);
    for (i, name) in names.iter().enumerate() {
        let value = headers.get(*name)?;
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&name.to_ascii_lowercase());
        out.push_str(": ");
        out.push_str(&String::from_utf8_lossy(value.as_bytes()));
    }
    Some(out)
}

fn mac_bytes(secret: &[u8], algorithm: Algorithm, s: &str) -> Vec<u8> {
    // HMAC accepts keys of any length: new_from_slice does not fail.
    fn run<M: Mac + KeyInit>(secret: &[u8], s: &str) -> Vec<u8> {
        <M as KeyInit>::new_from_slice(secret)
            .map(|m| m.chain_update(s).finalize().into_bytes().to_vec())
            .unwrap_or_default()
    }
    match algorithm {
        Algorithm::Sha1 => run::<Hmac<sha1::Sha1>>(secret, s),
        Algorithm::Sha256 => run::<Hmac<sha2::Sha256>>(secret, s),
        Algorithm::Sha384 => run::<Hmac<sha2::Sha384>>(secret, s),
        Algorithm::Sha512 => run::<Hmac<sha2::Sha512>>(secret, s),
    }
}

/// Base64(HMAC(secret, signing_string)).
pub fn sign(secret: &[u8], algorithm: Algorithm, signing_string: &str) -> String {
    BASE64.encode(mac_bytes(secret, algorithm, signing_string))
}

/// Compares in constant time (the MAC's own `verify_slice`).
pub fn verify(secret: &[u8], auth: &KeyPairAuth, signing_string: &str) -> bool {
    fn run<M: Mac + KeyInit>(secret: &[u8], s: &str, given: &[u8]) -> bool {
        <M as KeyInit>::new_from_slice(secret)
            .is_ok_and(|m| m.chain_update(s).verify_slice(given).is_ok())
    }
    let Ok(given) = BASE64.decode(auth.signature) else {
        return false;
    };
    let s = signing_string;
    match auth.algorithm {
        Algorithm::Sha1 => run::<Hmac<sha1::Sha1>>(secret, s, &given),
        Algorithm::Sha256 => run::<Hmac<sha2::Sha256>>(secret, s, &given),
        Algorithm::Sha384 => run::<Hmac<sha2::Sha384>>(secret, s, &given),
        Algorithm::Sha512 => run::<Hmac<sha2::Sha512>>(secret, s, &given),
    }
}

/// Client side, as Tencent's documentation shows it: sets `X-Date` (now), `Source` (if absent,
/// to `pylon`) and `Authorization: hmac id="..", algorithm="..", headers="x-date source",
/// signature=".."`. Fails only when `id` cannot be in a header value.
pub fn sign_request(
    headers: &mut HeaderMap,
    id: &str,
    secret: &str,
    algorithm: Algorithm,
    now_ms: i64,
) -> Result<(), InvalidHeaderValue> {
    // `httpdate` panics on a time past year 9999: a clock that wrong signs the last date an
    // HTTP date can hold (which the server then refuses as out of window) instead.
    let ms = now_ms.clamp(0, LAST_HTTP_DATE_MS);
    let when = UNIX_EPOCH + Duration::from_millis(ms.unsigned_abs());
    let date = httpdate::fmt_http_date(when);
    headers.insert(X_DATE, HeaderValue::from_str(&date)?);
    if !headers.contains_key(SOURCE) {
        headers.insert(SOURCE, HeaderValue::from_static("pylon"));
    }
    let names = [X_DATE, SOURCE];
    let s = signing_string(headers, &names).unwrap_or_default();
    let signature = sign(secret.as_bytes(), algorithm, &s);
    let value = format!(
        r#"hmac id="{id}", algorithm="{}", headers="{}", signature="{signature}""#,
        algorithm.as_str(),
        names.join(" ")
    );
    headers.insert(AUTHORIZATION, HeaderValue::from_str(&value)?);
    Ok(())
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
