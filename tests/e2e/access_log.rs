//! The JSON access log against the real binary: one line per request on stdout or in a file,
//! with the fields docs/observability.md lists, and never a credential: AppCodes (header and
//! query), Alibaba signatures, JWTs, API keys and AppSecrets are all sent, then looked for.

use std::time::Duration;

use http::{HeaderMap, Method};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::harness::{Backend, Pylon, Reply, http_api};

const KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/clients/keys");
const ISSUER: &str = "https://issuer.pylon.test";
const AUDIENCE: &str = "pylon-e2e";

/// One call and what its access-log line must say.
struct Expect {
    reply: Reply,
    path: &'static str,
    api: Option<&'static str>,
    app: bool,
    forwarded: bool,
}

/// What the scenario sent that must not be logged, and the calls it made.
struct Scenario {
    secrets: Vec<(&'static str, String)>,
    calls: Vec<Expect>,
    group: String,
    app_id: String,
    api_ids: Vec<(&'static str, String)>,
    backend: Backend,
}

fn key_file(name: &str) -> String {
    std::fs::read_to_string(format!("{KEYS}/{name}")).unwrap()
}

fn header_list(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
        .collect()
}

/// Publishes an AppCode/signature API, an `api-key` API and a `jwt` API, and calls each with
/// good and bad credentials, plus a path no API serves.
async fn scenario(pylon: &Pylon) -> Scenario {
    let backend = Backend::start("echo").await;
    let g = pylon.create_group("logged").await;
    let app = pylon
        .ok(Method::POST, "/v1/apps", json!({"name": "logged-app"}))
        .await;
    let app_id = app["id"].as_str().unwrap().to_string();
    let app_key = app["keys"][0]["app_key"].as_str().unwrap().to_string();
    let app_secret = app["keys"][0]["app_secret"].as_str().unwrap().to_string();
    let code = pylon.app_code(&app_id).await;

    let jwt = json!({"type": "jwt", "jwt": {
        "algorithms": ["RS256"], "issuer": ISSUER, "audiences": [AUDIENCE],
        "keys": [{"kid": "a", "algorithm": "RS256", "pem": key_file("rs256-a.pub.pem")}],
    }});
    let mut api_ids = Vec::new();
    for (name, auth) in [
        (
            "signed",
            json!({"type": "app", "app_code": "header-and-query"}),
        ),
        ("keyed", json!({"type": "api-key"})),
        ("jwt", jwt),
    ] {
        let mut spec = http_api(name, "GET", &format!("/{name}"), &backend.url(), "/");
        spec["auth"] = auth;
        let api = pylon.create_api(&g, spec).await;
        pylon.publish(&g, &api, "RELEASE").await;
        if name != "jwt" {
            pylon.grant(&app_id, &api, "RELEASE").await;
        }
        api_ids.push((name, api));
    }

    let sign = |secret: &str| {
        let mut headers = HeaderMap::new();
        pylon_auth::alibaba::sign_request(
            &Method::GET,
            "/signed",
            Some("page=2"),
            &mut headers,
            b"",
            &app_key,
            secret,
            pylon_auth::now_ms(),
            &uuid::Uuid::new_v4().to_string(),
        )
        .unwrap();
        headers
    };
    let signed = sign(&app_secret);
    let signature = signed["x-ca-signature"].to_str().unwrap().to_string();
    let forged = sign("not-the-app-secret-but-secret-too");
    let forged_signature = forged["x-ca-signature"].to_str().unwrap().to_string();

    let now = pylon_auth::now_ms() / 1000;
    let claims =
        json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "user-42", "iat": now, "exp": now + 3600});
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("a".into());
    let key = EncodingKey::from_rsa_pem(key_file("rs256-a.pem").as_bytes()).unwrap();
    let token = jsonwebtoken::encode(&header, &claims, &key).unwrap();
    let bad_code = "wrong-code-0123456789abcdef".to_string();

