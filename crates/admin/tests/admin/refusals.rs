//! What Pylon cannot serve yet, or could not mean, is refused when it is configured, with the
//! field named and, where one call fixes it, a machine-readable next step.

use http::StatusCode;
use serde_json::{Value, json};

use crate::common::{Harness, api_spec};

/// An error body whose `next_step.request` must appear in its message, as clients rely on.
fn next_step(body: &Value) -> &Value {
    let step = &body["next_step"];
    let request = step["request"].as_str().expect("next_step.request");
    assert!(
        body["message"].as_str().unwrap_or("").contains(request),
        "{body}"
    );
    step
}

async fn http_backend(h: &Harness, name: &str) -> String {
    let (status, b) = h
        .call(
            "POST",
            "/v1/backends",
            Some(json!({ "name": name, "type": "http" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{b}");
    b["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn https_backend_urls_are_accepted_and_tls_needs_one() {
    let h = Harness::new().await;
    let b = http_backend(&h, "svc").await;
    let (status, body) = h
        .call(
            "PUT",
            &format!("/v1/backends/{b}/environments/RELEASE"),
            Some(json!({ "type": "http", "url": "https://api.example.com/v1", "tls": {} })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = h
        .call(
            "PUT",
            &format!("/v1/backends/{b}/environments/RELEASE"),
            Some(json!({ "type": "http", "url": "http://api.example.com/v1", "tls": {} })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "tls");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("need an https:// or wss:// URL"),
        "{body}"
    );

    let g = h.group("g").await;
    let mut spec = api_spec("inline", "/inline", "unused");
    spec["backend"]["service"] =
        json!({ "inline": { "type": "http", "url": "HTTPS://api.example.com" } });
    let (status, body) = h
        .call("POST", &format!("/v1/groups/{g}/apis"), Some(spec))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn publish_checks_a_templated_url_with_the_environments_stage_variables() {
    let h = Harness::new().await;
    let b = http_backend(&h, "svc").await;
    let (status, body) = h
        .call(
            "PUT",
            &format!("/v1/backends/{b}/environments/TEST"),
            Some(json!({ "type": "http", "url": "http://${stageVariables.host}/base" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let g = h.group("g").await;
    let (status, body) = h
        .call(
            "PUT",
            &format!("/v1/groups/{g}/stage-variables/TEST"),
            Some(json!({ "variables": { "host": "10.0.0.1?x=1" } })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let a = h.api(&g, "a", "/a", &b).await;
    let (status, body) = h.publish(&g, &a, "TEST").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "backend.service");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("http://10.0.0.1?x=1/base") && message.contains("query"),
        "{body}"
    );
    let step = next_step(&body);
    assert_eq!(step["action"], "define_backend");
    assert_eq!(step["backend_name"], "svc");
    assert!(h.last_snapshot().deployments.is_empty());
}

#[tokio::test]
async fn refusals_that_one_call_fixes_carry_the_next_step() {
    let h = Harness::new().await;
    let g = h.group("g").await;
    let b = h.mock_backend("orders", &["RELEASE"]).await;
    let a = h.api(&g, "a", "/a", &b).await;

    let (status, body) = h.publish(&g, &a, "TEST").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let step = next_step(&body);
    assert_eq!(
        step,
        &json!({
            "action": "define_backend",
            "request": format!("PUT /v1/backends/{b}/environments/TEST"),
            "backend_id": b,
            "backend_name": "orders",
            "backend_type": "mock",
            "environment": "TEST",
        })
    );

    assert_eq!(h.publish(&g, &a, "RELEASE").await.0, StatusCode::CREATED);
    let (status, body) = h
        .call(
            "DELETE",
            &format!("/v1/backends/{b}/environments/RELEASE"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "ConfirmationRequired");
    assert_eq!(next_step(&body)["action"], "confirm");
}

#[tokio::test]
async fn other_routers_path_spellings_are_refused_with_the_pylon_one() {
    let h = Harness::new().await;
    let g = h.group("g").await;
    let b = h.mock_backend("b", &["RELEASE"]).await;
    for (path, hint) in [
        ("/users/:id", "`/users/{id}`"),
        ("/files/*", "`/files/{proxy+}`"),
        ("/a/{id}/{id}", "`{id}` appears twice"),
    ] {
        let (status, body) = h
            .call(
                "POST",
                &format!("/v1/groups/{g}/apis"),
                Some(api_spec("p", path, &b)),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {body}");
        assert_eq!(body["field"], "request.path", "{body}");
        assert!(
            body["message"].as_str().unwrap().contains(hint),
            "{path}: {body}"
        );
    }
}
