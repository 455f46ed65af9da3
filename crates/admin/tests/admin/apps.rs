//! Apps, their key pairs and AppCodes: secrets shown only where asked for, rotation, cascades.

use http::StatusCode;
use serde_json::{Value, json};

use crate::common::Harness;

/// Creates an app; returns (id, AppKey, AppSecret).
async fn app(h: &Harness, name: &str) -> (String, String, String) {
    let (status, body) = h
        .call("POST", "/v1/apps", Some(json!({ "name": name })))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let key = &body["keys"][0];
    (
        body["id"].as_str().unwrap().to_string(),
        key["app_key"].as_str().unwrap().to_string(),
        key["app_secret"].as_str().unwrap().to_string(),
    )
}

fn keys_of(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|k| k["app_key"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn create_shows_the_secret_once_and_lists_hide_it() {
    let h = Harness::new().await;
    let (status, body) = h
        .call(
            "POST",
            "/v1/apps",
            Some(json!({ "name": "shop-web", "description": "the web shop" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["name"], "shop-web");
    assert_eq!(body["description"], "the web shop");
    let id = body["id"].as_str().unwrap();
    let key = body["keys"][0]["app_key"].as_str().unwrap();
    let secret = body["keys"][0]["app_secret"].as_str().unwrap();
    assert_eq!(key.len(), 24);
    assert!(
        key.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    assert_eq!(secret.len(), 32);
    assert!(secret.bytes().all(|b| b.is_ascii_alphanumeric()));

    // By id or by name; never with the secret.
    for path in [format!("/v1/apps/{id}"), "/v1/apps/shop-web".to_string()] {
        let (status, body) = h.call("GET", &path, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["id"], id);
        assert_eq!(body["keys"][0]["app_key"], key);
        assert!(!body.to_string().contains(secret), "{body}");
    }
    let (_, list) = h.call("GET", "/v1/apps", None).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains(secret));
    let (status, keys) = h.call("GET", "/v1/apps/shop-web/keys", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(keys_of(&keys), [key]);
    assert!(keys[0].get("app_secret").is_none(), "{keys}");

    // Revealed on request.
    let (status, body) = h
        .call("GET", &format!("/v1/apps/{id}/keys/{key}/secret"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["app_secret"], secret);
    assert_eq!(body["app_id"], id);

    // The gateway got the credentials in the clear.
    let snapshot = h.last_snapshot();
    let creds = snapshot.apps.iter().find(|a| a.app_id == id).unwrap();
    assert_eq!(creds.name, "shop-web");
    assert_eq!(creds.keys, vec![(key.to_string(), secret.to_string())]);
}

#[tokio::test]
async fn app_input_errors() {
    let h = Harness::new().await;
    app(&h, "dup").await;
    let (status, body) = h
        .call("POST", "/v1/apps", Some(json!({ "name": "dup" })))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = h
        .call("POST", "/v1/apps", Some(json!({ "name": "" })))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "name");
    let (status, body) = h
        .call("POST", "/v1/apps", Some(json!({ "name": "x", "color": 1 })))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    for (method, path) in [
        ("GET", "/v1/apps/nope"),
        ("DELETE", "/v1/apps/nope"),
        ("GET", "/v1/apps/nope/keys"),
        ("POST", "/v1/apps/nope/keys"),
        ("GET", "/v1/apps/nope/codes"),
        ("GET", "/v1/apps/dup/keys/0123456789abcdef01234567/secret"),
        ("DELETE", "/v1/apps/dup/keys/0123456789abcdef01234567"),
        (
            "DELETE",
            "/v1/apps/dup/codes/0123456789abcdef0123456789abcdef",
        ),
    ] {
        let (status, body) = h.call(method, path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
        assert_eq!(body["code"], "NotFound");
    }
}

#[tokio::test]
async fn keys_rotate_by_adding_then_deleting() {
    let h = Harness::new().await;
    let (id, old_key, old_secret) = app(&h, "mobile").await;

    let (status, new) = h.call("POST", "/v1/apps/mobile/keys", None).await;
    assert_eq!(status, StatusCode::CREATED, "{new}");
    let new_key = new["app_key"].as_str().unwrap().to_string();
    let new_secret = new["app_secret"].as_str().unwrap().to_string();
    assert_ne!(new_key, old_key);
    assert_ne!(new_secret, old_secret);
    assert_eq!(new["app_id"], id);

    // Both work while clients move over.
    let creds = h.last_snapshot().apps;
    assert_eq!(creds[0].keys.len(), 2);
    let (_, keys) = h.call("GET", "/v1/apps/mobile/keys", None).await;
    let mut listed = keys_of(&keys);
    listed.sort();
    let mut expected = vec![old_key.as_str(), new_key.as_str()];
    expected.sort();
    assert_eq!(listed, expected);

    let before = h.changes();
    let (status, _) = h
        .call("DELETE", &format!("/v1/apps/mobile/keys/{old_key}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(h.changes(), before + 1);
    assert_eq!(
        h.last_snapshot().apps[0].keys,
        vec![(new_key.clone(), new_secret)]
    );
    let (status, _) = h
        .call(
            "GET",
            &format!("/v1/apps/mobile/keys/{old_key}/secret"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn keys_can_be_imported_and_stay_unique() {
    let h = Harness::new().await;
    app(&h, "a").await;
    app(&h, "b").await;
    let pair =
        json!({ "app_key": "imported-key-0001", "app_secret": "imported-secret-0123456789" });
    let (status, body) = h.call("POST", "/v1/apps/a/keys", Some(pair.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["app_key"], "imported-key-0001");
    assert_eq!(body["app_secret"], "imported-secret-0123456789");

    // An AppKey names one app across all apps.
    let (status, body) = h.call("POST", "/v1/apps/b/keys", Some(pair)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    let (status, body) = h
        .call(
            "POST",
            "/v1/apps/a/keys",
            Some(json!({ "app_key": "has space 0001" })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "app_key");
    let (status, body) = h
        .call(
            "POST",
            "/v1/apps/a/keys",
            Some(json!({ "app_secret": "short" })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "app_secret");
    let (status, _) = h.call_raw("POST", "/v1/apps/a/keys", "{not json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn app_codes_are_made_listed_and_deleted() {
    let h = Harness::new().await;
    let (id, _, _) = app(&h, "kiosk").await;
    let (status, code) = h.call("POST", "/v1/apps/kiosk/codes", None).await;
    assert_eq!(status, StatusCode::CREATED, "{code}");
    let generated = code["code"].as_str().unwrap().to_string();
    assert_eq!(generated.len(), 32);
    assert!(generated.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(code["app_id"], id);

    let (status, body) = h
        .call(
            "POST",
            "/v1/apps/kiosk/codes",
            Some(json!({ "code": "my-own-code-0123456789" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = h
        .call(
            "POST",
            "/v1/apps/kiosk/codes",
            Some(json!({ "code": "my-own-code-0123456789" })),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, body) = h
        .call(
            "POST",
            "/v1/apps/kiosk/codes",
            Some(json!({ "code": "a b" })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["field"], "code");

    let (_, list) = h.call("GET", "/v1/apps/kiosk/codes", None).await;
    let mut codes: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    codes.sort();
    let mut expected = vec![generated.as_str(), "my-own-code-0123456789"];
    expected.sort();
    assert_eq!(codes, expected);
    let mut in_snapshot = h.last_snapshot().apps[0].codes.clone();
    in_snapshot.sort();
    assert_eq!(in_snapshot, expected);

    let (status, _) = h
        .call("DELETE", &format!("/v1/apps/kiosk/codes/{generated}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        h.last_snapshot().apps[0].codes,
        vec!["my-own-code-0123456789".to_string()]
    );
}

#[tokio::test]
async fn deleting_an_app_removes_its_credentials_and_grants() {
    let h = Harness::new().await;
    let (id, key, _) = app(&h, "gone").await;
    h.call("POST", "/v1/apps/gone/codes", None).await;
    let g = h.group("g").await;
    let b = h.mock_backend("b", &["RELEASE"]).await;
    let api = h.api(&g, "a", "/a", &b).await;
    let (status, body) = h
        .call(
            "POST",
            "/v1/authorizations",
            Some(json!({ "app_id": id, "api_id": api, "environment": "RELEASE" })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(h.last_snapshot().authorizations.len(), 1);

    let (status, _) = h.call("DELETE", "/v1/apps/gone", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let snapshot = h.last_snapshot();
    assert!(snapshot.apps.is_empty());
    assert!(snapshot.authorizations.is_empty());
    let (_, list) = h.call("GET", "/v1/authorizations", None).await;
    assert_eq!(list, json!([]));
    let (status, _) = h
        .call("GET", &format!("/v1/apps/{id}/keys/{key}/secret"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The name is free again.
    let (_, new_key, _) = app(&h, "gone").await;
    assert_ne!(new_key, key);
}
