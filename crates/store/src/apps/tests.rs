//! Apps, their key pairs and AppCodes, and what reaches the database file.

use pylon_model::{AppCode, Authorization, AuthorizationSpec};
use sqlx::Row;

use crate::fixtures::{api, app, app_key, group, temp_store};
use crate::{SecretKey, Store, StoreError};

fn code(app_id: &str, code: &str, at: i64) -> AppCode {
    AppCode {
        app_id: app_id.into(),
        code: code.into(),
        created_at: at,
    }
}

fn grant(id: &str, app_id: &str, api_id: &str, expires_at: Option<i64>) -> Authorization {
    Authorization {
        id: id.into(),
        group_id: String::new(),
        spec: AuthorizationSpec {
            app_id: app_id.into(),
            api_id: api_id.into(),
            environment: "TEST".into(),
            expires_at,
            description: String::new(),
        },
        created_at: 1,
    }
}

#[tokio::test]
async fn apps_round_trip_by_id_or_name_in_creation_order() {
    let (_dir, store) = temp_store().await;
    store
        .create_app(&app("p2", "web", 2), &app_key("p2", "k2", 2))
        .await
        .unwrap();
    store
        .create_app(&app("p1", "mobile", 1), &app_key("p1", "k1", 1))
        .await
        .unwrap();
    let ids: Vec<_> = store
        .list_apps()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(ids, ["p1", "p2"]);
    assert_eq!(store.get_app("p2").await.unwrap(), app("p2", "web", 2));
    assert_eq!(store.get_app("mobile").await.unwrap().id, "p1");
    // An id wins over another app's name.
    store
        .create_app(&app("p3", "p1", 3), &app_key("p3", "k3", 3))
        .await
        .unwrap();
    assert_eq!(store.get_app("p1").await.unwrap().spec.name, "mobile");

    let err = store
        .create_app(&app("p4", "web", 4), &app_key("p4", "k4", 4))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "an app named `web` already exists");
    assert!(matches!(
        store
            .create_app(&app("p1", "other", 4), &app_key("p1", "k5", 4))
            .await,
        Err(StoreError::Conflict(_))
    ));
    // The first key is part of the creation: a taken AppKey creates nothing.
    assert!(matches!(
        store
            .create_app(&app("p6", "tablet", 6), &app_key("p6", "k1", 6))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.get_app("tablet").await,
        Err(StoreError::NotFound { kind: "app", .. })
    ));

    store.delete_app("p2").await.unwrap();
    assert!(matches!(
        store.delete_app("p2").await,
        Err(StoreError::NotFound { kind: "app", .. })
    ));
    assert_eq!(store.list_apps().await.unwrap().len(), 2);
}

#[tokio::test]
async fn key_pairs_round_trip_and_listing_hides_secrets() {
    let (_dir, store) = temp_store().await;
    store
        .create_app(&app("p1", "mobile", 1), &app_key("other-id", "k1", 1))
        .await
        .unwrap();
    store
        .create_app(&app("p2", "web", 2), &app_key("p2", "k9", 2))
        .await
        .unwrap();
    store.add_app_key(&app_key("p1", "k2", 5)).await.unwrap();

    let keys = store.list_app_keys("p1").await.unwrap();
    let names: Vec<_> = keys.iter().map(|k| k.app_key.as_str()).collect();
    assert_eq!(names, ["k1", "k2"]);
    assert!(
        keys.iter()
            .all(|k| k.app_secret.is_none() && k.app_id == "p1")
    );
    // The first key belongs to the app created, whatever its app_id said.
    assert_eq!(
        store.get_app_key("p1", "k1").await.unwrap(),
        app_key("p1", "k1", 1)
    );
    assert_eq!(
        store.get_app_key("p1", "k2").await.unwrap(),
        app_key("p1", "k2", 5)
    );

    // AppKeys are unique across apps.
    let err = store
        .add_app_key(&app_key("p2", "k1", 6))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "AppKey `k1` already exists");
    // Another app's key is not found through this one.
    assert!(matches!(
        store.get_app_key("p2", "k1").await,
        Err(StoreError::NotFound { kind: "AppKey", .. })
    ));
    assert!(matches!(
        store.delete_app_key("p2", "k1").await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.add_app_key(&app_key("nope", "k7", 6)).await,
        Err(StoreError::NotFound { kind: "app", .. })
    ));
    assert!(matches!(
        store.list_app_keys("nope").await,
        Err(StoreError::NotFound { kind: "app", .. })
    ));
    let mut no_secret = app_key("p1", "k8", 7);
    no_secret.app_secret = None;
    assert!(matches!(
        store.add_app_key(&no_secret).await,
        Err(StoreError::Secret(_))
    ));

    store.delete_app_key("p1", "k1").await.unwrap();
    assert_eq!(store.list_app_keys("p1").await.unwrap().len(), 1);
    // A deleted AppKey can be imported again.
    store.add_app_key(&app_key("p2", "k1", 8)).await.unwrap();
}

