//! Alibaba's official Node.js SDK and Python signing demo, unchanged, calling `app` APIs with
//! AppKey/AppSecret signatures (GET with query, form POST, JSON POST) in RELEASE and TEST, and
//! the SDK's SimpleClient with an AppCode (the same three calls, TEST through a domain bound to
//! it).

use serde_json::{Value, json};

use super::{Client, Setup, TestApp, assert_no_credentials, call, decode_pairs, pairs};

const ENVS: [&str; 2] = ["RELEASE", "TEST"];

/// An `app` API on `/orders` (any method) published in RELEASE and TEST, and an app
/// authorized in both.
async fn signed_setup() -> (Setup, TestApp) {
    let s = Setup::start().await;
    let api = s
        .api("orders", "ANY", "/orders", json!({"type": "app"}), &ENVS)
        .await;
    let app = s.app("shop").await;
    for env in ENVS {
        s.grant(&app, &api, env, None).await;
    }
    (s, app)
}

fn signed(app: &TestApp, env: &str, url: String, rest: Value) -> Value {
    merged(
        json!({"app_key": app.key, "app_secret": app.secret, "stage": env, "url": url}),
        rest,
    )
}

/// `base` with the fields of `rest` laid over it.
fn merged(mut base: Value, rest: Value) -> Value {
    for (k, x) in rest.as_object().unwrap() {
        base[k] = x.clone();
    }
    base
}

/// What every signed call must have done at the backend.
fn assert_reached(echo: &Value, method: &str, app: &TestApp, env: &str) {
    assert_eq!(echo["method"], method);
    assert_eq!(echo["path"], "/backend/orders");
    assert_eq!(echo["headers"]["x-stage"], env, "{echo}");
    assert_eq!(echo["headers"]["x-app-id"], app.id.as_str(), "{echo}");
    assert_no_credentials(echo);
}

#[tokio::test]
async fn node_sdk_get_with_query() {
    let (s, app) = signed_setup().await;
    for env in ENVS {
        // An empty value is signed as the bare key (the SDK's buildUrl) and sent as `empty=`.
        let r = call(
            Client::AliyunNode,
            signed(
                &app,
                env,
                s.url("/orders?fixed=1"),
                json!({"method": "GET", "query": {"b": "2", "a": "x y", "empty": ""}}),
            ),
        )
        .await;
        let echo = r.echo();
        assert_reached(echo, "GET", &app, env);
        assert_eq!(
            decode_pairs(echo["query"].as_str().unwrap()),
            pairs(&[("fixed", "1"), ("b", "2"), ("a", "x y"), ("empty", "")])
        );
    }
}

#[tokio::test]
async fn node_sdk_form_post() {
    let (s, app) = signed_setup().await;
    let form = [("name", "a b&c"), ("n", "2"), ("q", "form-wins")];
    for env in ENVS {
        // `q` is in the query and the form: the SDK signs the form's value, as the server must.
        let r = call(
            Client::AliyunNode,
            signed(
                &app,
                env,
                s.url("/orders?q=1"),
                json!({"method": "POST", "form": {"name": "a b&c", "n": "2", "q": "form-wins"}}),
            ),
        )
        .await;
        let echo = r.echo();
        assert_reached(echo, "POST", &app, env);
        assert_eq!(echo["query"], "q=1");
        assert!(
            echo["headers"]["content-type"]
                .as_str()
                .unwrap()
                .starts_with("application/x-www-form-urlencoded"),
            "{echo}"
        );
        assert_eq!(decode_pairs(echo["body"].as_str().unwrap()), pairs(&form));
    }
}

#[tokio::test]
async fn node_sdk_json_post() {
    let (s, app) = signed_setup().await;
    let doc = json!({"order": {"id": 7, "items": ["tea", "café"]}});
    for env in ENVS {
        let r = call(
            Client::AliyunNode,
            signed(
                &app,
                env,
                s.url("/orders"),
                json!({"method": "POST", "json": doc}),
            ),
        )
        .await;
        let echo = r.echo();
        assert_reached(echo, "POST", &app, env);
        assert_eq!(echo["query"], "");
        assert!(
            echo["headers"]["content-type"]
                .as_str()
                .unwrap()
                .starts_with("application/json"),
            "{echo}"
        );
        let sent: Value = serde_json::from_str(echo["body"].as_str().unwrap()).unwrap();
        assert_eq!(sent, doc);
    }
}

#[tokio::test]
async fn python_demo_get_with_query() {
    let (s, app) = signed_setup().await;
    for env in ENVS {
        // The demo signs query values as they appear in the URL, undecoded: plain values only.
        let r = call(
            Client::AliyunPython,
            signed(
                &app,
                env,
                s.url("/orders?fixed=1"),
                json!({"method": "GET", "query": {"b": "2", "a": "x"}}),
            ),
        )
        .await;
        let echo = r.echo();
        assert_reached(echo, "GET", &app, env);
        assert_eq!(
            decode_pairs(echo["query"].as_str().unwrap()),
            pairs(&[("fixed", "1"), ("b", "2"), ("a", "x")])
        );
    }
}

#[tokio::test]
async fn python_demo_form_post() {
    let (s, app) = signed_setup().await;
    let form = [("name", "a b&c"), ("n", "2")];
    for env in ENVS {
        // The demo's urlencode writes the space as `+`; the server must decode it to sign.
        let r = call(
            Client::AliyunPython,
            signed(
                &app,
                env,
                s.url("/orders"),
                json!({"method": "POST", "form": {"name": "a b&c", "n": "2"}}),
            ),
        )
        .await;
        let echo = r.echo();
        assert_reached(echo, "POST", &app, env);
        assert_eq!(
            echo["headers"]["content-type"],
            "application/x-www-form-urlencoded"
        );
        assert_eq!(decode_pairs(echo["body"].as_str().unwrap()), pairs(&form));
    }
}

