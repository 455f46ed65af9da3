//! WebSockets with PyPI `websockets` on both ends: an app-signed upgrade relayed to a Python
//! echo backend and an unsigned one refused, a publish while a connection is open, the
//! per-API cap and idle timeout, and wss:// on both sides.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use http::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use super::{CLIENTS_SRC, Setup, installed};
use crate::tls::{TestCa, upload};

/// The Python echo backend; `tls`: its certificate and key files (wss://).
struct EchoBackend {
    _child: Child,
    port: u16,
}

impl EchoBackend {
    async fn start(tls: Option<(&Path, &Path)>) -> EchoBackend {
        let mut command = Command::new(&installed().python_websockets);
        command.arg(format!("{CLIENTS_SRC}/ws-echo.py"));
        if let Some((cert, key)) = tls {
            command.arg(cert).arg(key);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the echo backend starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let port = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("the echo backend prints its port")
            .unwrap()
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        EchoBackend {
            _child: child,
            port,
        }
    }
}

/// The Python client, one connection, driven line by line.
struct WsClient {
    _child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

impl WsClient {
    /// Connects; returns the client and its first event (`open` or `refused`).
    async fn open(config: Value) -> (WsClient, Value) {
        let mut child = Command::new(&installed().python_websockets)
            .arg(format!("{CLIENTS_SRC}/ws-client.py"))
            .arg(config.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the client starts");
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut client = WsClient {
            _child: child,
            stdin,
            lines,
        };
        let first = client.event().await;
        (client, first)
    }

    async fn event(&mut self) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(20), self.lines.next_line())
            .await
            .expect("the client answers")
            .unwrap()
            .unwrap_or_else(|| "{\"ended\": true}".into());
        serde_json::from_str(&line).unwrap()
    }

