//! Publishing: versions, drafts that do not change traffic, unpublish and rollback.

use http::Method;
use serde_json::json;

use crate::harness::{Backend, Pylon, http_api};

#[tokio::test]
async fn drafts_do_not_change_traffic_until_published_and_rollback_restores() {
    let pylon = Pylon::start().await;
    let backend = Backend::start("b").await;
    let g = pylon.create_group("deploys").await;
    let api = pylon
        .create_api(
            &g,
            http_api("orders", "GET", "/orders", &backend.url(), "/v1"),
        )
        .await;
    // Not published: not served.
    pylon
        .get(&g, "/orders")
        .await
        .assert_error(400, "API Not Found");
    let d1 = pylon.publish(&g, &api, "RELEASE").await;
    assert_eq!(d1["version"], 1);
    assert_eq!(pylon.get(&g, "/orders").await.json()["path"], "/v1");

    // A draft edit does not change traffic...
    pylon
        .ok(
            Method::PUT,
            &format!("/v1/groups/{g}/apis/{api}"),
            http_api("orders", "GET", "/orders", &backend.url(), "/v2"),
        )
        .await;
    assert_eq!(pylon.get(&g, "/orders").await.json()["path"], "/v1");
    // ...until published.
    let d2 = pylon.publish(&g, &api, "RELEASE").await;
    assert_eq!(d2["version"], 2);
    assert_eq!(pylon.get(&g, "/orders").await.json()["path"], "/v2");

    let history = pylon
        .ok(
            Method::GET,
            &format!("/v1/groups/{g}/apis/{api}/deployments?environment=RELEASE"),
            json!(null),
        )
        .await;
    let versions: Vec<(u64, bool)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["version"].as_u64().unwrap(),
                d["active"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(versions, vec![(2, true), (1, false)]);

    let back = pylon
        .ok(
            Method::POST,
            &format!("/v1/groups/{g}/apis/{api}/rollback"),
            json!({"environment": "RELEASE", "version": 1}),
        )
        .await;
    assert_eq!(back["version"], 1);
    assert_eq!(pylon.get(&g, "/orders").await.json()["path"], "/v1");
    let (status, _) = pylon
        .admin(
            Method::POST,
            &format!("/v1/groups/{g}/apis/{api}/rollback"),
            Some(json!({"environment": "RELEASE", "version": 9})),
        )
        .await;
    assert_eq!(status, 404);

    // A published API cannot be deleted; unpublish first.
    let (status, _) = pylon
        .admin(Method::DELETE, &format!("/v1/groups/{g}/apis/{api}"), None)
        .await;
    assert_eq!(status, 409);
    pylon
        .ok(
            Method::POST,
            &format!("/v1/groups/{g}/apis/{api}/unpublish"),
            json!({"environment": "RELEASE"}),
        )
        .await;
    pylon
        .get(&g, "/orders")
        .await
        .assert_error(400, "API Not Found");
    pylon
        .ok(
            Method::DELETE,
            &format!("/v1/groups/{g}/apis/{api}"),
            json!(null),
        )
        .await;
}

#[tokio::test]
async fn publishes_never_fail_requests_in_flight() {
    let pylon = std::sync::Arc::new(Pylon::start().await);
    let backend = Backend::start("b").await;
    let g = pylon.create_group("swap").await;
    let api = pylon
        .create_api(
            &g,
            http_api("slow", "GET", "/slow", &backend.url(), "/slow"),
        )
        .await;
    pylon.publish(&g, &api, "RELEASE").await;
    // Requests that take 300 ms each, overlapping a series of publishes.
    let mut calls = Vec::new();
    for _ in 0..20 {
        let (p, g) = (pylon.clone(), g.clone());
        calls.push(tokio::spawn(async move {
            p.get(&g, "/slow?ms=300").await.status
        }));
    }
    for _ in 0..5 {
        pylon.publish(&g, &api, "RELEASE").await;
    }
    for c in calls {
        assert_eq!(c.await.unwrap(), 200);
    }
}
