//! `key-pair` (Tencent HMAC) and `jwt` authentication over the wire, including a JWK Set served
//! by a real loopback server and fetched again when a token names a new key.

mod common;

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use common::*;
use http::{HeaderMap, HeaderValue, Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use pylon_auth::tencent;
use serde_json::{Value, json};

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn call(gw: &RunningGateway, path: &str, headers: HeaderMap) -> Answer {
    let mut request = Request::get(gw.url(path))
        .body(Full::new(Bytes::new()))
        .unwrap();
    *request.headers_mut() = headers;
    request
        .headers_mut()
        .insert("host", HeaderValue::from_static(HOST));
    send(&client(), request).await
}

async fn key_pair_gateway() -> RunningGateway {
    let echo = echo_backend("echo").await;
    let snapshot = SnapshotBuilder::new()
        .api("RELEASE", json!({
            "name": "kp", "request": {"method": "GET", "path": "/kp"},
            "backend": {"service": {"inline": {"type": "http", "url": format!("http://{echo}")}}, "path": "/kp"},
            "system_parameters": [{"kind": "app_id", "name": "X-App-Id"}],
            "auth": {"type": "key-pair"}
        }))
        .app("alpha", "AKIDalpha", "secret-alpha", "code")
        .grant("alpha", "api1", "RELEASE", None)
        .build();
    RunningGateway::start(&snapshot).await
}

#[tokio::test]
async fn a_key_pair_signature_is_verified_for_each_algorithm() {
    let gw = key_pair_gateway().await;
    for algorithm in [
        tencent::Algorithm::Sha1,
        tencent::Algorithm::Sha256,
        tencent::Algorithm::Sha384,
        tencent::Algorithm::Sha512,
    ] {
        let mut headers = HeaderMap::new();
        tencent::sign_request(
            &mut headers,
            "AKIDalpha",
            "secret-alpha",
            algorithm,
            now_ms(),
        )
        .unwrap();
        let answer = call(&gw, "/kp", headers).await;
        assert_eq!(answer.status, 200, "{:?}", answer.headers);
        let seen = answer.json();
        assert_eq!(seen["headers"]["x-app-id"], "alpha");
        assert!(seen["headers"].get("authorization").is_none());
    }
}

#[tokio::test]
async fn key_pair_failures_are_401_with_their_own_messages() {
    let gw = key_pair_gateway().await;
    let signed = |secret: &str, at: i64| {
        let mut h = HeaderMap::new();
        tencent::sign_request(&mut h, "AKIDalpha", secret, tencent::Algorithm::Sha256, at).unwrap();
        h
    };
    let answer = call(&gw, "/kp", signed("wrong", now_ms())).await;
    assert_gateway_error(&answer, 401, "HMAC signature does not match");
    let answer = call(
        &gw,
        "/kp",
        signed("secret-alpha", now_ms() - 20 * 60 * 1000),
    )
    .await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.header("x-ca-error-code"), "A401XE");
    let mut no_date = signed("secret-alpha", now_ms());
    no_date.remove("x-date");
    assert_gateway_error(
        &call(&gw, "/kp", no_date).await,
        401,
        "HMAC signature cannot be verified, a valid x-date header is required for HMAC Authentication",
    );
    let mut unknown = HeaderMap::new();
    tencent::sign_request(
        &mut unknown,
        "AKIDnobody",
        "x",
        tencent::Algorithm::Sha1,
        now_ms(),
    )
    .unwrap();
    assert_eq!(
        call(&gw, "/kp", unknown).await.header("x-ca-error-code"),
        "A401HK"
    );
    let mut no_auth = HeaderMap::new();
    no_auth.insert(
        "x-date",
        HeaderValue::from_str(&httpdate::fmt_http_date(std::time::SystemTime::now())).unwrap(),
    );
    assert_gateway_error(
        &call(&gw, "/kp", no_auth).await,
        401,
        "HMAC id or signature missing",
    );
}

const HS_SECRET: &str = "jwt-shared-secret-0123456789";

