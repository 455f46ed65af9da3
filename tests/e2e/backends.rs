//! Backend services, upstreams, mocks, parameters and failures, through the real gateway.

use http::Method;
use serde_json::json;

use crate::harness::{Backend, Limits, Pylon, dead_addr, http_api};

async fn backend_service(pylon: &Pylon, name: &str, kind: &str) -> String {
    let b = pylon
        .ok(
            Method::POST,
            "/v1/backends",
            json!({"name": name, "type": kind}),
        )
        .await;
    b["id"].as_str().unwrap().to_string()
}

fn api_on(name: &str, path: &str, backend_id: &str, backend_path: &str) -> serde_json::Value {
    json!({"name": name, "request": {"method": "ANY", "path": path},
           "backend": {"service": {"backend_id": backend_id}, "path": backend_path}})
}

#[tokio::test]
async fn pass_through_forwards_method_query_headers_and_body() {
    let pylon = Pylon::start().await;
    let backend = Backend::start("b").await;
    let g = pylon.create_group("echo").await;
    let api = pylon
        .create_api(&g, http_api("echo", "ANY", "/echo", &backend.url(), "/svc"))
        .await;
    pylon.publish(&g, &api, "RELEASE").await;
    let r = pylon
        .call(
            &g,
            Method::PUT,
            "/echo/sub?a=1&b=two",
            &[
                ("x-custom", "v"),
                ("connection", "x-drop, keep-alive"),
                ("x-drop", "1"),
                ("content-type", "text/plain"),
            ],
            "payload",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(!r.header("x-ca-request-id").is_empty());
    let e = r.json();
    assert_eq!(e["method"], "PUT");
    assert_eq!(e["path"], "/svc/sub");
    assert_eq!(e["query"], "a=1&b=two");
    assert_eq!(e["body"], "payload");
    let h = &e["headers"];
    assert_eq!(h["x-custom"], "v");
    assert!(
        h.get("x-drop").is_none(),
        "headers named in Connection are hop-by-hop: {h}"
    );
    assert_eq!(h["x-forwarded-for"], "127.0.0.1");
    assert_eq!(h["x-forwarded-proto"], "http");
    assert_eq!(h["x-forwarded-host"], format!("{g}.pylon.test"));
    assert_eq!(h["host"], backend.addr.to_string());
}

#[tokio::test]
async fn parameters_are_validated_and_mapped() {
    let pylon = Pylon::start().await;
    let backend = Backend::start("b").await;
    let g = pylon.create_group("params").await;
    let spec = json!({
        "name": "mapped",
        "request": {"method": "GET", "path": "/users/{uid}", "mode": "mapping"},
        "parameters": [
            {"name": "uid", "location": "path", "type": "int", "required": true, "backend_name": "user_id", "backend_location": "query"},
            {"name": "limit", "location": "query", "type": "int", "default": "10", "constraints": {"min": 1, "max": 100}},
            {"name": "sort", "location": "query", "constraints": {"enum_values": ["asc", "desc"]}, "backend_name": "order"},
            {"name": "X-Tenant", "location": "header", "required": true, "backend_name": "tenant", "backend_location": "query"}
        ],
        "constant_parameters": [{"name": "X-Source", "location": "header", "value": "pylon"}],
        "system_parameters": [{"kind": "client_ip", "name": "X-Client-Ip"}, {"kind": "request_id", "name": "X-Req"}],
        "backend": {"service": {"inline": {"type": "http", "url": backend.url()}}, "path": "/lookup"}
    });
    let api = pylon.create_api(&g, spec).await;
    pylon.publish(&g, &api, "RELEASE").await;

    let r = pylon
        .call(
            &g,
            Method::GET,
            "/users/42?sort=desc&junk=1",
            &[("x-tenant", "t1")],
            "",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let e = r.json();
    assert_eq!(e["path"], "/lookup");
    let query: Vec<&str> = e["query"].as_str().unwrap().split('&').collect();
    for expected in ["user_id=42", "limit=10", "order=desc", "tenant=t1"] {
        assert!(query.contains(&expected), "{query:?}");
    }
    assert!(
        !query.iter().any(|q| q.starts_with("junk")),
        "mapping mode forwards declared parameters only"
    );
    assert_eq!(e["headers"]["x-source"], "pylon");
    assert_eq!(e["headers"]["x-client-ip"], "127.0.0.1");
    assert_eq!(e["headers"]["x-req"], r.header("x-ca-request-id"));

    let bad = pylon
        .call(&g, Method::GET, "/users/abc", &[("x-tenant", "t1")], "")
        .await;
    bad.assert_error(400, "Invalid Parameter");
    assert!(bad.header("x-ca-error-message").contains("uid"));
    let missing = pylon.call(&g, Method::GET, "/users/1", &[], "").await;
    assert_eq!(missing.status, 400);
    assert!(
        missing.header("x-ca-error-message").contains("X-Tenant"),
        "{:?}",
        missing.header("x-ca-error-message")
    );
    let range = pylon
        .call(
            &g,
            Method::GET,
            "/users/1?limit=500",
            &[("x-tenant", "t")],
            "",
        )
        .await;
    assert_eq!(range.status, 400);
    assert!(range.header("x-ca-error-message").contains("limit"));
    let not_enum = pylon
        .call(
            &g,
            Method::GET,
            "/users/1?sort=up",
            &[("x-tenant", "t")],
            "",
        )
        .await;
    assert_eq!(not_enum.status, 400);
    assert!(not_enum.header("x-ca-error-message").contains("sort"));
}

#[tokio::test]
async fn backend_definition_change_applies_without_republish_and_delete_unpublishes() {
    let pylon = Pylon::start().await;
    let one = Backend::start("one").await;
    let two = Backend::start("two").await;
    let g = pylon.create_group("svc").await;
    let b = backend_service(&pylon, "orders", "http").await;
    pylon
        .ok(
            Method::PUT,
            &format!("/v1/backends/{b}/environments/RELEASE"),
            json!({"type": "http", "url": one.url()}),
        )
        .await;
    let api = pylon
        .create_api(&g, api_on("orders", "/orders", &b, "/orders"))
        .await;
    pylon.publish(&g, &api, "RELEASE").await;
    assert_eq!(pylon.get(&g, "/orders").await.json()["backend"], "one");

    pylon
        .ok(
            Method::PUT,
            &format!("/v1/backends/{b}/environments/RELEASE"),
            json!({"type": "http", "url": two.url()}),
        )
        .await;
    assert_eq!(pylon.get(&g, "/orders").await.json()["backend"], "two");

    // The type is fixed.
    let (status, _) = pylon
        .admin(
            Method::PUT,
            &format!("/v1/backends/{b}/environments/RELEASE"),
            Some(json!({"type": "mock", "body": "x"})),
        )
        .await;
    assert_eq!(status, 422);

    // Publishing to an environment where the backend has no definition is refused.
    let (status, body) = pylon
        .admin(
            Method::POST,
            &format!("/v1/groups/{g}/apis/{api}/publish"),
            Some(json!({"environment": "TEST"})),
        )
        .await;
    assert_eq!(status, 409, "{body}");

    // Deleting the definition needs a confirmation, then unpublishes the API there.
    let (status, body) = pylon
        .admin(
            Method::DELETE,
            &format!("/v1/backends/{b}/environments/RELEASE"),
            None,
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["apis"][0]["name"], "orders");
    assert_eq!(pylon.get(&g, "/orders").await.status, 200);
    pylon
        .ok(
            Method::DELETE,
            &format!("/v1/backends/{b}/environments/RELEASE?confirm=true"),
            json!(null),
        )
        .await;
    pylon
        .get(&g, "/orders")
        .await
        .assert_error(400, "API Not Found");
    let history = pylon
        .ok(
            Method::GET,
            &format!("/v1/groups/{g}/apis/{api}/deployments"),
            json!(null),
        )
        .await;
    assert!(
        history
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["active"] == false),
        "{history}"
    );
}

#[tokio::test]
async fn upstreams_balance_round_robin_and_fail_over() {
    let pylon = Pylon::start().await;
    let a = Backend::start("a").await;
    let b = Backend::start("b").await;
    let dead = dead_addr().await;
    let g = pylon.create_group("vpc").await;
    let up = pylon
        .ok(Method::POST, "/v1/upstreams", json!({"name": "vpc-orders", "targets": [a.addr.to_string(), b.addr.to_string(), dead.to_string()], "host_header": "orders.internal"}))
        .await;
    let svc = backend_service(&pylon, "orders-vpc", "upstream").await;
    pylon
        .ok(
            Method::PUT,
            &format!("/v1/backends/{svc}/environments/RELEASE"),
            json!({"type": "upstream", "upstream": "vpc-orders", "path_prefix": "/base"}),
        )
        .await;
    let api = pylon
        .create_api(&g, api_on("orders", "/orders", &svc, "/orders"))
        .await;
    pylon.publish(&g, &api, "RELEASE").await;

    let mut seen = std::collections::BTreeMap::new();
    for i in 0..12 {
        let r = if i % 2 == 0 {
            pylon.get(&g, "/orders").await
        } else {
            pylon
                .call(&g, Method::POST, "/orders", &[], "body-with-data")
                .await
        };
        assert_eq!(r.status, 200, "request {i}: {}", r.text());
        let e = r.json();
        assert_eq!(e["path"], "/base/orders");
        assert_eq!(e["headers"]["host"], "orders.internal");
        if i % 2 == 1 {
            assert_eq!(
                e["body"], "body-with-data",
                "a failed-over POST keeps its body"
            );
        }
        *seen
            .entry(e["backend"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
    }
    assert!(
        seen.get("a").copied().unwrap_or(0) >= 3 && seen.get("b").copied().unwrap_or(0) >= 3,
        "{seen:?}"
    );

    // Every target down: 503.
    let id = up["id"].as_str().unwrap();
    pylon
        .ok(
            Method::PUT,
            &format!("/v1/upstreams/{id}"),
            json!({"name": "vpc-orders", "targets": [dead.to_string()]}),
        )
        .await;
    pylon
        .get(&g, "/orders")
        .await
        .assert_error(503, "Service Unavailable");
}

#[tokio::test]
async fn mock_timeout_and_backend_down() {
    let pylon = Pylon::start().await;
    let slow = Backend::start("slow").await;
    let dead = dead_addr().await;
    let g = pylon.create_group("failures").await;
    let mock = json!({"name": "mock", "request": {"method": "GET", "path": "=/mock"},
        "backend": {"service": {"inline": {"type": "mock", "status": 201, "headers": {"x-mock": "yes"}, "body": "{\"ok\":true}"}}, "path": "/"}});
    let timeout = json!({"name": "timeout", "request": {"method": "GET", "path": "=/timeout"},
        "backend": {"service": {"inline": {"type": "http", "url": slow.url()}}, "path": "/slow", "timeout_ms": 300}});
    let down = http_api("down", "GET", "=/down", &format!("http://{dead}"), "/");
    for spec in [mock, timeout, down] {
        let id = pylon.create_api(&g, spec).await;
        pylon.publish(&g, &id, "RELEASE").await;
    }
    let r = pylon.get(&g, "/mock").await;
    assert_eq!(r.status, 201);
    assert_eq!(r.header("x-mock"), "yes");
    assert_eq!(r.text(), "{\"ok\":true}");
    assert!(!r.header("x-ca-request-id").is_empty());

    let started = std::time::Instant::now();
    pylon
        .get(&g, "/timeout?ms=5000")
        .await
        .assert_error(504, "Backend timeout");
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
    pylon
        .get(&g, "/down")
        .await
        .assert_error(502, "Failed To Invoke Backend Service");
}

/// A worker keeps its backend calls' timers and moves each to the next call's deadline: one
/// kept at a far deadline (20 s) must still time out a call whose deadline is near (300 ms),
/// and a timer that fired must serve the next call.
#[tokio::test]
async fn kept_timers_time_out_a_near_deadline_after_a_far_one() {
    // One worker: every call takes its timer from the same keep.
    let pylon = Pylon::start_limited(
        &[],
        false,
        Limits {
            one_cpu: true,
            ..Limits::default()
        },
    )
    .await;
    let slow = Backend::start("slow").await;
    let g = pylon.create_group("kept-timers").await;
    let far = json!({"name": "far", "request": {"method": "GET", "path": "=/far"},
        "backend": {"service": {"inline": {"type": "http", "url": slow.url()}}, "path": "/slow", "timeout_ms": 20_000}});
    let near = json!({"name": "near", "request": {"method": "GET", "path": "=/near"},
        "backend": {"service": {"inline": {"type": "http", "url": slow.url()}}, "path": "/slow", "timeout_ms": 300}});
    for spec in [far, near] {
        let id = pylon.create_api(&g, spec).await;
        pylon.publish(&g, &id, "RELEASE").await;
    }
    for _ in 0..3 {
        for _ in 0..5 {
            assert_eq!(pylon.get(&g, "/far?ms=0").await.status, 200);
        }
        let started = std::time::Instant::now();
        pylon
            .get(&g, "/near?ms=5000")
            .await
            .assert_error(504, "Backend timeout");
        let took = started.elapsed();
        assert!(
            took >= std::time::Duration::from_millis(300),
            "timed out before its deadline: {took:?}"
        );
        assert!(
            took < std::time::Duration::from_secs(4),
            "the far deadline held: {took:?}"
        );
    }
    // A call the far deadline allows finishes, on a timer that has fired before.
    assert_eq!(pylon.get(&g, "/far?ms=400").await.status, 200);
}
