//! Apps and authorizations against the real binary: secrets survive a restart (the encryption
//! key persists in the data directory), never reach the log, and the CLI drives it all.

use http::Method;
use serde_json::{Value, json};

use crate::harness::{Pylon, cli, cli_json, cli_ok, http_api};

#[tokio::test]
async fn app_secrets_survive_a_restart_and_stay_out_of_the_log() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let log = tmp.path().join("pylon.log");

    let mut pylon = Pylon::start_logged(&data, &log).await;
    let app = pylon
        .ok(
            Method::POST,
            "/v1/apps",
            json!({"name": "persisted", "description": "e2e"}),
        )
        .await;
    let key = app["keys"][0]["app_key"].as_str().unwrap().to_string();
    let secret = app["keys"][0]["app_secret"].as_str().unwrap().to_string();
    let imported = "imported-secret-e2e-0123456789";
    pylon
        .ok(
            Method::POST,
            "/v1/apps/persisted/keys",
            json!({"app_key": "imported-key-e2e", "app_secret": imported}),
        )
        .await;
    let code = pylon
        .ok(Method::POST, "/v1/apps/persisted/codes", json!({}))
        .await["code"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(pylon.stop().await.success());
    let stdout_before = pylon.stdout();

    let key_file = data.join("secret-key");
    assert!(key_file.exists(), "no {}", key_file.display());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    let db = std::fs::read(data.join("pylon.db")).unwrap();
    for plain in [&secret, &code, &imported.to_string()] {
        assert!(
            !db.windows(plain.len()).any(|w| w == plain.as_bytes()),
            "a credential is stored in the clear"
        );
    }

    // Same data directory: the key file decrypts what the first run stored.
    let mut pylon = Pylon::start_logged(&data, &log).await;
    let revealed = pylon
        .ok(
            Method::GET,
            &format!("/v1/apps/persisted/keys/{key}/secret"),
            Value::Null,
        )
        .await;
    assert_eq!(revealed["app_secret"], secret);
    let revealed = pylon
        .ok(
            Method::GET,
            "/v1/apps/persisted/keys/imported-key-e2e/secret",
            Value::Null,
        )
        .await;
    assert_eq!(revealed["app_secret"], imported);
    let codes = pylon
        .ok(Method::GET, "/v1/apps/persisted/codes", Value::Null)
        .await;
    assert_eq!(codes[0]["code"], code);
    assert!(pylon.stop().await.success());
    let stdout_after = pylon.stdout();

    let log = std::fs::read_to_string(&log).unwrap();
    assert!(!log.is_empty(), "the log was captured");
    for (name, text) in [
        ("log", &log),
        ("stdout", &stdout_before),
        ("stdout", &stdout_after),
    ] {
        for plain in [&secret, &code, &imported.to_string()] {
            assert!(!text.contains(plain.as_str()), "{name} holds a credential");
        }
    }
}

