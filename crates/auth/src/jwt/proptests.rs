//! Properties of JWT checking: any token, header or query is handled without a panic; a
//! signed token's claims are judged exactly as the module's rules say, for any claim values;
//! any changed character of a token makes it fail.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, HeaderValue};
use jsonwebtoken::{EncodingKey, Header, encode};
use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::strategies::{config, header_map, messy, other_than, random_case};

const SECRET: &str = "proptest-shared-secret-0123456789";
const NOW: u64 = 1_700_000_000;

fn jwt_config(leeway: u64, issuer: Option<&str>, audiences: &[&str]) -> JwtConfig {
    serde_json::from_value(json!({
        "algorithms": ["HS256", "RS256"],
        "keys": [{"algorithm": "HS256", "secret": SECRET}],
        "issuer": issuer,
        "audiences": audiences,
        "leeway_seconds": leeway,
        "token_query": "access_token",
    }))
    .unwrap()
}

fn keys() -> KeySet {
    KeySet::from_config(&jwt_config(0, None, &[])).unwrap()
}

/// Any JSON value, small: what a hostile claim or header field may hold.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        (NOW as f64 - 1e5..NOW as f64 + 1e5).prop_map(Value::from),
        "\\PC{0,10}".prop_map(Value::from),
        prop::sample::select(vec!["HS256", "RS256", "none", "iss", "api"]).prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z]{1,4}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Claims with the checked names more likely than others.
