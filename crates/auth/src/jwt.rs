//! Bearer JWTs (RS256, ES256, HS256): keys compiled once at publish ([`KeySet`]), tokens checked
//! per request ([`Verifier`]) against the caller's clock.
//!
//! `jsonwebtoken` checks the signature and the algorithm only; the claims (`exp`, `nbf`, `iss`,
//! `aud`) are checked here, against the `now_s` the caller passes, so each failure gets its own
//! [`JwtError`] and tests need no real clock.

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, header::AUTHORIZATION};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use percent_encoding::percent_decode_str;
use pylon_model::{JwtAlgorithm, JwtConfig};
use serde_json::{Map, Value};
use thiserror::Error;

/// Why a token was refused. Display is the reason the gateway puts after `Invalid JWT: `.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum JwtError {
    #[error("token missing")]
    Missing,
    /// Not three base64url JSON parts, or a claim of the wrong type (`exp` not a number).
    #[error("malformed")]
    Malformed,
    /// The header's `alg` is not among the API's algorithms (or not one Pylon knows).
    #[error("algorithm not allowed")]
    AlgorithmNotAllowed,
    /// No key of the token's algorithm with its `kid` (nor one without a kid).
    #[error("unknown key")]
    UnknownKey,
    #[error("bad signature")]
    BadSignature,
    /// `exp` in the past (beyond the leeway), or no `exp` at all: a token without one would
    /// never stop working.
    #[error("expired")]
    Expired,
    #[error("not yet valid")]
    NotYetValid,
    #[error("issuer mismatch")]
    IssuerMismatch,
    #[error("audience mismatch")]
    AudienceMismatch,
}

struct Entry {
    kid: Option<String>,
    algorithm: JwtAlgorithm,
    key: DecodingKey,
}

/// Verification keys: the API's inline keys and those of its JWK Set.
#[derive(Default)]
pub struct KeySet {
    keys: Vec<Entry>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.keys.iter().map(|k| (k.algorithm, k.kid.as_deref())))
            .finish()
    }
}

fn to_jwt_algorithm(alg: Algorithm) -> Option<JwtAlgorithm> {
    match alg {
        Algorithm::RS256 => Some(JwtAlgorithm::RS256),
        Algorithm::ES256 => Some(JwtAlgorithm::ES256),
        Algorithm::HS256 => Some(JwtAlgorithm::HS256),
        _ => None,
    }
}

fn to_algorithm(alg: JwtAlgorithm) -> Algorithm {
    match alg {
        JwtAlgorithm::RS256 => Algorithm::RS256,
        JwtAlgorithm::ES256 => Algorithm::ES256,
        JwtAlgorithm::HS256 => Algorithm::HS256,
    }
}

/// The algorithm a JWK serves: its `alg`, else what its key type implies. `None` for keys
/// Pylon does not verify with (encryption keys, other curves and algorithms).
fn jwk_algorithm(jwk: &Jwk) -> Option<JwtAlgorithm> {
    if matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature) {
        return None;
    }
    let implied = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => JwtAlgorithm::RS256,
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => {
            JwtAlgorithm::ES256
        }
        AlgorithmParameters::OctetKey(_) => JwtAlgorithm::HS256,
        _ => return None,
    };
    let stated = match jwk.common.key_algorithm {
        None => return Some(implied),
        Some(KeyAlgorithm::RS256) => JwtAlgorithm::RS256,
        Some(KeyAlgorithm::ES256) => JwtAlgorithm::ES256,
        Some(KeyAlgorithm::HS256) => JwtAlgorithm::HS256,
        Some(_) => return None,
    };
    (stated == implied).then_some(stated)
}

