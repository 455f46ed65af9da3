//! Process lifecycle: restart keeps everything, SIGTERM drains in-flight requests.

use http::Method;
use serde_json::json;

use bytes::Bytes;

use crate::harness::{Backend, Pylon, http_api, send};

#[tokio::test]
async fn restart_keeps_config_and_published_state() {
    let pylon = Pylon::start().await;
    let backend = Backend::start("b").await;
    let g = pylon.create_group("durable").await;
    pylon
        .ok(Method::POST, "/v1/environments", json!({"name": "canary"}))
        .await;
    pylon
        .ok(
            Method::PUT,
            &format!("/v1/groups/{g}/stage-variables/RELEASE"),
            json!({"variables": {"host": backend.addr.to_string()}}),
        )
        .await;
    pylon
        .ok(
            Method::POST,
            "/v1/upstreams",
            json!({"name": "vpc", "targets": [backend.addr.to_string()]}),
        )
        .await;
    let api = pylon
        .create_api(
            &g,
            http_api(
                "kept",
                "GET",
                "/kept",
                "http://${stageVariables.host}",
                "/kept",
            ),
        )
        .await;
    pylon.publish(&g, &api, "RELEASE").await;
    // A draft edit that must stay a draft across the restart.
    pylon
        .ok(
            Method::PUT,
            &format!("/v1/groups/{g}/apis/{api}"),
            http_api(
                "kept",
                "GET",
                "/kept",
                "http://${stageVariables.host}",
                "/draft",
            ),
        )
        .await;

    let pylon = pylon.restart().await;
    assert_eq!(pylon.get(&g, "/kept").await.json()["path"], "/kept");
    let draft = pylon
        .ok(
            Method::GET,
            &format!("/v1/groups/{g}/apis/{api}"),
            json!(null),
        )
        .await;
    assert_eq!(draft["backend"]["path"], "/draft");
    let envs = pylon.ok(Method::GET, "/v1/environments", json!(null)).await;
    assert!(
        envs.as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "CANARY")
    );
    let ups = pylon.ok(Method::GET, "/v1/upstreams", json!(null)).await;
    assert_eq!(ups[0]["name"], "vpc");
}

#[tokio::test]
async fn sigterm_drains_in_flight_requests() {
    let mut pylon = Pylon::start().await;
    let backend = Backend::start("b").await;
    let g = pylon.create_group("drain").await;
    let api = pylon
        .create_api(
            &g,
            http_api("slow", "GET", "/slow", &backend.url(), "/slow"),
        )
        .await;
    pylon.publish(&g, &api, "RELEASE").await;
    let url = format!("http://{}/slow?ms=1500", pylon.gateway);
    let host = format!("{g}.{}", pylon.base_domain);
    let in_flight = tokio::spawn(async move {
        crate::harness::send(
            Method::GET,
            &url,
            &[("host".into(), host)],
            Default::default(),
        )
        .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let status = pylon.stop().await;
    assert!(status.success(), "{status:?}");
    let r = in_flight.await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn the_status_listener_answers_probes_without_a_token() {
    let pylon = Pylon::start().await;
    let health = send(
        Method::GET,
        &format!("http://{}/healthz", pylon.status),
        &[],
        Bytes::new(),
    )
    .await;
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["status"], "ok");
    let ready = send(
        Method::GET,
        &format!("http://{}/readyz", pylon.status),
        &[],
        Bytes::new(),
    )
    .await;
    assert_eq!(ready.status, 200, "{}", ready.text());
    assert_eq!(ready.json()["status"], "ready");
    // Not the admin API: nothing else is served there.
    let other = send(
        Method::GET,
        &format!("http://{}/v1/groups", pylon.status),
        &[],
        Bytes::new(),
    )
    .await;
    assert_eq!(other.status, 404);
}