    let call = |path: String, headers: Vec<(String, String)>| {
        let g = g.clone();
        async move {
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            pylon.call(&g, Method::GET, &path, &headers, "").await
        }
    };
    let h = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
    let mut calls = Vec::new();
    let mut expect = |reply: Reply, path, api, app, forwarded| {
        let want = if forwarded {
            200
        } else {
            reply.status.as_u16()
        };
        assert_eq!(reply.status, want, "{path}: {}", reply.text());
        calls.push(Expect {
            reply,
            path,
            api,
            app,
            forwarded,
        });
    };
    let appcode = format!("APPCODE {code}");
    expect(
        call("/signed".into(), h("authorization", &appcode)).await,
        "/signed",
        Some("signed"),
        true,
        true,
    );
    expect(
        call(format!("/signed?AppCode={code}&page=2"), vec![]).await,
        "/signed",
        Some("signed"),
        true,
        true,
    );
    expect(
        call("/signed?page=2".into(), header_list(&signed)).await,
        "/signed",
        Some("signed"),
        true,
        true,
    );
    expect(
        call("/keyed".into(), h("x-api-key", &code)).await,
        "/keyed",
        Some("keyed"),
        true,
        true,
    );
    expect(
        call(
            "/jwt".into(),
            h("authorization", &format!("Bearer {token}")),
        )
        .await,
        "/jwt",
        Some("jwt"),
        false,
        true,
    );
    // Refused: a forged signature, an unknown AppCode in the query, an unknown API key.
    expect(
        call("/signed?page=2".into(), header_list(&forged)).await,
        "/signed",
        Some("signed"),
        false,
        false,
    );
    expect(
        call(format!("/signed?AppCode={bad_code}"), vec![]).await,
        "/signed",
        Some("signed"),
        false,
        false,
    );
    expect(
        call("/keyed".into(), h("x-api-key", &bad_code)).await,
        "/keyed",
        Some("keyed"),
        false,
        false,
    );
    expect(
        call("/nothing?AppCode=x".into(), vec![]).await,
        "/nothing",
        None,
        false,
        false,
    );
    for refused in &calls[5..] {
        assert!(
            refused.reply.status.is_client_error(),
            "{:?}",
            refused.reply
        );
    }

    Scenario {
        secrets: vec![
            ("AppCode", code),
            ("AppSecret", app_secret),
            ("AppKey", app_key),
            ("signature", signature),
            ("forged signature", forged_signature),
            ("JWT", token),
            ("unknown AppCode", bad_code),
        ],
        calls,
        group: g,
        app_id,
        api_ids,
        backend,
    }
}

