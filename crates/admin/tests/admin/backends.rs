//! Backend services: the fixed type, per-environment definitions, and deleting one in use.

use http::StatusCode;
use serde_json::json;

use crate::common::Harness;

#[tokio::test]
async fn backend_type_is_fixed_at_creation() {
    let h = Harness::new().await;
    let (status, b) = h
        .call(
            "POST",
            "/v1/backends",
            Some(json!({ "name": "svc", "type": "http" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{b}");
    let id = b["id"].as_str().unwrap();
    let (status, body) = h
        .call(
            "PUT",
            &format!("/v1/backends/{id}"),
            Some(json!({ "name": "svc", "type": "mock" })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "type");
    assert_eq!(
        body["message"],
        "the type of a backend service is fixed at creation"
    );
    let (status, body) = h
        .call(
            "PUT",
            &format!("/v1/backends/{id}"),
            Some(json!({ "name": "svc2", "type": "http", "description": "x" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["name"], "svc2");
}

#[tokio::test]
async fn definitions_must_match_the_type_and_validate() {
    let h = Harness::new().await;
    let (_, b) = h
        .call(
            "POST",
            "/v1/backends",
            Some(json!({ "name": "svc", "type": "http" })),
        )
        .await;
    let id = b["id"].as_str().unwrap();
    let path = format!("/v1/backends/{id}/environments/RELEASE");
    let (status, body) = h
        .call("PUT", &path, Some(json!({ "type": "mock", "body": "x" })))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "type");

    let (status, body) = h
        .call(
            "PUT",
            &path,
            Some(json!({ "type": "http", "url": "ftp://x" })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "url");

    let (status, body) = h
        .call(
            "PUT",
            &format!("/v1/backends/{id}/environments/NOPE"),
            Some(json!({ "type": "http", "url": "http://127.0.0.1:9" })),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    let (status, body) = h
        .call(
            "PUT",
            &format!("/v1/backends/{id}/environments/release"),
            Some(json!({ "type": "http", "url": "http://127.0.0.1:9/base" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["environment"], "RELEASE");
    let (status, list) = h
        .call("GET", &format!("/v1/backends/{id}/environments"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (status, got) = h.call("GET", &path, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["definition"]["url"], "http://127.0.0.1:9/base");
    assert_eq!(h.last_snapshot().backend_definitions.len(), 1);
}

#[tokio::test]
async fn upstream_definitions_need_an_existing_upstream_unless_templated() {
    let h = Harness::new().await;
    let (_, b) = h
        .call(
            "POST",
            "/v1/backends",
            Some(json!({ "name": "vpc", "type": "upstream" })),
        )
        .await;
    let id = b["id"].as_str().unwrap();
    let path = format!("/v1/backends/{id}/environments/TEST");
    let (status, body) = h
        .call(
            "PUT",
            &path,
            Some(json!({ "type": "upstream", "upstream": "missing" })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "upstream");

    let (status, body) = h
        .call(
            "PUT",
            &path,
            Some(json!({ "type": "upstream", "upstream": "${stageVariables.target}" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = h
        .call(
            "POST",
            "/v1/upstreams",
            Some(json!({ "name": "internal", "targets": ["10.0.0.1:80"] })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = h
        .call(
            "PUT",
            &path,
            Some(json!({ "type": "upstream", "upstream": "internal", "path_prefix": "/p" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn deleting_a_definition_in_use_needs_confirmation_and_unpublishes() {
    let h = Harness::new().await;
    let g = h.group("g").await;
    let b = h.mock_backend("b", &["RELEASE", "TEST"]).await;
    let a1 = h.api(&g, "first", "/one", &b).await;
    let a2 = h.api(&g, "second", "/two", &b).await;
    assert_eq!(h.publish(&g, &a1, "RELEASE").await.0, StatusCode::CREATED);
    assert_eq!(h.publish(&g, &a2, "TEST").await.0, StatusCode::CREATED);
    let changes = h.changes();

    let path = format!("/v1/backends/{b}/environments/RELEASE");
    let (status, body) = h.call("DELETE", &path, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "ConfirmationRequired");
    assert_eq!(body["apis"], json!([{ "id": a1, "name": "first" }]));
    assert_eq!(h.changes(), changes);

    let (status, body) = h
        .call("DELETE", &format!("{path}?confirm=true"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["unpublished"][0]["id"], a1.as_str());

    let snap = h.last_snapshot();
    assert_eq!(snap.deployments.len(), 1);
    assert_eq!(snap.deployments[0].api_id, a2);
    let (status, _) = h.call("GET", &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // `second` still uses the TEST definition, so that one stays guarded.
    let (status, _) = h
        .call(
            "DELETE",
            &format!("/v1/backends/{b}/environments/TEST"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // APIs still reference the backend service itself.
    let (status, body) = h.call("DELETE", &format!("/v1/backends/{b}"), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

#[tokio::test]
async fn deleting_an_unused_definition_needs_no_confirmation() {
    let h = Harness::new().await;
    let b = h.mock_backend("b", &["PRE"]).await;
    let (status, body) = h
        .call(
            "DELETE",
            &format!("/v1/backends/{b}/environments/PRE"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["unpublished"], json!([]));
}
