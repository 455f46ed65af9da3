//! Tencent key-pair (HMAC) calls: PyPI tencentcloud-apigateway-authorization signs (hmac-sha1,
//! `Date`), and hand-signed requests cover hmac-sha256/512 with `X-Date` per wire-compat.md.

use std::time::Duration;

use serde_json::json;

use super::{Client, Setup, TestApp, assert_no_credentials, call};

async fn setup() -> (Setup, TestApp) {
    let s = Setup::start().await;
    let api = s
        .api(
            "orders",
            "ANY",
            "/orders",
            json!({"type": "key-pair"}),
            &["RELEASE"],
        )
        .await;
    let app = s.app("shop").await;
    s.grant(&app, &api, "RELEASE", None).await;
    (s, app)
}

/// An HTTP date `offset_secs` from now.
fn http_date(offset_secs: i64) -> String {
    let now = std::time::SystemTime::now();
    let t = if offset_secs >= 0 {
        now + Duration::from_secs(offset_secs as u64)
    } else {
        now - Duration::from_secs(offset_secs.unsigned_abs())
    };
    httpdate::fmt_http_date(t)
}

#[tokio::test]
async fn tencent_signer_library_call() {
    let (s, app) = setup().await;
    let r = call(
        Client::Tencent,
        json!({"secret_id": app.key, "secret_key": app.secret, "method": "POST",
               "url": s.url("/orders?x=1"), "body": "hello",
               "headers": {"Source": "pylon-e2e", "Content-Type": "text/plain"}}),
    )
    .await;
    let echo = r.echo();
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["path"], "/backend/orders");
    assert_eq!(echo["query"], "x=1");
    assert_eq!(echo["body"], "hello");
    assert_eq!(echo["headers"]["x-app-id"], app.id.as_str());
    assert_no_credentials(echo);
}

#[tokio::test]
async fn tencent_hand_signed_algorithms_with_x_date() {
    let (s, app) = setup().await;
    for algorithm in ["hmac-sha1", "hmac-sha256", "hmac-sha384", "hmac-sha512"] {
        let r = call(
            Client::Tencent,
            json!({"signer": "manual", "algorithm": algorithm, "secret_id": app.key,
                   "secret_key": app.secret, "url": s.url("/orders")}),
        )
        .await;
        assert_eq!(
            r.echo()["headers"]["x-app-id"],
            app.id.as_str(),
            "{algorithm}"
        );
    }
}

#[tokio::test]
async fn tencent_bad_signature_and_unknown_id() {
    let (s, app) = setup().await;
    let r = call(
        Client::Tencent,
        json!({"secret_id": app.key, "secret_key": "not-the-secret", "url": s.url("/orders")}),
    )
    .await;
    r.assert_error(401, "HMAC signature does not match", "A401HS");
    let r = call(
        Client::Tencent,
        json!({"secret_id": "0123456789abcdef01234567", "secret_key": app.secret,
               "url": s.url("/orders")}),
    )
    .await;
    r.assert_error(
        401,
        "HMAC signature cannot be verified, unknown id",
        "A401HK",
    );
}

#[tokio::test]
async fn tencent_stale_x_date() {
    let (s, app) = setup().await;
    // The library signs the stale X-Date along with its own fresh Date; X-Date is checked.
    let r = call(
        Client::Tencent,
        json!({"secret_id": app.key, "secret_key": app.secret, "url": s.url("/orders"),
               "headers": {"X-Date": http_date(-16 * 60), "Source": "pylon-e2e"}}),
    )
    .await;
    r.assert_error(
        401,
        "HMAC signature cannot be verified, the x-date header is out of date for HMAC Authentication",
        "A401XE",
    );
    let r = call(
        Client::Tencent,
        json!({"signer": "manual", "secret_id": app.key, "secret_key": app.secret,
               "url": s.url("/orders"), "x_date": http_date(16 * 60)}),
    )
    .await;
    r.assert_error(
        401,
        "HMAC signature cannot be verified, the x-date header is out of date for HMAC Authentication",
        "A401XE",
    );
    // Inside the window.
    let r = call(
        Client::Tencent,
        json!({"signer": "manual", "secret_id": app.key, "secret_key": app.secret,
               "url": s.url("/orders"), "x_date": http_date(-60)}),
    )
    .await;
    r.echo();
}

#[tokio::test]
async fn tencent_signer_through_a_stage_path_domain() {
    let s = Setup::start().await;
    let api = s
        .api(
            "orders",
            "GET",
            "/orders",
            json!({"type": "key-pair"}),
            &["TEST"],
        )
        .await;
    let app = s.app("shop").await;
    s.grant(&app, &api, "TEST", None).await;
    // `localhost` reads the environment from the path, as Tencent's service URLs do.
    s.pylon
        .add_domain(
            &s.group,
            json!({"name": "localhost", "stage_path": "tencent"}),
        )
        .await;
    let r = call(
        Client::Tencent,
        json!({"secret_id": app.key, "secret_key": app.secret, "method": "GET",
               "url": s.url_on("localhost", "/test/orders?x=1"),
               "headers": {"Source": "pylon-e2e"}}),
    )
    .await;
    let echo = r.echo();
    assert_eq!(echo["path"], "/backend/orders");
    assert_eq!(echo["query"], "x=1");
    assert_eq!(echo["headers"]["x-stage"], "TEST");
    assert_eq!(echo["headers"]["x-app-id"], app.id.as_str());
}
