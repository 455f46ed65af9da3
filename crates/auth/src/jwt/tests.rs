//! Keys under `tests/keys` were made once with `openssl genpkey`; `jwks.json` and the `PY_*`
//! tokens were made from them with Python's `cryptography` and `hmac` (independently of
//! `jsonwebtoken`); the other tokens are signed here with `jsonwebtoken::encode`.

use http::{HeaderMap, HeaderValue};
use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::json;

use super::*;

const RSA_PRIVATE: &str = include_str!("../../tests/keys/rsa_private.pem");
const RSA_PUBLIC: &str = include_str!("../../tests/keys/rsa_public.pem");
const EC_PRIVATE: &str = include_str!("../../tests/keys/ec_private.pem");
const EC_PUBLIC: &str = include_str!("../../tests/keys/ec_public.pem");
const JWKS: &str = include_str!("../../tests/keys/jwks.json");
const HS_SECRET: &str = "jwks-shared-secret-0123456789abcdef";

/// Claims of the PY_* tokens: sub user-1, iss https://issuer.example, aud [api, other],
/// exp 1700000600, nbf 1699999000, role admin.
const NOW: u64 = 1_700_000_000;
const PY_RS256: &str = "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6InJzYS0xIn0.eyJzdWIiOiJ1c2VyLTEiLCJpc3MiOiJodHRwczovL2lzc3Vlci5leGFtcGxlIiwiYXVkIjpbImFwaSIsIm90aGVyIl0sImV4cCI6MTcwMDAwMDYwMCwibmJmIjoxNjk5OTk5MDAwLCJpYXQiOjE2OTk5OTkwMDAsInJvbGUiOiJhZG1pbiJ9.cw7OoABcfDWqbSOXFm4XcT7d1CHHWMwnUQSRlLvyuwtFqnAzrffhfj2Sik15GZvt6s8G_Z-8Gg15-QPn4Z4kMRWmEb0i-QldAH9_7WwY29O5K3jb1je6U_-0cgorqWIC79M36CRecW--DE-xYXtgbofbWMlRBbblt2ZhF1sQWXB4XlTWxAWJFyT0DrPplygmyaU7T-ppM9wqGPnVCm6NARmlkeozwplaaMouxWrVJA7ts8IxxFhpksSOMsK1ajS1m18t6X7RjXlAT7GqyVsAheSkOUn8yCPUCGwQ-V50eUMg2B_ww92fIFkJlOlmdwusoXhUOFjIK3C9znovZjAYmQ";
const PY_ES256: &str = "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImVjLTEifQ.eyJzdWIiOiJ1c2VyLTEiLCJpc3MiOiJodHRwczovL2lzc3Vlci5leGFtcGxlIiwiYXVkIjpbImFwaSIsIm90aGVyIl0sImV4cCI6MTcwMDAwMDYwMCwibmJmIjoxNjk5OTk5MDAwLCJpYXQiOjE2OTk5OTkwMDAsInJvbGUiOiJhZG1pbiJ9.CU6aHdcxn1W1EOA7UPDPz1UL2GeCrWKyJOoLJA8xGnxAsiy4wLqwo6G6Hz8kLo7c-dxKN0Z8ZqS8oeyFKv2w4A";
const PY_HS256: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6Im9jdC0xIn0.eyJzdWIiOiJ1c2VyLTEiLCJpc3MiOiJodHRwczovL2lzc3Vlci5leGFtcGxlIiwiYXVkIjpbImFwaSIsIm90aGVyIl0sImV4cCI6MTcwMDAwMDYwMCwibmJmIjoxNjk5OTk5MDAwLCJpYXQiOjE2OTk5OTkwMDAsInJvbGUiOiJhZG1pbiJ9.0Bhw_TTJTp3hi78803zhuA_52pu3vCj-JxYWX6C5o0Q";