fn claims() -> impl Strategy<Value = Map<String, Value>> {
    let name = prop_oneof![
        3 => prop::sample::select(vec!["exp", "nbf", "iss", "aud", "sub"]).prop_map(String::from),
        1 => "[a-z]{1,4}",
    ];
    let value = prop_oneof![
        2 => (NOW as f64 - 200.0..NOW as f64 + 200.0).prop_map(|f| Value::from(f.round())),
        1 => prop::sample::select(vec!["iss-1", "iss-2", "api", "other"]).prop_map(Value::from),
        1 => prop::collection::vec(prop::sample::select(vec!["api", "other", "x"]), 0..3).prop_map(Value::from),
        2 => json_value(),
    ];
    prop::collection::vec((name, value), 0..6).prop_map(|m| m.into_iter().collect())
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

/// Tokens that are almost tokens: JSON parts with odd headers and claims, broken Base64,
/// the wrong number of dots, anything.
fn hostile_token() -> impl Strategy<Value = String> {
    let header = (
        json_value(),
        prop::option::of(json_value()),
        prop::option::of(json_value()),
    )
        .prop_map(|(alg, kid, typ)| {
            let mut h = Map::new();
            h.insert("alg".into(), alg);
            if let Some(k) = kid {
                h.insert("kid".into(), k);
            }
            if let Some(t) = typ {
                h.insert("typ".into(), t);
            }
            h
        });
    let part = prop_oneof![
        "[A-Za-z0-9_-]{0,60}",
        "[A-Za-z0-9+/=_-]{0,20}",
        json_value().prop_map(|v| b64(&v)),
        messy(),
    ];
    prop_oneof![
        (header, claims(), part.clone()).prop_map(|(h, c, s)| format!(
            "{}.{}.{s}",
            b64(&Value::Object(h)),
            b64(&Value::Object(c))
        )),
        prop::collection::vec(part, 0..5).prop_map(|p| p.join(".")),
        any::<String>(),
    ]
}

/// The claim rules as the module's docs give them, in their order.
fn judge(
    claims: &Map<String, Value>,
    now: u64,
    leeway: u64,
    issuer: Option<&str>,
    audiences: &[&str],
) -> Result<(), JwtError> {
    let num = |name: &str| match claims.get(name) {
        None => Ok(None),
        Some(v) => v.as_f64().map(Some).ok_or(JwtError::Malformed),
    };
    let (now, leeway) = (now as f64, leeway as f64);
    let exp = num("exp")?.ok_or(JwtError::Expired)?;
    if now > exp + leeway {
        return Err(JwtError::Expired);
    }
    if num("nbf")?.is_some_and(|nbf| nbf > now + leeway) {
        return Err(JwtError::NotYetValid);
    }
    if issuer.is_some() && claims.get("iss").and_then(Value::as_str) != issuer {
        return Err(JwtError::IssuerMismatch);
    }
    if !audiences.is_empty() {
        let one = |v: &Value| v.as_str().is_some_and(|a| audiences.contains(&a));
        let ok = match claims.get("aud") {
            Some(Value::Array(list)) => list.iter().any(one),
            Some(v) => one(v),
            None => false,
        };
        if !ok {
            return Err(JwtError::AudienceMismatch);
        }
    }
    Ok(())
}

fn sign(claims: &Map<String, Value>) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

proptest! {
    #![proptest_config(config())]

    /// Any token: reading its `kid` and verifying it return an answer, and a token not signed
    /// with the key is never accepted.
    #[test]
    fn hostile_tokens_never_panic(token in hostile_token(), now in any::<u64>(), leeway in prop_oneof![Just(0u64), Just(u64::MAX), any::<u64>()]) {
        let _ = Verifier::kid(&token);
        let v = Verifier::new(&jwt_config(leeway, Some("iss-1"), &["api"]));
        prop_assert!(v.verify(&keys(), &token, now).is_err());
    }

    /// A correctly signed token with any claims: accepted or refused exactly as the rules say.
    #[test]
    fn claims_are_judged_by_the_rules(
        claims in claims(),
        now in prop_oneof![NOW - 300..NOW + 300, any::<u64>()],
        leeway in prop_oneof![0u64..120, any::<u64>()],
        issuer in prop::option::of(prop::sample::select(vec!["iss-1", "iss-2"])),
        audiences in prop::collection::vec(prop::sample::select(vec!["api", "other"]), 0..2),
    ) {
        let token = sign(&claims);
        let v = Verifier::new(&jwt_config(leeway, issuer, &audiences));
        // The claims come back as JSON reads them (serde_json may round a float's last digit).
        let read: Map<String, Value> = serde_json::from_slice(&serde_json::to_vec(&claims).unwrap()).unwrap();
        let got = v.verify(&keys(), &token, now).map(|c| { assert_eq!(c, read); });
        let want = judge(&read, now, leeway, issuer, &audiences);
        // `jsonwebtoken` reads `exp`, `nbf` and `sub` while decoding, and some arrays and
        // objects there (RFC 7519 wants numbers and a string) fail the whole token as
        // Malformed first. For those only: never accepted unless the rules accept.
        let structured = |name: &str| matches!(read.get(name), Some(Value::Array(_) | Value::Object(_)));
        if ["exp", "nbf", "sub"].into_iter().any(structured) && got == Err(JwtError::Malformed) {
            return Ok(());
        }
        prop_assert_eq!(got, want);
    }

    /// Any one character of a valid token changed (to a Base64url digit or a dot): refused.
    #[test]
    fn tampered_token_is_refused(
        at in any::<usize>(),
        pick in any::<usize>(),
        sub in "\\PC{0,20}",
    ) {
        let claims: Map<String, Value> = json!({"exp": NOW + 600, "sub": sub}).as_object().unwrap().clone();
        let token = sign(&claims);
        let v = Verifier::new(&jwt_config(0, None, &[]));
        prop_assert!(v.verify(&keys(), &token, NOW).is_ok());
        let mut bytes = token.into_bytes();
        let i = at % bytes.len();
        bytes[i] = other_than(bytes[i], b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.", pick);
        let tampered = String::from_utf8(bytes).unwrap();
        prop_assert!(v.verify(&keys(), &tampered, NOW).is_err(), "{tampered}");
    }

    /// Finding the token in any headers and query does not panic; `Bearer` in any case and
    /// spacing, or the configured query parameter, gives the token back.
    #[test]
    fn token_extraction(
        headers in header_map(),
        query in prop::option::of(messy()),
        token in "[A-Za-z0-9_.-]{1,60}",
        bits in any::<u64>(),
        gap in "[ ]{1,3}",
        in_query in any::<bool>(),
    ) {
        let v = Verifier::new(&jwt_config(0, None, &[]));
        let _ = v.token(&headers, query.as_deref());
        let mut h = HeaderMap::new();
        let q;
        if in_query {
            q = format!("a=1&access_token={token}&b");
        } else {
            q = String::new();
            let value = format!("{}{gap}{token} ", random_case("bearer", bits));
            h.insert(AUTHORIZATION, HeaderValue::from_str(&value).unwrap());
        }
        let got = v.token(&h, Some(&q));
        prop_assert_eq!(got.as_deref(), Some(token.as_str()));
    }
}
