//! Policies bound to published APIs: in force as soon as the admin call returns, without a
//! republish, for binding, editing and unbinding; a bound CORS policy stands in for the API's
//! inline one.

use http::Method;
use serde_json::json;

use crate::harness::{Backend, Pylon, http_api};

const ORIGIN: &str = "https://shop.example.com";

async fn preflight(pylon: &Pylon, group: &str, origin: &str) -> crate::harness::Reply {
    pylon
        .call(
            group,
            Method::OPTIONS,
            "/a",
            &[("origin", origin), ("access-control-request-method", "GET")],
            "",
        )
        .await
}

#[tokio::test]
async fn binding_editing_and_unbinding_a_policy_take_effect_at_once() {
    let backend = Backend::start("b").await;
    let pylon = Pylon::start().await;
    let g = pylon.create_group("shop").await;
    let api = pylon
        .create_api(&g, http_api("a", "GET", "/a", &backend.url(), "/"))
        .await;
    pylon.publish(&g, &api, "RELEASE").await;
    // No policy: a preflight is not the gateway's to answer, and no CORS header is added.
    assert_ne!(preflight(&pylon, &g, ORIGIN).await.status, 204);
    let plain = pylon
        .call(&g, Method::GET, "/a", &[("origin", ORIGIN)], "")
        .await;
    assert_eq!(plain.status, 200);
    assert!(plain.headers.get("access-control-allow-origin").is_none());

    pylon
        .ok(
            Method::POST,
            "/v1/policies",
            json!({"name": "web", "kind": "cors", "config": {"allow_origins": [ORIGIN]}}),
        )
        .await;
    pylon
        .ok(
            Method::POST,
            "/v1/policies/web/bindings",
            json!({"api_id": api, "environment": "release"}),
        )
        .await;
    let answered = preflight(&pylon, &g, ORIGIN).await;
    assert_eq!(answered.status, 204, "{}", answered.text());
    assert_eq!(answered.header("access-control-allow-origin"), ORIGIN);
    assert_eq!(answered.header("access-control-allow-methods"), "GET");
    let actual = pylon
        .call(&g, Method::GET, "/a", &[("origin", ORIGIN)], "")
        .await;
    assert_eq!(actual.status, 200);
    assert_eq!(actual.header("access-control-allow-origin"), ORIGIN);
    // Only in the environment it is bound to.
    let test = pylon
        .call(
            &g,
            Method::OPTIONS,
            "/a",
            &[
                ("origin", ORIGIN),
                ("access-control-request-method", "GET"),
                ("x-ca-stage", "TEST"),
            ],
            "",
        )
        .await;
    assert_ne!(test.status, 204);

    // Editing the bound policy: the old origin is refused, the new one allowed.
    let other = "https://other.example.com";
    pylon
        .ok(
            Method::PUT,
            "/v1/policies/web",
            json!({"name": "web", "kind": "cors", "config": {"allow_origins": [other]}}),
        )
        .await;
    assert_eq!(preflight(&pylon, &g, ORIGIN).await.status, 403);
    assert_eq!(preflight(&pylon, &g, other).await.status, 204);

    let (status, body) = pylon
        .admin(
            Method::DELETE,
            &format!("/v1/policies/web/bindings/{api}/RELEASE"),
            None,
        )
        .await;
    assert_eq!(status, 204, "{body}");
    assert_ne!(preflight(&pylon, &g, other).await.status, 204);
    let after = pylon
        .call(&g, Method::GET, "/a", &[("origin", other)], "")
        .await;
    assert!(after.headers.get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn a_bound_cors_policy_stands_in_for_the_inline_one() {
    let backend = Backend::start("b").await;
    let pylon = Pylon::start().await;
    let g = pylon.create_group("shop").await;
    let mut spec = http_api("a", "GET", "/a", &backend.url(), "/");
    spec["cors"] = json!({"allow_origins": ["https://inline.example.com"]});
    let api = pylon.create_api(&g, spec).await;
    pylon.publish(&g, &api, "RELEASE").await;
    assert_eq!(
        preflight(&pylon, &g, "https://inline.example.com")
            .await
            .status,
        204
    );

    pylon
        .ok(
            Method::POST,
            "/v1/policies",
            json!({"name": "web", "kind": "cors", "config": {"allow_origins": [ORIGIN]}}),
        )
        .await;
    pylon
        .ok(
            Method::POST,
            "/v1/policies/web/bindings",
            json!({"api_id": api, "environment": "RELEASE"}),
        )
        .await;
    assert_eq!(preflight(&pylon, &g, ORIGIN).await.status, 204);
    assert_eq!(
        preflight(&pylon, &g, "https://inline.example.com")
            .await
            .status,
        403
    );
}
