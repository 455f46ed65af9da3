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

#[tokio::test]
async fn an_ip_control_policy_refuses_addresses_before_the_backend() {
    let backend = Backend::start("b").await;
    let pylon = Pylon::start().await;
    let g = pylon.create_group("shop").await;
    let api = pylon
        .create_api(&g, http_api("a", "GET", "/a", &backend.url(), "/"))
        .await;
    pylon.publish(&g, &api, "RELEASE").await;

    // A range that does not parse is refused, naming the entry.
    let (status, body) = pylon
        .admin(
            Method::POST,
            "/v1/policies",
            Some(json!({"name": "office", "kind": "ip-control",
                   "config": {"action": "allow", "addresses": ["10.0.0.0/33"]}})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["field"], "config.addresses[0]", "{body}");

    pylon
        .ok(
            Method::POST,
            "/v1/policies",
            json!({"name": "office", "kind": "ip-control",
                   "config": {"action": "allow", "addresses": ["10.0.0.0/8", "2001:db8::/32"]}}),
        )
        .await;
    pylon
        .ok(
            Method::POST,
            "/v1/policies/office/bindings",
            json!({"api_id": api, "environment": "RELEASE"}),
        )
        .await;
    let hits = backend.hits();
    // The gateway sees 127.0.0.1; a forwarded address a client writes is not believed.
    let refused = pylon
        .call(
            &g,
            Method::GET,
            "/a",
            &[("x-forwarded-for", "10.1.2.3")],
            "",
        )
        .await;
    refused.assert_error(403, "Access Denied by IP Control");
    assert_eq!(refused.header("x-ca-error-code"), "A403IP");
    assert_eq!(
        backend.hits(),
        hits,
        "a refused call never reaches the backend"
    );

    pylon
        .ok(
            Method::PUT,
            "/v1/policies/office",
            json!({"name": "office", "kind": "ip-control",
                   "config": {"action": "allow", "addresses": ["10.0.0.0/8", "127.0.0.0/8"]}}),
        )
        .await;
    assert_eq!(pylon.get(&g, "/a").await.status, 200);

    pylon
        .ok(
            Method::PUT,
            "/v1/policies/office",
            json!({"name": "office", "kind": "ip-control",
                   "config": {"action": "deny", "addresses": ["127.0.0.1"]}}),
        )
        .await;
    pylon
        .get(&g, "/a")
        .await
        .assert_error(403, "Access Denied by IP Control");

    // Online debugging shows what each bound policy decided.
    let answer = pylon
        .ok(
            Method::POST,
            "/v1/debug",
            json!({"group_id": g, "api_id": api, "environment": "RELEASE"}),
        )
        .await;
    let policies = &answer["trace"]["policies"];
    assert_eq!(
        policies,
        &json!([{"kind": "ip-control", "decision": "refused: Access Denied by IP Control"}]),
        "{answer}"
    );
}

#[tokio::test]
async fn a_trusted_proxy_names_the_client_for_ip_control() {
    let backend = Backend::start("b").await;
    // The tests reach Pylon from 127.0.0.1, which plays the trusted load balancer here.
    let pylon = Pylon::start_with(&["--trusted-proxies", "127.0.0.1,10.0.0.0/8"], false).await;
    let g = pylon.create_group("shop").await;
    let api = pylon
        .create_api(&g, http_api("a", "GET", "/a", &backend.url(), "/"))
        .await;
    pylon.publish(&g, &api, "RELEASE").await;
    pylon
        .ok(
            Method::POST,
            "/v1/policies",
            json!({"name": "partners", "kind": "ip-control",
                   "config": {"action": "allow", "addresses": ["203.0.113.0/24"]}}),
        )
        .await;
    pylon
        .ok(
            Method::POST,
            "/v1/policies/partners/bindings",
            json!({"api_id": api, "environment": "RELEASE"}),
        )
        .await;
    let from = |xff: &'static str| {
        let pylon = &pylon;
        let g = g.clone();
        async move {
            pylon
                .call(&g, Method::GET, "/a", &[("x-forwarded-for", xff)], "")
                .await
                .status
        }
    };
    assert_eq!(from("203.0.113.9").await, 200);
    // The nearest hop the trusted proxies do not vouch for is the client, whatever the client
    // wrote before it.
    assert_eq!(from("203.0.113.9, 198.51.100.1").await, 403);
    assert_eq!(from("198.51.100.1, 203.0.113.9, 10.0.0.7").await, 200);
    assert_eq!(pylon.get(&g, "/a").await.status, 403, "no header: the peer");
    let forwarded = pylon
        .call(
            &g,
            Method::GET,
            "/a",
            &[("forwarded", "for=203.0.113.50;proto=https")],
            "",
        )
        .await;
    assert_eq!(forwarded.status, 200);

    // The `client_ip` system parameter is that client too; `X-Forwarded-For` gains the peer.
    let spec = json!({
        "name": "who",
        "request": {"method": "GET", "path": "/who"},
        "system_parameters": [{"kind": "client_ip", "name": "X-Client-Ip"}],
        "backend": {"service": {"inline": {"type": "http", "url": backend.url()}}, "path": "/"}
    });
    let who = pylon.create_api(&g, spec).await;
    pylon.publish(&g, &who, "RELEASE").await;
    let r = pylon
        .call(
            &g,
            Method::GET,
            "/who",
            &[("x-forwarded-for", "203.0.113.9")],
            "",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let seen = r.json();
    assert_eq!(seen["headers"]["x-client-ip"], "203.0.113.9");
    assert_eq!(seen["headers"]["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
}
