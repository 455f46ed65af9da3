//! Online debugging against the real binary: `POST /v1/debug` signs on an app's behalf, runs
//! the request through the real pipeline and backend, and traces each phase; `pylon debug`
//! shows the same.

use http::Method;
use serde_json::{Value, json};

use crate::harness::{Backend, Pylon, cli_json, cli_ok};

/// A group with a signed API published to TEST, an app granted it and one that is not.
async fn setup(pylon: &Pylon, backend: &Backend) -> (String, String, String, String) {
    let group = pylon.create_group("debugged").await;
    let api = pylon
        .create_api(
            &group,
            json!({
                "name": "orders", "request": {"method": "POST", "path": "/orders"},
                "parameters": [{"name": "limit", "location": "query", "type": "int", "default": "10"}],
                "backend": {"service": {"inline": {"type": "http", "url": backend.url()}}, "path": "/o"},
                "system_parameters": [{"kind": "app_id", "name": "X-App-Id"}],
                "auth": {"type": "app"}
            }),
        )
        .await;
    pylon.publish(&group, &api, "TEST").await;
    let granted = pylon
        .ok(Method::POST, "/v1/apps", json!({"name": "granted"}))
        .await;
    let granted = granted["id"].as_str().unwrap().to_string();
    let other = pylon
        .ok(Method::POST, "/v1/apps", json!({"name": "other"}))
        .await;
    let other = other["id"].as_str().unwrap().to_string();
    pylon
        .ok(
            Method::POST,
            "/v1/authorizations",
            json!({"app_id": granted, "api_id": api, "environment": "TEST"}),
        )
        .await;
    (group, api, granted, other)
}

fn phase<'a>(trace: &'a Value, name: &str) -> &'a Value {
    trace["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no phase {name} in {trace}"))
}

#[tokio::test]
async fn debug_signs_for_the_app_and_traces_every_phase() {
    let pylon = Pylon::start().await;
    let backend = Backend::start("orders").await;
    let (group, api, granted, other) = setup(&pylon, &backend).await;

    let answer = pylon
        .ok(
            Method::POST,
            "/v1/debug",
            json!({"group_id": group, "api_id": api, "environment": "TEST", "app_id": granted,
                "query": "limit=5", "headers": {"content-type": "application/json"},
                "body": "{\"item\":1}"}),
        )
        .await;
    assert_eq!(answer["signed"]["scheme"], "app");
    let trace = &answer["trace"];
    assert_eq!(trace["route"]["group_id"], group.as_str());
    assert_eq!(trace["route"]["environment"], "TEST");
    assert_eq!(trace["route"]["api_id"], api.as_str());
    assert_eq!(trace["route"]["api_path"], "/orders");
    assert_eq!(trace["parameters"][0]["name"], "limit");
    assert_eq!(trace["parameters"][0]["value"], "5");
    assert_eq!(trace["caller"]["scheme"], "app");
    assert_eq!(trace["caller"]["app_id"], granted.as_str());
    assert!(trace["error"].is_null(), "{trace}");
    let sent = &trace["backend_request"];
    assert_eq!(sent["method"], "POST");
    assert_eq!(
        sent["url"],
        format!("http://{}/o?limit=5", backend.addr),
        "{sent}"
    );
    assert_eq!(sent["body"], "{\"item\":1}");
    let sent_headers: Vec<&str> = sent["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h[0].as_str().unwrap())
        .collect();
    assert!(sent_headers.contains(&"x-app-id"));
    assert!(
        !sent_headers.contains(&"x-ca-signature"),
        "credentials are not forwarded"
    );
    assert_eq!(trace["backend_response"]["status"], 200);
    let echoed: Value =
        serde_json::from_str(trace["backend_response"]["body"].as_str().unwrap()).unwrap();
    assert_eq!(echoed["headers"]["x-app-id"], granted.as_str());
    assert_eq!(trace["response"]["status"], 200);
    for name in [
        "route",
        "validate",
        "authenticate",
        "authorize",
        "forward",
        "backend",
    ] {
        assert!(phase(trace, name)["duration_us"].is_u64());
    }

    // The app without a grant: the trace shows the client's error and where it arose.
    let answer = pylon
        .ok(
            Method::POST,
            "/v1/debug",
            json!({"group_id": group, "api_id": api, "environment": "TEST", "app_id": other}),
        )
        .await;
    let trace = &answer["trace"];
    assert_eq!(trace["error"]["status"], 403);
    assert_eq!(trace["error"]["message"], "Unauthorized");
    assert_eq!(phase(trace, "authorize")["error"], "Unauthorized");
    assert!(trace["backend_request"].is_null());

    // Unsigned: the signature is what is missing.
    let answer = pylon
        .ok(
            Method::POST,
            "/v1/debug",
            json!({"group_id": group, "api_id": api, "environment": "TEST"}),
        )
        .await;
    assert_eq!(answer["trace"]["error"]["message"], "Invalid AppKey");

    // Bad input is named.
    let (status, body) = pylon
        .admin(Method::POST, "/v1/debug", Some(json!({"group_id": group})))
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["field"], "path");
}

