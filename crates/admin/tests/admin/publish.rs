//! The publish workflow: versions, drafts versus what is served, rollback, unpublish, conflicts.

use http::StatusCode;
use serde_json::json;

use crate::common::{Harness, api_spec};

#[tokio::test]
async fn publishing_creates_numbered_versions_newest_first() {
    let h = Harness::new().await;
    let g = h.group("g").await;
    let b = h.mock_backend("b", &["RELEASE", "TEST"]).await;
    let a = h.api(&g, "a", "/a", &b).await;

    let (status, d1) = h.publish(&g, &a, "release").await;
    assert_eq!(status, StatusCode::CREATED, "{d1}");
    assert_eq!(d1["version"], 1);
    assert_eq!(d1["environment"], "RELEASE");
    assert_eq!(d1["active"], true);
    let (_, d2) = h.publish(&g, &a, "RELEASE").await;
    assert_eq!(d2["version"], 2);
    let (_, t1) = h.publish(&g, &a, "TEST").await;
    assert_eq!(t1["version"], 1);

    let (status, history) = h
        .call(
            "GET",
            &format!("/v1/groups/{g}/apis/{a}/deployments?environment=release"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
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

    let (_, all) = h
        .call("GET", &format!("/v1/groups/{g}/apis/{a}/deployments"), None)
        .await;
    assert_eq!(all.as_array().unwrap().len(), 3);
    assert_eq!(h.last_snapshot().deployments.len(), 2);
}

#[tokio::test]
async fn publish_checks_environment_and_backend_definition() {
    let h = Harness::new().await;
    let g = h.group("g").await;
    let b = h.mock_backend("orders", &["RELEASE"]).await;
    let a = h.api(&g, "a", "/a", &b).await;
    let (status, body) = h.publish(&g, &a, "NOPE").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = h.publish(&g, &a, "PRE").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("orders"),
        "{body}"
    );
    assert!(h.last_snapshot().deployments.is_empty());
}

#[tokio::test]
async fn editing_after_publish_changes_nothing_until_republished() {
    let h = Harness::new().await;
    let g = h.group("g").await;
    let b = h.mock_backend("b", &["RELEASE"]).await;
    let a = h.api(&g, "a", "/old", &b).await;
    h.publish(&g, &a, "RELEASE").await;

    let (status, draft) = h
        .call(
            "PUT",
            &format!("/v1/groups/{g}/apis/{a}"),
            Some(api_spec("a", "/new", &b)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{draft}");
    assert_eq!(draft["request"]["path"], "/new");
    let snap = h.last_snapshot();
    assert_eq!(snap.deployments.len(), 1);
    assert_eq!(snap.deployments[0].api.spec.request.path, "/old");

    let (_, d2) = h.publish(&g, &a, "RELEASE").await;
    assert_eq!(d2["version"], 2);
    assert_eq!(d2["api"]["request"]["path"], "/new");
    assert_eq!(
        h.last_snapshot().deployments[0].api.spec.request.path,
        "/new"
    );
}

#[tokio::test]
async fn rollback_reactivates_an_earlier_version() {
    let h = Harness::new().await;
    let g = h.group("g").await;
    let b = h.mock_backend("b", &["RELEASE"]).await;
    let a = h.api(&g, "a", "/v1", &b).await;
    h.publish(&g, &a, "RELEASE").await;
    h.call(
        "PUT",
        &format!("/v1/groups/{g}/apis/{a}"),
        Some(api_spec("a", "/v2", &b)),
    )
    .await;
    h.publish(&g, &a, "RELEASE").await;

    let rollback = format!("/v1/groups/{g}/apis/{a}/rollback");
    let (status, d) = h
        .call(
            "POST",
            &rollback,
            Some(json!({ "environment": "RELEASE", "version": 1 })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{d}");
    assert_eq!(d["version"], 1);
    assert_eq!(d["active"], true);
    let snap = h.last_snapshot();
    assert_eq!(snap.deployments[0].version, 1);
    assert_eq!(snap.deployments[0].api.spec.request.path, "/v1");

    let (status, _) = h
        .call(
            "POST",
            &rollback,
            Some(json!({ "environment": "RELEASE", "version": 9 })),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unpublish_stops_serving_and_allows_delete() {
    let h = Harness::new().await;
    let g = h.group("g").await;
    let b = h.mock_backend("b", &["TEST"]).await;
    let a = h.api(&g, "a", "/a", &b).await;
    h.publish(&g, &a, "TEST").await;

    let (status, body) = h
        .call("DELETE", &format!("/v1/groups/{g}/apis/{a}"), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    let unpublish = format!("/v1/groups/{g}/apis/{a}/unpublish");
    let (status, _) = h
        .call("POST", &unpublish, Some(json!({ "environment": "test" })))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(h.last_snapshot().deployments.is_empty());
    let (status, _) = h
        .call("POST", &unpublish, Some(json!({ "environment": "TEST" })))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, _) = h
        .call("DELETE", &format!("/v1/groups/{g}/apis/{a}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn publishing_a_conflicting_route_is_refused() {
    let h = Harness::new().await;
    let g = h.group("g").await;
    let b = h.mock_backend("b", &["RELEASE"]).await;
    let first = h.api(&g, "first-api", "/same", &b).await;
    let second = h.api(&g, "second-api", "/same", &b).await;
    assert_eq!(
        h.publish(&g, &first, "RELEASE").await.0,
        StatusCode::CREATED
    );
    let changes = h.changes();
    let (status, body) = h.publish(&g, &second, "RELEASE").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "Conflict");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("first-api") && message.contains("second-api"),
        "{message}"
    );
    assert_eq!(h.changes(), changes);
    let (_, history) = h
        .call(
            "GET",
            &format!("/v1/groups/{g}/apis/{second}/deployments"),
            None,
        )
        .await;
    assert_eq!(history, json!([]));

    // The same route in another group is no conflict.
    let g2 = h.group("g2").await;
    let other = h.api(&g2, "first-api", "/same", &b).await;
    assert_eq!(
        h.publish(&g2, &other, "RELEASE").await.0,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn republishing_the_same_api_is_no_conflict_with_itself() {
    let h = Harness::new().await;
    let g = h.group("g").await;
    let b = h.mock_backend("b", &["RELEASE"]).await;
    let a = h.api(&g, "a", "/same", &b).await;
    assert_eq!(h.publish(&g, &a, "RELEASE").await.0, StatusCode::CREATED);
    assert_eq!(h.publish(&g, &a, "RELEASE").await.0, StatusCode::CREATED);
}

#[tokio::test]
async fn a_group_lists_what_it_serves_where() {
    let h = Harness::new().await;
    let g = h.group("g").await;
    let other = h.group("other").await;
    let b = h.mock_backend("b", &["RELEASE", "TEST"]).await;
    let a = h.api(&g, "a", "/a", &b).await;
    let draft = h.api(&g, "draft", "/draft", &b).await;
    let elsewhere = h.api(&other, "x", "/x", &b).await;
    for env in ["RELEASE", "RELEASE", "TEST"] {
        assert_eq!(h.publish(&g, &a, env).await.0, StatusCode::CREATED);
    }
    assert_eq!(
        h.publish(&other, &elsewhere, "TEST").await.0,
        StatusCode::CREATED
    );

    let (status, served) = h
        .call("GET", &format!("/v1/groups/{g}/deployments"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{served}");
    let rows: Vec<(String, String, u64)> = served
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["api_id"].as_str().unwrap().to_string(),
                d["environment"].as_str().unwrap().to_string(),
                d["version"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![(a.clone(), "RELEASE".into(), 2), (a, "TEST".into(), 1)]
    );
    assert!(!rows_mention(&served, &draft));
    let (status, _) = h.call("GET", "/v1/groups/nope/deployments", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

fn rows_mention(list: &serde_json::Value, id: &str) -> bool {
    list.to_string().contains(id)
}