#[tokio::test]
async fn python_demo_json_post() {
    let (s, app) = signed_setup().await;
    let doc = json!({"order": {"id": 7, "items": ["tea", "café"]}});
    for env in ENVS {
        // The demo's only non-form body mode is "stream": octet-stream with Content-MD5.
        let r = call(
            Client::AliyunPython,
            signed(
                &app,
                env,
                s.url("/orders"),
                json!({"method": "POST", "json": doc}),
            ),
        )
        .await;
        let echo = r.echo();
        assert_reached(echo, "POST", &app, env);
        assert_eq!(echo["headers"]["content-type"], "application/octet-stream");
        let sent: Value = serde_json::from_str(echo["body"].as_str().unwrap()).unwrap();
        assert_eq!(sent, doc);
    }
}

/// SimpleClient sends nothing but `Authorization: APPCODE` and the body (no Content-Type,
/// no `X-Ca-Stage`): RELEASE on the group's domain, TEST on a domain bound to TEST.
#[tokio::test]
async fn node_simple_client_get_form_and_json_in_release_and_test() {
    let s = Setup::start().await;
    let api = s
        .api(
            "orders",
            "ANY",
            "/orders",
            json!({"type": "app", "app_code": "header"}),
            &ENVS,
        )
        .await;
    s.bind_domain("localhost", "TEST").await;
    let app = s.app("shop").await;
    let code = s.app_code(&app).await;
    for env in ENVS {
        s.grant(&app, &api, env, None).await;
    }
    let doc = json!({"order": {"id": 7, "items": ["tea", "café"]}});
    for (env, host) in [("RELEASE", "127.0.0.1"), ("TEST", "localhost")] {
        let reach = |method: &'static str, rest: Value| {
            let req = merged(
                json!({"client": "simple", "app_code": code, "method": method,
                       "url": s.url_on(host, "/orders")}),
                rest,
            );
            let app = &app;
            async move {
                let echo = call(Client::AliyunNode, req).await.echo().clone();
                assert_reached(&echo, method, app, env);
                echo
            }
        };
        let echo = reach("GET", json!({"query": {"a": "1", "b": "x y"}})).await;
        assert_eq!(
            decode_pairs(echo["query"].as_str().unwrap()),
            pairs(&[("a", "1"), ("b", "x y")])
        );
        let echo = reach("POST", json!({"form": {"name": "a b&c", "n": "2"}})).await;
        assert_eq!(
            decode_pairs(echo["body"].as_str().unwrap()),
            pairs(&[("name", "a b&c"), ("n", "2")])
        );
        let echo = reach("POST", json!({"json": doc})).await;
        let sent: Value = serde_json::from_str(echo["body"].as_str().unwrap()).unwrap();
        assert_eq!(sent, doc);
    }

    // The TEST domain serves TEST only: a signed call asking for RELEASE there still gets TEST.
    let r = call(
        Client::AliyunNode,
        signed(
            &app,
            "RELEASE",
            s.url_on("localhost", "/orders"),
            json!({"method": "GET"}),
        ),
    )
    .await;
    assert_reached(r.echo(), "GET", &app, "TEST");
}

#[tokio::test]
async fn node_simple_client_with_app_code_header() {
    let s = Setup::start().await;
    let api = s
        .api(
            "orders",
            "ANY",
            "/orders",
            json!({"type": "app", "app_code": "header"}),
            &["RELEASE"],
        )
        .await;
    let app = s.app("shop").await;
    let code = s.app_code(&app).await;
    s.grant(&app, &api, "RELEASE", None).await;
    let r = call(
        Client::AliyunNode,
        json!({"client": "simple", "app_code": code, "method": "GET",
               "url": s.url("/orders"), "query": {"a": "1"}}),
    )
    .await;
    let echo = r.echo();
    assert_reached(echo, "GET", &app, "RELEASE");
    assert_eq!(echo["query"], "a=1");

    // A signed call still works on an API that also takes AppCodes.
    let r = call(
        Client::AliyunNode,
        signed(&app, "RELEASE", s.url("/orders"), json!({"method": "GET"})),
    )
    .await;
    assert_reached(r.echo(), "GET", &app, "RELEASE");

    let r = call(
        Client::AliyunNode,
        json!({"client": "simple", "app_code": "0123456789abcdef0123456789abcdef",
               "method": "GET", "url": s.url("/orders")}),
    )
    .await;
    r.assert_error(400, "Invalid AppCode", "A400AC");
}

#[tokio::test]
async fn forward_credentials_passes_the_signature_on() {
    let s = Setup::start().await;
    let api = s
        .api(
            "orders",
            "ANY",
            "/orders",
            json!({"type": "app", "forward_credentials": true}),
            &["RELEASE"],
        )
        .await;
    let app = s.app("shop").await;
    s.grant(&app, &api, "RELEASE", None).await;
    let r = call(
        Client::AliyunNode,
        signed(&app, "RELEASE", s.url("/orders"), json!({"method": "GET"})),
    )
    .await;
    let h = &r.echo()["headers"];
    assert_eq!(h["x-ca-key"], app.key.as_str());
    assert!(h["x-ca-signature"].is_string(), "{h}");
    assert!(h["x-ca-signature-headers"].is_string(), "{h}");
}