#[tokio::test]
async fn pylon_debug_prints_the_trace() {
    let pylon = Pylon::start().await;
    let backend = Backend::start("orders").await;
    let (group, _api, _granted, _other) = setup(&pylon, &backend).await;
    let stdout = cli_ok(
        &pylon,
        &[
            "debug",
            "--group",
            "debugged",
            "--api",
            "orders",
            "--env",
            "TEST",
            "--app",
            "granted",
            "-H",
            "Content-Type: application/json",
            "-d",
            "{}",
        ],
    )
    .await;
    assert!(stdout.contains(&format!("group {group}")), "{stdout}");
    assert!(stdout.contains("response    200"), "{stdout}");
    assert!(stdout.contains("authenticate"), "{stdout}");
    assert!(stdout.contains("backend  →  POST"), "{stdout}");

    let answer = cli_json(
        &pylon,
        &[
            "debug", "--group", "debugged", "--api", "orders", "--env", "TEST", "--app", "other",
        ],
    )
    .await;
    assert_eq!(answer["trace"]["error"]["code"], "A403UA");
}

#[tokio::test]
async fn the_trace_shows_the_address_called_and_why_nothing_matched() {
    let pylon = Pylon::start().await;
    let backend = Backend::start("vpc").await;
    let group = pylon.create_group("traced").await;
    pylon
        .ok(
            Method::POST,
            "/v1/upstreams",
            json!({"name": "vpc", "targets": [backend.addr.to_string()], "host_header": "internal.example"}),
        )
        .await;
    let upstream_backend = pylon
        .ok(
            Method::POST,
            "/v1/backends",
            json!({"name": "svc", "type": "upstream"}),
        )
        .await;
    let backend_id = upstream_backend["id"].as_str().unwrap();
    pylon
        .ok(
            Method::PUT,
            &format!("/v1/backends/{backend_id}/environments/RELEASE"),
            json!({"type": "upstream", "upstream": "vpc"}),
        )
        .await;
    let api = pylon
        .create_api(
            &group,
            json!({"name": "items", "request": {"method": "GET", "path": "/items"},
                   "backend": {"service": {"backend_id": backend_id}, "path": "/i"}}),
        )
        .await;
    pylon.publish(&group, &api, "RELEASE").await;
    let debug = |body: Value| pylon.ok(Method::POST, "/v1/debug", body);

    let answer = debug(json!({"group_id": group, "api_id": api})).await;
    let sent = &answer["trace"]["backend_request"];
    assert_eq!(sent["url"], format!("http://{}/i", backend.addr), "{sent}");
    let host = sent["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h[0] == "host")
        .unwrap_or_else(|| panic!("no host header in {sent}"));
    assert_eq!(host[1], "internal.example");
    // The backend got exactly that Host.
    let echoed: Value =
        serde_json::from_str(answer["trace"]["response"]["body"].as_str().unwrap()).unwrap();
    assert_eq!(echoed["headers"]["host"], "internal.example");

    let cases = [
        (
            json!({"method": "POST", "path": "/items"}),
            "published in RELEASE for GET, HEAD, not for POST",
        ),
        (
            json!({"path": "/items", "environment": "TEST"}),
            "published in RELEASE, not in TEST",
        ),
        (
            json!({"path": "/nothing"}),
            "no API of this group is published for this path",
        ),
    ];
    for (request, why) in cases {
        let mut body = json!({"group_id": group});
        for (k, v) in request.as_object().unwrap() {
            body[k] = v.clone();
        }
        let answer = debug(body).await;
        let error = &answer["trace"]["error"];
        assert_eq!(error["message"], "API Not Found", "{answer}");
        assert!(error["detail"].as_str().unwrap().contains(why), "{error}");
    }
}