    /// Sends `message`; what came back (`{"reply": ...}` or `{"closed": ...}`).
    async fn send(&mut self, message: &str) -> Value {
        self.stdin
            .write_all(format!("{message}\n").as_bytes())
            .await
            .unwrap();
        self.event().await
    }
}

/// A WebSocket API at `/chat` (backend path `/ws`) with `auth`, published in RELEASE.
async fn chat_api(s: &Setup, backend: &Value, auth: Value, extra: Value) -> String {
    let mut request = json!({"method": "GET", "path": "/chat", "protocols": ["WS", "WSS"]});
    if let (Some(r), Some(e)) = (request.as_object_mut(), extra.as_object()) {
        r.extend(e.clone());
    }
    let spec = json!({
        "name": "chat",
        "request": request,
        "backend": {"service": {"inline": backend}, "path": "/ws"},
        "auth": auth,
    });
    let id = s.pylon.create_api(&s.group, spec).await;
    s.pylon.publish(&s.group, &id, "RELEASE").await;
    id
}

#[tokio::test]
async fn an_app_signed_upgrade_is_relayed_and_an_unsigned_one_refused() {
    let s = Setup::start().await;
    let echo = EchoBackend::start(None).await;
    let backend = json!({"type": "http", "url": format!("ws://127.0.0.1:{}", echo.port)});
    let auth = json!({"type": "app", "app_code": "header-and-query"});
    let api = chat_api(&s, &backend, auth, json!({})).await;
    let app = s.app("chat").await;
    s.grant(&app, &api, "RELEASE", None).await;
    let url = s.url("/chat").replace("http://", "ws://");

    // An AppCode on the upgrade request, as a header or in the query.
    let code = s.app_code(&app).await;
    let (mut by_code, first) = WsClient::open(json!({
        "url": url, "headers": {"Authorization": format!("APPCODE {code}")},
    }))
    .await;
    assert_eq!(first, json!({"open": true}));
    assert_eq!(by_code.send("coded").await, json!({"reply": "coded"}));
    let (_, first) = WsClient::open(json!({"url": format!("{url}?AppCode={code}")})).await;
    assert_eq!(first, json!({"open": true}));
    drop(by_code);

    let (mut ws, first) = WsClient::open(json!({
        "url": url, "app_key": app.key, "app_secret": app.secret, "path": "/chat",
    }))
    .await;
    assert_eq!(first, json!({"open": true}));
    assert_eq!(ws.send("hello").await, json!({"reply": "hello"}));
    assert_eq!(ws.send("path").await, json!({"reply": "/ws"}));
    let headers: Value =
        serde_json::from_str(ws.send("headers").await["reply"].as_str().unwrap()).unwrap();
    assert_eq!(headers["x-forwarded-proto"], "http");
    assert_eq!(
        headers["upgrade"].as_str().unwrap().to_lowercase(),
        "websocket"
    );
    assert!(
        headers.get("x-ca-signature").is_none(),
        "credentials stay at the gateway"
    );

    let (_, refused) = WsClient::open(json!({"url": url})).await;
    assert!(refused["refused"].as_u64().unwrap() >= 400, "{refused}");
    assert!(
        refused["headers"]["x-ca-error-message"].is_string(),
        "{refused}"
    );
    let (_, refused) = WsClient::open(json!({
        "url": url, "app_key": app.key, "app_secret": "wrong", "path": "/chat",
    }))
    .await;
    assert_eq!(refused["refused"], 400, "{refused}");
    assert!(
        refused["headers"]["x-ca-error-message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid Signature"),
        "{refused}"
    );

    // Not an upgrade: a WebSocket-only API refuses plain HTTP.
    let reply = crate::harness::send(Method::GET, &s.url("/chat"), &[], Default::default()).await;
    reply.assert_error(403, "Invalid protocol HTTP unsupported");
    // The access log has the connection's line when it ends.
    drop(ws);
    // Three connections were relayed and closed by their clients (the AppCode ones, and this
    // one, which exchanged the most): each has its line.
    let closed = || -> Vec<Value> {
        s.pylon
            .stdout()
            .lines()
            .filter(|l| l.contains("\"event\":\"websocket_closed\""))
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let wait = async {
        while closed().len() < 3 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .unwrap_or_else(|_| panic!("three websocket_closed lines: {}", s.pylon.stdout()));
    let lines = closed();
    assert!(
        lines
            .iter()
            .all(|l| l["api"] == "chat" && l["closed_by"] == "client"),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["bytes_in"].as_u64() > Some(20) && l["bytes_out"].as_u64() > Some(20)),
        "{lines:?}"
    );
    let metrics = scrape_metrics(&s).await;
    assert!(
        metrics.contains("pylon_websocket_duration_seconds_count{"),
        "{metrics}"
    );
}

/// Waits for the access log (stdout) to hold `needle`.
async fn logged(s: &Setup, needle: &str) {
    let wait = async {
        while !s.pylon.stdout().contains(needle) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .unwrap_or_else(|_| panic!("no `{needle}` in the access log:\n{}", s.pylon.stdout()));
}

async fn scrape_metrics(s: &Setup) -> String {
    let reply = crate::harness::send(
        Method::GET,
        &format!("http://{}/metrics", s.pylon.status),
        &[],
        Default::default(),
    )
    .await;
    reply.text()
}

#[tokio::test]
async fn a_publish_does_not_cut_an_open_websocket() {
    let s = Setup::start().await;
    let echo = EchoBackend::start(None).await;
    let backend = json!({"type": "http", "url": format!("ws://127.0.0.1:{}", echo.port)});
    let api = chat_api(&s, &backend, json!({"type": "none"}), json!({})).await;
    let url = s.url("/chat").replace("http://", "ws://");
    let (mut ws, first) = WsClient::open(json!({"url": url})).await;
    assert_eq!(first, json!({"open": true}));
    assert_eq!(ws.send("before").await, json!({"reply": "before"}));

    s.pylon.publish(&s.group, &api, "RELEASE").await;
    s.pylon
        .ok(
            Method::POST,
            &format!("/v1/groups/{}/apis/{api}/unpublish", s.group),
            json!({"environment": "RELEASE"}),
        )
        .await;
    // The open connection goes on, on the snapshot it started on; a new one finds nothing.
    assert_eq!(ws.send("after").await, json!({"reply": "after"}));
    let (_, refused) = WsClient::open(json!({"url": url})).await;
    assert_eq!(refused["refused"], 400, "{refused}");
    assert_eq!(refused["headers"]["x-ca-error-message"], "API Not Found");
}

#[tokio::test]
async fn the_api_caps_open_websockets_and_closes_idle_ones() {
    let s = Setup::start().await;
    let echo = EchoBackend::start(None).await;
    let backend = json!({"type": "http", "url": format!("ws://127.0.0.1:{}", echo.port)});
    let limits = json!({"websocket": {"max_connections": 1, "idle_timeout_ms": 1000}});
    chat_api(&s, &backend, json!({"type": "none"}), limits).await;
    let url = s.url("/chat").replace("http://", "ws://");
    let (mut first, opened) = WsClient::open(json!({"url": url})).await;
    assert_eq!(opened, json!({"open": true}));
    assert_eq!(first.send("one").await, json!({"reply": "one"}));
    let (_, refused) = WsClient::open(json!({"url": url})).await;
    assert_eq!(refused["refused"], 503, "{refused}");

    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert!(
        first.send("late").await.get("closed").is_some(),
        "closed when idle"
    );
    let (mut again, opened) = WsClient::open(json!({"url": url})).await;
    assert_eq!(opened, json!({"open": true}), "its place was given back");
    assert_eq!(again.send("two").await, json!({"reply": "two"}));
    logged(&s, "\"closed_by\":\"idle\"").await;
}

#[tokio::test]
async fn wss_from_the_client_and_to_the_backend() {
    let s = Setup::start().await;
    drop(s);
    let pylon = crate::harness::Pylon::start_with(&["--tls-listen", "127.0.0.1:0"], false).await;
    let https = pylon.https.unwrap();
    let ca = TestCa::new();
    // The backend: wss:// with a certificate of the test CA.
    let (cert, key) = ca.leaf(&["chat.internal"]);
    let dir = tempfile::tempdir().unwrap();
    let (cert_file, key_file) = (dir.path().join("b.pem"), dir.path().join("b.key"));
    std::fs::write(&cert_file, cert).unwrap();
    std::fs::write(&key_file, key).unwrap();
    let echo = EchoBackend::start(Some((&cert_file, &key_file))).await;
    upload(&pylon, "front", ca.leaf(&["localhost"]), false).await;
    let group = pylon.create_group("chat").await;
    pylon.add_domain(&group, json!({"name": "localhost"})).await;
    let spec = json!({
        "name": "chat",
        "request": {"method": "GET", "path": "/chat", "protocols": ["WSS"]},
        "backend": {"service": {"inline": {
            "type": "http",
            "url": format!("wss://127.0.0.1:{}", echo.port),
            "tls": {"ca_bundle": ca.cert_pem, "server_name": "chat.internal"},
        }}, "path": "/ws"},
    });
    let api = pylon.create_api(&group, spec).await;
    pylon.publish(&group, &api, "RELEASE").await;

    let url = format!("wss://localhost:{}/chat", https.port());
    let (mut ws, first) = WsClient::open(json!({"url": url, "ca_file": ca.ca_file()})).await;
    assert_eq!(first, json!({"open": true}));
    assert_eq!(ws.send("secure").await, json!({"reply": "secure"}));
    let headers: Value =
        serde_json::from_str(ws.send("headers").await["reply"].as_str().unwrap()).unwrap();
    assert_eq!(headers["x-forwarded-proto"], "https");

    // WSS only: the same API over plain ws:// is refused.
    let plain = format!("ws://localhost:{}/chat", pylon.gateway.port());
    let (_, refused) = WsClient::open(json!({"url": plain})).await;
    assert_eq!(refused["refused"], 403, "{refused}");
    assert_eq!(
        refused["headers"]["x-ca-error-message"],
        "Invalid protocol WS unsupported"
    );
}

#[tokio::test]
async fn an_open_websocket_counts_against_the_connection_cap() {
    installed();
    let pylon = crate::harness::Pylon::start_with(&["--max-connections", "1"], false).await;
    let echo = EchoBackend::start(None).await;
    let group = pylon.create_group("chat").await;
    pylon.add_domain(&group, json!({"name": "127.0.0.1"})).await;
    let spec = json!({
        "name": "chat",
        "request": {"method": "GET", "path": "/chat", "protocols": ["WS", "HTTP"]},
        "backend": {"service": {"inline": {
            "type": "http", "url": format!("ws://127.0.0.1:{}", echo.port),
        }}, "path": "/ws"},
    });
    let api = pylon.create_api(&group, spec).await;
    pylon.publish(&group, &api, "RELEASE").await;
    let url = format!("ws://127.0.0.1:{}/chat", pylon.gateway.port());
    let (mut ws, first) = WsClient::open(json!({"url": url})).await;
    assert_eq!(first, json!({"open": true}));
    assert_eq!(ws.send("held").await, json!({"reply": "held"}));

    // The WebSocket holds the one place: a newcomer, with nothing idle to close, gets the 503.
    let request = b"GET /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    let refused = crate::harness::raw_request(pylon.gateway, request).await;
    assert_eq!(refused.status, 503, "{}", refused.text());
    drop(ws);
    let freed = async {
        loop {
            let reply = crate::harness::raw_request(pylon.gateway, request).await;
            if reply.status != 503 {
                return reply.status;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let status = tokio::time::timeout(Duration::from_secs(5), freed)
        .await
        .expect("the place is given back when the WebSocket closes");
    assert_ne!(status, 503);
}

/// A masked client text frame (RFC 6455 §5.2), for a payload under 126 bytes.
fn client_frame(text: &str) -> Vec<u8> {
    let mask = [0x11u8, 0x22, 0x33, 0x44];
    let mut frame = vec![0x81, 0x80 | text.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(text.bytes().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

#[tokio::test]
async fn an_upgrade_after_plain_requests_on_one_connection_is_relayed() {
    // Pylon's HTTP/1 codec serves the plain requests and hands the connection to hyper at the
    // upgrade: the WebSocket works on the same socket.
    let s = Setup::start().await;
    s.api(
        "plain",
        "GET",
        "/plain",
        json!({"type": "none"}),
        &["RELEASE"],
    )
    .await;
    let echo = EchoBackend::start(None).await;
    let backend = json!({"type": "http", "url": format!("ws://127.0.0.1:{}", echo.port)});
    chat_api(&s, &backend, json!({"type": "none"}), json!({})).await;
    let host = format!("127.0.0.1:{}", s.pylon.gateway.port());
    let mut stream = tokio::net::TcpStream::connect(s.pylon.gateway)
        .await
        .unwrap();
    for _ in 0..2 {
        let plain = format!("GET /plain HTTP/1.1\r\nHost: {host}\r\n\r\n");
        stream.write_all(plain.as_bytes()).await.unwrap();
        let reply = crate::harness::read_reply(&mut stream).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
    let upgrade = format!(
        "GET /chat HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    stream.write_all(upgrade.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let mut chunk = [0u8; 1024];
    let read_head = async {
        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "closed: {}", String::from_utf8_lossy(&seen));
            seen.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(20), read_head)
        .await
        .expect("an answer to the upgrade");
    let head = String::from_utf8_lossy(&seen).to_lowercase();
    assert!(head.starts_with("http/1.1 101 "), "{head}");
    assert!(
        head.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
        "{head}"
    );
    stream.write_all(&client_frame("hello")).await.unwrap();
    let mut frame = [0u8; 7];
    tokio::time::timeout(Duration::from_secs(20), stream.read_exact(&mut frame))
        .await
        .expect("the echo within 20 s")
        .unwrap();
    assert_eq!(
        &frame, b"\x81\x05hello",
        "an unmasked text frame from the server"
    );
}