fn token(kid: Option<&str>, secret: &str, claims: Value) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = kid.map(str::to_string);
    encode(
        &header,
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn claims(aud: &str, exp_offset_s: i64) -> Value {
    let now = now_ms() / 1000;
    json!({"sub": "user-42", "iss": "https://idp.test", "aud": aud, "exp": now + exp_offset_s,
        "roles": ["a", "b"]})
}

/// A JWK Set server whose keys can change during the test; it counts its fetches.
async fn jwks_server(keys: Arc<Mutex<Value>>, fetches: Arc<Mutex<u32>>) -> std::net::SocketAddr {
    backend(move |_req: Request<Incoming>| {
        let keys = keys.clone();
        let fetches = fetches.clone();
        async move {
            *fetches.lock().unwrap() += 1;
            let body = keys.lock().unwrap().to_string();
            Response::new(Full::new(Bytes::from(body)))
        }
    })
    .await
}

fn oct_jwk(kid: &str, secret: &str) -> Value {
    use base64::Engine;
    json!({"kty": "oct", "kid": kid, "alg": "HS256",
        "k": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)})
}

#[tokio::test]
async fn jwt_tokens_are_checked_and_claims_forwarded() {
    let echo = echo_backend("echo").await;
    let keys = Arc::new(Mutex::new(
        json!({"keys": [oct_jwk("k1", "jwks-secret-one-0123456789")]}),
    ));
    let fetches = Arc::new(Mutex::new(0));
    let jwks = jwks_server(keys.clone(), fetches.clone()).await;
    let snapshot = SnapshotBuilder::new()
        .api("RELEASE", json!({
            "name": "jwt", "request": {"method": "GET", "path": "/jwt"},
            "backend": {"service": {"inline": {"type": "http", "url": format!("http://{echo}")}}, "path": "/jwt"},
            "auth": {"type": "jwt", "jwt": {
                "algorithms": ["HS256"],
                "keys": [{"kid": "inline", "algorithm": "HS256", "secret": HS_SECRET}],
                "jwks_url": format!("http://{jwks}/jwks.json"),
                "issuer": "https://idp.test", "audiences": ["orders"],
                "token_query": "access_token",
                "claims_to_headers": [{"claim": "sub", "header": "X-User"}, {"claim": "roles", "header": "X-Roles"}]
            }}
        }))
        .build();
    let gw = RunningGateway::start(&snapshot).await;
    let bearer = |t: &str| {
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {t}")).unwrap(),
        );
        h
    };

    let good = token(Some("inline"), HS_SECRET, claims("orders", 300));
    let answer = call(&gw, "/jwt", bearer(&good)).await;
    assert_eq!(answer.status, 200, "{:?}", answer.headers);
    let seen = answer.json();
    assert_eq!(seen["headers"]["x-user"], "user-42");
    assert_eq!(seen["headers"]["x-roles"], r#"["a","b"]"#);
    assert!(seen["headers"].get("authorization").is_none());

    let answer = call(
        &gw,
        &format!("/jwt?access_token={good}&x=1"),
        HeaderMap::new(),
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["uri"], "/jwt?x=1");

    let cases = [
        (
            token(Some("inline"), HS_SECRET, claims("orders", -120)),
            "Invalid JWT: expired",
            "A401JE",
        ),
        (
            token(Some("inline"), HS_SECRET, claims("billing", 300)),
            "Invalid JWT: audience mismatch",
            "A401JU",
        ),
        (
            token(
                Some("inline"),
                "another-secret-0123456789",
                claims("orders", 300),
            ),
            "Invalid JWT: bad signature",
            "A401JS",
        ),
        (
            token(Some("nobody"), HS_SECRET, claims("orders", 300)),
            "Invalid JWT: unknown key",
            "A401JK",
        ),
        ("not.a.jwt".to_string(), "Invalid JWT: malformed", "A401JF"),
    ];
    for (t, message, code) in cases {
        let answer = call(&gw, "/jwt", bearer(&t)).await;
        assert_gateway_error(&answer, 401, message);
        assert_eq!(answer.header("x-ca-error-code"), code);
    }
    assert_gateway_error(
        &call(&gw, "/jwt", HeaderMap::new()).await,
        401,
        "Invalid JWT: token missing",
    );

    // A key from the JWK Set; then a key added to the set later is found by one refresh.
    let from_jwks = token(
        Some("k1"),
        "jwks-secret-one-0123456789",
        claims("orders", 300),
    );
    assert_eq!(call(&gw, "/jwt", bearer(&from_jwks)).await.status, 200);
    let before = *fetches.lock().unwrap();
    assert!(before >= 1);
    assert_eq!(call(&gw, "/jwt", bearer(&from_jwks)).await.status, 200);
    assert_eq!(
        *fetches.lock().unwrap(),
        before,
        "known keys are not fetched again"
    );
    tokio::time::sleep(pylon_gateway_refresh_interval()).await;
    keys.lock().unwrap()["keys"]
        .as_array_mut()
        .unwrap()
        .push(oct_jwk("k2", "jwks-secret-two-0123456789"));
    let rotated = token(
        Some("k2"),
        "jwks-secret-two-0123456789",
        claims("orders", 300),
    );
    assert_eq!(call(&gw, "/jwt", bearer(&rotated)).await.status, 200);
    // Unknown kids do not make every request fetch: within the interval, no new fetch.
    let after = *fetches.lock().unwrap();
    for _ in 0..5 {
        let unknown = token(Some("k9"), "x-secret-0123456789", claims("orders", 300));
        assert_eq!(call(&gw, "/jwt", bearer(&unknown)).await.status, 401);
    }
    assert_eq!(*fetches.lock().unwrap(), after);
}

