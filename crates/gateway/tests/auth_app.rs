//! `app` authentication over the wire: Alibaba signatures (signed here with `pylon-auth`'s
//! client side), AppCodes, nonces, Content-MD5, grants and their expiry, and what the backend
//! is (not) shown.

mod common;

use bytes::Bytes;
use common::*;
use http::{HeaderMap, HeaderValue, Method, Request};
use http_body_util::Full;
use pylon_auth::alibaba;
use serde_json::{Value, json};

const KEY: &str = "key-alpha";
const SECRET: &str = "secret-alpha";
const CODE: &str = "code-alpha";

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn nonce() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `api1`: signed GET with an app-id system parameter; `api2`: signed POST accepting AppCodes
/// in the header and query; `api3`: granted to nobody. Apps: `alpha` (granted), `beta` (not).
async fn gateway(grant_expiry: Option<i64>) -> RunningGateway {
    let echo = echo_backend("echo").await;
    let url = format!("http://{echo}");
    let snapshot = SnapshotBuilder::new()
        .api("RELEASE", json!({
            "name": "get-item", "request": {"method": "GET", "path": "/items/{id}"},
            "backend": {"service": {"inline": {"type": "http", "url": url}}, "path": "/items/{id}"},
            "system_parameters": [{"kind": "app_id", "name": "X-App-Id"}],
            "auth": {"type": "app"}
        }))
        .api("RELEASE", json!({
            "name": "post-item", "request": {"method": "POST", "path": "/items"},
            "backend": {"service": {"inline": {"type": "http", "url": url}}, "path": "/items"},
            "auth": {"type": "app", "app_code": "header-and-query"}
        }))
        .api("RELEASE", json!({
            "name": "nobody", "request": {"method": "GET", "path": "/nobody"},
            "backend": {"service": {"inline": {"type": "http", "url": url}}, "path": "/"},
            "auth": {"type": "app"}
        }))
        .app("alpha", KEY, SECRET, CODE)
        .app("beta", "key-beta", "secret-beta", "code-beta")
        .grant("alpha", "api1", "RELEASE", grant_expiry)
        .grant("alpha", "api2", "RELEASE", None)
        .build();
    RunningGateway::start(&snapshot).await
}

struct Call<'a> {
    method: Method,
    path_and_query: &'a str,
    headers: Vec<(&'a str, &'a str)>,
    body: &'a [u8],
}

impl<'a> Call<'a> {
    fn get(path_and_query: &'a str) -> Self {
        Call {
            method: Method::GET,
            path_and_query,
            headers: Vec::new(),
            body: b"",
        }
    }

    fn post(path_and_query: &'a str, content_type: &'a str, body: &'a [u8]) -> Self {
        Call {
            method: Method::POST,
            path_and_query,
            headers: vec![("content-type", content_type)],
            body,
        }
    }

    fn headers(&self) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static(HOST));
        for (k, v) in &self.headers {
            h.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    /// Signs as the official SDK does, then lets `tamper` change the signed request.
    fn signed(
        &self,
        key: &str,
        secret: &str,
        tamper: impl FnOnce(&mut HeaderMap, &mut Vec<u8>),
    ) -> (HeaderMap, Vec<u8>) {
        let mut headers = self.headers();
        let (path, query) = match self.path_and_query.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (self.path_and_query, None),
        };
        alibaba::sign_request(
            &self.method,
            path,
            query,
            &mut headers,
            self.body,
            key,
            secret,
            now_ms(),
            &nonce(),
        )
        .unwrap();
        let mut body = self.body.to_vec();
        tamper(&mut headers, &mut body);
        (headers, body)
    }

    async fn send(&self, gw: &RunningGateway, headers: HeaderMap, body: Vec<u8>) -> Answer {
        let mut request = Request::builder()
            .method(self.method.clone())
            .uri(gw.url(self.path_and_query))
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        *request.headers_mut() = headers;
        send(&client(), request).await
    }

    async fn send_signed(&self, gw: &RunningGateway) -> Answer {
        let (headers, body) = self.signed(KEY, SECRET, |_, _| {});
        self.send(gw, headers, body).await
    }
}