/// The access-log lines in `text` (stdout also holds the start-up lines).
fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Waits for the writer to catch up with `calls` lines.
async fn read_lines(read: impl Fn() -> String, calls: usize) -> (String, Vec<Value>) {
    for _ in 0..100 {
        let text = read();
        if lines(&text).len() >= calls {
            return (text.clone(), lines(&text));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let text = read();
    panic!("fewer than {calls} access-log lines:\n{text}");
}

fn check(s: &Scenario, text: &str, logged: &[Value]) {
    for (what, secret) in &s.secrets {
        assert!(
            !text.contains(secret.as_str()),
            "the access log holds the {what}:\n{text}"
        );
    }
    // Nor any header or query, by name.
    for name in [
        "AppCode",
        "page=",
        "x-ca-",
        "X-Ca-",
        "authorization",
        "Bearer",
    ] {
        assert!(
            !text.contains(name),
            "the access log holds `{name}`:\n{text}"
        );
    }
    assert_eq!(logged.len(), s.calls.len(), "{text}");
    let upstream = s.backend.addr.to_string();
    let fields = [
        "time",
        "request_id",
        "client",
        "method",
        "host",
        "path",
        "status",
        "bytes_in",
        "bytes_out",
        "duration_ms",
        "backend_ms",
        "group",
        "api",
        "api_id",
        "environment",
        "app_id",
        "error_code",
        "upstream",
    ];
    for call in &s.calls {
        let id = call.reply.header("x-ca-request-id");
        let line = logged
            .iter()
            .find(|l| l["request_id"] == id)
            .unwrap_or_else(|| panic!("no line for request {id}:\n{text}"));
        let keys: Vec<&str> = line
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        let mut sorted = fields.to_vec();
        sorted.sort_unstable();
        assert_eq!(keys, sorted, "{line}");

        let time = line["time"].as_str().unwrap();
        assert_eq!(time.len(), 24, "{time}");
        assert!(time.ends_with('Z') && &time[10..11] == "T" && &time[19..20] == ".");
        assert_eq!(line["client"], "127.0.0.1", "{line}");
        assert_eq!(line["method"], "GET");
        assert_eq!(line["host"], format!("{}.pylon.test", s.group));
        assert_eq!(
            line["path"], call.path,
            "the path without its query: {line}"
        );
        assert_eq!(line["status"], call.reply.status.as_u16(), "{line}");
        assert_eq!(line["bytes_in"], 0, "{line}");
        assert_eq!(line["bytes_out"], call.reply.body.len(), "{line}");
        let total = line["duration_ms"].as_f64().unwrap();
        assert!(total > 0.0 && total < 10_000.0, "{line}");

        match call.api {
            Some(api) => {
                assert_eq!(line["group"], s.group.as_str(), "{line}");
                assert_eq!(line["api"], api, "{line}");
                let api_id = &s.api_ids.iter().find(|(n, _)| *n == api).unwrap().1;
                assert_eq!(line["api_id"], api_id.as_str(), "{line}");
                assert_eq!(line["environment"], "RELEASE", "{line}");
            }
            None => {
                for unknown in ["group", "api", "api_id", "environment"] {
                    assert!(line[unknown].is_null(), "{unknown}: {line}");
                }
            }
        }
        if call.app {
            assert_eq!(line["app_id"], s.app_id.as_str(), "{line}");
        } else {
            assert!(line["app_id"].is_null(), "{line}");
        }
        if call.forwarded {
            assert!(line["error_code"].is_null(), "{line}");
            assert_eq!(line["upstream"], upstream.as_str(), "{line}");
            let backend = line["backend_ms"].as_f64().unwrap();
            assert!(backend > 0.0 && backend <= total, "{line}");
        } else {
            let code = call.reply.header("x-ca-error-code");
            assert!(!code.is_empty(), "{:?}", call.reply);
            assert_eq!(line["error_code"], code, "{line}");
            assert!(line["upstream"].is_null(), "{line}");
            assert!(line["backend_ms"].is_null(), "{line}");
        }
    }
}

#[tokio::test]
async fn access_log_on_stdout_has_every_field_and_no_credential() {
    let pylon = Pylon::start_with(&[], false).await;
    let s = scenario(&pylon).await;
    let (text, logged) = read_lines(|| pylon.stdout(), s.calls.len()).await;
    check(&s, &text, &logged);
    // The error codes of the refusals, as the client saw them.
    let codes: Vec<&str> = s.calls[5..]
        .iter()
        .map(|c| {
            let id = c.reply.header("x-ca-request-id");
            logged.iter().find(|l| l["request_id"] == id).unwrap()["error_code"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(codes[3], "D400NF", "{codes:?}");
}

#[tokio::test]
async fn access_log_to_a_file_and_off() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("access.log");
    let pylon = Pylon::start_with(&["--access-log", file.to_str().unwrap()], false).await;
    let s = scenario(&pylon).await;
    let (text, logged) = read_lines(
        || std::fs::read_to_string(&file).unwrap_or_default(),
        s.calls.len(),
    )
    .await;
    check(&s, &text, &logged);
    assert!(
        lines(&pylon.stdout()).is_empty(),
        "nothing on stdout: {}",
        pylon.stdout()
    );

    let pylon = Pylon::start_with(&["--access-log", "off"], false).await;
    let g = pylon.create_group("quiet").await;
    let reply = pylon.get(&g, "/nothing").await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(lines(&pylon.stdout()).is_empty(), "{}", pylon.stdout());
}