impl KeySet {
    /// The API's inline keys (`jwt.keys`); the error names the key that does not parse.
    pub fn from_config(config: &JwtConfig) -> Result<KeySet, String> {
        let mut set = KeySet::default();
        for (i, k) in config.keys.iter().enumerate() {
            let key = match (k.algorithm, &k.pem, &k.secret) {
                (JwtAlgorithm::HS256, _, Some(secret)) => {
                    Ok(DecodingKey::from_secret(secret.as_bytes()))
                }
                (JwtAlgorithm::RS256, Some(pem), _) => DecodingKey::from_rsa_pem(pem.as_bytes()),
                (JwtAlgorithm::ES256, Some(pem), _) => DecodingKey::from_ec_pem(pem.as_bytes()),
                _ => {
                    return Err(format!(
                        "jwt.keys[{i}]: an HS256 key needs `secret`, RS256 and ES256 keys `pem`"
                    ));
                }
            }
            .map_err(|e| format!("jwt.keys[{i}]: not a {:?} public key: {e}", k.algorithm))?;
            set.keys.push(Entry {
                kid: k.kid.clone(),
                algorithm: k.algorithm,
                key,
            });
        }
        Ok(set)
    }

    /// Adds the keys of a JWK Set document that Pylon can verify with (RSA, EC P-256 and oct
    /// signature keys), skipping the others; returns how many were added. Fails only when the
    /// document is not a JWK Set.
    pub fn add_jwks(&mut self, jwks_json: &[u8]) -> Result<usize, String> {
        let not_a_set = |why: String| format!("not a JWK Set (`{{\"keys\": [...]}}`): {why}");
        let mut doc: Value =
            serde_json::from_slice(jwks_json).map_err(|e| not_a_set(e.to_string()))?;
        let Some(Value::Array(list)) = doc.get_mut("keys").map(Value::take) else {
            return Err(not_a_set("no `keys` array".into()));
        };
        let before = self.keys.len();
        for value in list {
            let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
                continue;
            };
            let Some(algorithm) = jwk_algorithm(&jwk) else {
                continue;
            };
            if let Ok(key) = DecodingKey::from_jwk(&jwk) {
                self.keys.push(Entry {
                    kid: jwk.common.key_id.clone(),
                    algorithm,
                    key,
                });
            }
        }
        Ok(self.keys.len() - before)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// An API's JWT settings, compiled at publish.
#[derive(Debug, Clone)]
pub struct Verifier {
    algorithms: Vec<JwtAlgorithm>,
    issuer: Option<String>,
    audiences: Vec<String>,
    leeway_s: u64,
    token_query: Option<String>,
}

fn number(claims: &Map<String, Value>, name: &str) -> Result<Option<f64>, JwtError> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => v.as_f64().map(Some).ok_or(JwtError::Malformed),
    }
}

impl Verifier {
    pub fn new(config: &JwtConfig) -> Verifier {
        Verifier {
            algorithms: config.algorithms.clone(),
            issuer: config.issuer.clone(),
            audiences: config.audiences.clone(),
            leeway_s: config.leeway_seconds,
            token_query: config.token_query.clone(),
        }
    }

