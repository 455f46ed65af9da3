//! Policies: create, read, update and delete, bindings to an API in an environment, and the
//! rules the store enforces on them.

use http::StatusCode;
use serde_json::{Value, json};

use crate::common::Harness;

struct Setup {
    h: Harness,
    group: String,
    api: String,
}

/// An unpublished API `a` in group `g`.
async fn setup() -> Setup {
    let h = Harness::new().await;
    let group = h.group("g").await;
    let b = h.mock_backend("b", &["RELEASE", "TEST"]).await;
    let api = h.api(&group, "a", "/a", &b).await;
    Setup { h, group, api }
}

fn cors(name: &str, origin: &str) -> Value {
    json!({ "name": name, "kind": "cors", "config": { "allow_origins": [origin] } })
}

/// Creates a CORS policy and returns its id.
async fn policy(h: &Harness, name: &str) -> String {
    let (status, body) = h
        .call(
            "POST",
            "/v1/policies",
            Some(cors(name, "https://app.example")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().unwrap().to_string()
}

async fn bind(h: &Harness, policy: &str, api: &str, env: &str) -> (StatusCode, Value) {
    h.call(
        "POST",
        &format!("/v1/policies/{policy}/bindings"),
        Some(json!({ "api_id": api, "environment": env })),
    )
    .await
}

#[tokio::test]
async fn policies_are_created_read_updated_and_deleted() {
    let h = Harness::new().await;
    let changes = h.changes();
    let (status, created) = h
        .call(
            "POST",
            "/v1/policies",
            Some(
                json!({ "name": "web", "description": "browsers", "kind": "cors",
                "config": { "allow_origins": ["https://app.example"], "max_age_seconds": 600 } }),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["kind"], "cors");
    assert_eq!(created["description"], "browsers");
    assert_eq!(
        created["config"]["allow_origins"],
        json!(["https://app.example"])
    );
    assert_eq!(created["config"]["max_age_seconds"], 600);
    let id = created["id"].as_str().unwrap();
    // Handed to the gateway before the call returned.
    assert!(h.changes() > changes);
    assert_eq!(h.last_snapshot().policies.len(), 1);
    assert_eq!(h.last_snapshot().policies[0].id, id);

    let (status, by_id) = h.call("GET", &format!("/v1/policies/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(by_id, created);
    let (_, by_name) = h.call("GET", "/v1/policies/web", None).await;
    assert_eq!(by_name, created);
    let (_, list) = h.call("GET", "/v1/policies", None).await;
    assert_eq!(list, json!([created]));

    let (status, updated) = h
        .call(
            "PUT",
            "/v1/policies/web",
            Some(cors("web2", "https://other.example")),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["id"], id);
    assert_eq!(updated["name"], "web2");
    assert_eq!(updated["created_at"], created["created_at"]);
    let (_, got) = h.call("GET", &format!("/v1/policies/{id}"), None).await;
    assert_eq!(got, updated);
    assert_eq!(h.last_snapshot().policies[0].spec.name, "web2");

    let (status, _) = h.call("DELETE", "/v1/policies/web2", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = h.call("GET", &format!("/v1/policies/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(h.last_snapshot().policies.is_empty());
}

#[tokio::test]
async fn bad_input_is_refused_naming_the_field() {
    let h = Harness::new().await;
    let (status, body) = h
        .call(
            "POST",
            "/v1/policies",
            Some(json!({ "name": "x", "kind": "cors", "config": { "allow_origins": [] } })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "ValidationFailed");
    assert_eq!(body["field"], "config.allow_origins");

    let (status, body) = h
        .call(
            "POST",
            "/v1/policies",
            Some(json!({ "name": "x", "kind": "cors",
                "config": { "allow_origins": ["*"], "allow_credentials": true } })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "config.allow_credentials");

    let (status, body) = h
        .call(
            "POST",
            "/v1/policies",
            Some(json!({ "name": "x", "kind": "cors", "config": { "origins": ["*"] } })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "config");

    let (status, body) = h
        .call(
            "POST",
            "/v1/policies",
            Some(json!({ "name": "x", "kind": "rate-limit", "config": { "limit": 10 } })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "kind");
    assert_eq!(
        body["message"],
        "unknown policy kind `rate-limit`; supported kinds: `cors`, `ip-control`, `throttle`"
    );

    // A throttle's limits are checked where they are written.
    let (status, body) = h
        .call(
            "POST",
            "/v1/policies",
            Some(json!({ "name": "x", "kind": "throttle",
                         "config": { "unit": "minute", "quota": {"limit": 5, "period": "month", "time_zone": "Mars/Base"} } })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "config.quota.time_zone");

    let (status, body) = h
        .call(
            "POST",
            "/v1/policies",
            Some(json!({ "name": "", "kind": "cors", "config": { "allow_origins": ["*"] } })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "name");

    // Malformed input is a 400, as everywhere in the admin API.
    let (status, _) = h
        .call(
            "POST",
            "/v1/policies",
            Some(json!({ "name": "x", "kind": "cors", "config": {}, "extra": 1 })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = h.call_raw("POST", "/v1/policies", "{").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (_, list) = h.call("GET", "/v1/policies", None).await;
    assert_eq!(list, json!([]));
}

#[tokio::test]
async fn policy_names_are_unique() {
    let h = Harness::new().await;
    policy(&h, "web").await;
    let other = policy(&h, "other").await;
    let (status, body) = h.call("POST", "/v1/policies", Some(cors("web", "*"))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["message"], "a policy named `web` already exists");
    let (status, _) = h
        .call(
            "PUT",
            &format!("/v1/policies/{other}"),
            Some(cors("web", "*")),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn bindings_are_made_listed_both_ways_and_removed() {
    let Setup { h, group, api } = setup().await;
    let web = policy(&h, "web").await;
    let b = h.mock_backend("b2", &["RELEASE"]).await;
    let api2 = h.api(&group, "a2", "/a2", &b).await;

    let (status, first) = bind(&h, "web", &api, "release").await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["policy_id"], web);
    assert_eq!(first["api_id"], api);
    assert_eq!(first["environment"], "RELEASE");
    assert!(first["created_at"].is_i64());
    let snapshot = h.last_snapshot();
    assert_eq!(snapshot.policy_bindings.len(), 1);
    assert_eq!(snapshot.policy_bindings[0].api_id, api);
    let (status, _) = bind(&h, &web, &api, "TEST").await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = bind(&h, &web, &api2, "TEST").await;
    assert_eq!(status, StatusCode::CREATED);

    let (status, by_policy) = h
        .call("GET", &format!("/v1/policies/{web}/bindings"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let places: Vec<(&str, &str)> = by_policy
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["api_id"].as_str().unwrap(),
                b["environment"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        places,
        [
            (api.as_str(), "RELEASE"),
            (api.as_str(), "TEST"),
            (api2.as_str(), "TEST")
        ]
    );

    let (status, of_api) = h
        .call("GET", &format!("/v1/apis/{api}/policies"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{of_api}");
    assert_eq!(of_api.as_array().unwrap().len(), 2);
    assert_eq!(of_api[0]["policy_id"], web);
    assert_eq!(of_api[0]["policy_name"], "web");
    assert_eq!(of_api[0]["kind"], "cors");
    assert_eq!(of_api[0]["environment"], "RELEASE");
    let (status, in_test) = h
        .call(
            "GET",
            &format!("/v1/apis/{api}/policies?environment=test"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(in_test.as_array().unwrap().len(), 1);
    assert_eq!(in_test[0]["environment"], "TEST");
    let (status, body) = h
        .call(
            "GET",
            &format!("/v1/apis/{api}/policies?environment=nope"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "environment");
    let (status, _) = h.call("GET", "/v1/apis/nope/policies", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, _) = h
        .call(
            "DELETE",
            &format!("/v1/policies/web/bindings/{api}/test"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(h.last_snapshot().policy_bindings.len(), 2);
    let (status, body) = h
        .call(
            "DELETE",
            &format!("/v1/policies/web/bindings/{api}/TEST"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (_, in_test) = h
        .call(
            "GET",
            &format!("/v1/apis/{api}/policies?environment=TEST"),
            None,
        )
        .await;
    assert_eq!(in_test, json!([]));
}

#[tokio::test]
async fn binding_refers_to_an_existing_policy_api_and_environment() {
    let Setup { h, api, .. } = setup().await;
    policy(&h, "web").await;
    let changes = h.changes();
    let (status, body) = bind(&h, "web", "nope", "TEST").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["message"], "API `nope` not found");
    let (status, body) = bind(&h, "web", &api, "NOPE").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "environment");
    let (status, _) = bind(&h, "nope", &api, "TEST").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = h
        .call(
            "POST",
            "/v1/policies/web/bindings",
            Some(json!({ "api_id": api })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(h.changes(), changes);
    let (_, list) = h.call("GET", "/v1/policies/web/bindings", None).await;
    assert_eq!(list, json!([]));
}

#[tokio::test]
async fn one_cors_policy_per_api_and_environment() {
    let Setup { h, api, .. } = setup().await;
    policy(&h, "web").await;
    policy(&h, "mobile").await;
    let (status, _) = bind(&h, "web", &api, "TEST").await;
    assert_eq!(status, StatusCode::CREATED);

    let (status, body) = bind(&h, "web", &api, "test").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        body["message"],
        "policy `web` is already bound to API `a` in `TEST`"
    );
    let (status, body) = bind(&h, "mobile", &api, "TEST").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        body["message"],
        "API `a` already has `cors` policy `web` in `TEST`; unbind it first \
         (one policy of a kind per API and environment)"
    );
    let (status, _) = bind(&h, "mobile", &api, "RELEASE").await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn a_bound_policy_is_not_deleted_and_its_kind_is_fixed() {
    let Setup { h, api, .. } = setup().await;
    let web = policy(&h, "web").await;
    bind(&h, "web", &api, "TEST").await;
    let (status, body) = h.call("DELETE", "/v1/policies/web", None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        body["message"],
        "policy `web` is bound to API `a` in `TEST`; unbind it first"
    );
    // Editing a bound policy is served at once, with no republish.
    let (status, _) = h
        .call(
            "PUT",
            "/v1/policies/web",
            Some(cors("web", "https://new.example")),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let snapshot = h.last_snapshot();
    let served = serde_json::to_value(&snapshot.policies[0]).unwrap();
    assert_eq!(
        served["config"]["allow_origins"],
        json!(["https://new.example"])
    );

    let (status, _) = h
        .call(
            "DELETE",
            &format!("/v1/policies/{web}/bindings/{api}/TEST"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = h.call("DELETE", "/v1/policies/web", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn deleting_an_api_removes_its_bindings() {
    let Setup { h, group, api } = setup().await;
    policy(&h, "web").await;
    bind(&h, "web", &api, "TEST").await;
    bind(&h, "web", &api, "RELEASE").await;
    let (status, body) = h
        .call("DELETE", &format!("/v1/groups/{group}/apis/{api}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (_, list) = h.call("GET", "/v1/policies/web/bindings", None).await;
    assert_eq!(list, json!([]));
    assert!(h.last_snapshot().policy_bindings.is_empty());
    let (status, _) = h.call("DELETE", "/v1/policies/web", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn deleting_an_environment_removes_the_bindings_in_it() {
    let Setup { h, api, .. } = setup().await;
    h.call(
        "POST",
        "/v1/environments",
        Some(json!({ "name": "staging" })),
    )
    .await;
    policy(&h, "web").await;
    bind(&h, "web", &api, "STAGING").await;
    bind(&h, "web", &api, "TEST").await;
    let (status, _) = h.call("DELETE", "/v1/environments/staging", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, list) = h.call("GET", "/v1/policies/web/bindings", None).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["environment"], "TEST");
}

#[tokio::test]
async fn the_openapi_document_lists_the_policy_paths() {
    let h = Harness::new().await;
    let (status, doc) = h.call("GET", "/v1/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    for (path, methods) in [
        ("/v1/policies", &["get", "post"][..]),
        ("/v1/policies/{id}", &["get", "put", "delete"]),
        ("/v1/policies/{id}/bindings", &["get", "post"]),
        (
            "/v1/policies/{id}/bindings/{api_id}/{environment}",
            &["delete"],
        ),
        ("/v1/apis/{api_id}/policies", &["get"]),
    ] {
        for m in methods {
            assert!(doc["paths"][path][m].is_object(), "{m} {path} missing");
        }
    }
    let schemas = &doc["components"]["schemas"];
    assert!(schemas["PolicySpec"].is_object());
    assert!(schemas["Policy"].is_object());
}
