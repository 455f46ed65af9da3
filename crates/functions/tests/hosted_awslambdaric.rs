//! Hosted functions run by AWS's own runtime interface client (`python -m awslambdaric`),
//! installed by tests/e2e/clients/install.sh, against the handlers in `handlers/app.py`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use pylon_functions::{
    DEFAULT_IDLE_TIMEOUT, FunctionHost, HostConfig, HostedFunction, InvokeError, Invoked,
};
use pylon_model::{FunctionSpec, ServedFunction};
use serde_json::{Value, json};
use tokio::time::Instant;

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The venv's python with awslambdaric, installed once per test process.
fn python() -> &'static str {
    static PYTHON: OnceLock<String> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let script = manifest_dir().join("../../tests/e2e/clients/install.sh");
        let out = std::process::Command::new("bash")
            .arg(&script)
            .output()
            .expect("run install.sh");
        assert!(
            out.status.success(),
            "install.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("python_lambda="))
            .expect("install.sh prints python_lambda=")
            .to_owned()
    })
}

fn spec(name: &str, handler: &str) -> FunctionSpec {
    FunctionSpec {
        name: name.into(),
        description: String::new(),
        command: vec![python().into(), "-m".into(), "awslambdaric".into()],
        working_dir: None,
        // Keeps __pycache__ out of the source tree.
        environment: BTreeMap::from([("PYTHONDONTWRITEBYTECODE".into(), "1".into())]),
        secrets: BTreeMap::new(),
        handler: handler.into(),
        timeout_ms: 10_000,
        max_concurrency: 10,
        memory_mb: 128,
    }
}

fn served(spec: FunctionSpec) -> ServedFunction {
    ServedFunction {
        id: format!("fn-{}", spec.name),
        spec,
        updated_at: 1,
    }
}

fn host_with(spec: FunctionSpec) -> (Arc<FunctionHost>, Arc<HostedFunction>) {
    host_idle(spec, DEFAULT_IDLE_TIMEOUT)
}

fn host_idle(
    spec: FunctionSpec,
    idle_timeout: Duration,
) -> (Arc<FunctionHost>, Arc<HostedFunction>) {
    let host = FunctionHost::new(HostConfig {
        default_dir: manifest_dir().join("tests/handlers"),
        idle_timeout,
    });
    let name = spec.name.clone();
    host.apply(&[served(spec)]);
    let function = host.get(&name).expect("applied function");
    (host, function)
}

async fn call(function: &HostedFunction, event: Value) -> Result<Invoked, InvokeError> {
    call_until(function, event, Instant::now() + Duration::from_secs(60)).await
}

async fn call_until(
    function: &HostedFunction,
    event: Value,
    deadline: Instant,
) -> Result<Invoked, InvokeError> {
    let event = Bytes::from(event.to_string());
    function.invoke(event, "req-1", deadline).await
}

fn body(invoked: &Invoked) -> Value {
    serde_json::from_slice(&invoked.body).expect("JSON response")
}

fn pid_of(invoked: &Invoked) -> u64 {
    body(invoked)["pid"].as_u64().expect("pid in the response")
}

