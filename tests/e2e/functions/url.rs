//! Function endpoints reached over HTTP: the Lambda Invoke API, Function Compute's custom
//! runtime, a plain POST for Tencent, directly and through an upstream.

use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::harness::{Pylon, send};

/// `endpoint.py`, on a port of its own.
struct Endpoint {
    _child: Child,
    port: u16,
}

impl Endpoint {
    async fn start() -> Endpoint {
        let mut child = Command::new("python3")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/e2e/functions/endpoint.py"
            ))
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 runs the function endpoint");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let port = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("the endpoint prints its port")
            .unwrap()
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        Endpoint {
            _child: child,
            port,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// An API on `path` whose backend is the function `definition`.
fn function_api(name: &str, path: &str, definition: Value) -> Value {
    json!({"name": name, "request": {"method": "ANY", "path": path},
           "backend": {"service": {"inline": definition}, "timeout_ms": 10000}})
}

/// A group of its own with one published function API on `path`.
async fn published(pylon: &Pylon, path: &str, definition: Value) -> String {
    static GROUPS: AtomicUsize = AtomicUsize::new(0);
    let name = format!("fn-{}", GROUPS.fetch_add(1, Ordering::Relaxed));
    let g = pylon.create_group(&name).await;
    let api = pylon
        .create_api(&g, function_api("fn", path, definition))
        .await;
    pylon.publish(&g, &api, "RELEASE").await;
    g
}

/// The event the function saw, and the headers of the invoke request, from an echo answer.
fn echoed(r: &crate::harness::Reply) -> (Value, Value) {
    let body = r.json();
    (body["event"].clone(), body["invoke_headers"].clone())
}

#[tokio::test]
async fn tencent_scf_gets_the_event_of_its_guide_field_for_field() {
    let pylon = Pylon::start().await;
    let endpoint = Endpoint::start().await;
    let g = pylon.create_group("scf").await;
    pylon
        .ok(
            Method::PUT,
            &format!("/v1/groups/{g}/stage-variables/RELEASE"),
            json!({"variables": {"stage": "release"}}),
        )
        .await;
    let def = json!({"type": "function", "format": "tencent-scf",
                     "url": format!("{}/scf", endpoint.url())});
    let api = pylon
        .create_api(&g, function_api("scf", "/test/{path}", def))
        .await;
    pylon.publish(&g, &api, "RELEASE").await;

    let r = pylon
        .call(
            &g,
            Method::POST,
            "/test/value?foo=bar&bob=alice",
            &[
                ("content-type", "application/json"),
                ("accept-language", "en-US,en,cn"),
            ],
            r#"{"test":"body"}"#,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.header("x-function"), "scf");
    let many: Vec<_> = r.headers.get_all("x-many").iter().collect();
    assert_eq!(many, ["a", "b"], "multi-value headers are kept");
    let (e, invoke) = echoed(&r);
    assert_eq!(invoke["x-invoke-path"], "/scf", "a plain POST to the URL");
    let ctx = &e["requestContext"];
    assert_eq!(ctx["serviceId"], g.as_str());
    assert_eq!(ctx["path"], "/test/{path}");
    assert_eq!(ctx["httpMethod"], "POST");
    assert_eq!(ctx["sourceIp"], "127.0.0.1");
    assert_eq!(ctx["stage"], "release");
    assert_eq!(ctx["requestId"], r.header("x-ca-request-id"));
    assert!(ctx["identity"].is_object());
    assert_eq!(e["headers"]["accept-language"], "en-US,en,cn");
    assert_eq!(e["body"], r#"{"test":"body"}"#);
    assert_eq!(e["pathParameters"], json!({"path": "value"}));
    assert_eq!(
        e["queryStringParameters"],
        json!({"foo": "bar", "bob": "alice"})
    );
    assert_eq!(e["queryString"], json!({"foo": "bar", "bob": "alice"}));
    assert_eq!(e["stageVariables"], json!({"stage": "release"}));
    assert_eq!(e["path"], "/test/value");
    assert_eq!(e["httpMethod"], "POST");
    assert_eq!(e["isBase64Encoded"], false);
}

#[tokio::test]
async fn lambda_invoke_api_gets_the_proxy_event_and_its_answer_is_the_response() {
    let pylon = Pylon::start().await;
    let endpoint = Endpoint::start().await;
    let def = json!({"type": "function", "format": "aws-lambda", "url": endpoint.url(),
                     "name": "orders"});
    let g = published(&pylon, "/orders/{id}", def).await;
    let r = pylon
        .call(
            &g,
            Method::GET,
            "/orders/42?x=1&x=2",
            &[("x-trace", "t1")],
            "",
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let many: Vec<_> = r.headers.get_all("x-many").iter().collect();
    assert_eq!(many, ["a", "b"], "multiValueHeaders are kept");
    let (e, invoke) = echoed(&r);
    assert_eq!(
        invoke["x-invoke-path"],
        "/2015-03-31/functions/orders/invocations"
    );
    assert_eq!(invoke["x-amz-invocation-type"], "RequestResponse");
    assert_eq!(e["resource"], "/orders/{id}");
    assert_eq!(e["path"], "/orders/42");
    assert_eq!(e["httpMethod"], "GET");
    assert_eq!(e["pathParameters"], json!({"id": "42"}));
    assert_eq!(e["multiValueQueryStringParameters"]["x"], json!(["1", "2"]));
    assert_eq!(e["headers"]["x-trace"], "t1");
    assert_eq!(e["multiValueHeaders"]["x-trace"], json!(["t1"]));
    assert_eq!(e["body"], Value::Null);
    assert_eq!(e["requestContext"]["stage"], "release");
    assert_eq!(e["requestContext"]["identity"]["sourceIp"], "127.0.0.1");
    assert_eq!(
        e["requestContext"]["requestId"],
        r.header("x-ca-request-id")
    );
}

#[tokio::test]
async fn function_compute_gets_invoke_with_its_headers_through_an_upstream() {
    let pylon = Pylon::start().await;
    let endpoint = Endpoint::start().await;
    pylon
        .ok(
            Method::POST,
            "/v1/upstreams",
            json!({"name": "fc-vpc", "targets": [format!("127.0.0.1:{}", endpoint.port)]}),
        )
        .await;
    let def = json!({"type": "function", "format": "aliyun-fc", "upstream": "fc-vpc",
                     "name": "svc$fn"});
    let refused = pylon
        .refused(
            Method::POST,
            &format!("/v1/groups/{}/apis", pylon.create_group("x").await),
            Some(function_api("bad", "/bad", def)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "letters, digits",
        )
        .await;
    assert_eq!(refused["field"], "backend.service.inline.name");

    let def = json!({"type": "function", "format": "aliyun-fc", "upstream": "fc-vpc",
                     "name": "svc-fn"});
    let g = published(&pylon, "/fc/{id}", def).await;
    let r = pylon
        .call(
            &g,
            Method::PUT,
            "/fc/7?q=1",
            &[("content-type", "text/plain"), ("x-ca-app-id", "spoofed")],
            "hello",
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let (e, invoke) = echoed(&r);
    assert_eq!(invoke["x-invoke-path"], "/invoke");
    assert_eq!(invoke["x-fc-function-name"], "svc-fn");
    assert_eq!(invoke["x-fc-request-id"], r.header("x-ca-request-id"));
    assert_eq!(invoke["x-fc-function-timeout"], "10");
    assert_eq!(e["path"], "/fc/7");
    assert_eq!(e["httpMethod"], "PUT");
    assert_eq!(e["queryParameters"], json!({"q": "1"}));
    assert_eq!(e["pathParameters"], json!({"id": "7"}));
    assert_eq!(e["body"], "hello");
    assert_eq!(e["isBase64Encoded"], false);
    assert_eq!(e["headers"]["x-ca-stage"], "RELEASE");
    assert!(
        e["headers"].get("x-ca-app-id").is_none(),
        "only the gateway names the app: {e}"
    );
}

#[tokio::test]
async fn binary_bodies_round_trip_through_base64_in_every_format() {
    let pylon = Pylon::start().await;
    let endpoint = Endpoint::start().await;
    // Every byte value, as an image body; the function answers it reversed, in base64.
    let png: Vec<u8> = (0..=255u8).chain([0x89, b'P', b'N', b'G']).collect();
    for format in ["aliyun-fc", "tencent-scf", "aws-lambda"] {
        let def = json!({"type": "function", "format": format, "url": endpoint.url()});
        let g = published(&pylon, "/img/binary", def).await;
        let r = send(
            Method::POST,
            &format!("http://{}/img/binary", pylon.gateway),
            &[
                ("host".into(), format!("{g}.{}", pylon.base_domain)),
                ("content-type".into(), "image/png".into()),
            ],
            Bytes::from(png.clone()),
        )
        .await;
        assert_eq!(r.status, 200, "{format}: {}", r.text());
        assert_eq!(r.header("content-type"), "image/png");
        let reversed: Vec<u8> = png.iter().rev().copied().collect();
        assert_eq!(r.body.as_ref(), reversed.as_slice(), "{format}");
    }
}

#[tokio::test]
async fn a_malformed_answer_is_a_502_that_says_why_without_the_output() {
    let pylon = Pylon::start().await;
    let endpoint = Endpoint::start().await;
    let def = json!({"type": "function", "format": "aws-lambda", "url": endpoint.url()});
    let g = published(&pylon, "/m/malformed", def).await;
    let r = pylon.get(&g, "/m/malformed").await;
    assert_eq!(r.status, 502, "{}", r.text());
    assert_eq!(r.header("x-ca-error-code"), "B502FM");
    let message = r.header("x-ca-error-message");
    assert!(message.contains("unexpected field `status`"), "{message}");
    assert!(!r.text().contains("RAW-FUNCTION-OUTPUT"), "{}", r.text());
    assert!(!message.contains("RAW-FUNCTION-OUTPUT"));
}

#[tokio::test]
async fn a_function_error_is_a_502_naming_its_type_in_every_format() {
    let pylon = Pylon::start().await;
    let endpoint = Endpoint::start().await;
    for format in ["aliyun-fc", "tencent-scf", "aws-lambda"] {
        let def = json!({"type": "function", "format": format, "url": endpoint.url()});
        let g = published(&pylon, "/e/error", def).await;
        let r = pylon.get(&g, "/e/error").await;
        assert_eq!(r.status, 502, "{format}: {}", r.text());
        assert_eq!(r.header("x-ca-error-code"), "B502FE", "{format}");
        assert_eq!(r.header("x-ca-error-message"), "Function Error: ValueError");
        assert!(!r.text().contains("RAW-FUNCTION-DETAIL"), "{}", r.text());
    }
}

#[tokio::test]
async fn a_slow_function_is_a_504_at_the_configured_timeout() {
    let pylon = Pylon::start().await;
    let endpoint = Endpoint::start().await;
    let def = json!({"type": "function", "format": "tencent-scf", "url": endpoint.url(),
                     "timeout_ms": 500});
    let g = published(&pylon, "/s/sleep", def).await;
    let started = std::time::Instant::now();
    let r = pylon.get(&g, "/s/sleep").await;
    let took = started.elapsed();
    assert_eq!(r.status, 504, "{}", r.text());
    assert_eq!(r.header("x-ca-error-code"), "B504FT");
    // The function sleeps 3 s; the gateway gave up at its own 500 ms.
    assert!(took < Duration::from_millis(2500), "{took:?}");
}

#[tokio::test]
async fn without_response_integration_the_functions_json_is_the_body() {
    let pylon = Pylon::start().await;
    let endpoint = Endpoint::start().await;
    let def = json!({"type": "function", "format": "tencent-scf", "url": endpoint.url(),
                     "response_integration": false});
    let g = published(&pylon, "/r/raw", def).await;
    let r = pylon.get(&g, "/r/raw").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), "application/json");
    assert_eq!(r.json(), json!({"hello": "world", "contract": "scf"}));
    // The echo answer is an integration object, passed through as it is.
    let def = json!({"type": "function", "format": "tencent-scf", "url": endpoint.url(),
                     "response_integration": false});
    let g = published(&pylon, "/r/echo", def).await;
    let r = pylon.get(&g, "/r/echo").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["statusCode"], 201);
}

#[tokio::test]
async fn the_debug_trace_shows_the_event_and_the_raw_answer() {
    let pylon = Pylon::start().await;
    let endpoint = Endpoint::start().await;
    let def = json!({"type": "function", "format": "aws-lambda", "url": endpoint.url()});
    let g = pylon.create_group("dbg").await;
    let api = pylon
        .create_api(&g, function_api("dbg", "/d/malformed", def))
        .await;
    pylon.publish(&g, &api, "RELEASE").await;
    let trace = pylon
        .ok(
            Method::POST,
            "/v1/debug",
            json!({"group_id": g, "environment": "RELEASE", "method": "GET",
                   "path": "/d/malformed"}),
        )
        .await;
    let f = &trace["trace"]["function"];
    assert_eq!(f["format"], "aws-lambda");
    let event: Value = serde_json::from_str(f["event"].as_str().unwrap()).unwrap();
    assert_eq!(event["path"], "/d/malformed");
    assert!(
        f["answer"]
            .as_str()
            .unwrap()
            .contains("RAW-FUNCTION-OUTPUT"),
        "the operator sees the raw answer: {f}"
    );
    assert_eq!(trace["trace"]["error"]["code"], "B502FM");
}

#[tokio::test]
async fn an_event_over_the_payload_limit_is_refused_with_413() {
    let pylon = Pylon::start().await;
    let endpoint = Endpoint::start().await;
    let def = json!({"type": "function", "format": "aws-lambda", "url": endpoint.url()});
    let g = published(&pylon, "/big/echo", def).await;
    let r = send(
        Method::POST,
        &format!("http://{}/big/echo", pylon.gateway),
        &[("host".into(), format!("{g}.{}", pylon.base_domain))],
        Bytes::from(vec![b'x'; 6 * 1024 * 1024 + 1]),
    )
    .await;
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(r.header("x-ca-error-code"), "P413TL");
}
