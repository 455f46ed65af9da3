//! The `pylon` command line against a running gateway: output formats, errors, exit codes.

use crate::harness::{Backend, Pylon, cli, cli_json, cli_ok};

#[tokio::test]
async fn cli_walks_the_lifecycle_and_reports_errors() {
    let pylon = Pylon::start().await;
    let backend = Backend::start("b").await;
    let group = cli_json(
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
    let table = cli_ok(&pylon, &["group", "list"]).await;
    assert!(table.starts_with("ID"), "{table}");
    assert!(table.contains("cli-shop"), "{table}");

    cli_ok(
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
    let vars = cli_json(&pylon, &["stage-vars", "get", "cli-shop", "release"]).await;
    assert_eq!(vars["variables"]["host"], backend.addr.to_string());

    cli_json(&pylon, &["backend", "create", "svc", "--type", "http"]).await;
    cli_ok(
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
    cli_ok(
        &pylon,
        &["api", "create", "cli-shop", "-f", file.to_str().unwrap()],
    )
    .await;
    let published = cli_json(&pylon, &["publish", "cli-shop", "hello", "--note", "v1"]).await;
    assert_eq!(published[0]["version"], 1);
    assert_eq!(pylon.get(&gid, "/hello").await.json()["path"], "/hi");

    // Removing a definition in use needs --confirm, and the refusal names the API.
    let (success, _, stderr) = cli(&pylon, &["backend", "unset-env", "svc", "RELEASE"]).await;
    assert!(!success);
    assert!(
        stderr.contains("409") && stderr.contains("hello"),
        "{stderr}"
    );

    cli_ok(
        &pylon,
        &["unpublish", "cli-shop", "hello", "--env", "RELEASE"],
    )
    .await;
    pylon
        .get(&gid, "/hello")
        .await
        .assert_error(400, "API Not Found");
    let history = cli_json(&pylon, &["deployments", "cli-shop", "hello"]).await;
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

#[tokio::test]
async fn cli_manages_policies_and_their_bindings() {
    let pylon = Pylon::start().await;
    let backend = Backend::start("b").await;
    let g = pylon.create_group("shop").await;
    let api = pylon
        .create_api(
            &g,
            crate::harness::http_api("orders", "GET", "/o", &backend.url(), "/"),
        )
        .await;
    pylon.publish(&g, &api, "RELEASE").await;

    let created = cli_json(
        &pylon,
        &[
            "policy",
            "create",
            "office",
            "--kind",
            "ip-control",
            "--config",
            r#"{"action":"deny","addresses":["127.0.0.1"]}"#,
            "--description",
            "no local calls",
        ],
    )
    .await;
    assert_eq!(created["kind"], "ip-control");
    let table = cli_ok(&pylon, &["policy", "list"]).await;
    assert!(table.starts_with("NAME"), "{table}");
    assert!(
        table.contains("office") && table.contains("ip-control"),
        "{table}"
    );

    cli_ok(
        &pylon,
        &[
            "policy", "bind", "office", "--group", "shop", "--api", "orders", "--env", "release",
        ],
    )
    .await;
    assert_eq!(pylon.get(&g, "/o").await.status, 403);
    let bound = cli_ok(
        &pylon,
        &["policy", "bound", "--group", "shop", "--api", "orders"],
    )
    .await;
    assert!(
        bound.contains("office") && bound.contains("RELEASE"),
        "{bound}"
    );

    // A configuration read from a file; the change is in force when the command returns.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("office.json");
    std::fs::write(&file, r#"{"action":"deny","addresses":["192.0.2.0/24"]}"#).unwrap();
    cli_ok(
        &pylon,
        &[
            "policy",
            "update",
            "office",
            "--config",
            &format!("@{}", file.display()),
        ],
    )
    .await;
    assert_eq!(pylon.get(&g, "/o").await.status, 200);

    let (ok, _, err) = cli(&pylon, &["policy", "delete", "office"]).await;
    assert!(!ok && err.contains("unbind it first"), "{err}");
    cli_ok(
        &pylon,
        &[
            "policy", "unbind", "office", "--group", "shop", "--api", "orders", "--env", "RELEASE",
        ],
    )
    .await;
    cli_ok(&pylon, &["policy", "delete", "office"]).await;
    let (ok, _, err) = cli(
        &pylon,
        &[
            "policy",
            "create",
            "bad",
            "--kind",
            "ip-control",
            "--config",
            "{not json",
        ],
    )
    .await;
    assert!(!ok && err.contains("--config is not valid JSON"), "{err}");
}
