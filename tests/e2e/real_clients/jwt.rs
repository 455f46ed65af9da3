//! `jwt` APIs with RS256 tokens minted here (jsonwebtoken) from the test keys in
//! tests/e2e/clients/keys: an inline key, and a JWK Set served on loopback (cached, refreshed
//! on an unknown `kid`).

use std::time::Duration;

use http::Method;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::{CLIENTS_SRC, Setup, assert_no_credentials, now_ms};
use crate::harness::{JsonServer, Reply, send};

const ISSUER: &str = "https://issuer.pylon.test";
const AUDIENCE: &str = "pylon-e2e";

fn key_file(name: &str) -> String {
    std::fs::read_to_string(format!("{CLIENTS_SRC}/keys/{name}")).unwrap()
}

/// An RS256 token signed with `keys/rs256-<signer>.pem`, naming `kid`.
fn token(signer: &str, kid: &str, claims: Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_string());
    let key =
        EncodingKey::from_rsa_pem(key_file(&format!("rs256-{signer}.pem")).as_bytes()).unwrap();
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

/// Claims valid for an hour unless `exp_in_secs` says otherwise.
fn claims(exp_in_secs: i64, audience: &str) -> Value {
    let now = now_ms() / 1000;
    json!({"iss": ISSUER, "aud": audience, "sub": "user-42", "iat": now, "nbf": now - 5, "exp": now + exp_in_secs})
}

fn jwt_auth(jwt: Value) -> Value {
    let mut config = json!({
        "algorithms": ["RS256"],
        "issuer": ISSUER,
        "audiences": [AUDIENCE],
        "claims_to_headers": [{"claim": "sub", "header": "X-User"}],
    });
    for (k, v) in jwt.as_object().unwrap() {
        config[k] = v.clone();
    }
    json!({"type": "jwt", "jwt": config})
}

async fn call_with(s: &Setup, token: &str) -> Reply {
    send(
        Method::GET,
        &s.url("/orders"),
        &[("authorization".into(), format!("Bearer {token}"))],
        Default::default(),
    )
    .await
}

/// 401 with `Invalid JWT: <reason>` and the reason's code, as the contract lists them.
fn assert_jwt_error(r: &Reply, reason: &str, code: &str) {
    assert_eq!(
        (r.status.as_u16(), r.header("x-ca-error-code")),
        (401, code),
        "{:?}: {}",
        r.header("x-ca-error-message"),
        r.text()
    );
    let message = r.header("x-ca-error-message");
    assert_eq!(message, format!("Invalid JWT: {reason}"));
    let body = r.json();
    assert_eq!(body["code"], code);
    assert_eq!(body["message"], message);
    assert_eq!(body["request_id"], r.header("x-ca-request-id"));
}

fn assert_passed(r: &Reply) {
    assert_eq!(
        r.status,
        200,
        "{:?}: {}",
        r.header("x-ca-error-message"),
        r.text()
    );
    let echo = r.json();
    assert_eq!(echo["path"], "/backend/orders");
    assert_eq!(echo["headers"]["x-user"], "user-42", "{echo}");
    assert_no_credentials(&echo);
}

#[tokio::test]
async fn jwt_inline_key_good_expired_audience_unknown_key() {
    let s = Setup::start().await;
    let auth = jwt_auth(
        json!({"keys": [{"kid": "a", "algorithm": "RS256", "pem": key_file("rs256-a.pub.pem")}]}),
    );
    s.api("orders", "GET", "/orders", auth, &["RELEASE"]).await;

    assert_passed(&call_with(&s, &token("a", "a", claims(3600, AUDIENCE))).await);
    // Expired an hour ago: far beyond the 30 s leeway.
    assert_jwt_error(
        &call_with(&s, &token("a", "a", claims(-3600, AUDIENCE))).await,
        "expired",
        "A401JE",
    );
    assert_jwt_error(
        &call_with(&s, &token("a", "a", claims(3600, "someone-else"))).await,
        "audience mismatch",
        "A401JU",
    );
    assert_jwt_error(
        &call_with(&s, &token("c", "zzz", claims(3600, AUDIENCE))).await,
        "unknown key",
        "A401JK",
    );
    // The right kid, the wrong private key.
    assert_jwt_error(
        &call_with(&s, &token("c", "a", claims(3600, AUDIENCE))).await,
        "bad signature",
        "A401JS",
    );
    // No token at all.
    let r = send(Method::GET, &s.url("/orders"), &[], Default::default()).await;
    assert_jwt_error(&r, "token missing", "A401JM");
}

#[tokio::test]
async fn jwt_jwks_url_cached_and_refreshed_on_unknown_kid() {
    let jwks = JsonServer::start(&key_file("jwks-b.json")).await;
    let s = Setup::start().await;
    let auth = jwt_auth(json!({"jwks_url": jwks.url("/.well-known/jwks.json")}));
    s.api("orders", "GET", "/orders", auth, &["RELEASE"]).await;

    for _ in 0..3 {
        assert_passed(&call_with(&s, &token("b", "b", claims(3600, AUDIENCE))).await);
    }
    assert_eq!(
        jwks.hits(),
        1,
        "the JWK Set is fetched once, not per request"
    );

    // `c` is not in the set: refused, and the set is not fetched again and again.
    for _ in 0..3 {
        assert_jwt_error(
            &call_with(&s, &token("c", "c", claims(3600, AUDIENCE))).await,
            "unknown key",
            "A401JK",
        );
    }
    assert!(jwks.hits() <= 2, "{} fetches", jwks.hits());

    // The issuer publishes `c`; after the 10 s refresh interval an unknown kid refetches.
    jwks.set(&key_file("jwks-bc.json"));
    tokio::time::sleep(Duration::from_millis(10_500)).await;
    assert_passed(&call_with(&s, &token("c", "c", claims(3600, AUDIENCE))).await);
    assert_passed(&call_with(&s, &token("b", "b", claims(3600, AUDIENCE))).await);
    assert!(jwks.hits() <= 3, "{} fetches", jwks.hits());
}
