//! Functions Pylon runs itself: real `awslambdaric` workers (installed by
//! tests/e2e/clients/install.sh) running the handlers of `handlers/app.py`, unchanged from
//! Lambda, through the Runtime API Pylon serves them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Pylon, cli, cli_json, cli_ok, send};
use crate::real_clients::installed;

const HANDLERS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/functions/handlers");

async fn start() -> Pylon {
    Pylon::start_with(&["--allow-hosted-functions"], true).await
}

/// Defines a hosted function running `app.<handler>`, with these extra `pylon function
/// create` flags.
async fn function(pylon: &Pylon, name: &str, handler: &str, extra: &[&str]) -> Value {
    let python = installed().python_lambda.to_str().unwrap().to_string();
    let handler = format!("app.{handler}");
    let mut args = vec![
        "function",
        "create",
        name,
        "--handler",
        &handler,
        "--working-dir",
        HANDLERS,
    ];
    args.extend(extra);
    args.extend(["-o", "json", "--", &python, "-m", "awslambdaric"]);
    let (ok, out, err) = cli(pylon, &args).await;
    assert!(ok, "pylon function create failed: {err}");
    serde_json::from_str(&out).unwrap()
}

fn hosted_api(name: &str, path: &str, function: &str) -> Value {
    json!({"name": name, "request": {"method": "ANY", "path": path},
           "backend": {"service": {"inline": {"type": "function", "format": "aws-lambda",
                                              "hosted": function}},
                       "timeout_ms": 20000}})
}

async fn published(pylon: &Pylon, path: &str, function: &str) -> String {
    static GROUPS: AtomicUsize = AtomicUsize::new(0);
    let name = format!("hosted-{}", GROUPS.fetch_add(1, Ordering::Relaxed));
    let g = pylon.create_group(&name).await;
    let api = pylon.create_api(&g, hosted_api("h", path, function)).await;
    pylon.publish(&g, &api, "RELEASE").await;
    g
}

async fn metrics(pylon: &Pylon) -> String {
    send(
        Method::GET,
        &format!("http://{}/metrics", pylon.status),
        &[],
        Default::default(),
    )
    .await
    .text()
}