    /// The token from `Authorization: Bearer <token>` (scheme in any case), else from the
    /// configured query parameter (URL-decoded). `None` when neither is there.
    pub fn token<'a>(
        &self,
        headers: &'a HeaderMap,
        query: Option<&'a str>,
    ) -> Option<Cow<'a, str>> {
        for v in headers.get_all(AUTHORIZATION) {
            let Ok(v) = v.to_str() else { continue };
            if let Some((scheme, token)) = v.trim_start().split_once(' ')
                && scheme.eq_ignore_ascii_case("bearer")
                && !token.trim().is_empty()
            {
                return Some(Cow::Borrowed(token.trim()));
            }
        }
        let name = self.token_query.as_deref()?;
        query?
            .split('&')
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| percent_decode_str(v).decode_utf8_lossy())
            .filter(|v| !v.is_empty())
    }

    /// The header's `kid`, without verifying anything: to decide whether a JWK Set refresh
    /// could help before answering [`JwtError::UnknownKey`].
    pub fn kid(token: &str) -> Result<Option<String>, JwtError> {
        jsonwebtoken::decode_header(token)
            .map(|h| h.kid)
            .map_err(|_| header_error(token))
    }

    /// Checks the signature with the keys of the token's algorithm and `kid`, then `exp`
    /// (required), `nbf` (if present), `iss` and `aud` (if configured). Returns the claims.
    pub fn verify(
        &self,
        keys: &KeySet,
        token: &str,
        now_s: u64,
    ) -> Result<Map<String, Value>, JwtError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| header_error(token))?;
        let algorithm = to_jwt_algorithm(header.alg)
            .filter(|a| self.algorithms.contains(a))
            .ok_or(JwtError::AlgorithmNotAllowed)?;
        let kid = header.kid.as_deref();
        let mut candidates: Vec<&Entry> = keys
            .keys
            .iter()
            .filter(|k| k.algorithm == algorithm)
            .filter(|k| match (kid, k.kid.as_deref()) {
                (Some(want), Some(have)) => want == have,
                _ => true,
            })
            .collect();
        if candidates.is_empty() {
            return Err(JwtError::UnknownKey);
        }
        // A key named by the token is tried before the kid-less ones.
        candidates.sort_by_key(|k| k.kid.is_none());

        let mut validation = Validation::new(to_algorithm(algorithm));
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.leeway = 0;

        let mut claims = None;
        for k in candidates {
            match jsonwebtoken::decode::<Map<String, Value>>(token, &k.key, &validation) {
                Ok(data) => {
                    claims = Some(data.claims);
                    break;
                }
                Err(e) => match e.kind() {
                    ErrorKind::InvalidSignature
                    | ErrorKind::InvalidEcdsaKey
                    | ErrorKind::InvalidRsaKey(_)
                    | ErrorKind::InvalidKeyFormat => continue,
                    ErrorKind::InvalidAlgorithm => return Err(JwtError::AlgorithmNotAllowed),
                    _ => return Err(JwtError::Malformed),
                },
            }
        }
        let claims = claims.ok_or(JwtError::BadSignature)?;
        self.check_claims(&claims, now_s)?;
        Ok(claims)
    }

    fn check_claims(&self, claims: &Map<String, Value>, now_s: u64) -> Result<(), JwtError> {
        // f64 holds every plausible epoch second exactly; claims may legally be fractional.
        let now = now_s as f64;
        let leeway = self.leeway_s as f64;
        let exp = number(claims, "exp")?.ok_or(JwtError::Expired)?;
        if now > exp + leeway {
            return Err(JwtError::Expired);
        }
        if let Some(nbf) = number(claims, "nbf")?
            && nbf > now + leeway
        {
            return Err(JwtError::NotYetValid);
        }
        if let Some(issuer) = &self.issuer
            && claims.get("iss").and_then(Value::as_str) != Some(issuer.as_str())
        {
            return Err(JwtError::IssuerMismatch);
        }
        if !self.audiences.is_empty() {
            let matches = |v: &Value| {
                v.as_str()
                    .is_some_and(|a| self.audiences.iter().any(|x| x == a))
            };
            let ok = match claims.get("aud") {
                Some(Value::Array(list)) => list.iter().any(matches),
                Some(v) => matches(v),
                None => false,
            };
            if !ok {
                return Err(JwtError::AudienceMismatch);
            }
        }
        Ok(())
    }
}

/// A header `jsonwebtoken` cannot read: when it is JSON naming an `alg` (e.g. `none`, `PS256`),
/// the algorithm is what is wrong, not the token's shape.
fn header_error(token: &str) -> JwtError {
    let names_alg = token
        .split('.')
        .next()
        .and_then(|h| URL_SAFE_NO_PAD.decode(h).ok())
        .and_then(|b| serde_json::from_slice::<Map<String, Value>>(&b).ok())
        .is_some_and(|h| h.get("alg").is_some_and(Value::is_string));
    if names_alg && token.split('.').count() == 3 {
        JwtError::AlgorithmNotAllowed
    } else {
        JwtError::Malformed
    }
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
