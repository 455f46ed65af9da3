//! What a new user meets in the CLI: help, errors that name the next command, YAML mistakes at
//! the file's own line, readable tables, shell completions, and where the token comes from.

use std::path::Path;

use tokio::process::Command;

use crate::harness::{Backend, Pylon, TOKEN, cli, cli_json, cli_ok};

/// `pylon <args>` with no server and no connection settings; returns (success, stdout, stderr).
async fn offline(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pylon"))
        .args(args)
        .env_remove("PYLON_ADMIN_TOKEN")
        .env_remove("PYLON_ADMIN_URL")
        .env_remove("PYLON_DATA_DIR")
        .output()
        .await
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

fn is_date(cell: &str) -> bool {
    let b = cell.as_bytes();
    b.len() == 16
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 => *c == b':',
            _ => c.is_ascii_digit(),
        })
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[tokio::test]
async fn cli_help_describes_arguments_and_keeps_serve_to_its_own_flags() {
    let (ok, serve, _) = offline(&["serve", "--help"]).await;
    assert!(ok);
    for client_only in ["--admin-url", "--token", "--output", "-o,"] {
        assert!(!serve.contains(client_only), "{serve}");
    }
    assert!(serve.contains("--admin-token"), "{serve}");

    let (_, unpublish, _) = offline(&["unpublish", "--help"]).await;
    assert!(unpublish.contains("[default: RELEASE]"), "{unpublish}");
    assert!(unpublish.contains("The API (id or name)"), "{unpublish}");
    let (_, rollback, _) = offline(&["rollback", "--help"]).await;
    assert!(rollback.contains("[default: RELEASE]"), "{rollback}");
    assert!(
        rollback.contains("The version to serve again"),
        "{rollback}"
    );
    let (_, publish, _) = offline(&["publish", "--help"]).await;
    assert!(publish.contains("What changed"), "{publish}");
    assert!(publish.contains("--admin-url"), "{publish}");
    assert!(publish.contains("--data-dir"), "{publish}");

    let (_, create, _) = offline(&["api", "create", "--help"]).await;
    assert!(create.contains("backend_id:"), "{create}");
    assert!(create.contains("docs/concepts.md"), "{create}");
}

#[tokio::test]
async fn cli_prints_shell_completions() {
    for (shell, marker) in [
        ("bash", "_pylon()"),
        ("zsh", "#compdef pylon"),
        ("fish", "complete -c pylon"),
    ] {
        let (ok, script, stderr) = offline(&["completions", shell]).await;
        assert!(ok, "{shell}: {stderr}");
        assert!(script.contains(marker), "{shell}: {script}");
        assert!(script.contains("set-env"), "{shell} completes subcommands");
    }
    let (ok, _, _) = offline(&["completions", "tcsh"]).await;
    assert!(!ok);
}

/// `pylon env list` against `pylon` with no token given, the data directory set by `flag`
/// (`--data-dir`) or else by `PYLON_DATA_DIR`.
async fn env_list_with_data_dir(pylon: &Pylon, dir: &Path, flag: bool) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pylon"));
    command
        .args([
            "env",
            "list",
            "--admin-url",
            &format!("http://{}", pylon.admin),
        ])
        .env_remove("PYLON_ADMIN_TOKEN")
        .env_remove("PYLON_DATA_DIR");
    if flag {
        command.arg("--data-dir").arg(dir);
    } else {
        command.env("PYLON_DATA_DIR", dir);
    }
    command.output().await.unwrap()
}

#[tokio::test]
async fn cli_finds_the_token_through_data_dir() {
    let pylon = Pylon::start().await;
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "admin-token", TOKEN);
    for flag in [true, false] {
        let out = env_list_with_data_dir(&pylon, dir.path(), flag).await;
        assert!(out.status.success(), "flag {flag}: {out:?}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("RELEASE"));
    }

    // Without a token anywhere, the error names every way to give one.
    let empty = tempfile::tempdir().unwrap();
    let out = env_list_with_data_dir(&pylon, empty.path(), true).await;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--admin-token")
            && stderr.contains("PYLON_ADMIN_TOKEN")
            && stderr.contains("--data-dir"),
        "{stderr}"
    );
}