#[tokio::test]
async fn hosting_is_refused_without_the_serve_flag() {
    let pylon = Pylon::start().await;
    pylon
        .refused(
            Method::POST,
            "/v1/functions",
            Some(json!({"name": "f", "command": ["python3"], "handler": "app.echo"})),
            StatusCode::CONFLICT,
            "--allow-hosted-functions",
        )
        .await;
    let g = pylon.create_group("g").await;
    let e = pylon
        .refused(
            Method::POST,
            &format!("/v1/groups/{g}/apis"),
            Some(hosted_api("h", "/h", "f")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "--allow-hosted-functions",
        )
        .await;
    assert_eq!(e["field"], "backend.service.inline.hosted");
}

#[tokio::test]
async fn a_lambda_handler_runs_unchanged_and_warm_workers_are_reused() {
    let pylon = start().await;
    let created = function(
        &pylon,
        "echo",
        "echo",
        &["--env", "GREETING=hi", "--secret", "TOKEN=s3cret-value"],
    )
    .await;
    assert_eq!(created["secrets"], json!(["TOKEN"]));
    let shown = cli_ok(&pylon, &["function", "get", "echo"]).await;
    assert!(!shown.contains("s3cret-value"), "{shown}");
    let listed = cli_ok(&pylon, &["function", "list"]).await;
    assert!(
        listed.contains("echo") && listed.contains("app.echo"),
        "{listed}"
    );

    // An API naming a function that does not exist is refused when configured.
    let g = pylon.create_group("x").await;
    pylon
        .refused(
            Method::POST,
            &format!("/v1/groups/{g}/apis"),
            Some(hosted_api("h", "/h", "nope")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "pylon function create",
        )
        .await;

    let g = published(&pylon, "/echo/{id}", "echo").await;
    let first = pylon.get(&g, "/echo/1?a=b").await;
    assert_eq!(first.status, 200, "{}", first.text());
    let b = first.json();
    assert_eq!(b["path"], "/echo/1");
    assert_eq!(b["resource"], "/echo/{id}");
    assert_eq!(b["query"], json!({"a": "b"}));
    assert_eq!(b["source_ip"], "127.0.0.1");
    assert_eq!(b["request_id"], first.header("x-ca-request-id"));
    assert_eq!(b["function"], "echo");
    assert!(
        b["arn"].as_str().unwrap().ends_with(":function:echo"),
        "{b}"
    );
    assert!(b["remaining_ms"].as_i64().unwrap() > 0, "{b}");
    assert_eq!(b["greeting"], "hi");
    assert_eq!(b["token"], "s3cret-value", "secrets reach the worker");

    let second = pylon.get(&g, "/echo/2").await;
    assert_eq!(second.status, 200);
    assert_eq!(second.json()["pid"], b["pid"], "the warm worker is reused");

    // An update changes what it names and keeps the rest; new calls get a new worker.
    let updated = cli_json(&pylon, &["function", "update", "echo", "--timeout", "5s"]).await;
    assert_eq!(updated["timeout_ms"], 5000);
    assert_eq!(updated["environment"], json!({"GREETING": "hi"}));
    assert_eq!(updated["secrets"], json!(["TOKEN"]));
    let third = pylon.get(&g, "/echo/3").await;
    assert_eq!(third.status, 200, "{}", third.text());
    assert_eq!(
        third.json()["token"],
        "s3cret-value",
        "secrets survive an update"
    );
    assert_ne!(
        third.json()["pid"],
        b["pid"],
        "the updated function runs in a new worker"
    );

    let m = metrics(&pylon).await;
    assert!(
        m.contains(r#"pylon_function_invocations_total{function="echo",outcome="ok"} 3"#),
        "{m}"
    );
    assert!(
        m.contains(r#"pylon_function_cold_starts_total{function="echo"} 2"#),
        "{m}"
    );
    assert!(m.contains(r#"pylon_function_duration_seconds_count{function="echo"} 3"#));
    // The access log is written behind the responses.
    let mut out = pylon.stdout();
    for _ in 0..50 {
        if out.contains(r#""cold_start":false"#) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        out = pylon.stdout();
    }
    assert!(
        out.contains(r#""function":"echo","cold_start":true,"function_outcome":"ok""#),
        "{out}"
    );
    assert!(out.contains(r#""cold_start":false"#), "{out}");
    let log = pylon.log();
    let line = log
        .lines()
        .find(|l| l.contains("HELLO-FROM-WORKER"))
        .expect("the worker's stdout is in Pylon's log");
    assert!(line.contains("echo"), "tagged with the function: {line}");
    assert!(!log.contains("s3cret-value"), "secrets stay out of the log");
}

#[tokio::test]
async fn errors_timeouts_and_crashes_are_told_apart_and_workers_replaced() {
    let pylon = start().await;
    function(&pylon, "fail", "fail", &[]).await;
    function(&pylon, "slow", "slow", &["--timeout", "1s"]).await;
    function(&pylon, "crash", "crash", &[]).await;

    let g = published(&pylon, "/fail", "fail").await;
    let r = pylon.get(&g, "/fail").await;
    assert_eq!(r.status, 502, "{}", r.text());
    assert_eq!(r.header("x-ca-error-code"), "B502FE");
    assert_eq!(r.header("x-ca-error-message"), "Function Error: ValueError");
    assert!(!r.text().contains("RAW-DETAIL"), "{}", r.text());

    let g = published(&pylon, "/slow", "slow").await;
    let started = Instant::now();
    let r = pylon.get(&g, "/slow?s=5").await;
    assert_eq!(r.status, 504, "{}", r.text());
    assert_eq!(r.header("x-ca-error-code"), "B504FT");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    // The overrunning worker was killed; a new one answers.
    let r = pylon.get(&g, "/slow?s=0").await;
    assert_eq!(r.status, 200, "{}", r.text());

    let g = published(&pylon, "/crash", "crash").await;
    let r = pylon.get(&g, "/crash").await;
    assert_eq!(r.status, 502, "{}", r.text());
    assert_eq!(r.header("x-ca-error-code"), "B502FC");
    assert_eq!(r.header("x-ca-error-message"), "Function Crashed");
    let r = pylon.get(&g, "/crash").await;
    assert_eq!(r.status, 502, "a new worker crashes again: {}", r.text());

    let m = metrics(&pylon).await;
    for line in [
        r#"pylon_function_invocations_total{function="fail",outcome="error"} 1"#,
        r#"pylon_function_invocations_total{function="slow",outcome="timeout"} 1"#,
        r#"pylon_function_invocations_total{function="slow",outcome="ok"} 1"#,
        r#"pylon_function_cold_starts_total{function="slow"} 1"#,
        r#"pylon_function_invocations_total{function="crash",outcome="crashed"} 2"#,
    ] {
        assert!(m.contains(line), "{line} in\n{m}");
    }
}

#[tokio::test]
async fn calls_past_the_concurrency_limit_are_refused_with_429() {
    let pylon = start().await;
    function(
        &pylon,
        "slow",
        "slow",
        &["--max-concurrency", "2", "--timeout", "10s"],
    )
    .await;
    let g = published(&pylon, "/slow", "slow").await;
    // Two workers, warmed up.
    let warm = futures_join(&pylon, &g, "/slow?s=0.5", 2).await;
    assert!(warm.iter().all(|s| *s == 200), "{warm:?}");
    let statuses = futures_join(&pylon, &g, "/slow?s=1.5", 3).await;
    let ok = statuses.iter().filter(|s| **s == 200).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((ok, refused), (2, 1), "{statuses:?}");
    let r = pylon.get(&g, "/slow?s=0").await;
    assert_eq!(r.status, 200, "a slot frees when a call ends");
}

/// `n` concurrent GETs of `path`; their statuses.
async fn futures_join(pylon: &Pylon, group: &str, path: &str, n: usize) -> Vec<u16> {
    // Polled together: each call is a future over its own connection.
    let replies = join_all((0..n).map(|_| pylon.get(group, path)).collect()).await;
    replies
        .iter()
        .map(|r| {
            if r.status == 429 {
                assert_eq!(r.header("x-ca-error-code"), "B429FT");
            }
            r.status.as_u16()
        })
        .collect()
}

async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in pinned.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

#[tokio::test]
async fn a_publish_switches_an_api_between_two_functions() {
    let pylon = start().await;
    function(&pylon, "blue", "blue", &[]).await;
    function(&pylon, "green", "green", &[]).await;
    let g = pylon.create_group("switch").await;
    let api = pylon
        .create_api(&g, hosted_api("s", "/color", "blue"))
        .await;
    pylon.publish(&g, &api, "RELEASE").await;
    assert_eq!(pylon.get(&g, "/color").await.text(), "blue");
    pylon
        .ok(
            Method::PUT,
            &format!("/v1/groups/{g}/apis/{api}"),
            hosted_api("s", "/color", "green"),
        )
        .await;
    assert_eq!(
        pylon.get(&g, "/color").await.text(),
        "blue",
        "drafts are not served"
    );
    pylon.publish(&g, &api, "RELEASE").await;
    assert_eq!(pylon.get(&g, "/color").await.text(), "green");
    // A function in use cannot be deleted; an unused one can.
    let (ok, _, err) = cli(&pylon, &["function", "delete", "green"]).await;
    assert!(!ok && err.contains("still used"), "{err}");
    cli_ok(&pylon, &["function", "delete", "blue"]).await;
    let left = cli_json(&pylon, &["function", "list"]).await;
    assert_eq!(left.as_array().unwrap().len(), 1);
}
