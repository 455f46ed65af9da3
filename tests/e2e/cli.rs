//! The `pylon` command line against a running gateway: output formats, errors, exit codes.

use serde_json::Value;

use crate::harness::{Backend, Pylon, TOKEN};

/// Runs `pylon <args>` against `pylon`'s admin API; returns (success, stdout, stderr).
async fn cli(pylon: &Pylon, args: &[&str]) -> (bool, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_pylon"))
        .args(args)
        .env("PYLON_ADMIN_URL", format!("http://{}", pylon.admin))
        .env("PYLON_ADMIN_TOKEN", TOKEN)
        .output()
        .await
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

async fn ok(pylon: &Pylon, args: &[&str]) -> String {
    let (success, stdout, stderr) = cli(pylon, args).await;
    assert!(success, "pylon {args:?} failed: {stderr}");
    stdout
}

async fn json(pylon: &Pylon, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    serde_json::from_str(&ok(pylon, &all).await).unwrap()
}

#[tokio::test]
async fn cli_walks_the_lifecycle_and_reports_errors() {
    let pylon = Pylon::start().await;
    let backend = Backend::start("b").await;
    let group = json(
        &pylon,
        &[
            "group",
            "create",
            "cli-shop",
            "--description",
            "from the CLI",
        ],
    )
    .await;
    let gid = group["id"].as_str().unwrap().to_string();
    assert_eq!(group["default_domain"], format!("{gid}.pylon.test"));

    // Tables by default, with the resource named by its name.
    let table = ok(&pylon, &["group", "list"]).await;
    assert!(table.starts_with("ID"), "{table}");
    assert!(table.contains("cli-shop"), "{table}");

    ok(
        &pylon,
        &[
            "stage-vars",
            "set",
            "cli-shop",
            "RELEASE",
            &format!("host={}", backend.addr),
        ],
    )
    .await;
    let vars = json(&pylon, &["stage-vars", "get", "cli-shop", "release"]).await;
    assert_eq!(vars["variables"]["host"], backend.addr.to_string());

    json(&pylon, &["backend", "create", "svc", "--type", "http"]).await;
    ok(
        &pylon,
        &[
            "backend",
            "set-env",
            "svc",
            "RELEASE",
            "--url",
            "http://${stageVariables.host}",
        ],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("api.json");
    std::fs::write(
        &file,
        r#"{"name": "hello", "request": {"method": "GET", "path": "/hello"},
            "backend": {"service": {"backend_id": "svc"}, "path": "/hi"}}"#,
    )
    .unwrap();
    ok(
        &pylon,
        &["api", "create", "cli-shop", "-f", file.to_str().unwrap()],
    )
    .await;
    let published = json(&pylon, &["publish", "cli-shop", "hello", "--note", "v1"]).await;
    assert_eq!(published[0]["version"], 1);
    assert_eq!(pylon.get(&gid, "/hello").await.json()["path"], "/hi");

    // Removing a definition in use needs --confirm, and the refusal names the API.
    let (success, _, stderr) = cli(&pylon, &["backend", "unset-env", "svc", "RELEASE"]).await;
    assert!(!success);
    assert!(
        stderr.contains("409") && stderr.contains("hello"),
        "{stderr}"
    );

    ok(
        &pylon,
        &["unpublish", "cli-shop", "hello", "--env", "RELEASE"],
    )
    .await;
    pylon
        .get(&gid, "/hello")
        .await
        .assert_error(400, "API Not Found");
    let history = json(&pylon, &["deployments", "cli-shop", "hello"]).await;
    assert_eq!(history[0]["active"], false);

    // Errors: a clear message on stderr and a failing exit status.
    let (success, _, stderr) = cli(&pylon, &["group", "get", "no-such-group"]).await;
    assert!(!success);
    assert!(
        stderr.contains("no group with id or name `no-such-group`"),
        "{stderr}"
    );
    std::fs::write(&file, r#"{"name": "bad", "request": {"method": "GET", "path": "nope"}, "backend": {"service": {"backend_id": "svc"}, "path": "/"}}"#).unwrap();
    let (success, _, stderr) = cli(
        &pylon,
        &["api", "create", "cli-shop", "-f", file.to_str().unwrap()],
    )
    .await;
    assert!(!success);
    assert!(
        stderr.contains("422") && stderr.contains("request.path"),
        "{stderr}"
    );
    let (success, _, stderr) = cli(
        &pylon,
        &["group", "list", "--token", "wrong-token-0123456789"],
    )
    .await;
    assert!(!success);
    assert!(stderr.contains("401"), "{stderr}");
}
