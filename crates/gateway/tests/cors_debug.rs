//! CORS preflights answered by the gateway (no backend, no authentication), CORS headers on
//! actual responses and errors, and online debugging traces.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use bytes::Bytes;
use common::*;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use serde_json::json;

async fn gateway(hits: Arc<AtomicU32>) -> RunningGateway {
    let counted = backend(move |_req: Request<Incoming>| {
        let hits = hits.clone();
        async move {
            hits.fetch_add(1, Ordering::SeqCst);
            Response::builder()
                .header("x-from-backend", "yes")
                .body(Full::new(Bytes::from("hello")))
                .unwrap()
        }
    })
    .await;
    let snapshot = SnapshotBuilder::new()
        .api("RELEASE", json!({
            "name": "orders", "request": {"method": "POST", "path": "/orders/{id}"},
            "parameters": [{"name": "id", "location": "path", "type": "int"},
                {"name": "verbose", "location": "query", "default": "no"}],
            "backend": {"service": {"inline": {"type": "http", "url": format!("http://{counted}")}},
                "path": "/o/{id}"},
            "auth": {"type": "app"},
            "cors": {"allow_origins": ["https://shop.example"], "allow_headers": ["X-Ca-Key", "Content-Type"],
                "expose_headers": ["X-Ca-Request-Id"], "allow_credentials": true, "max_age_seconds": 600}
        }))
        .api("RELEASE", json!({
            "name": "open", "request": {"method": "GET", "path": "/open"},
            "backend": {"service": {"inline": {"type": "http", "url": format!("http://{counted}")}},
                "path": "/open"},
            "cors": {"allow_origins": ["*"]}
        }))
        .build();
    RunningGateway::start(&snapshot).await
}

async fn request(
    gw: &RunningGateway,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Answer {
    let mut b = Request::builder()
        .method(method)
        .uri(gw.url(path))
        .header("host", HOST);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    send(&client(), b.body(Full::new(Bytes::new())).unwrap()).await
}

#[tokio::test]
async fn a_preflight_is_answered_without_backend_or_credentials() {
    let hits = Arc::new(AtomicU32::new(0));
    let gw = gateway(hits.clone()).await;
    let answer = request(
        &gw,
        "OPTIONS",
        "/orders/5",
        &[
            ("origin", "https://shop.example"),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "x-ca-key"),
        ],
    )
    .await;
    assert_eq!(answer.status, 204);
    assert_eq!(
        answer.header("access-control-allow-origin"),
        "https://shop.example"
    );
    assert_eq!(answer.header("access-control-allow-methods"), "POST");
    assert_eq!(
        answer.header("access-control-allow-headers"),
        "X-Ca-Key, Content-Type"
    );
    assert_eq!(answer.header("access-control-allow-credentials"), "true");
    assert_eq!(answer.header("access-control-max-age"), "600");
    assert_eq!(hits.load(Ordering::SeqCst), 0);

    let refused = request(
        &gw,
        "OPTIONS",
        "/orders/5",
        &[
            ("origin", "https://evil.example"),
            ("access-control-request-method", "POST"),
        ],
    )
    .await;
    assert_gateway_error(&refused, 403, "CORS Origin Not Allowed");
}