#[tokio::test]
async fn app_codes_round_trip_and_are_unique_across_apps() {
    let (_dir, store) = temp_store().await;
    for (id, name) in [("p1", "mobile"), ("p2", "web")] {
        store
            .create_app(&app(id, name, 1), &app_key(id, &format!("k{id}"), 1))
            .await
            .unwrap();
    }
    store.add_app_code(&code("p1", "c-late", 9)).await.unwrap();
    store.add_app_code(&code("p1", "c-early", 3)).await.unwrap();
    assert_eq!(
        store.list_app_codes("p1").await.unwrap(),
        [code("p1", "c-early", 3), code("p1", "c-late", 9)]
    );
    assert!(store.list_app_codes("p2").await.unwrap().is_empty());
    let err = store
        .add_app_code(&code("p2", "c-late", 10))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)));
    assert!(!err.to_string().contains("p1"), "{err}");
    assert!(matches!(
        store.add_app_code(&code("nope", "c-new", 1)).await,
        Err(StoreError::NotFound { kind: "app", .. })
    ));
    assert!(matches!(
        store.delete_app_code("p2", "c-late").await,
        Err(StoreError::NotFound {
            kind: "AppCode",
            ..
        })
    ));
    store.delete_app_code("p1", "c-late").await.unwrap();
    store.add_app_code(&code("p2", "c-late", 11)).await.unwrap();
    assert_eq!(store.list_app_codes("p1").await.unwrap().len(), 1);
}

#[tokio::test]
async fn the_database_file_holds_no_secret_or_code_in_the_clear() {
    let (dir, store) = temp_store().await;
    let secret = "Zq7SecretValueThatMustNotLeak42";
    let appcode = "c0de5ecretc0de5ecretc0de5ecret77";
    let mut key = app_key("p1", "k1", 1);
    key.app_secret = Some(secret.into());
    store
        .create_app(&app("p1", "mobile", 1), &key)
        .await
        .unwrap();
    store.add_app_code(&code("p1", appcode, 2)).await.unwrap();

    let mut conn = store.conn().await.unwrap();
    let row = sqlx::query("SELECT secret FROM app_keys")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    let sealed: String = row.try_get("secret").unwrap();
    assert!(sealed.starts_with("v1:") && !sealed.contains(secret));
    let row = sqlx::query("SELECT lookup, code FROM app_codes")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    let lookup: String = row.try_get("lookup").unwrap();
    let sealed: String = row.try_get("code").unwrap();
    assert!(sealed.starts_with("v1:") && !sealed.contains(appcode) && lookup != appcode);
    drop(conn);
    store.close().await;

    // Every file SQLite wrote (the database, and the WAL if it was not checkpointed).
    let mut files = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        files += 1;
        for needle in [secret, appcode] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{needle} found in the clear"
            );
        }
    }
    assert!(files >= 1);
    // The app's name is not a secret and is in the file: the scan does see the data.
    let all: Vec<u8> = std::fs::read_dir(dir.path())
        .unwrap()
        .flat_map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    assert!(all.windows(6).any(|w| w == b"mobile"));
}

#[tokio::test]
async fn another_key_cannot_read_the_secrets_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pylon.db");
    let right = SecretKey::generate();
    let store = Store::open_sqlite(&path, right.clone()).await.unwrap();
    store
        .create_app(&app("p1", "mobile", 1), &app_key("p1", "k1", 1))
        .await
        .unwrap();
    store.add_app_code(&code("p1", "c1", 2)).await.unwrap();
    store.close().await;

    let store = Store::open_sqlite(&path, SecretKey::generate())
        .await
        .unwrap();
    let message = "cannot decrypt stored secrets: the secret key does not match the one they were written with";
    for err in [
        store.get_app_key("p1", "k1").await.unwrap_err(),
        store.list_app_codes("p1").await.unwrap_err(),
        store.load_snapshot().await.unwrap_err(),
    ] {
        assert!(matches!(err, StoreError::Secret(_)));
        assert_eq!(err.to_string(), message);
    }
    // What needs no secret still works, so the app can be cleaned up.
    assert_eq!(store.list_app_keys("p1").await.unwrap().len(), 1);
    store.close().await;

    let store = Store::open_sqlite(&path, right).await.unwrap();
    assert_eq!(store.load_snapshot().await.unwrap().apps[0].codes, ["c1"]);
}

