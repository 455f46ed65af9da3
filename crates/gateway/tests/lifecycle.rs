//! Snapshot swaps and shutdown under load: in-flight requests finish on what they started with.

mod common;

use std::time::Duration;

use common::*;

#[tokio::test]
async fn apply_keeps_in_flight_requests_on_the_old_snapshot() {
    let slow = slow_backend(Duration::from_millis(800), "old").await;
    let fast = slow_backend(Duration::ZERO, "new").await;
    let old = SnapshotBuilder::new()
        .api(
            "RELEASE",
            http_api("x", "GET", "=/x", &format!("http://{slow}"), "/"),
        )
        .build();
    let new = SnapshotBuilder::new()
        .api(
            "RELEASE",
            http_api("x", "GET", "=/x", &format!("http://{fast}"), "/"),
        )
        .build();
    let gw = RunningGateway::start(&old).await;
    let url = gw.addr;
    let in_flight = tokio::spawn(async move {
        let request = http::Request::get(format!("http://{url}/x"))
            .header("host", HOST)
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap();
        send(&client(), request).await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    gw.gateway.apply(&new).unwrap();
    let fresh = get(&gw, HOST, "/x").await;
    assert_eq!(fresh.status, 200);
    assert_eq!(fresh.body, "new");
    let finished = in_flight.await.unwrap();
    assert_eq!(finished.status, 200);
    assert_eq!(finished.body, "old");
}

#[tokio::test]
async fn a_conflicting_snapshot_is_refused_and_the_old_one_kept() {
    let echo = echo_backend("echo").await;
    let url = format!("http://{echo}");
    let good = SnapshotBuilder::new()
        .api("RELEASE", http_api("x", "GET", "=/x", &url, "/"))
        .build();
    let bad = SnapshotBuilder::new()
        .api("RELEASE", http_api("x", "GET", "=/x", &url, "/"))
        .api("RELEASE", http_api("y", "GET", "=/x", &url, "/"))
        .build();
    let gw = RunningGateway::start(&good).await;
    assert!(gw.gateway.apply(&bad).is_err());
    assert_eq!(get(&gw, HOST, "/x").await.status, 200);
}

#[tokio::test]
async fn shutdown_lets_an_in_flight_request_finish() {
    let slow = slow_backend(Duration::from_millis(700), "done").await;
    let snapshot = SnapshotBuilder::new()
        .api(
            "RELEASE",
            http_api("x", "GET", "=/x", &format!("http://{slow}"), "/"),
        )
        .build();
    let mut gw = RunningGateway::start(&snapshot).await;
    let addr = gw.addr;
    let in_flight = tokio::spawn(async move {
        let request = http::Request::get(format!("http://{addr}/x"))
            .header("host", HOST)
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap();
        send(&client(), request).await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let serve = gw.shutdown();
    let finished = in_flight.await.unwrap();
    assert_eq!(finished.status, 200);
    assert_eq!(finished.body, "done");
    tokio::time::timeout(Duration::from_secs(5), serve)
        .await
        .expect("serve returns after draining")
        .unwrap()
        .unwrap();
    // The listener is closed.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
