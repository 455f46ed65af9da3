//! `/metrics` on the status listener: a live scrape after real traffic shows the exact counts
//! by API and by refusal code (IP control, throttling, no API), upstream target health and the
//! config gauges, carries no client value as a label, and passes `promtool check metrics`.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use serde_json::json;

use crate::harness::{Backend, Pylon, Reply, dead_addr, http_api, send};

async fn scrape(pylon: &Pylon) -> Reply {
    send(
        Method::GET,
        &format!("http://{}/metrics", pylon.status),
        &[],
        Bytes::new(),
    )
    .await
}

/// The value of the sample `series` (name and labels exactly as exposed).
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// `promtool check metrics` over `text`: its exit status and what it said. Missing promtool
/// fails the test: the check is part of what CI proves.
fn promtool_check(text: &str) -> (bool, String) {
    let mut child = match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => panic!(
            "cannot run promtool ({e}): install Debian's `prometheus` package \
             (apt-get install prometheus), which provides /usr/bin/promtool"
        ),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

#[tokio::test]
async fn a_live_scrape_counts_requests_and_refusals_and_passes_promtool() {
    let backend = Backend::start("a").await;
    let dead = dead_addr().await;
    let pylon = Pylon::start().await;
    let g = pylon.create_group("shop").await;
    pylon
        .ok(
            Method::POST,
            "/v1/upstreams",
            json!({"name": "vpc", "targets": [backend.addr.to_string(), dead.to_string()]}),
        )
        .await;
    let orders = pylon
        .create_api(
            &g,
            json!({
                "name": "orders",
                "request": {"method": "ANY", "path": "/orders"},
                "backend": {
                    "service": {"inline": {"type": "upstream", "upstream": "vpc", "path_prefix": ""}},
                    "path": "/orders"
                },
            }),
        )
        .await;
    pylon.publish(&g, &orders, "RELEASE").await;
    let private = pylon
        .create_api(
            &g,
            http_api("private", "GET", "/private", &backend.url(), "/"),
        )
        .await;
    pylon.publish(&g, &private, "RELEASE").await;
    pylon
        .ok(
            Method::POST,
            "/v1/policies",
            json!({"name": "office", "kind": "ip-control",
                   "config": {"action": "allow", "addresses": ["192.0.2.0/24"]}}),
        )
        .await;
    pylon
        .ok(
            Method::POST,
            "/v1/policies/office/bindings",
            json!({"api_id": private, "environment": "RELEASE"}),
        )
        .await;

    let limited = pylon
        .create_api(
            &g,
            http_api("limited", "GET", "/limited", &backend.url(), "/"),
        )
        .await;
    pylon.publish(&g, &limited, "RELEASE").await;
    pylon
        .ok(
            Method::POST,
            "/v1/policies",
            json!({"name": "one-a-day", "kind": "throttle",
                   "config": {"unit": "day", "api_limit": 1}}),
        )
        .await;
    pylon
        .ok(
            Method::POST,
            "/v1/policies/one-a-day/bindings",
            json!({"api_id": limited, "environment": "RELEASE"}),
        )
        .await;

    // Three GETs and a POST with a 5-byte body; the dead target is tried and marked down.
    let mut sent_bytes = 0;
    for i in 0..4 {
        let r = if i == 3 {
            pylon.call(&g, Method::POST, "/orders", &[], "hello").await
        } else {
            pylon.get(&g, "/orders").await
        };
        assert_eq!(r.status, 200, "{}", r.text());
        sent_bytes += r.body.len();
    }
    pylon
        .get(&g, "/private")
        .await
        .assert_error(403, "Access Denied by IP Control");
    assert_eq!(pylon.get(&g, "/limited").await.status, 200);
    pylon
        .get(&g, "/limited")
        .await
        .assert_error(403, "Throttled by API Flow Control");
    pylon
        .get(&g, "/nowhere-secret-path")
        .await
        .assert_error(400, "API Not Found");

    // Online debugging runs the pipeline and calls the backend, but is not traffic.
    let debugged = pylon
        .ok(
            Method::POST,
            "/v1/debug",
            json!({"group_id": g, "api_id": orders, "environment": "RELEASE"}),
        )
        .await;
    assert!(debugged["trace"]["error"].is_null(), "{debugged}");

    let r = scrape(&pylon).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let mut text = r.text();
    let api = |name: &str| format!(r#"group="{g}",api="{name}",environment="RELEASE""#);
    let orders_labels = api("orders");
    let count = |text: &str, series: String| value(text, &series);
    // The response body is counted when the server drops it, just after the client read it.
    for _ in 0..50 {
        let seen = count(
            &text,
            format!("pylon_response_body_bytes_total{{{orders_labels}}}"),
        );
        if seen == Some(sent_bytes as f64) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        text = scrape(&pylon).await.text();
    }
    assert_eq!(
        count(
            &text,
            format!("pylon_response_body_bytes_total{{{orders_labels}}}")
        ),
        Some(sent_bytes as f64),
        "{text}"
    );
    assert_eq!(
        count(
            &text,
            format!(r#"pylon_requests_total{{{orders_labels},status="2xx"}}"#)
        ),
        Some(4.0),
        "{text}"
    );
    // A status class no response had has no series yet.
    assert_eq!(
        count(
            &text,
            format!(r#"pylon_requests_total{{{orders_labels},status="5xx"}}"#)
        ),
        None
    );
    assert_eq!(
        count(
            &text,
            format!("pylon_request_duration_seconds_count{{{orders_labels}}}")
        ),
        Some(4.0)
    );
    assert_eq!(
        count(
            &text,
            format!("pylon_backend_duration_seconds_count{{{orders_labels}}}")
        ),
        Some(4.0)
    );
    assert_eq!(
        count(
            &text,
            format!("pylon_request_body_bytes_total{{{orders_labels}}}")
        ),
        Some(5.0)
    );
    assert_eq!(
        count(
            &text,
            format!(r#"pylon_requests_total{{{},status="4xx"}}"#, api("private"))
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(&text, r#"pylon_refused_requests_total{reason="A403IP"}"#),
        Some(1.0),
        "{text}"
    );
    // No API matched: counted under empty labels, not the client's host or path.
    assert_eq!(
        value(
            &text,
            r#"pylon_requests_total{group="",api="",environment="",status="4xx"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(&text, r#"pylon_refused_requests_total{reason="D400NF"}"#),
        Some(1.0)
    );
    // Throttling's refusals are counted by their code like any other.
    assert_eq!(
        value(&text, r#"pylon_refused_requests_total{reason="T403AP"}"#),
        Some(1.0),
        "{text}"
    );
    for (class, n) in [("2xx", 1.0), ("4xx", 1.0)] {
        assert_eq!(
            count(
                &text,
                format!(
                    r#"pylon_requests_total{{{},status="{class}"}}"#,
                    api("limited")
                )
            ),
            Some(n),
            "{text}"
        );
    }
    assert!(!text.contains("nowhere-secret-path"), "{text}");
    assert!(!text.contains("127.0.0.1\""), "client address in: {text}");
    assert_eq!(
        value(
            &text,
            &format!(r#"pylon_upstream_target_up{{upstream="vpc",target="{dead}"}}"#)
        ),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            &format!(
                r#"pylon_upstream_target_up{{upstream="vpc",target="{}"}}"#,
                backend.addr
            )
        ),
        Some(1.0),
        "{text}"
    );

    // The config gauges say what /readyz says, and when it was applied.
    let ready = send(
        Method::GET,
        &format!("http://{}/readyz", pylon.status),
        &[],
        Bytes::new(),
    )
    .await
    .json();
    let revision = ready["revision"].as_f64().unwrap();
    assert!(revision > 0.0);
    assert_eq!(value(&text, "pylon_config_revision"), Some(revision));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let applied = value(&text, "pylon_config_last_apply_timestamp_seconds").unwrap();
    assert!((now - applied).abs() < 300.0, "{applied} vs {now}");
    assert_eq!(
        value(
            &text,
            &format!(
                r#"pylon_build_info{{version="{}"}}"#,
                env!("CARGO_PKG_VERSION")
            )
        ),
        Some(1.0)
    );

    let (ok, said) = promtool_check(&text);
    assert!(ok, "promtool check metrics failed: {said}\n{text}");
}