#[tokio::test]
async fn a_ciphertext_moved_to_another_row_does_not_decrypt() {
    let (_dir, store) = temp_store().await;
    store
        .create_app(&app("p1", "mobile", 1), &app_key("p1", "k1", 1))
        .await
        .unwrap();
    store.add_app_key(&app_key("p1", "k2", 2)).await.unwrap();
    sqlx::query(
        "UPDATE app_keys SET secret = (SELECT secret FROM app_keys WHERE app_key = 'k1')
         WHERE app_key = 'k2'",
    )
    .execute(&mut *store.conn().await.unwrap())
    .await
    .unwrap();
    assert!(store.get_app_key("p1", "k1").await.is_ok());
    assert!(matches!(
        store.get_app_key("p1", "k2").await,
        Err(StoreError::Secret(_))
    ));
}

#[tokio::test]
async fn deleting_an_app_removes_its_keys_codes_and_grants() {
    let (_dir, store) = temp_store().await;
    store.create_group(&group("g", "shop", 1)).await.unwrap();
    store
        .create_api(&api("a1", "g", "orders", None, 1))
        .await
        .unwrap();
    for (id, name) in [("p1", "mobile"), ("p2", "web")] {
        store
            .create_app(&app(id, name, 1), &app_key(id, &format!("k{id}"), 1))
            .await
            .unwrap();
        store
            .add_app_code(&code(id, &format!("c{id}"), 1))
            .await
            .unwrap();
        store
            .put_authorization(&grant(&format!("z{id}"), id, "a1", None))
            .await
            .unwrap();
    }
    store.delete_app("p1").await.unwrap();
    let s = store.load_snapshot().await.unwrap();
    assert_eq!(s.apps.len(), 1);
    assert_eq!(s.apps[0].app_id, "p2");
    assert_eq!(
        s.authorizations
            .iter()
            .map(|a| a.id.as_str())
            .collect::<Vec<_>>(),
        ["zp2"]
    );
    let mut conn = store.conn().await.unwrap();
    for table in ["app_keys", "app_codes", "authorizations"] {
        let n: i64 = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) AS n FROM {table} WHERE app_id = 'p1'"
        )))
        .fetch_one(&mut *conn)
        .await
        .unwrap()
        .try_get("n")
        .unwrap();
        assert_eq!(n, 0, "{table}");
    }
    drop(conn);
    // Its credentials are free for another app.
    store.add_app_key(&app_key("p2", "kp1", 2)).await.unwrap();
    store.add_app_code(&code("p2", "cp1", 2)).await.unwrap();
}

#[tokio::test]
async fn snapshot_holds_decrypted_credentials_and_every_grant() {
    let (_dir, store) = temp_store().await;
    store.create_group(&group("g", "shop", 1)).await.unwrap();
    store
        .create_api(&api("a1", "g", "orders", None, 1))
        .await
        .unwrap();
    store
        .create_app(&app("p2", "web", 20), &app_key("p2", "kb", 20))
        .await
        .unwrap();
    store
        .create_app(&app("p1", "mobile", 10), &app_key("p1", "kz", 10))
        .await
        .unwrap();
    store
        .create_app(&app("p3", "bare", 30), &app_key("p3", "kc", 30))
        .await
        .unwrap();
    store.delete_app_key("p3", "kc").await.unwrap();
    store.add_app_key(&app_key("p1", "ka", 11)).await.unwrap();
    store.add_app_code(&code("p1", "code-2", 13)).await.unwrap();
    store.add_app_code(&code("p1", "code-1", 12)).await.unwrap();
    store
        .put_authorization(&grant("z1", "p1", "a1", Some(1)))
        .await
        .unwrap();
    store
        .put_authorization(&grant("z2", "p2", "a1", None))
        .await
        .unwrap();

    let s = store.load_snapshot().await.unwrap();
    let apps: Vec<_> = s
        .apps
        .iter()
        .map(|a| (a.app_id.as_str(), a.name.as_str()))
        .collect();
    assert_eq!(apps, [("p1", "mobile"), ("p2", "web"), ("p3", "bare")]);
    let pair = |k: &str| (k.to_string(), format!("secret-{k}"));
    assert_eq!(s.apps[0].keys, [pair("kz"), pair("ka")]);
    assert_eq!(s.apps[0].codes, ["code-1", "code-2"]);
    assert_eq!(s.apps[1].keys, [pair("kb")]);
    assert!(s.apps[1].codes.is_empty());
    assert!(s.apps[2].keys.is_empty());
    // The expired grant is there too: the gateway decides per request.
    let grants: Vec<_> = s
        .authorizations
        .iter()
        .map(|a| (a.id.as_str(), a.group_id.as_str(), a.spec.expires_at))
        .collect();
    assert_eq!(grants, [("z1", "g", Some(1)), ("z2", "g", None)]);
}
