//! Pass-through forwarding against real backends: path, query, headers, body, X-Forwarded-*,
//! mock backends, timeouts and refused connections.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use http::Request;
use http_body_util::Full;
use serde_json::json;

#[tokio::test]
async fn pass_through_forwards_query_body_and_headers() {
    let echo = echo_backend("echo").await;
    let snapshot = SnapshotBuilder::new()
        .api(
            "RELEASE",
            http_api(
                "create",
                "POST",
                "/orders/{id}",
                &format!("http://{echo}/base"),
                "/v1/orders/{id}",
            ),
        )
        .build();
    let gw = RunningGateway::start(&snapshot).await;
    let request = Request::post(gw.url("/orders/a%20b?x=1&y=two&x=3"))
        .header("host", HOST)
        .header("x-custom", "kept")
        .header("content-type", "application/json")
        .header("connection", "keep-alive, x-hop")
        .header("x-hop", "dropped")
        .body(Full::new(Bytes::from_static(br#"{"qty":2}"#)))
        .unwrap();
    let answer = send(&client(), request).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let seen = answer.json();
    assert_eq!(seen["method"], "POST");
    assert_eq!(seen["uri"], "/base/v1/orders/a%20b?x=1&y=two&x=3");
    assert_eq!(seen["body"], r#"{"qty":2}"#);
    assert_eq!(seen["headers"]["x-custom"], "kept");
    assert_eq!(seen["headers"]["content-type"], "application/json");
    assert_eq!(seen["headers"]["host"], echo.to_string());
    assert!(seen["headers"].get("x-hop").is_none());
    assert_eq!(answer.header("x-backend"), "echo");
    assert_eq!(answer.header("x-ca-request-id").len(), 36);
}

#[tokio::test]
async fn forwarded_headers_describe_the_client() {
    let echo = echo_backend("echo").await;
    let snapshot = SnapshotBuilder::new()
        .api(
            "RELEASE",
            http_api("fwd", "GET", "=/who", &format!("http://{echo}"), "/who"),
        )
        .build();
    let gw = RunningGateway::start(&snapshot).await;
    let request = Request::get(gw.url("/who"))
        .header("host", "shop.example.com")
        .header("x-forwarded-for", "203.0.113.9")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let seen = send(&client(), request).await.json();
    assert_eq!(seen["headers"]["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
    assert_eq!(seen["headers"]["x-forwarded-proto"], "http");
    assert_eq!(seen["headers"]["x-forwarded-host"], "shop.example.com");
}

#[tokio::test]
async fn prefix_apis_append_the_rest_and_proxy_params_fill_the_backend_path() {
    let echo = echo_backend("echo").await;
    let url = format!("http://{echo}");
    let snapshot = SnapshotBuilder::new()
        .api(
            "RELEASE",
            http_api("prefix", "GET", "^~/static", &url, "/assets"),
        )
        .api(
            "RELEASE",
            http_api("proxy", "ANY", "/files/{proxy+}", &url, "/store/{proxy+}"),
        )
        .build();
    let gw = RunningGateway::start(&snapshot).await;
    let seen = get(&gw, HOST, "/static/css/site.css?v=2").await.json();
    assert_eq!(seen["uri"], "/assets/css/site.css?v=2");
    let seen = get(&gw, HOST, "/files/a/b/c.txt").await.json();
    assert_eq!(seen["uri"], "/store/a/b/c.txt");
}

#[tokio::test]
async fn stage_variables_pick_the_backend_per_environment() {
    let release = echo_backend("release").await;
    let test = echo_backend("test").await;
    let snapshot = SnapshotBuilder::new()
        .backend(
            "b1",
            "RELEASE",
            json!({"type": "http", "url": "http://${stageVariables.host}"}),
        )
        .backend(
            "b1",
            "TEST",
            json!({"type": "http", "url": "http://${stageVariables.host}"}),
        )
        .stage_variable("RELEASE", "host", &release.to_string())
        .stage_variable("TEST", "host", &test.to_string())
        .stage_variable("RELEASE", "ver", "v1")
        .stage_variable("TEST", "ver", "v2")
        .api(
            "RELEASE",
            json!({"name": "svc", "request": {"method": "GET", "path": "=/svc"},
            "backend": {"service": {"backend_id": "b1"}, "path": "/${stageVariables.ver}/svc"}}),
        )
        .api(
            "TEST",
            json!({"name": "svc", "request": {"method": "GET", "path": "=/svc"},
            "backend": {"service": {"backend_id": "b1"}, "path": "/${stageVariables.ver}/svc"}}),
        )
        .build();
    let gw = RunningGateway::start(&snapshot).await;
    let seen = get(&gw, HOST, "/svc").await.json();
    assert_eq!(
        (seen["backend"].as_str(), seen["uri"].as_str()),
        (Some("release"), Some("/v1/svc"))
    );
    let request = Request::get(gw.url("/svc"))
        .header("host", HOST)
        .header("x-ca-stage", "test")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let seen = send(&client(), request).await.json();
    assert_eq!(
        (seen["backend"].as_str(), seen["uri"].as_str()),
        (Some("test"), Some("/v2/svc"))
    );
}

#[tokio::test]
async fn a_missing_stage_variable_is_an_internal_error() {
    let snapshot = SnapshotBuilder::new()
        .api(
            "RELEASE",
            http_api(
                "svc",
                "GET",
                "=/svc",
                "http://${stageVariables.nohost}",
                "/",
            ),
        )
        .build();
    let gw = RunningGateway::start(&snapshot).await;
    let answer = get(&gw, HOST, "/svc").await;
    assert_gateway_error(&answer, 500, "Internal Error");
    assert!(!String::from_utf8_lossy(&answer.body).contains("nohost"));
}

#[tokio::test]
async fn mock_backends_answer_with_their_configuration() {
    let snapshot = SnapshotBuilder::new()
        .api(
            "RELEASE",
            json!({"name": "mock", "request": {"method": "GET", "path": "=/mock"},
            "backend": {"service": {"inline": {"type": "mock", "status": 202,
                "headers": {"X-Mocked": "yes"}, "body": "{\"ok\":true}"}}, "path": "/"}}),
        )
        .build();
    let gw = RunningGateway::start(&snapshot).await;
    let answer = get(&gw, HOST, "/mock").await;
    assert_eq!(answer.status, 202);
    assert_eq!(answer.header("x-mocked"), "yes");
    assert_eq!(answer.body, r#"{"ok":true}"#);
    assert_eq!(answer.header("x-ca-request-id").len(), 36);
}

#[tokio::test]
async fn a_slow_backend_times_out_with_504() {
    let slow = slow_backend(Duration::from_secs(5), "late").await;
    let snapshot = SnapshotBuilder::new()
        .api(
            "RELEASE",
            json!({"name": "slow", "request": {"method": "GET", "path": "=/slow"},
            "backend": {"service": {"inline": {"type": "http", "url": format!("http://{slow}")}},
                "path": "/", "timeout_ms": 200}}),
        )
        .build();
    let gw = RunningGateway::start(&snapshot).await;
    let started = std::time::Instant::now();
    let answer = get(&gw, HOST, "/slow").await;
    assert_gateway_error(&answer, 504, "Backend timeout");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_refused_connection_is_502() {
    let closed = closed_port().await;
    let snapshot = SnapshotBuilder::new()
        .api(
            "RELEASE",
            http_api("down", "GET", "=/down", &format!("http://{closed}"), "/"),
        )
        .build();
    let gw = RunningGateway::start(&snapshot).await;
    let answer = get(&gw, HOST, "/down").await;
    assert_gateway_error(&answer, 502, "Failed To Invoke Backend Service");
}
