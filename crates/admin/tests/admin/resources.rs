//! Environments, stage variables and upstreams.

use http::StatusCode;
use serde_json::json;

use crate::common::Harness;

#[tokio::test]
async fn environments_are_uppercased_and_builtins_stay() {
    let h = Harness::new().await;
    let (status, body) = h
        .call(
            "POST",
            "/v1/environments",
            Some(json!({ "name": "staging" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["name"], "STAGING");
    assert_eq!(body["builtin"], false);

    let (status, _) = h
        .call(
            "POST",
            "/v1/environments",
            Some(json!({ "name": "Staging" })),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, body) = h
        .call("POST", "/v1/environments", Some(json!({ "name": "2bad" })))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "name");

    let (_, list) = h.call("GET", "/v1/environments", None).await;
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    for n in ["RELEASE", "PRE", "TEST", "STAGING"] {
        assert!(names.contains(&n), "{names:?}");
    }

    let (status, body) = h.call("DELETE", "/v1/environments/RELEASE", None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, _) = h.call("DELETE", "/v1/environments/staging", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = h.call("DELETE", "/v1/environments/STAGING", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn environment_delete_is_refused_while_apis_are_published_there() {
    let h = Harness::new().await;
    h.call(
        "POST",
        "/v1/environments",
        Some(json!({ "name": "canary" })),
    )
    .await;
    let g = h.group("g").await;
    let b = h.mock_backend("b", &["CANARY"]).await;
    let a = h.api(&g, "a", "/a", &b).await;
    assert_eq!(h.publish(&g, &a, "canary").await.0, StatusCode::CREATED);
    let (status, _) = h.call("DELETE", "/v1/environments/CANARY", None).await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn stage_variables_follow_aws_rules() {
    let h = Harness::new().await;
    let g = h.group("g").await;
    let path = format!("/v1/groups/{g}/stage-variables/test");
    let (status, body) = h.call("GET", &path, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["variables"], json!({}));

    let (status, body) = h
        .call(
            "PUT",
            &path,
            Some(json!({ "variables": { "bad-name": "x" } })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "variables.bad-name");
    let (status, body) = h
        .call(
            "PUT",
            &path,
            Some(json!({ "variables": { "host": "a b" } })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "variables.host");

    let (status, body) = h
        .call(
            "PUT",
            &path,
            Some(json!({ "variables": { "host": "10.0.0.1:8080" } })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["environment"], "TEST");
    let (_, body) = h.call("GET", &path, None).await;
    assert_eq!(body["variables"]["host"], "10.0.0.1:8080");
    assert!(
        h.last_snapshot()
            .stage_variables
            .iter()
            .any(|sv| sv.group_id == g && sv.variables["host"] == "10.0.0.1:8080")
    );

    let (status, _) = h
        .call("GET", &format!("/v1/groups/{g}/stage-variables/NOPE"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn upstream_crud_and_delete_guard() {
    let h = Harness::new().await;
    let (status, body) = h
        .call(
            "POST",
            "/v1/upstreams",
            Some(json!({ "name": "vpc", "targets": ["10.0.0.1"] })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "targets[0]");

    let (status, up) = h
        .call(
            "POST",
            "/v1/upstreams",
            Some(json!({ "name": "vpc", "targets": ["10.0.0.1:80"] })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{up}");
    let id = up["id"].as_str().unwrap();
    let (status, body) = h
        .call(
            "PUT",
            &format!("/v1/upstreams/{id}"),
            Some(json!({ "name": "vpc", "targets": ["10.0.0.1:80", "10.0.0.2:80"] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, got) = h.call("GET", &format!("/v1/upstreams/{id}"), None).await;
    assert_eq!(got["targets"].as_array().unwrap().len(), 2);

    let (_, b) = h
        .call(
            "POST",
            "/v1/backends",
            Some(json!({ "name": "via-vpc", "type": "upstream" })),
        )
        .await;
    let bid = b["id"].as_str().unwrap();
    let (status, _) = h
        .call(
            "PUT",
            &format!("/v1/backends/{bid}/environments/RELEASE"),
            Some(json!({ "type": "upstream", "upstream": "vpc" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = h.call("DELETE", &format!("/v1/upstreams/{id}"), None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = h
        .call(
            "DELETE",
            &format!("/v1/backends/{bid}/environments/RELEASE"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = h.call("DELETE", &format!("/v1/upstreams/{id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}