#[tokio::test]
async fn actual_responses_and_errors_carry_cors_headers() {
    let hits = Arc::new(AtomicU32::new(0));
    let gw = gateway(hits.clone()).await;
    let answer = request(&gw, "GET", "/open", &[("origin", "https://anyone.example")]).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("access-control-allow-origin"), "*");
    // An unsigned call is refused, and the browser may still read why.
    let answer = request(
        &gw,
        "POST",
        "/orders/5",
        &[("origin", "https://shop.example")],
    )
    .await;
    assert_gateway_error(&answer, 400, "Invalid AppKey");
    assert_eq!(
        answer.header("access-control-allow-origin"),
        "https://shop.example"
    );
    assert_eq!(
        answer.header("access-control-expose-headers"),
        "X-Ca-Request-Id"
    );
    let answer = request(
        &gw,
        "POST",
        "/orders/5",
        &[("origin", "https://evil.example")],
    )
    .await;
    assert!(answer.headers.get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn a_debug_trace_shows_each_phase_and_the_backend_exchange() {
    let hits = Arc::new(AtomicU32::new(0));
    let gw = gateway(hits.clone()).await;
    let request = Request::get("/open?x=1")
        .header("host", HOST)
        .header("x-ca-stage", "RELEASE")
        .body(Bytes::new())
        .unwrap();
    let trace = gw.gateway.debug(request, false).await;
    let route = trace.route.as_ref().unwrap();
    assert_eq!(route.group_id, GROUP);
    assert_eq!(route.environment, "RELEASE");
    assert_eq!(route.environment_from, "X-Ca-Stage");
    assert_eq!(route.api_name, "open");
    assert_eq!(route.api_path, "/open");
    let backend_request = trace.backend_request.as_ref().unwrap();
    let url = backend_request.url.as_deref().unwrap();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/open?x=1"),
        "{url}"
    );
    let backend_response = trace.backend_response.as_ref().unwrap();
    assert_eq!(backend_response.status, Some(200));
    assert_eq!(backend_response.body, "hello");
    assert!(
        backend_response
            .headers
            .iter()
            .any(|(k, v)| k == "x-from-backend" && v == "yes")
    );
    assert_eq!(trace.response.status, Some(200));
    let names: Vec<&str> = trace.phases.iter().map(|p| p.name).collect();
    assert_eq!(
        names,
        [
            "route",
            "protocol",
            "read body",
            "validate",
            "authenticate",
            "authorize",
            "limit",
            "forward",
            "backend"
        ]
    );
    assert!(trace.error.is_none());
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    // A failing request: the trace names the phase and the client's message.
    let request = Request::post("/orders/abc")
        .header("host", HOST)
        .body(Bytes::new())
        .unwrap();
    let trace = gw.gateway.debug(request, false).await;
    let error = trace.error.as_ref().unwrap();
    assert_eq!(error.status, 400);
    assert_eq!(error.code, "P400IP");
    let last = trace.phases.last().unwrap();
    assert_eq!(last.name, "validate");
    assert_eq!(last.error.as_deref(), Some(error.message.as_str()));
    assert_eq!(trace.response.status, Some(400));
    assert!(trace.backend_request.is_none());
}

#[tokio::test]
async fn a_debug_trace_says_what_chose_the_environment() {
    let mut snapshot = SnapshotBuilder::new()
        .api(
            "TEST",
            http_api("t", "GET", "/t", "http://127.0.0.1:9", "/"),
        )
        .api(
            "RELEASE",
            http_api("r", "GET", "/t", "http://127.0.0.1:9", "/"),
        )
        .build();
    snapshot.groups[0].domains.push(
        serde_json::from_value(json!({"name": "test.shop.example.com", "environment": "TEST"}))
            .unwrap(),
    );
    let gw = RunningGateway::start(&snapshot).await;
    let from = |host: &'static str, stage: Option<&'static str>| {
        let mut b = Request::get("/t").header("host", host);
        if let Some(stage) = stage {
            b = b.header("x-ca-stage", stage);
        }
        let request = b.body(Bytes::new()).unwrap();
        let gateway = gw.gateway.clone();
        async move {
            let trace = gateway.debug(request, false).await;
            let route = trace.route.expect("routed");
            (route.environment, route.environment_from)
        }
    };
    let bound = from("test.shop.example.com", Some("RELEASE")).await;
    assert_eq!(bound, ("TEST".to_string(), "domain".to_string()));
    let header = from(HOST, Some("test")).await;
    assert_eq!(header, ("TEST".to_string(), "X-Ca-Stage".to_string()));
    let default = from(HOST, None).await;
    assert_eq!(default, ("RELEASE".to_string(), "default".to_string()));
}
