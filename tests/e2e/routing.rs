//! DESIGN.md's path matching, through the real gateway: each match class and their order.

use http::Method;
use serde_json::json;

use crate::harness::{Backend, Pylon, http_api};

#[tokio::test]
async fn each_match_class_and_its_priority() {
    let pylon = Pylon::start().await;
    let backend = Backend::start("b").await;
    let g = pylon.create_group("shop").await;
    let url = backend.url();
    // One API per class, all able to match `/user...` paths; backend paths tell them apart.
    let apis = [
        http_api("exact", "GET", "=/user", &url, "/exact"),
        http_api("prefix", "GET", "^~/user/pre", &url, "/prefix"),
        http_api(
            "prefix-longer",
            "GET",
            "^~/user/prefix",
            &url,
            "/prefix-longer",
        ),
        http_api("param", "GET", "/user/{id}", &url, "/param/{id}"),
        http_api(
            "param-first",
            "GET",
            "/{kind}/{id}",
            &url,
            "/param-first/{kind}/{id}",
        ),
        http_api("greedy", "GET", "/files/{proxy+}", &url, "/greedy/{proxy}"),
        http_api("plain", "GET", "/user", &url, "/plain"),
        json!({"name": "regex-low", "request": {"method": "GET", "path": "~^/re/x/(?P<n>[0-9]+)$", "regex_priority": 1},
               "backend": {"service": {"inline": {"type": "http", "url": url}}, "path": "/regex-low"}}),
        json!({"name": "regex-high", "request": {"method": "GET", "path": "~^/re/x/[0-9]+$", "regex_priority": 0},
               "backend": {"service": {"inline": {"type": "http", "url": url}}, "path": "/regex-high"}}),
    ];
    for spec in apis {
        let id = pylon.create_api(&g, spec).await;
        pylon.publish(&g, &id, "RELEASE").await;
    }
    let path_of = |r: crate::harness::Reply| r.json()["path"].as_str().unwrap().to_string();
    // 1. exact beats everything.
    assert_eq!(path_of(pylon.get(&g, "/user").await), "/exact");
    // 2. ^~ prefix beats params; the longest prefix wins; the rest is appended.
    assert_eq!(
        path_of(pylon.get(&g, "/user/prefix/x").await),
        "/prefix-longer/x"
    );
    assert_eq!(path_of(pylon.get(&g, "/user/prex").await), "/prefixx");
    // 3. params: a static segment beats a parameter, compared from the left; a path without
    // parameters is class 4, so `/user/{id}` wins over plain `/user` for `/user/42`.
    assert_eq!(path_of(pylon.get(&g, "/user/42").await), "/param/42");
    assert_eq!(
        path_of(pylon.get(&g, "/team/42").await),
        "/param-first/team/42"
    );
    assert_eq!(
        path_of(pylon.get(&g, "/files/a/b/c.txt").await),
        "/greedy/a/b/c.txt"
    );
    // 4. plain: string prefix.
    assert_eq!(path_of(pylon.get(&g, "/usertest").await), "/plaintest");
    assert_eq!(
        path_of(pylon.get(&g, "/user/42/orders").await),
        "/plain/42/orders"
    );
    // 5. regex by priority.
    assert_eq!(path_of(pylon.get(&g, "/re/x/7").await), "/regex-high");
    // Nothing matches.
    pylon
        .get(&g, "/nothing")
        .await
        .assert_error(400, "API Not Found");
}

#[tokio::test]
async fn method_specific_beats_any_and_unrouted_methods_are_refused() {
    let pylon = Pylon::start().await;
    let backend = Backend::start("b").await;
    let g = pylon.create_group("methods").await;
    for spec in [
        http_api("any", "ANY", "/items/{id}", &backend.url(), "/any/{id}"),
        http_api("post", "POST", "/items/{id}", &backend.url(), "/post/{id}"),
    ] {
        let id = pylon.create_api(&g, spec).await;
        pylon.publish(&g, &id, "RELEASE").await;
    }
    let r = pylon.call(&g, Method::POST, "/items/1", &[], "x").await;
    assert_eq!(r.json()["path"], "/post/1");
    let r = pylon.call(&g, Method::DELETE, "/items/1", &[], "").await;
    assert_eq!(r.json()["path"], "/any/1");
    assert_eq!(r.json()["method"], "DELETE");
    let r = pylon
        .call(
            &g,
            Method::from_bytes(b"BREW").unwrap(),
            "/items/1",
            &[],
            "",
        )
        .await;
    r.assert_error(400, "Invalid HttpMethod");
}

#[tokio::test]
async fn hosts_select_groups_and_unknown_hosts_are_refused() {
    let pylon = Pylon::start().await;
    let backend = Backend::start("b").await;
    let a = pylon.create_group("a").await;
    let b = pylon.create_group("b").await;
    pylon
        .ok(
            Method::POST,
            &format!("/v1/groups/{a}/domains"),
            json!({"name": "API.Example.com"}),
        )
        .await;
    for (g, tag) in [(&a, "/from-a"), (&b, "/from-b")] {
        let id = pylon
            .create_api(g, http_api("x", "GET", "/x", &backend.url(), tag))
            .await;
        pylon.publish(g, &id, "RELEASE").await;
    }
    assert_eq!(pylon.get(&a, "/x").await.json()["path"], "/from-a");
    assert_eq!(pylon.get(&b, "/x").await.json()["path"], "/from-b");
    let url = format!("http://{}/x", pylon.gateway);
    let custom = crate::harness::send(
        Method::GET,
        &url,
        &[("host".into(), "api.example.com:8080".into())],
        Default::default(),
    )
    .await;
    assert_eq!(custom.json()["path"], "/from-a");
    let unknown = crate::harness::send(
        Method::GET,
        &url,
        &[("host".into(), "nope.example.org".into())],
        Default::default(),
    )
    .await;
    unknown.assert_error(400, "Invalid Domain");
}

#[tokio::test]
async fn publishing_conflicting_routes_is_refused() {
    let pylon = Pylon::start().await;
    let g = pylon.create_group("conflicts").await;
    let one = pylon
        .create_api(
            &g,
            http_api("one", "GET", "/u/{id}", "http://127.0.0.1:1", "/"),
        )
        .await;
    let two = pylon
        .create_api(
            &g,
            http_api("two", "GET", "/u/{name}", "http://127.0.0.1:1", "/"),
        )
        .await;
    pylon.publish(&g, &one, "RELEASE").await;
    let (status, body) = pylon
        .admin(
            Method::POST,
            &format!("/v1/groups/{g}/apis/{two}/publish"),
            Some(json!({"environment": "RELEASE"})),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(body["message"].as_str().unwrap().contains("one"), "{body}");
    // The other environment has no conflict.
    pylon.publish(&g, &two, "TEST").await;
}
