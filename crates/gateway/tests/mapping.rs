//! Mapping mode and form bodies: declared parameters renamed and moved, constants and system
//! parameters added, undeclared input dropped; form parameters read from the body.

mod common;

use bytes::Bytes;
use common::*;
use http::Request;
use http_body_util::Full;
use serde_json::json;

#[tokio::test]
async fn mapping_mode_forwards_only_declared_parameters_where_mapped() {
    let echo = echo_backend("echo").await;
    let snapshot = SnapshotBuilder::new()
        .api("RELEASE", json!({
            "name": "mapped", "request": {"method": "GET", "path": "/users/{id}", "mode": "mapping"},
            "parameters": [
                {"name": "id", "location": "path", "type": "int"},
                {"name": "uid", "location": "query", "backend_name": "X-User-Id", "backend_location": "header"},
                {"name": "X-Lang", "location": "header", "backend_name": "lang", "backend_location": "query"},
                {"name": "page", "location": "query", "type": "int", "default": "1"},
                {"name": "tag", "location": "query", "backend_name": "label"}
            ],
            "constant_parameters": [
                {"name": "X-Const", "location": "header", "value": "c1"},
                {"name": "src", "location": "query", "value": "pylon gw"}
            ],
            "system_parameters": [
                {"kind": "request_id", "name": "X-Rid"},
                {"kind": "client_ip", "name": "cip", "location": "query"},
                {"kind": "api_name", "name": "X-Api"},
                {"kind": "stage", "name": "X-Stage"}
            ],
            "backend": {"service": {"inline": {"type": "http", "url": format!("http://{echo}")}},
                "path": "/internal/{id}"}
        }))
        .build();
    let gw = RunningGateway::start(&snapshot).await;
    let request = Request::get(gw.url("/users/42?uid=u-9&tag=a%20b&junk=1"))
        .header("host", HOST)
        .header("x-lang", "zh")
        .header("x-undeclared", "dropped")
        .header("accept", "application/json")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let answer = send(&client(), request).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let rid = answer.header("x-ca-request-id").to_string();
    let seen = answer.json();
    assert_eq!(
        seen["uri"],
        "/internal/42?lang=zh&page=1&label=a%20b&src=pylon%20gw&cip=127.0.0.1"
    );
    let h = &seen["headers"];
    assert_eq!(h["x-user-id"], "u-9");
    assert_eq!(h["x-const"], "c1");
    assert_eq!(h["x-rid"], rid.as_str());
    assert_eq!(h["x-api"], "mapped");
    assert_eq!(h["x-stage"], "RELEASE");
    assert_eq!(h["accept"], "application/json");
    assert!(h.get("x-undeclared").is_none());
    assert!(h.get("x-lang").is_none());
}

#[tokio::test]
async fn a_constant_host_header_replaces_the_backends_host() {
    let echo = echo_backend("echo").await;
    let snapshot = SnapshotBuilder::new()
        .api("RELEASE", json!({
            "name": "host", "request": {"method": "GET", "path": "=/h"},
            "constant_parameters": [{"name": "Host", "location": "header", "value": "virtual.internal"}],
            "backend": {"service": {"inline": {"type": "http", "url": format!("http://{echo}")}}, "path": "/"}
        }))
        .build();
    let gw = RunningGateway::start(&snapshot).await;
    assert_eq!(
        get(&gw, HOST, "/h").await.json()["headers"]["host"],
        "virtual.internal"
    );
}

fn form_snapshot(url: &str) -> pylon_model::Snapshot {
    SnapshotBuilder::new()
        .api("RELEASE", json!({
            "name": "form", "request": {"method": "POST", "path": "=/form"},
            "parameters": [{"name": "qty", "location": "form", "type": "int", "required": true}],
            "constant_parameters": [{"name": "channel", "location": "form", "value": "gw"}],
            "backend": {"service": {"inline": {"type": "http", "url": url}}, "path": "/f"}
        }))
        .build()
}

async fn post_form(gw: &RunningGateway, body: Bytes) -> Answer {
    let request = Request::post(gw.url("/form"))
        .header("host", HOST)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(body))
        .unwrap();
    send(&client(), request).await
}

#[tokio::test]
async fn form_parameters_are_validated_and_the_form_forwarded() {
    let echo = echo_backend("echo").await;
    let gw = RunningGateway::start(&form_snapshot(&format!("http://{echo}"))).await;
    let answer = post_form(&gw, Bytes::from_static(b"qty=3&note=hi+there")).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let seen = answer.json();
    assert_eq!(seen["body"], "qty=3&note=hi+there&channel=gw");
    assert_eq!(seen["headers"]["content-length"], "30");
    let answer = post_form(&gw, Bytes::from_static(b"qty=many")).await;
    assert_gateway_error(&answer, 400, "Invalid Parameter: qty must be an integer");
    let answer = post_form(&gw, Bytes::from_static(b"other=1")).await;
    assert_gateway_error(&answer, 400, "Required Parameter Missing: qty");
}

#[tokio::test]
async fn an_oversized_form_is_413() {
    let echo = echo_backend("echo").await;
    let gw = RunningGateway::start(&form_snapshot(&format!("http://{echo}"))).await;
    let mut body = b"qty=1&pad=".to_vec();
    body.resize(9 * 1024 * 1024, b'a');
    let answer = post_form(&gw, Bytes::from(body)).await;
    assert_gateway_error(&answer, 413, "Request Body Too Large");
}
