//! Bad requests made with Alibaba's real clients: each gets its own status, X-Ca-Error-Message
//! and X-Ca-Error-Code. The SDK itself makes them: a wrong secret is passed as the secret, a
//! stale timestamp or a reused nonce go in as `x-ca-timestamp` / `x-ca-nonce` headers (which the
//! SDK signs instead of its own), and a tampered body is swapped in after the SDK signed the
//! original (see aliyun-node.js).

use std::time::Duration;

use serde_json::json;

use super::{Client, Setup, TestApp, call, now_ms};

/// An `app` API on `/orders` in RELEASE and TEST; the app is authorized in RELEASE only.
async fn setup() -> (Setup, String, TestApp) {
    let s = Setup::start().await;
    let api = s
        .api(
            "orders",
            "ANY",
            "/orders",
            json!({"type": "app"}),
            &["RELEASE", "TEST"],
        )
        .await;
    let app = s.app("shop").await;
    s.grant(&app, &api, "RELEASE", None).await;
    (s, api, app)
}

fn nonce(tag: &str) -> String {
    format!("e2e-{tag}-{}", now_ms())
}

#[tokio::test]
async fn wrong_secret_shows_the_server_string_to_sign() {
    let (s, _, app) = setup().await;
    let (ts, n) = (now_ms(), nonce("wrong-secret"));
    let r = call(
        Client::AliyunNode,
        json!({"app_key": app.key, "app_secret": "not-the-secret", "url": s.url("/orders"),
               "query": {"a": "1"}, "timestamp": ts, "nonce": n}),
    )
    .await;
    // The SDK signs Accept, lowercase x-ca-* names, and no Content-Type on a GET.
    let expected = format!(
        "Invalid Signature, Server StringToSign:`GET#application/json####x-ca-key:{}#x-ca-nonce:{n}#x-ca-stage:RELEASE#x-ca-timestamp:{ts}#/orders?a=1`",
        app.key
    );
    r.assert_error(400, &expected, "A400IS");

    let (ts, n) = (now_ms(), nonce("wrong-secret-py"));
    let r = call(
        Client::AliyunPython,
        json!({"app_key": app.key, "app_secret": "not-the-secret", "url": s.url("/orders?a=1"),
               "timestamp": ts, "nonce": n}),
    )
    .await;
    // The demo sends Content-Type on a GET too, and its mixed-case header names.
    let expected = format!(
        "Invalid Signature, Server StringToSign:`GET#application/json##application/json##X-Ca-Key:{}#X-Ca-Nonce:{n}#X-Ca-Timestamp:{ts}#/orders?a=1`",
        app.key
    );
    r.assert_error(400, &expected, "A400IS");
}

#[tokio::test]
async fn stale_timestamp_is_expired() {
    let (s, _, app) = setup().await;
    for (tag, ts) in [
        ("past", now_ms() - 16 * 60 * 1000),
        ("future", now_ms() + 16 * 60 * 1000),
    ] {
        let r = call(
            Client::AliyunNode,
            json!({"app_key": app.key, "app_secret": app.secret, "url": s.url("/orders"),
                   "timestamp": ts, "nonce": nonce(tag)}),
        )
        .await;
        r.assert_error(400, "Timestamp Expired", "A400TE");
    }
    // 14 minutes old is still inside the window.
    let r = call(
        Client::AliyunNode,
        json!({"app_key": app.key, "app_secret": app.secret, "url": s.url("/orders"),
               "timestamp": now_ms() - 14 * 60 * 1000}),
    )
    .await;
    r.echo();
}

#[tokio::test]
async fn reused_nonce_is_refused() {
    let (s, _, app) = setup().await;
    let n = nonce("replay");
    let req =
        json!({"app_key": app.key, "app_secret": app.secret, "url": s.url("/orders"), "nonce": n});
    call(Client::AliyunNode, req.clone()).await.echo();
    call(Client::AliyunNode, req)
        .await
        .assert_error(400, "Nonce Used", "A400NU");
    // The same nonce replayed by the Python demo, freshly signed: still used.
    call(
        Client::AliyunPython,
        json!({"app_key": app.key, "app_secret": app.secret, "url": s.url("/orders"), "nonce": n}),
    )
    .await
    .assert_error(400, "Nonce Used", "A400NU");
}

#[tokio::test]
async fn tampered_body_fails_content_md5() {
    let (s, _, app) = setup().await;
    let r = call(
        Client::AliyunNode,
        json!({"app_key": app.key, "app_secret": app.secret, "method": "POST",
               "url": s.url("/orders"), "json": {"amount": 1},
               "tamper_body": "{\"amount\":1000}"}),
    )
    .await;
    r.assert_error(400, "Invalid Content-MD5", "A400IC");
}

#[tokio::test]
async fn unknown_app_key_is_invalid() {
    let (s, _, _) = setup().await;
    let r = call(
        Client::AliyunNode,
        json!({"app_key": "0123456789abcdef01234567", "app_secret": "whatever",
               "url": s.url("/orders")}),
    )
    .await;
    r.assert_error(400, "Invalid AppKey", "A400IK");
}

#[tokio::test]
async fn unauthorized_app_is_refused() {
    let (s, _, app) = setup().await;
    // Authorized in RELEASE only.
    let r = call(
        Client::AliyunNode,
        json!({"app_key": app.key, "app_secret": app.secret, "url": s.url("/orders"),
               "stage": "TEST"}),
    )
    .await;
    r.assert_error(403, "Unauthorized", "A403UA");
    // Correctly signed by an app with no grant at all.
    let other = s.app("stranger").await;
    let r = call(
        Client::AliyunPython,
        json!({"app_key": other.key, "app_secret": other.secret, "url": s.url("/orders")}),
    )
    .await;
    r.assert_error(403, "Unauthorized", "A403UA");
}

#[tokio::test]
async fn expired_grant_stops_working_without_an_admin_change() {
    let (s, api, _) = setup().await;
    let app = s.app("short-lived").await;
    let expires_at = now_ms() + 4_000;
    s.grant(&app, &api, "RELEASE", Some(expires_at)).await;
    let req = json!({"app_key": app.key, "app_secret": app.secret, "url": s.url("/orders")});
    call(Client::AliyunNode, req.clone()).await.echo();
    let wait = expires_at - now_ms() + 500;
    assert!(wait > 500, "the first call took too long to test expiry");
    tokio::time::sleep(Duration::from_millis(wait as u64)).await;
    call(Client::AliyunNode, req)
        .await
        .assert_error(403, "Unauthorized", "A403UA");
}
