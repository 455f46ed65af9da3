//! The gateway's own errors over the wire: unknown host, environment, method and path, and
//! parameter validation, each with `X-Ca-*` headers and the JSON body.

mod common;

use bytes::Bytes;
use common::*;
use http::Request;
use http_body_util::Full;
use serde_json::json;

async fn gateway() -> RunningGateway {
    let echo = echo_backend("echo").await;
    let snapshot = SnapshotBuilder::new()
        .api("RELEASE", json!({
            "name": "user", "request": {"method": "GET", "path": "/users/{id}"},
            "parameters": [
                {"name": "id", "location": "path", "type": "int", "required": true},
                {"name": "fields", "location": "query", "constraints": {"enum_values": ["all", "short"]}},
                {"name": "X-Tenant", "location": "header", "required": true}
            ],
            "backend": {"service": {"inline": {"type": "http", "url": format!("http://{echo}")}},
                "path": "/u/{id}"}
        }))
        .build();
    RunningGateway::start(&snapshot).await
}

async fn send_with(
    gw: &RunningGateway,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Answer {
    let mut b = Request::builder()
        .method(method)
        .uri(gw.url(path))
        .header("host", HOST);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    send(&client(), b.body(Full::new(Bytes::new())).unwrap()).await
}

#[tokio::test]
async fn an_unknown_host_is_invalid_domain() {
    let gw = gateway().await;
    let answer = get(&gw, "nobody.example.org", "/users/1").await;
    assert_gateway_error(&answer, 400, "Invalid Domain");
    assert_eq!(answer.header("x-ca-error-code"), "D400ID");
}

#[tokio::test]
async fn an_unknown_environment_is_invalid_url() {
    let gw = gateway().await;
    let answer = send_with(
        &gw,
        "GET",
        "/users/1",
        &[("x-ca-stage", "STAGING"), ("x-tenant", "t")],
    )
    .await;
    assert_gateway_error(&answer, 400, "Invalid Url");
}

#[tokio::test]
async fn an_unpublished_path_or_method_is_api_not_found() {
    let gw = gateway().await;
    assert_gateway_error(&get(&gw, HOST, "/nothing/here").await, 400, "API Not Found");
    let answer = send_with(&gw, "DELETE", "/users/1", &[("x-tenant", "t")]).await;
    assert_gateway_error(&answer, 400, "API Not Found");
    // PRE has nothing published.
    let answer = send_with(
        &gw,
        "GET",
        "/users/1",
        &[("x-ca-stage", "pre"), ("x-tenant", "t")],
    )
    .await;
    assert_gateway_error(&answer, 400, "API Not Found");
}

#[tokio::test]
async fn a_method_pylon_does_not_route_is_invalid_http_method() {
    let gw = gateway().await;
    let answer = send_with(&gw, "TRACE", "/users/1", &[]).await;
    assert_gateway_error(&answer, 400, "Invalid HttpMethod");
}

#[tokio::test]
async fn parameter_errors_name_the_parameter() {
    let gw = gateway().await;
    let answer = send_with(&gw, "GET", "/users/abc", &[("x-tenant", "t")]).await;
    assert_gateway_error(&answer, 400, "Invalid Parameter: id must be an integer");
    let answer = send_with(&gw, "GET", "/users/1", &[]).await;
    assert_gateway_error(&answer, 400, "Required Parameter Missing: X-Tenant");
    let answer = send_with(&gw, "GET", "/users/1?fields=none", &[("x-tenant", "t")]).await;
    assert_gateway_error(
        &answer,
        400,
        "Invalid Parameter: fields must be one of: all, short",
    );
    let answer = send_with(&gw, "GET", "/users/7?fields=all", &[("x-tenant", "t")]).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["uri"], "/u/7?fields=all");
}
