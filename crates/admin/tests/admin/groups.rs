//! Groups, their domains, and the error shapes of bad input.

use http::StatusCode;
use serde_json::json;

use crate::common::{BASE_DOMAIN, Harness};

#[tokio::test]
async fn group_crud_round_trip() {
    let h = Harness::new().await;
    let (status, created) = h
        .call(
            "POST",
            "/v1/groups",
            Some(json!({ "name": "shop", "description": "d" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap();
    assert_eq!(id.len(), 16);
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    assert_eq!(created["default_domain"], format!("{id}.{BASE_DOMAIN}"));

    let (status, got) = h.call("GET", &format!("/v1/groups/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["name"], "shop");
    assert_eq!(got["default_domain"], created["default_domain"]);

    let (status, updated) = h
        .call(
            "PUT",
            &format!("/v1/groups/{id}"),
            Some(json!({ "name": "shop2" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["name"], "shop2");

    let (status, list) = h.call("GET", "/v1/groups", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["name"], "shop2");

    let (status, _) = h.call("DELETE", &format!("/v1/groups/{id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = h.call("GET", &format!("/v1/groups/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "NotFound");
}

#[tokio::test]
async fn group_delete_is_refused_while_it_holds_apis() {
    let h = Harness::new().await;
    let g = h.group("g").await;
    let b = h.mock_backend("b", &[]).await;
    let a = h.api(&g, "a", "/a", &b).await;
    let (status, body) = h.call("DELETE", &format!("/v1/groups/{g}"), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "Conflict");
    let (status, _) = h
        .call("DELETE", &format!("/v1/groups/{g}/apis/{a}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = h.call("DELETE", &format!("/v1/groups/{g}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn validation_errors_are_422_naming_the_field() {
    let h = Harness::new().await;
    let (status, body) = h
        .call("POST", "/v1/groups", Some(json!({ "name": "  " })))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["code"], "ValidationFailed");
    assert_eq!(body["field"], "name");

    let g = h.group("g").await;
    let b = h.mock_backend("b", &[]).await;
    let mut spec = crate::common::api_spec("a", "no-slash", &b);
    let (status, body) = h
        .call("POST", &format!("/v1/groups/{g}/apis"), Some(spec.clone()))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "request.path");

    spec["request"]["path"] = json!("/ok");
    spec["backend"]["service"]["backend_id"] = json!("0000000000000000");
    let (status, body) = h
        .call("POST", &format!("/v1/groups/{g}/apis"), Some(spec))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "backend.service.backend_id");
}

#[tokio::test]
async fn malformed_json_and_wrong_types_are_400() {
    let h = Harness::new().await;
    let (status, body) = h.call_raw("POST", "/v1/groups", "{\"name\": ").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "BadRequest");
    assert!(!body["message"].as_str().unwrap().is_empty());

    let (status, body) = h.call_raw("POST", "/v1/groups", r#"{"name": 5}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["message"].as_str().unwrap().contains("name"), "{body}");

    let (status, body) = h
        .call_raw("POST", "/v1/groups", r#"{"name": "g", "colour": "red"}"#)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["message"].as_str().unwrap().contains("colour"),
        "{body}"
    );
    assert_eq!(h.changes(), 0);
}

#[tokio::test]
async fn api_names_are_unique_per_group() {
    let h = Harness::new().await;
    let g1 = h.group("g1").await;
    let g2 = h.group("g2").await;
    let b = h.mock_backend("b", &[]).await;
    h.api(&g1, "same", "/a", &b).await;
    let (status, body) = h
        .call(
            "POST",
            &format!("/v1/groups/{g1}/apis"),
            Some(crate::common::api_spec("same", "/b", &b)),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    h.api(&g2, "same", "/a", &b).await;
}

#[tokio::test]
async fn api_of_another_group_is_not_found() {
    let h = Harness::new().await;
    let g1 = h.group("g1").await;
    let g2 = h.group("g2").await;
    let b = h.mock_backend("b", &[]).await;
    let a = h.api(&g1, "a", "/a", &b).await;
    let (status, _) = h
        .call("GET", &format!("/v1/groups/{g2}/apis/{a}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_domain_can_be_bound_to_one_environment() {
    let h = Harness::new().await;
    let g = h.group("g").await;
    h.call(
        "POST",
        "/v1/environments",
        Some(json!({ "name": "canary" })),
    )
    .await;
    let domains = format!("/v1/groups/{g}/domains");
    let (status, body) = h
        .call(
            "POST",
            &domains,
            Some(json!({ "name": "canary.example.com", "environment": "Canary" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Stored under the environment's own name.
    assert_eq!(
        body,
        json!({ "name": "canary.example.com", "environment": "CANARY" })
    );
    assert_eq!(
        h.last_snapshot().groups[0].domains[0]
            .environment
            .as_deref(),
        Some("CANARY")
    );

    let (status, body) = h
        .call(
            "POST",
            &domains,
            Some(json!({ "name": "x.example.com", "environment": "NOPE" })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "environment");

    // The environment serves a domain: not deleted until the domain is unbound.
    let (status, body) = h.call("DELETE", "/v1/environments/CANARY", None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("canary.example.com"),
        "{body}"
    );
    let (status, _) = h
        .call("DELETE", &format!("{domains}/canary.example.com"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = h.call("DELETE", "/v1/environments/CANARY", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}

#[tokio::test]
async fn domains_are_normalized_and_unique_across_groups() {
    let h = Harness::new().await;
    let g1 = h.group("g1").await;
    let g2 = h.group("g2").await;
    let (status, body) = h
        .call(
            "POST",
            &format!("/v1/groups/{g1}/domains"),
            Some(json!({ "name": "Api.Example.COM." })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["name"], "api.example.com");

    let (status, body) = h
        .call(
            "POST",
            &format!("/v1/groups/{g2}/domains"),
            Some(json!({ "name": "api.example.com" })),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    let (status, body) = h
        .call(
            "POST",
            &format!("/v1/groups/{g2}/domains"),
            Some(json!({ "name": "x:8080" })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "name");

    let (status, body) = h
        .call("GET", &format!("/v1/groups/{g1}/domains"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!([{ "name": "api.example.com" }]));
    assert_eq!(
        h.last_snapshot().groups[0].domains[0].name,
        "api.example.com"
    );

    let (status, _) = h
        .call(
            "DELETE",
            &format!("/v1/groups/{g1}/domains/api.example.com"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = h
        .call(
            "DELETE",
            &format!("/v1/groups/{g1}/domains/api.example.com"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn on_change_sees_every_mutation_and_no_read() {
    let h = Harness::new().await;
    let g = h.group("g").await;
    assert_eq!(h.changes(), 1);
    assert_eq!(h.last_snapshot().groups.len(), 1);
    h.call("GET", "/v1/groups", None).await;
    h.call("GET", &format!("/v1/groups/{g}"), None).await;
    assert_eq!(h.changes(), 1);
    h.call(
        "PUT",
        &format!("/v1/groups/{g}"),
        Some(json!({ "name": "renamed" })),
    )
    .await;
    assert_eq!(h.changes(), 2);
    assert_eq!(h.last_snapshot().groups[0].name, "renamed");
    h.call("DELETE", &format!("/v1/groups/{g}"), None).await;
    assert_eq!(h.changes(), 3);
    assert!(h.last_snapshot().groups.is_empty());
}

#[tokio::test]
async fn gateway_refusal_after_commit_is_reported_as_500() {
    let h = Harness::with_gateway(|_| Err("boom".to_string())).await;
    let (status, body) = h
        .call("POST", "/v1/groups", Some(json!({ "name": "g" })))
        .await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["code"], "ApplyFailed");
    assert!(body["message"].as_str().unwrap().contains("boom"));
    // The change itself was committed.
    assert_eq!(h.last_snapshot().groups.len(), 1);
}
