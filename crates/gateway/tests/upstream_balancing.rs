//! Upstreams: round-robin per request, failover on connect errors without losing the body,
//! and 503 when every target is down.

mod common;

use bytes::Bytes;
use common::*;
use http::Request;
use http_body_util::Full;
use serde_json::json;

fn upstream_snapshot(targets: &[String]) -> pylon_model::Snapshot {
    SnapshotBuilder::new()
        .upstream("u1", "vpc-orders", targets)
        .backend(
            "b1",
            "RELEASE",
            json!({"type": "upstream", "upstream": "vpc-orders", "path_prefix": "/api"}),
        )
        .api(
            "RELEASE",
            json!({"name": "orders", "request": {"method": "ANY", "path": "^~/orders"},
            "backend": {"service": {"backend_id": "b1"}, "path": "/orders"}}),
        )
        .build()
}

async fn post(gw: &RunningGateway, body: &'static str) -> Answer {
    let request = Request::post(gw.url("/orders/new"))
        .header("host", HOST)
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap();
    send(&client(), request).await
}

#[tokio::test]
async fn requests_rotate_over_the_upstream_targets() {
    let a = echo_backend("a").await;
    let b = echo_backend("b").await;
    let gw = RunningGateway::start(&upstream_snapshot(&[a.to_string(), b.to_string()])).await;
    let mut seen = Vec::new();
    for _ in 0..4 {
        let answer = get(&gw, HOST, "/orders/1").await;
        assert_eq!(answer.status, 200);
        let json = answer.json();
        assert_eq!(json["uri"], "/api/orders/1");
        seen.push(json["backend"].as_str().unwrap().to_string());
    }
    assert_eq!(seen, ["a", "b", "a", "b"]);
}

#[tokio::test]
async fn the_host_header_is_the_target_unless_the_upstream_sets_one() {
    let a = echo_backend("a").await;
    let mut snapshot = upstream_snapshot(&[a.to_string()]);
    let seen = get(&RunningGateway::start(&snapshot).await, HOST, "/orders")
        .await
        .json();
    assert_eq!(seen["headers"]["host"], a.to_string());
    snapshot.upstreams[0].spec.host_header = Some("orders.internal".into());
    let seen = get(&RunningGateway::start(&snapshot).await, HOST, "/orders")
        .await
        .json();
    assert_eq!(seen["headers"]["host"], "orders.internal");
}

#[tokio::test]
async fn a_down_target_fails_over_for_get_and_post() {
    let down = closed_port().await;
    let up = echo_backend("up").await;
    let gw = RunningGateway::start(&upstream_snapshot(&[down.to_string(), up.to_string()])).await;
    // Several rounds, so the dead target comes first in the rotation at least once, both
    // before and after it is remembered as down.
    for round in 0..4 {
        let answer = get(&gw, HOST, "/orders/1").await;
        assert_eq!(answer.status, 200, "GET round {round}: {:?}", answer.body);
        assert_eq!(answer.json()["backend"], "up");
        let answer = post(&gw, "payload-that-must-arrive").await;
        assert_eq!(answer.status, 200, "POST round {round}: {:?}", answer.body);
        let json = answer.json();
        assert_eq!(json["backend"], "up");
        assert_eq!(json["body"], "payload-that-must-arrive");
        assert_eq!(json["method"], "POST");
    }
}

#[tokio::test]
async fn every_target_down_is_503() {
    let one = closed_port().await;
    let two = closed_port().await;
    let gw = RunningGateway::start(&upstream_snapshot(&[one.to_string(), two.to_string()])).await;
    assert_gateway_error(&get(&gw, HOST, "/orders").await, 503, "Service Unavailable");
    assert_gateway_error(&post(&gw, "x").await, 503, "Service Unavailable");
}

#[tokio::test]
async fn an_upstream_that_does_not_exist_is_503() {
    let snapshot = SnapshotBuilder::new()
        .backend(
            "b1",
            "RELEASE",
            json!({"type": "upstream", "upstream": "missing"}),
        )
        .api(
            "RELEASE",
            json!({"name": "x", "request": {"method": "GET", "path": "=/x"},
            "backend": {"service": {"backend_id": "b1"}, "path": "/"}}),
        )
        .build();
    let gw = RunningGateway::start(&snapshot).await;
    assert_gateway_error(&get(&gw, HOST, "/x").await, 503, "Service Unavailable");
}

#[tokio::test]
async fn a_backend_definition_change_takes_effect_without_a_republish() {
    let a = echo_backend("a").await;
    let b = echo_backend("b").await;
    let mut snapshot = upstream_snapshot(&[a.to_string()]);
    let gw = RunningGateway::start(&snapshot).await;
    assert_eq!(get(&gw, HOST, "/orders").await.json()["backend"], "a");
    snapshot.backend_definitions[0].definition =
        serde_json::from_value(json!({"type": "http", "url": format!("http://{b}/v2")})).unwrap();
    gw.gateway.apply(&snapshot).unwrap();
    let json = get(&gw, HOST, "/orders/9").await.json();
    assert_eq!(json["backend"], "b");
    assert_eq!(json["uri"], "/v2/orders/9");
}

#[tokio::test]
async fn a_post_body_survives_failover_from_a_dead_first_target() {
    let down = closed_port().await;
    let up = echo_backend("up").await;
    // The first request of a fresh gateway starts the rotation at the dead target.
    let gw = RunningGateway::start(&upstream_snapshot(&[down.to_string(), up.to_string()])).await;
    let answer = post(&gw, "first-body").await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.json()["body"], "first-body");
}