#[tokio::test]
async fn cli_errors_name_the_cli_command_not_the_rest_call() {
    let pylon = Pylon::start().await;
    let backend = Backend::start("b").await;
    cli_ok(&pylon, &["group", "create", "shop"]).await;
    cli_ok(&pylon, &["backend", "create", "svc", "--type", "http"]).await;

    let (ok, _, stderr) = cli(
        &pylon,
        &[
            "backend",
            "set-env",
            "svc",
            "RELEASE",
            "--url",
            "ftp://api.example.com",
        ],
    )
    .await;
    assert!(!ok);
    assert!(
        stderr.contains("422") && stderr.contains("must start with http://, https://"),
        "{stderr}"
    );

    let url = format!("http://{}", backend.addr);
    cli_ok(
        &pylon,
        &["backend", "set-env", "svc", "RELEASE", "--url", &url],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "api.yaml",
        "name: hello\nrequest:\n  method: GET\n  path: /hello\nbackend:\n  service:\n    backend_id: svc\n  path: /\n",
    );
    cli_ok(&pylon, &["api", "create", "shop", "-f", &file]).await;

    let (ok, _, stderr) = cli(&pylon, &["publish", "shop", "hello", "--env", "TEST"]).await;
    assert!(!ok);
    assert!(
        stderr.contains("`pylon backend set-env svc TEST --url http://<HOST:PORT>`"),
        "{stderr}"
    );
    assert!(!stderr.contains("/v1/"), "{stderr}");

    cli_ok(&pylon, &["publish", "shop", "hello"]).await;
    let (ok, _, stderr) = cli(&pylon, &["backend", "unset-env", "svc", "RELEASE"]).await;
    assert!(!ok);
    assert!(
        stderr.contains("repeat with --confirm") && !stderr.contains("?confirm"),
        "{stderr}"
    );

    // `unpublish` and `rollback` default to RELEASE, as `publish` does.
    cli_ok(&pylon, &["publish", "shop", "hello"]).await;
    let rolled = cli_json(&pylon, &["rollback", "shop", "hello", "--version", "1"]).await;
    assert_eq!(rolled[0]["environment"], "RELEASE");
    assert_eq!(rolled[0]["version"], 1);
    cli_ok(&pylon, &["unpublish", "shop", "hello"]).await;
    let history = cli_json(&pylon, &["deployments", "shop", "hello"]).await;
    assert!(
        history
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["active"] == false),
        "{history}"
    );

    // Other routers' spellings are refused with Pylon's.
    let colon = write(
        dir.path(),
        "colon.yaml",
        "name: user\nrequest:\n  method: GET\n  path: /users/:id\nbackend:\n  service:\n    backend_id: svc\n  path: /\n",
    );
    let (ok, _, stderr) = cli(&pylon, &["api", "create", "shop", "-f", &colon]).await;
    assert!(!ok);
    assert!(
        stderr.contains("request.path") && stderr.contains("`/users/{id}`"),
        "{stderr}"
    );
}

#[tokio::test]
async fn cli_reports_yaml_mistakes_at_the_files_line_and_column() {
    let pylon = Pylon::start().await;
    cli_ok(&pylon, &["group", "create", "shop"]).await;
    let dir = tempfile::tempdir().unwrap();
    let typo = write(
        dir.path(),
        "files-api.yaml",
        "name: files\nrequest:\n  method: GET\n  pathh: /files\nbackend:\n  service:\n    backend_id: svc\n  path: /\n",
    );
    let (ok, _, stderr) = cli(&pylon, &["api", "create", "shop", "-f", &typo]).await;
    assert!(!ok);
    assert!(
        stderr.contains(&format!("{typo}:4:3: ")) && stderr.contains("unknown field `pathh`"),
        "{stderr}"
    );
    assert!(!stderr.contains("JSON"), "{stderr}");

    let wrong_type = write(
        dir.path(),
        "timeout.yaml",
        "name: files\nrequest:\n  method: GET\n  path: /files\nbackend:\n  service:\n    backend_id: svc\n  path: /\n  timeout_ms: soon\n",
    );
    let (ok, _, stderr) = cli(
        &pylon,
        &["api", "update", "shop", "files", "-f", &wrong_type],
    )
    .await;
    assert!(!ok);
    assert!(stderr.contains(&format!("{wrong_type}:9:")), "{stderr}");

    let broken = write(dir.path(), "broken.yaml", "name: [files\n");
    let (ok, _, stderr) = cli(&pylon, &["api", "create", "shop", "-f", &broken]).await;
    assert!(!ok);
    assert!(stderr.contains(&format!("{broken}:")), "{stderr}");
}

