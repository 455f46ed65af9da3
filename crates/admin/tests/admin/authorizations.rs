//! Authorizations: grant (an upsert), list three ways, revoke, and what they refuse.

use http::StatusCode;
use serde_json::{Value, json};

use crate::common::Harness;

/// Current time in epoch milliseconds.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

struct Setup {
    h: Harness,
    group: String,
    app: String,
    api: String,
}

/// An app `caller` and an API `a` in group `g`.
async fn setup() -> Setup {
    let h = Harness::new().await;
    let (status, body) = h
        .call("POST", "/v1/apps", Some(json!({ "name": "caller" })))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let app = body["id"].as_str().unwrap().to_string();
    let group = h.group("g").await;
    let b = h.mock_backend("b", &["RELEASE", "TEST"]).await;
    let api = h.api(&group, "a", "/a", &b).await;
    Setup { h, group, app, api }
}

async fn grant(h: &Harness, body: Value) -> (StatusCode, Value) {
    h.call("POST", "/v1/authorizations", Some(body)).await
}

fn ids(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn granting_again_updates_the_same_authorization() {
    let Setup { h, group, app, api } = setup().await;
    let later = now_ms() + 3_600_000;
    let (status, first) = grant(
        &h,
        json!({ "app_id": app, "api_id": api, "environment": "release", "expires_at": later }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["group_id"], group);
    assert_eq!(first["environment"], "RELEASE");
    assert_eq!(first["expires_at"], later);
    assert_eq!(first["expired"], false);
    let id = first["id"].as_str().unwrap();
    let snapshot = h.last_snapshot();
    assert_eq!(snapshot.authorizations.len(), 1);
    assert_eq!(snapshot.authorizations[0].id, id);
    assert_eq!(snapshot.authorizations[0].group_id, group);

    // Same (app, API, environment): 200, same id, new terms. The app may be named.
    let (status, second) = grant(
        &h,
        json!({ "app_id": "caller", "api_id": api, "environment": "RELEASE",
                "description": "no expiry now" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(second["id"], id);
    assert_eq!(second["app_id"], app);
    assert_eq!(second["expires_at"], Value::Null);
    assert_eq!(second["description"], "no expiry now");
    assert_eq!(second["created_at"], first["created_at"]);
    let snapshot = h.last_snapshot();
    assert_eq!(snapshot.authorizations.len(), 1);
    assert_eq!(snapshot.authorizations[0].spec.expires_at, None);

    // Another environment is another grant.
    let (status, other) = grant(
        &h,
        json!({ "app_id": app, "api_id": api, "environment": "TEST" }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{other}");
    assert_ne!(other["id"], id);
    assert_eq!(h.last_snapshot().authorizations.len(), 2);
}

#[tokio::test]
async fn grants_are_listed_by_app_by_api_and_by_filter() {
    let Setup { h, group, app, api } = setup().await;
    let b = h.mock_backend("b2", &["RELEASE"]).await;
    let api2 = h.api(&group, "a2", "/a2", &b).await;
    let (_, one) = grant(
        &h,
        json!({ "app_id": app, "api_id": api, "environment": "RELEASE" }),
    )
    .await;
    let (_, two) = grant(
        &h,
        json!({ "app_id": app, "api_id": api, "environment": "TEST" }),
    )
    .await;
    let (_, three) = grant(
        &h,
        json!({ "app_id": app, "api_id": api2, "environment": "RELEASE" }),
    )
    .await;
    let (one, two, three) = (
        one["id"].as_str().unwrap(),
        two["id"].as_str().unwrap(),
        three["id"].as_str().unwrap(),
    );

    let sorted = |list: &Value| {
        let mut v: Vec<String> = ids(list).into_iter().map(String::from).collect();
        v.sort();
        v
    };
    let expect = |items: &[&str]| {
        let mut v: Vec<String> = items.iter().map(|s| s.to_string()).collect();
        v.sort();
        v
    };
    let (status, by_app) = h.call("GET", "/v1/apps/caller/authorizations", None).await;
    assert_eq!(status, StatusCode::OK, "{by_app}");
    assert_eq!(sorted(&by_app), expect(&[one, two, three]));
    let (status, by_api) = h
        .call(
            "GET",
            &format!("/v1/groups/{group}/apis/{api}/authorizations"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{by_api}");
    assert_eq!(sorted(&by_api), expect(&[one, two]));
    let (_, filtered) = h
        .call(
            "GET",
            &format!("/v1/authorizations?api_id={api}&environment=test"),
            None,
        )
        .await;
    assert_eq!(sorted(&filtered), expect(&[two]));
    let (_, filtered) = h
        .call(
            "GET",
            &format!("/v1/authorizations?app_id={app}&environment=RELEASE"),
            None,
        )
        .await;
    assert_eq!(sorted(&filtered), expect(&[one, three]));
    let (_, all) = h.call("GET", "/v1/authorizations", None).await;
    assert_eq!(all.as_array().unwrap().len(), 3);
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .all(|a| a["expired"] == false)
    );

    let (status, _) = h.call("GET", "/v1/apps/nope/authorizations", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = h
        .call("GET", "/v1/groups/nope/apis/nope/authorizations", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn revoking_takes_effect_at_once() {
    let Setup { h, app, api, .. } = setup().await;
    let (_, a) = grant(
        &h,
        json!({ "app_id": app, "api_id": api, "environment": "RELEASE" }),
    )
    .await;
    let id = a["id"].as_str().unwrap();
    let before = h.changes();
    let (status, _) = h
        .call("DELETE", &format!("/v1/authorizations/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(h.changes(), before + 1);
    assert!(h.last_snapshot().authorizations.is_empty());
    let (status, body) = h
        .call("DELETE", &format!("/v1/authorizations/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[tokio::test]
async fn grants_name_what_is_wrong() {
    let Setup { h, app, api, .. } = setup().await;
    let (status, body) = grant(
        &h,
        json!({ "app_id": "no-such-app", "api_id": api, "environment": "RELEASE" }),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body["message"].as_str().unwrap().contains("no-such-app"));
    assert!(body["message"].as_str().unwrap().contains("app"));
    let (status, body) = grant(
        &h,
        json!({ "app_id": app, "api_id": "no-such-api", "environment": "RELEASE" }),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(body["message"].as_str().unwrap().contains("no-such-api"));

    let (status, body) = grant(
        &h,
        json!({ "app_id": app, "api_id": api, "environment": "NOWHERE" }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "environment");
    let (status, body) = grant(
        &h,
        json!({ "app_id": app, "api_id": api, "environment": "RELEASE",
                "expires_at": now_ms() - 1000 }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "expires_at");
    let (status, body) = grant(
        &h,
        json!({ "app_id": "", "api_id": api, "environment": "RELEASE" }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "app_id");
    let (status, _) = grant(&h, json!({ "app_id": app, "api_id": api })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(h.last_snapshot().authorizations.is_empty());
}

#[tokio::test]
async fn grants_go_with_their_api_and_environment() {
    let Setup { h, group, app, api } = setup().await;
    h.call(
        "POST",
        "/v1/environments",
        Some(json!({ "name": "canary" })),
    )
    .await;
    grant(
        &h,
        json!({ "app_id": app, "api_id": api, "environment": "RELEASE" }),
    )
    .await;
    let (status, _) = grant(
        &h,
        json!({ "app_id": app, "api_id": api, "environment": "CANARY" }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(h.last_snapshot().authorizations.len(), 2);

    let (status, body) = h.call("DELETE", "/v1/environments/CANARY", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let left = h.last_snapshot().authorizations;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].spec.environment, "RELEASE");

    let (status, body) = h
        .call("DELETE", &format!("/v1/groups/{group}/apis/{api}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(h.last_snapshot().authorizations.is_empty());
    let (_, all) = h.call("GET", "/v1/authorizations", None).await;
    assert_eq!(all, json!([]));
}