#[tokio::test]
async fn cli_manages_apps_keys_codes_and_authorizations() {
    let pylon = Pylon::start().await;
    let app = cli_json(
        &pylon,
        &["app", "create", "cli-app", "--description", "from the CLI"],
    )
    .await;
    let old_key = app["keys"][0]["app_key"].as_str().unwrap().to_string();
    let old_secret = app["keys"][0]["app_secret"].as_str().unwrap().to_string();

    let table = cli_ok(&pylon, &["app", "list"]).await;
    assert!(table.starts_with("ID"), "{table}");
    assert!(table.contains("cli-app"), "{table}");
    let shown = cli_ok(&pylon, &["app", "get", "cli-app"]).await;
    assert!(
        shown.contains(&old_key) && !shown.contains(&old_secret),
        "{shown}"
    );

    // Rotation: a second pair, both listed, the old one deleted.
    let new = cli_json(&pylon, &["app", "key", "add", "cli-app"]).await;
    let new_key = new["app_key"].as_str().unwrap().to_string();
    let new_secret = new["app_secret"].as_str().unwrap().to_string();
    let keys = cli_ok(&pylon, &["app", "key", "list", "cli-app"]).await;
    assert!(keys.contains(&old_key) && keys.contains(&new_key), "{keys}");
    assert!(!keys.contains(&new_secret), "{keys}");
    let revealed = cli_json(&pylon, &["app", "key", "secret", "cli-app", &new_key]).await;
    assert_eq!(revealed["app_secret"], new_secret);
    cli_ok(&pylon, &["app", "key", "delete", "cli-app", &old_key]).await;
    let keys = cli_json(&pylon, &["app", "key", "list", "cli-app"]).await;
    assert_eq!(keys.as_array().unwrap().len(), 1);
    assert_eq!(keys[0]["app_key"], new_key);

    let code = cli_json(&pylon, &["app", "code", "add", "cli-app"]).await;
    let code = code["code"].as_str().unwrap().to_string();
    assert!(
        cli_ok(&pylon, &["app", "code", "list", "cli-app"])
            .await
            .contains(&code)
    );
    cli_ok(&pylon, &["app", "code", "delete", "cli-app", &code]).await;
    assert_eq!(
        cli_json(&pylon, &["app", "code", "list", "cli-app"]).await,
        json!([])
    );

    // Authorizations, with the API named by group and name.
    let group = pylon.create_group("cli-shop").await;
    pylon
        .create_api(
            &group,
            http_api("orders", "GET", "/orders", "http://127.0.0.1:9", "/"),
        )
        .await;
    let granted = cli_json(
        &pylon,
        &[
            "authorization",
            "grant",
            "--app",
            "cli-app",
            "--group",
            "cli-shop",
            "--api",
            "orders",
            "--env",
            "RELEASE",
            "--expires-in",
            "1h",
        ],
    )
    .await;
    let id = granted[0]["id"].as_str().unwrap().to_string();
    assert_eq!(granted[0]["expired"], false);
    let expires = granted[0]["expires_at"].as_i64().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!((expires - now - 3_600_000).abs() < 60_000, "{expires}");

    // Granting again keeps the id; RFC 3339 expiry accepted.
    let again = cli_json(
        &pylon,
        &[
            "authorization",
            "grant",
            "--app",
            "cli-app",
            "--group",
            "cli-shop",
            "--api",
            "orders",
            "--env",
            "release",
            "--expires-at",
            "2099-01-01T00:00:00Z",
        ],
    )
    .await;
    assert_eq!(again[0]["id"], id);
    assert_eq!(again[0]["expires_at"], 4_070_908_800_000_i64);

    let table = cli_ok(&pylon, &["authorization", "list", "--app", "cli-app"]).await;
    assert!(table.starts_with("ID"), "{table}");
    assert!(
        table.contains("cli-app") && table.contains("2099-01-01T00:00:00Z"),
        "{table}"
    );
    let by_api = cli_json(
        &pylon,
        &[
            "authorization",
            "list",
            "--group",
            "cli-shop",
            "--api",
            "orders",
        ],
    )
    .await;
    assert_eq!(by_api[0]["id"], id);

    let (success, _, stderr) = cli(
        &pylon,
        &[
            "authorization",
            "grant",
            "--app",
            "cli-app",
            "--group",
            "cli-shop",
            "--api",
            "orders",
            "--env",
            "NOWHERE",
        ],
    )
    .await;
    assert!(!success);
    assert!(
        stderr.contains("422") && stderr.contains("environment"),
        "{stderr}"
    );

    cli_ok(&pylon, &["authorization", "revoke", &id]).await;
    assert_eq!(
        cli_json(&pylon, &["authorization", "list"]).await,
        json!([])
    );

    cli_ok(&pylon, &["app", "delete", "cli-app"]).await;
    let (success, _, stderr) = cli(&pylon, &["app", "get", "cli-app"]).await;
    assert!(!success);
    assert!(stderr.contains("404"), "{stderr}");
}
