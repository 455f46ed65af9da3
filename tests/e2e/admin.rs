//! The admin API's contract: authentication, validation errors, OpenAPI document.

use http::Method;
use serde_json::json;

use crate::harness::{Backend, Pylon, http_api, send};

#[tokio::test]
async fn admin_calls_without_a_valid_token_are_refused() {
    let pylon = Pylon::start().await;
    let url = pylon.admin_url("/v1/groups");
    let none = send(Method::GET, &url, &[], Default::default()).await;
    assert_eq!(none.status, 401);
    assert!(none.json()["message"].is_string());
    let wrong = send(
        Method::GET,
        &url,
        &[("authorization".into(), "Bearer nope".into())],
        Default::default(),
    )
    .await;
    assert_eq!(wrong.status, 401);
    let (status, _) = pylon.admin(Method::GET, "/v1/groups", None).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn validation_errors_name_the_field() {
    let pylon = Pylon::start().await;
    let g = pylon.create_group("valid").await;
    let long = "n".repeat(61);
    let (status, body) = pylon
        .admin(
            Method::POST,
            &format!("/v1/groups/{g}/apis"),
            Some(crate::harness::http_api(
                &long,
                "GET",
                "/x",
                "http://127.0.0.1:1",
                "/",
            )),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["field"], "name");
    let (status, body) = pylon
        .admin(
            Method::POST,
            &format!("/v1/groups/{g}/apis"),
            Some(crate::harness::http_api(
                "p",
                "GET",
                "/files/{rest+}/x",
                "http://127.0.0.1:1",
                "/",
            )),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["field"], "request.path");
    // Malformed JSON is a 400 that says so.
    let bad = send(
        Method::POST,
        &pylon.admin_url("/v1/groups"),
        &[
            (
                "authorization".into(),
                format!("Bearer {}", crate::harness::TOKEN),
            ),
            ("content-type".into(), "application/json".into()),
        ],
        "{\"name\": ".into(),
    )
    .await;
    assert_eq!(bad.status, 400);
    // Names are unique per group.
    pylon
        .create_api(
            &g,
            crate::harness::http_api("dup", "GET", "/a", "http://127.0.0.1:1", "/"),
        )
        .await;
    let (status, _) = pylon
        .admin(
            Method::POST,
            &format!("/v1/groups/{g}/apis"),
            Some(crate::harness::http_api(
                "dup",
                "GET",
                "/b",
                "http://127.0.0.1:1",
                "/",
            )),
        )
        .await;
    assert_eq!(status, 409);
    // A group holding APIs cannot be deleted.
    let (status, _) = pylon
        .admin(Method::DELETE, &format!("/v1/groups/{g}"), None)
        .await;
    assert_eq!(status, 409);
    let (status, _) = pylon
        .admin(Method::GET, "/v1/groups/doesnotexist", None)
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn openapi_document_lists_the_admin_api() {
    let pylon = Pylon::start().await;
    let doc = send(
        Method::GET,
        &pylon.admin_url("/v1/openapi.json"),
        &[],
        Default::default(),
    )
    .await;
    assert_eq!(doc.status, 200);
    let doc = doc.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/v1/groups",
        "/v1/groups/{group_id}/apis/{api_id}/publish",
        "/v1/backends/{id}/environments/{environment}",
        "/v1/upstreams",
        "/v1/environments",
        "/v1/policies",
        "/v1/policies/{id}/bindings",
        "/v1/apis/{api_id}/policies",
    ] {
        assert!(
            paths.contains_key(p),
            "missing {p}: {:?}",
            paths.keys().collect::<Vec<_>>()
        );
    }
    let _ = json!(null);
}

#[tokio::test]
async fn policies_and_their_bindings_survive_a_restart_beside_a_served_api() {
    let backend = Backend::start("b").await;
    let pylon = Pylon::start().await;
    let g = pylon.create_group("shop").await;
    let api = pylon
        .create_api(&g, http_api("a", "GET", "/a", &backend.url(), "/"))
        .await;
    pylon.publish(&g, &api, "RELEASE").await;
    let policy = pylon
        .ok(
            Method::POST,
            "/v1/policies",
            json!({"name": "web", "kind": "cors",
                   "config": {"allow_origins": ["https://shop.example.com"]}}),
        )
        .await;
    assert_eq!(policy["kind"], "cors");
    pylon
        .ok(
            Method::POST,
            "/v1/policies/web/bindings",
            json!({"api_id": api, "environment": "release"}),
        )
        .await;
    // A snapshot holding a binding is accepted by the gateway, which keeps serving the API.
    assert_eq!(pylon.get(&g, "/a").await.status, 200);

    let pylon = pylon.restart().await;
    let bound = pylon
        .ok(
            Method::GET,
            &format!("/v1/apis/{api}/policies"),
            json!(null),
        )
        .await;
    assert_eq!(bound.as_array().unwrap().len(), 1, "{bound}");
    assert_eq!(bound[0]["policy_id"], policy["id"]);
    assert_eq!(bound[0]["policy_name"], "web");
    assert_eq!(bound[0]["environment"], "RELEASE");
    assert_eq!(pylon.get(&g, "/a").await.status, 200);
    let (status, body) = pylon.admin(Method::DELETE, "/v1/policies/web", None).await;
    assert_eq!(status, 409, "{body}");
}