/// The gateway refreshes a JWK Set at most every 10 s.
fn pylon_gateway_refresh_interval() -> std::time::Duration {
    std::time::Duration::from_millis(10_100)
}

#[tokio::test]
async fn a_client_cannot_spoof_what_the_gateway_writes_for_the_backend() {
    let echo = echo_backend("echo").await;
    let snapshot = SnapshotBuilder::new()
        .api("RELEASE", json!({
            "name": "jwt", "request": {"method": "GET", "path": "/who"},
            "backend": {"service": {"inline": {"type": "http", "url": format!("http://{echo}")}}, "path": "/who"},
            "auth": {"type": "jwt", "jwt": {
                "algorithms": ["HS256"],
                "keys": [{"kid": "inline", "algorithm": "HS256", "secret": HS_SECRET}],
                "issuer": "https://idp.test", "audiences": ["orders"],
                "claims_to_headers": [{"claim": "tenant", "header": "X-Tenant"}]
            }},
            "system_parameters": [
                {"kind": "client_ip", "name": "client_ip", "location": "query"},
                {"kind": "request_id", "name": "X-Request-Id"}
            ],
            "constant_parameters": [{"name": "plan", "value": "basic", "location": "query"}]
        }))
        .build();
    let gw = RunningGateway::start(&snapshot).await;
    // A valid token without the `tenant` claim: the gateway writes no X-Tenant, and the
    // client's own X-Tenant must not slip through in its place.
    let good = token(Some("inline"), HS_SECRET, claims("orders", 300));
    let mut headers = HeaderMap::new();
    headers.insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {good}")).unwrap(),
    );
    headers.insert("x-tenant", HeaderValue::from_static("admin"));
    headers.insert("x-request-id", HeaderValue::from_static("forged"));
    let answer = call(
        &gw,
        "/who?client_ip=10.0.0.1&plan=gold&x=1&client%5Fip=10.0.0.2",
        headers,
    )
    .await;
    assert_eq!(answer.status, 200, "{:?}", answer.headers);
    let seen = answer.json();
    assert!(seen["headers"].get("x-tenant").is_none(), "{seen}");
    assert_ne!(seen["headers"]["x-request-id"], "forged");
    assert_eq!(
        seen["uri"], "/who?x=1&plan=basic&client_ip=127.0.0.1",
        "{seen}"
    );
}