#[tokio::test]
async fn cli_tables_show_names_dates_and_where_apis_are_published() {
    let pylon = Pylon::start().await;
    cli_ok(&pylon, &["group", "create", "shop"]).await;
    cli_ok(&pylon, &["group", "add-domain", "shop", "shop.example.com"]).await;
    cli_ok(
        &pylon,
        &[
            "group",
            "add-domain",
            "shop",
            "test.example.com",
            "--environment",
            "TEST",
        ],
    )
    .await;
    cli_ok(&pylon, &["backend", "create", "svc", "--type", "mock"]).await;
    for env in ["RELEASE", "TEST"] {
        cli_ok(
            &pylon,
            &["backend", "set-env", "svc", env, "--mock-status", "200"],
        )
        .await;
    }
    let dir = tempfile::tempdir().unwrap();
    for name in ["orders", "drafts"] {
        let file = write(
            dir.path(),
            &format!("{name}.yaml"),
            &format!(
                "name: {name}\nrequest:\n  method: GET\n  path: /{name}\nbackend:\n  service:\n    backend_id: svc\n  path: /\n"
            ),
        );
        cli_ok(&pylon, &["api", "create", "shop", "-f", &file]).await;
    }
    cli_ok(&pylon, &["publish", "shop", "orders"]).await;
    cli_ok(&pylon, &["publish", "shop", "orders"]).await;
    cli_ok(&pylon, &["publish", "shop", "orders", "--env", "TEST"]).await;
    cli_ok(&pylon, &["app", "create", "web"]).await;
    cli_ok(
        &pylon,
        &[
            "authorization",
            "grant",
            "--app",
            "web",
            "--group",
            "shop",
            "--api",
            "orders",
            "--env",
            "RELEASE",
        ],
    )
    .await;

    let groups = cli_ok(&pylon, &["group", "list"]).await;
    assert!(
        groups.contains("shop.example.com, test.example.com (TEST)"),
        "{groups}"
    );
    assert!(!groups.contains("name:"), "{groups}");

    let apis = cli_ok(&pylon, &["api", "list", "shop"]).await;
    let header = apis.lines().next().unwrap_or("");
    assert!(header.contains("PUBLISHED"), "{apis}");
    let orders = apis.lines().find(|l| l.contains("orders")).unwrap_or("");
    assert!(
        orders.contains(" svc ") && orders.ends_with("RELEASE v2, TEST v1"),
        "{apis}"
    );
    let drafts = apis.lines().find(|l| l.contains("drafts")).unwrap_or("");
    assert!(drafts.trim_end().ends_with('-'), "{apis}");

    let history = cli_ok(&pylon, &["deployments", "shop", "orders"]).await;
    let created = history.lines().nth(1).unwrap_or("");
    assert!(
        created.split("  ").any(|cell| is_date(cell.trim())),
        "{history}"
    );
    let apps = cli_ok(&pylon, &["app", "list"]).await;
    assert!(
        apps.lines()
            .nth(1)
            .is_some_and(|l| l.split("  ").any(|c| is_date(c.trim()))),
        "{apps}"
    );

    let grants = cli_ok(&pylon, &["authorization", "list"]).await;
    let row = grants.lines().nth(1).unwrap_or("");
    assert!(
        row.contains(" web ") && row.contains(" shop ") && row.contains(" orders "),
        "{grants}"
    );
}