fn echoed(answer: &Answer) -> Value {
    assert_eq!(answer.status, 200, "{:?} {:?}", answer.headers, answer.body);
    answer.json()
}

#[tokio::test]
async fn a_signed_get_with_query_reaches_the_backend_without_credentials() {
    let gw = gateway(None).await;
    let answer = Call::get("/items/7?b=2&a=1&a=3&empty=")
        .send_signed(&gw)
        .await;
    let seen = echoed(&answer);
    assert_eq!(seen["uri"], "/items/7?b=2&a=1&a=3&empty=");
    let headers = seen["headers"].as_object().unwrap();
    assert_eq!(headers["x-app-id"], "alpha");
    for name in [
        "x-ca-key",
        "x-ca-signature",
        "x-ca-signature-headers",
        "x-ca-nonce",
        "x-ca-timestamp",
    ] {
        assert!(!headers.contains_key(name), "{name} reached the backend");
    }
}

#[tokio::test]
async fn a_signed_form_post_and_json_post_pass() {
    let gw = gateway(None).await;
    let form = Call::post(
        "/items?z=1",
        "application/x-www-form-urlencoded; charset=utf-8",
        b"name=a+b&qty=2",
    );
    let seen = echoed(&form.send_signed(&gw).await);
    assert_eq!(seen["body"], "name=a+b&qty=2");
    let json_call = Call::post("/items", "application/json", br#"{"name":"x"}"#);
    let seen = echoed(&json_call.send_signed(&gw).await);
    assert_eq!(seen["body"], r#"{"name":"x"}"#);
}

#[tokio::test]
async fn a_wrong_secret_shows_the_server_string_to_sign() {
    let gw = gateway(None).await;
    let call = Call::get("/items/7?q=1");
    let (headers, body) = call.signed(KEY, "not-the-secret", |_, _| {});
    let answer = call.send(&gw, headers, body).await;
    assert_eq!(answer.status, 400);
    let message = answer.header("x-ca-error-message");
    assert!(
        message.starts_with("Invalid Signature, Server StringToSign:`GET#"),
        "{message}"
    );
    assert!(message.ends_with("/items/7?q=1`"), "{message}");
    assert_eq!(answer.header("x-ca-error-code"), "A400IS");
}

#[tokio::test]
async fn a_changed_form_value_breaks_the_signature() {
    let gw = gateway(None).await;
    let call = Call::post("/items", "application/x-www-form-urlencoded", b"qty=2");
    let (headers, _) = call.signed(KEY, SECRET, |_, _| {});
    let answer = call.send(&gw, headers, b"qty=200".to_vec()).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.header("x-ca-error-code"), "A400IS");
    assert!(
        answer
            .header("x-ca-error-message")
            .ends_with("/items?qty=200`")
    );
}

#[tokio::test]
async fn a_tampered_body_fails_content_md5() {
    let gw = gateway(None).await;
    let call = Call::post("/items", "application/json", br#"{"amount":1}"#);
    let (headers, _) = call.signed(KEY, SECRET, |_, _| {});
    let answer = call
        .send(&gw, headers, br#"{"amount":1000}"#.to_vec())
        .await;
    assert_gateway_error(&answer, 400, "Invalid Content-MD5");
    assert_eq!(answer.header("x-ca-error-code"), "A400IC");
}

#[tokio::test]
async fn a_nonce_is_used_once() {
    let gw = gateway(None).await;
    let call = Call::get("/items/1");
    let (headers, body) = call.signed(KEY, SECRET, |_, _| {});
    echoed(&call.send(&gw, headers.clone(), body.clone()).await);
    let again = call.send(&gw, headers, body).await;
    assert_gateway_error(&again, 400, "Nonce Used");
}

#[tokio::test]
async fn stale_and_malformed_timestamps_are_refused() {
    let gw = gateway(None).await;
    let call = Call::get("/items/1");
    // One reading of the clock: two could straddle a millisecond.
    let stale_ms = now_ms() - 16 * 60 * 1000;
    let mut headers = call.headers();
    alibaba::sign_request(
        &Method::GET,
        "/items/1",
        None,
        &mut headers,
        b"",
        KEY,
        SECRET,
        stale_ms,
        &nonce(),
    )
    .unwrap();
    assert_eq!(headers["x-ca-timestamp"], stale_ms.to_string().as_str());
    assert_gateway_error(
        &call.send(&gw, headers, Vec::new()).await,
        400,
        "Timestamp Expired",
    );
    let (headers, body) = call.signed(KEY, SECRET, |h, _| {
        h.insert("x-ca-timestamp", HeaderValue::from_static("yesterday"));
    });
    assert_gateway_error(
        &call.send(&gw, headers, body).await,
        400,
        "Invalid Timestamp",
    );
}

#[tokio::test]
async fn unknown_keys_missing_signatures_and_no_credentials_are_told_apart() {
    let gw = gateway(None).await;
    let call = Call::get("/items/1");
    let (headers, body) = call.signed("no-such-key", SECRET, |_, _| {});
    let answer = call.send(&gw, headers, body).await;
    assert_gateway_error(&answer, 400, "Invalid AppKey");
    assert_eq!(answer.header("x-ca-error-code"), "A400IK");
    let (headers, body) = call.signed(KEY, SECRET, |h, _| {
        h.remove("x-ca-signature");
    });
    assert_gateway_error(&call.send(&gw, headers, body).await, 404, "Empty Signature");
    let answer = call.send(&gw, call.headers(), Vec::new()).await;
    assert_gateway_error(&answer, 400, "Invalid AppKey");
    assert_eq!(answer.header("x-ca-error-code"), "A400MK");
    // A signed-header list no request could need is refused before any lookup.
    let (headers, body) = call.signed(KEY, SECRET, |h, _| {
        let list: Vec<String> = (0..101).map(|i| format!("x-h{i}")).collect();
        h.insert(
            "x-ca-signature-headers",
            http::HeaderValue::from_str(&list.join(",")).unwrap(),
        );
    });
    let answer = call.send(&gw, headers, body).await;
    assert_gateway_error(&answer, 400, "Invalid Signature Headers");
    assert_eq!(answer.header("x-ca-error-code"), "A400SH");
}

#[tokio::test]
async fn an_app_without_a_grant_is_unauthorized() {
    let gw = gateway(None).await;
    let (headers, body) = Call::get("/items/1").signed("key-beta", "secret-beta", |_, _| {});
    let answer = Call::get("/items/1").send(&gw, headers, body).await;
    assert_gateway_error(&answer, 403, "Unauthorized");
    assert_eq!(answer.header("x-ca-error-code"), "A403UA");
    let answer = Call::get("/nobody").send_signed(&gw).await;
    assert_gateway_error(&answer, 403, "Unauthorized");
}

#[tokio::test]
async fn a_grant_stops_working_at_its_expiry() {
    let gw = gateway(Some(now_ms() + 1500)).await;
    echoed(&Call::get("/items/1").send_signed(&gw).await);
    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
    assert_gateway_error(
        &Call::get("/items/1").send_signed(&gw).await,
        403,
        "Unauthorized",
    );
}

#[tokio::test]
async fn app_codes_in_header_and_query() {
    let gw = gateway(None).await;
    let mut call = Call::post("/items?keep=1", "application/json", b"{}");
    call.headers.push(("authorization", "APPCODE code-alpha"));
    let seen = echoed(&call.send(&gw, call.headers(), b"{}".to_vec()).await);
    assert!(seen["headers"].get("authorization").is_none());
    let call = Call::post(
        "/items?keep=1&appCode=code-alpha",
        "application/json",
        b"{}",
    );
    let seen = echoed(&call.send(&gw, call.headers(), b"{}".to_vec()).await);
    assert_eq!(
        seen["uri"], "/items?keep=1",
        "the AppCode stays at the gateway"
    );
    let call = Call::post("/items?AppCode=wrong", "application/json", b"{}");
    let answer = call.send(&gw, call.headers(), b"{}".to_vec()).await;
    assert_gateway_error(&answer, 400, "Invalid AppCode");
    // AppCode is off for api1: the header is not a credential there.
    let mut call = Call::get("/items/1");
    call.headers.push(("authorization", "APPCODE code-alpha"));
    assert_gateway_error(
        &call.send(&gw, call.headers(), Vec::new()).await,
        400,
        "Invalid AppKey",
    );
}