fn config(extra: Value) -> JwtConfig {
    let mut base = json!({
        "algorithms": ["RS256", "ES256", "HS256"],
        "jwks_url": "https://issuer.example/jwks",
        "issuer": "https://issuer.example",
        "audiences": ["api"],
    });
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        b.extend(e);
    }
    serde_json::from_value(base).unwrap()
}

fn jwks_keys() -> KeySet {
    let mut keys = KeySet::default();
    assert_eq!(keys.add_jwks(JWKS.as_bytes()).unwrap(), 3);
    keys
}

fn inline_keys() -> KeySet {
    let c = config(json!({"keys": [
        {"algorithm": "RS256", "pem": RSA_PUBLIC},
        {"algorithm": "ES256", "kid": "ec-1", "pem": EC_PUBLIC},
        {"algorithm": "HS256", "kid": "oct-1", "secret": HS_SECRET},
    ]}));
    KeySet::from_config(&c).unwrap()
}

fn rs256(kid: Option<&str>, claims: Value) -> String {
    let mut h = Header::new(Algorithm::RS256);
    h.kid = kid.map(str::to_string);
    encode(
        &h,
        &claims,
        &EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn es256(kid: Option<&str>, claims: Value) -> String {
    let mut h = Header::new(Algorithm::ES256);
    h.kid = kid.map(str::to_string);
    encode(
        &h,
        &claims,
        &EncodingKey::from_ec_pem(EC_PRIVATE.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn hs256(secret: &str, claims: Value) -> String {
    let h = Header::new(Algorithm::HS256);
    encode(&h, &claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

fn good_claims() -> Value {
    json!({"sub": "user-2", "iss": "https://issuer.example", "aud": "api", "exp": NOW + 60})
}

#[test]
fn python_tokens_verify_against_the_jwks() {
    let v = Verifier::new(&config(json!({})));
    let keys = jwks_keys();
    for token in [PY_RS256, PY_ES256, PY_HS256] {
        let claims = v.verify(&keys, token, NOW).unwrap();
        assert_eq!(claims["role"], "admin");
        assert_eq!(claims["sub"], "user-1");
    }
}

#[test]
fn python_tokens_verify_against_inline_pem_keys() {
    let v = Verifier::new(&config(json!({})));
    let keys = inline_keys();
    assert_eq!(keys.len(), 3);
    // PY_RS256 names kid rsa-1; the inline RSA key has no kid and so matches any RS256 token.
    for token in [PY_RS256, PY_ES256, PY_HS256] {
        v.verify(&keys, token, NOW).unwrap();
    }
}

#[test]
fn tokens_signed_here_verify() {
    let v = Verifier::new(&config(json!({})));
    let keys = inline_keys();
    v.verify(&keys, &rs256(None, good_claims()), NOW).unwrap();
    v.verify(&keys, &es256(Some("ec-1"), good_claims()), NOW)
        .unwrap();
    v.verify(&keys, &hs256(HS_SECRET, good_claims()), NOW)
        .unwrap();
}

#[test]
fn jwks_skips_keys_it_cannot_verify_with() {
    let mut keys = KeySet::default();
    let n = keys
        .add_jwks(br#"{"keys":[{"kty":"EC","crv":"P-384","x":"a","y":"b"},{"kty":"RSA","alg":"RS512","n":"AQAB","e":"AQAB"},{"kty":"oct","alg":"RS256","k":"c2VjcmV0"}]}"#)
        .unwrap();
    assert_eq!(n, 0);
    assert!(keys.is_empty());
    assert!(keys.add_jwks(b"[]").is_err());
    assert!(keys.add_jwks(b"not json").is_err());
    assert_eq!(keys.add_jwks(br#"{"keys":[]}"#), Ok(0));
}

#[test]
fn expiry_with_leeway() {
    let v = Verifier::new(&config(json!({"leeway_seconds": 30})));
    let keys = inline_keys();
    let at = |exp: Value| {
        let mut c = good_claims();
        c["exp"] = exp;
        v.verify(&keys, &rs256(None, c), NOW)
    };
    assert!(at(json!(NOW - 30)).is_ok());
    assert_eq!(at(json!(NOW - 31)), Err(JwtError::Expired));
    assert_eq!(at(json!("tomorrow")), Err(JwtError::Malformed));
    let mut c = good_claims();
    c.as_object_mut().unwrap().remove("exp");
    assert_eq!(
        v.verify(&keys, &rs256(None, c), NOW),
        Err(JwtError::Expired)
    );
    // The Python tokens expire at 1700000600.
    assert_eq!(
        v.verify(&jwks_keys(), PY_ES256, 1_700_000_631),
        Err(JwtError::Expired)
    );
}

#[test]
fn not_before_with_leeway() {
    let v = Verifier::new(&config(json!({"leeway_seconds": 30})));
    let keys = inline_keys();
    let mut c = good_claims();
    c["nbf"] = json!(NOW + 30);
    assert!(v.verify(&keys, &rs256(None, c.clone()), NOW).is_ok());
    c["nbf"] = json!(NOW + 31);
    assert_eq!(
        v.verify(&keys, &rs256(None, c), NOW),
        Err(JwtError::NotYetValid)
    );
}

#[test]
fn issuer_and_audience() {
    let keys = inline_keys();
    let v = Verifier::new(&config(json!({})));
    let mut c = good_claims();
    c["iss"] = json!("https://evil.example");
    assert_eq!(
        v.verify(&keys, &rs256(None, c), NOW),
        Err(JwtError::IssuerMismatch)
    );
    let mut c = good_claims();
    c.as_object_mut().unwrap().remove("iss");
    assert_eq!(
        v.verify(&keys, &rs256(None, c), NOW),
        Err(JwtError::IssuerMismatch)
    );

    let mut c = good_claims();
    c["aud"] = json!(["web", "mobile"]);
    assert_eq!(
        v.verify(&keys, &rs256(None, c.clone()), NOW),
        Err(JwtError::AudienceMismatch)
    );
    c["aud"] = json!(["web", "api"]);
    assert!(v.verify(&keys, &rs256(None, c.clone()), NOW).is_ok());
    c.as_object_mut().unwrap().remove("aud");
    assert_eq!(
        v.verify(&keys, &rs256(None, c.clone()), NOW),
        Err(JwtError::AudienceMismatch)
    );

    // Neither configured: neither checked.
    let v = Verifier::new(&config(json!({"issuer": null, "audiences": []})));
    c["iss"] = json!("anyone");
    assert!(v.verify(&keys, &rs256(None, c), NOW).is_ok());
}

#[test]
fn unknown_kid_is_unknown_key() {
    let v = Verifier::new(&config(json!({})));
    let keys = jwks_keys();
    let t = rs256(Some("rsa-2"), good_claims());
    assert_eq!(v.verify(&keys, &t, NOW), Err(JwtError::UnknownKey));
    assert_eq!(Verifier::kid(&t), Ok(Some("rsa-2".to_string())));
    // No key of the token's algorithm at all.
    assert_eq!(
        v.verify(&KeySet::default(), PY_RS256, NOW),
        Err(JwtError::UnknownKey)
    );
    // A token without kid is tried against every key of its algorithm.
    assert!(v.verify(&keys, &rs256(None, good_claims()), NOW).is_ok());
}

#[test]
fn algorithm_not_allowed() {
    let v = Verifier::new(&config(json!({"algorithms": ["RS256"]})));
    let keys = inline_keys();
    assert_eq!(
        v.verify(&keys, PY_HS256, NOW),
        Err(JwtError::AlgorithmNotAllowed)
    );
    assert_eq!(
        v.verify(&keys, PY_ES256, NOW),
        Err(JwtError::AlgorithmNotAllowed)
    );
    // alg none, and an algorithm Pylon does not support.
    let body = PY_RS256.split('.').nth(1).unwrap();
    for header in [
        r#"{"alg":"none"}"#,
        r#"{"alg":"RS384"}"#,
        r#"{"alg":"XX1"}"#,
    ] {
        let t = format!("{}.{body}.", URL_SAFE_NO_PAD.encode(header));
        assert_eq!(
            v.verify(&keys, &t, NOW),
            Err(JwtError::AlgorithmNotAllowed),
            "{header}"
        );
    }
}

#[test]
fn rsa_public_key_as_hmac_secret_is_refused() {
    // The classic algorithm confusion: HS256 signed with the RSA public key's PEM text.
    let v = Verifier::new(&config(json!({})));
    let c = config(json!({"keys": [{"algorithm": "RS256", "pem": RSA_PUBLIC}]}));
    let keys = KeySet::from_config(&c).unwrap();
    let t = hs256(RSA_PUBLIC, good_claims());
    assert_eq!(v.verify(&keys, &t, NOW), Err(JwtError::UnknownKey));
}

#[test]
fn bad_signature_and_malformed() {
    let v = Verifier::new(&config(json!({})));
    let keys = inline_keys();
    assert_eq!(
        v.verify(&keys, &hs256("another-secret", good_claims()), NOW),
        Err(JwtError::BadSignature)
    );
    // Payload swapped: the signature no longer covers it.
    let other = rs256(None, json!({"sub": "admin", "exp": NOW + 60}));
    let mut parts: Vec<&str> = PY_RS256.split('.').collect();
    parts[1] = other.split('.').nth(1).unwrap();
    assert_eq!(
        v.verify(&keys, &parts.join("."), NOW),
        Err(JwtError::BadSignature)
    );
    for t in ["", "abc", "a.b.c", "a.b", "eyJhbGciOiJSUzI1NiJ9.e30"] {
        assert_eq!(v.verify(&keys, t, NOW), Err(JwtError::Malformed), "{t:?}");
        assert_eq!(Verifier::kid(t), Err(JwtError::Malformed), "{t:?}");
    }
}

#[test]
fn token_from_header_or_query() {
    let v = Verifier::new(&config(json!({"token_query": "access_token"})));
    let mut h = HeaderMap::new();
    assert_eq!(v.token(&h, None), None);
    assert_eq!(
        v.token(&h, Some("access_token=a.b%2Ec&x=1")).as_deref(),
        Some("a.b.c")
    );
    assert_eq!(v.token(&h, Some("token=a.b.c")), None);
    h.insert(AUTHORIZATION, HeaderValue::from_static("bearer  x.y.z "));
    assert_eq!(
        v.token(&h, Some("access_token=a.b.c")).as_deref(),
        Some("x.y.z")
    );
    h.insert(
        AUTHORIZATION,
        HeaderValue::from_static("Basic dXNlcjpwYXNz"),
    );
    assert_eq!(v.token(&h, None), None);
    let no_query = Verifier::new(&config(json!({})));
    assert_eq!(
        no_query.token(&HeaderMap::new(), Some("access_token=a.b.c")),
        None
    );
}

#[test]
fn config_errors_name_the_key() {
    let c = config(json!({"keys": [
        {"algorithm": "HS256", "secret": "s"},
        {"algorithm": "RS256", "pem": "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n"},
    ]}));
    let err = KeySet::from_config(&c).unwrap_err();
    assert!(err.starts_with("jwt.keys[1]"), "{err}");
}

#[test]
fn reasons_are_the_wire_texts() {
    let all = [
        (JwtError::Missing, "token missing"),
        (JwtError::Malformed, "malformed"),
        (JwtError::AlgorithmNotAllowed, "algorithm not allowed"),
        (JwtError::UnknownKey, "unknown key"),
        (JwtError::BadSignature, "bad signature"),
        (JwtError::Expired, "expired"),
        (JwtError::NotYetValid, "not yet valid"),
        (JwtError::IssuerMismatch, "issuer mismatch"),
        (JwtError::AudienceMismatch, "audience mismatch"),
    ];
    for (e, text) in all {
        assert_eq!(e.to_string(), text);
    }
}