/// Waits (a while) for process `pid` to be gone and reaped.
async fn assert_gone(pid: u64) {
    let proc = PathBuf::from(format!("/proc/{pid}"));
    for _ in 0..100 {
        if !proc.exists() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("worker process {pid} is still there");
}

#[tokio::test]
async fn echo_sees_event_and_lambda_context_then_runs_warm() {
    let (_host, function) = host_with(spec("echo", "app.echo"));
    assert_eq!(
        function.arn(),
        "arn:aws:lambda:pylon:000000000000:function:echo"
    );
    let first = call(&function, json!({"hello": "world"})).await.unwrap();
    assert!(first.cold_start);
    let answer = body(&first);
    assert_eq!(answer["event"], json!({"hello": "world"}));
    assert_eq!(answer["request_id"], "req-1");
    assert_eq!(answer["function_name"], "echo");
    assert_eq!(answer["arn"], function.arn());
    assert_eq!(answer["memory_mb"], "128");
    assert_eq!(answer["log_group"], "/aws/lambda/echo");
    assert_eq!(answer["region"], "pylon");
    let remaining = answer["remaining_ms"].as_u64().unwrap();
    assert!(remaining > 0 && remaining <= 10_000, "{remaining}");
    assert_eq!(function.workers(), 1);

    let second = call(&function, json!({"n": 2})).await.unwrap();
    assert!(!second.cold_start);
    assert_eq!(body(&second)["event"], json!({"n": 2}));
    assert_eq!(pid_of(&second), pid_of(&first), "the idle worker is reused");
    assert_eq!(function.workers(), 1);
}

#[tokio::test]
async fn idle_workers_are_stopped_after_the_idle_timeout() {
    let (_host, function) = host_idle(spec("idle", "app.echo"), Duration::from_millis(400));
    let first = call(&function, json!({})).await.unwrap();
    let pid = pid_of(&first);
    assert_eq!(function.workers(), 1);
    assert_gone(pid).await;
    assert_eq!(function.workers(), 0);
    let again = call(&function, json!({})).await.unwrap();
    assert!(again.cold_start, "a stopped worker is started anew");
}

#[tokio::test]
async fn handler_exception_is_a_function_error() {
    let (_host, function) = host_with(spec("fail", "app.fail"));
    let err = call(&function, json!({"why": "testing"}))
        .await
        .unwrap_err();
    match &err {
        InvokeError::Function {
            error_type,
            message,
        } => {
            assert_eq!(error_type, "ValueError");
            assert_eq!(message, "no good: testing");
        }
        other => panic!("expected a function error, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "the function failed with ValueError: no good: testing"
    );
    // A handled error leaves the worker alive and warm.
    assert_eq!(function.workers(), 1);
    assert!(matches!(
        call(&function, json!({})).await,
        Err(InvokeError::Function { .. })
    ));
    assert_eq!(function.workers(), 1);
}

#[tokio::test]
async fn timeout_kills_the_worker_and_the_next_call_starts_a_new_one() {
    let mut s = spec("sleepy", "app.sleep");
    s.timeout_ms = 1_500;
    let (_host, function) = host_with(s);
    let first = call(&function, json!({"seconds": 0})).await.unwrap();
    let pid = pid_of(&first);

    let started = std::time::Instant::now();
    let err = call(&function, json!({"seconds": 30})).await.unwrap_err();
    assert!(
        matches!(err, InvokeError::Timeout { after } if after == Duration::from_millis(1_500)),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(function.workers(), 0);
    assert_gone(pid).await;

    let next = call(&function, json!({"seconds": 0})).await.unwrap();
    assert!(next.cold_start);
    assert_ne!(pid_of(&next), pid);
}

#[tokio::test]
async fn caller_deadline_shortens_the_timeout() {
    let (_host, function) = host_with(spec("hurried", "app.sleep"));
    let deadline = Instant::now() + Duration::from_millis(800);
    let err = call_until(&function, json!({"seconds": 30}), deadline)
        .await
        .unwrap_err();
    assert!(
        matches!(err, InvokeError::Timeout { after } if after <= Duration::from_millis(800)),
        "{err:?}"
    );
}

#[tokio::test]
async fn worker_exit_during_an_invocation_is_a_crash() {
    let (_host, function) = host_with(spec("crash", "app.crash"));
    let err = call(&function, json!({})).await.unwrap_err();
    assert!(
        matches!(&err, InvokeError::Crashed { status } if status.starts_with("exit status 3")),
        "{err:?}"
    );
    assert_eq!(function.workers(), 0);
}

#[tokio::test]
async fn calls_past_max_concurrency_are_throttled() {
    let mut s = spec("narrow", "app.sleep");
    s.max_concurrency = 2;
    let (_host, function) = host_with(s);
    let event = json!({"seconds": 1});
    let (a, b, c) = tokio::join!(
        call(&function, event.clone()),
        call(&function, event.clone()),
        call(&function, event.clone()),
    );
    let results = [a, b, c];
    let throttled = results
        .iter()
        .filter(|r| matches!(r, Err(InvokeError::Throttled { limit: 2 })))
        .count();
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!((throttled, ok), (1, 2), "{results:?}");
    assert_eq!(function.workers(), 2);
}

#[tokio::test]
async fn missing_program_is_a_spawn_error_naming_it() {
    let mut s = spec("nothing", "app.echo");
    s.command = vec!["/nonexistent/pylon-no-such-runtime".into()];
    let (_host, function) = host_with(s);
    for _ in 0..2 {
        let err = call(&function, json!({})).await.unwrap_err();
        assert!(matches!(err, InvokeError::Spawn { .. }), "{err:?}");
        assert!(
            err.to_string()
                .contains("/nonexistent/pylon-no-such-runtime"),
            "{err}"
        );
    }
    assert_eq!(function.workers(), 0);
}

#[tokio::test]
async fn missing_handler_is_an_init_error() {
    let (_host, function) = host_with(spec("lost", "app.nowhere"));
    let err = call(&function, json!({})).await.unwrap_err();
    assert!(
        matches!(&err, InvokeError::Init { error_type, .. } if error_type == "Runtime.HandlerNotFound"),
        "{err:?}"
    );
    assert_eq!(function.workers(), 0);
}

#[tokio::test]
async fn changed_spec_retires_the_old_workers() {
    let first = spec("versioned", "app.sleep");
    let (host, old) = host_with(first.clone());

    // One worker busy through the change, one idle.
    let busy = {
        let old = old.clone();
        tokio::spawn(async move { call(&old, json!({"seconds": 2})).await })
    };
    while old.workers() == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let idle = call(&old, json!({"seconds": 0})).await.unwrap();
    assert!(idle.cold_start);
    let idle_pid = pid_of(&idle);
    assert_eq!(old.workers(), 2);

    // The same functions again keep the same workers.
    host.apply(&[served(first.clone())]);
    assert!(Arc::ptr_eq(&old, &host.get("versioned").unwrap()));
    assert_eq!(old.workers(), 2);

    let mut changed = served(first);
    changed
        .spec
        .environment
        .insert("VERSION".into(), "2".into());
    changed.updated_at = 2;
    host.apply(&[changed]);
    let new = host.get("versioned").unwrap();
    assert!(!Arc::ptr_eq(&old, &new));
    assert_gone(idle_pid).await;

    let busy = busy.await.unwrap().expect("the busy invocation completes");
    assert_gone(pid_of(&busy)).await;
    assert_eq!(old.workers(), 0);
    assert!(matches!(
        call(&old, json!({})).await,
        Err(InvokeError::Retired)
    ));

    let fresh = call(&new, json!({"seconds": 0})).await.unwrap();
    assert!(fresh.cold_start);

    host.apply(&[]);
    assert!(host.get("versioned").is_none());
    assert_gone(pid_of(&fresh)).await;
}

#[tokio::test]
async fn dropped_invocation_kills_its_busy_worker() {
    let (_host, function) = host_with(spec("dropped", "app.sleep"));
    let pid = pid_of(&call(&function, json!({"seconds": 0})).await.unwrap());
    let abandoned = tokio::time::timeout(
        Duration::from_millis(300),
        call(&function, json!({"seconds": 5})),
    )
    .await;
    assert!(abandoned.is_err());
    assert_eq!(function.workers(), 0);
    assert_gone(pid).await;
}

#[tokio::test]
async fn allocation_past_the_memory_limit_fails_instead_of_hanging() {
    let mut s = spec("hog", "app.hog");
    s.memory_mb = 64;
    let (_host, function) = host_with(s);
    let small = call(&function, json!({"mib": 8})).await.unwrap();
    assert_eq!(body(&small)["allocated"], 8 * 1024 * 1024);
    let err = call(&function, json!({"mib": 512})).await.unwrap_err();
    assert!(
        matches!(
            &err,
            InvokeError::Function { error_type, .. } if error_type == "MemoryError"
        ) || matches!(err, InvokeError::Crashed { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn oversized_response_is_a_function_error() {
    let (_host, function) = host_with(spec("big", "app.big"));
    let err = call(&function, json!({"mib": 7})).await.unwrap_err();
    assert!(
        matches!(&err, InvokeError::Function { error_type, .. } if error_type == "Function.ResponseSizeTooLarge"),
        "{err:?}"
    );
    assert_eq!(function.workers(), 0);
    let fine = call(&function, json!({"mib": 1})).await.unwrap();
    assert!(fine.cold_start);
}

#[tokio::test]
async fn shutdown_kills_busy_workers() {
    let (host, function) = host_with(spec("stopping", "app.sleep"));
    let busy = {
        let function = function.clone();
        tokio::spawn(async move { call(&function, json!({"seconds": 5})).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    host.shutdown();
    let err = busy.await.unwrap().unwrap_err();
    assert!(matches!(err, InvokeError::Retired), "{err:?}");
    assert!(host.get("stopping").is_none());
}
