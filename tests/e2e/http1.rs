//! The listener's own HTTP/1 codec against raw clients: pipelined requests, HTTP/1.0
//! keep-alive, HEAD, bodies read with the head, and connections that go on with hyper from the
//! first request the codec does not take (a chunked body, an expectation, a malformed head).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{Backend, Pylon, RawReply, http_api};

/// A Pylon with the echo backend behind `ANY /up` (backend path `/in`); the Host to call it.
async fn started(args: &[&str]) -> (Pylon, Backend, String) {
    let pylon = Pylon::start_with(args, false).await;
    let backend = Backend::start("b").await;
    let g = pylon.create_group("h1").await;
    let api = pylon
        .create_api(&g, http_api("up", "ANY", "/up", &backend.url(), "/in"))
        .await;
    pylon.publish(&g, &api, "RELEASE").await;
    let host = format!("{g}.{}", pylon.base_domain);
    (pylon, backend, host)
}

/// Reads responses off one connection, keeping what follows one for the next.
struct Replies {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Replies {
    async fn connect(pylon: &Pylon) -> Replies {
        Replies {
            stream: TcpStream::connect(pylon.gateway).await.unwrap(),
            buf: Vec::new(),
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// The next response; `bodiless`: it answers HEAD (its Content-Length frames nothing).
    async fn next_of(&mut self, bodiless: bool) -> (String, RawReply) {
        let read = async {
            loop {
                if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                    let mut reply = head_of(&head);
                    let length: usize = if bodiless {
                        0
                    } else {
                        reply.header("content-length").parse().unwrap_or(0)
                    };
                    if self.buf.len() >= end + 4 + length {
                        reply.body = self.buf[end + 4..end + 4 + length].to_vec();
                        self.buf.drain(..end + 4 + length);
                        return (head, reply);
                    }
                }
                let mut chunk = [0u8; 16384];
                let n = self.stream.read(&mut chunk).await.unwrap();
                assert!(n > 0, "closed: {}", String::from_utf8_lossy(&self.buf));
                self.buf.extend_from_slice(&chunk[..n]);
            }
        };
        tokio::time::timeout(Duration::from_secs(20), read)
            .await
            .expect("a response within 20 s")
    }

    async fn next(&mut self) -> (String, RawReply) {
        self.next_of(false).await
    }

    /// Whether the gateway closes the connection within `within`, with nothing more sent.
    async fn closed_within(&mut self, within: Duration) -> bool {
        let mut chunk = [0u8; 1024];
        matches!(
            tokio::time::timeout(within, self.stream.read(&mut chunk)).await,
            Ok(Ok(0) | Err(_))
        )
    }
}

/// A response head's status and fields (names lowercased).
fn head_of(head: &str) -> RawReply {
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    RawReply {
        status,
        headers,
        body: Vec::new(),
    }
}

fn echo(reply: &RawReply) -> Value {
    assert_eq!(reply.status, 200, "{reply:?} {}", reply.text());
    serde_json::from_slice(&reply.body).unwrap()
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order_on_one_connection() {
    let (pylon, backend, host) = started(&[]).await;
    let mut conn = Replies::connect(&pylon).await;
    // Three requests in one write, one with a body read with its head.
    let wire = format!(
        "GET /up/a HTTP/1.1\r\nHost: {host}\r\n\r\n\
         POST /up/b HTTP/1.1\r\nHost: {host}\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello\
         GET /up/c?x=1 HTTP/1.1\r\nHost: {host}\r\n\r\n"
    );
    conn.send(wire.as_bytes()).await;
    let (_, a) = conn.next().await;
    let (_, b) = conn.next().await;
    let (head, c) = conn.next().await;
    assert_eq!(echo(&a)["path"], "/in/a");
    let b = echo(&b);
    assert_eq!(
        (&b["method"], &b["path"], &b["body"]),
        (&json!("POST"), &json!("/in/b"), &json!("hello"))
    );
    assert_eq!(b["headers"]["content-length"], "5");
    let c = echo(&c);
    assert_eq!((&c["path"], &c["query"]), (&json!("/in/c"), &json!("x=1")));
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("\r\nx-ca-request-id: "), "{head}");
    assert!(head.contains("\r\ndate: "), "{head}");
    assert_eq!(backend.hits(), 3);
}

#[tokio::test]
async fn an_http_1_0_client_keeps_its_connection_only_when_it_asks() {
    let (pylon, _backend, host) = started(&[]).await;
    let mut conn = Replies::connect(&pylon).await;
    let kept = format!("GET /up HTTP/1.0\r\nHost: {host}\r\nConnection: keep-alive\r\n\r\n");
    for _ in 0..2 {
        conn.send(kept.as_bytes()).await;
        let (head, reply) = conn.next().await;
        assert!(head.starts_with("HTTP/1.0 200 OK\r\n"), "{head}");
        assert_eq!(reply.header("connection"), "keep-alive");
        assert!(!reply.header("content-length").is_empty(), "{head}");
        echo(&reply);
    }
    conn.send(format!("GET /up HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes())
        .await;
    let (head, reply) = conn.next().await;
    assert!(head.starts_with("HTTP/1.0 200 OK\r\n"), "{head}");
    echo(&reply);
    assert!(
        conn.closed_within(Duration::from_secs(5)).await,
        "closed after an HTTP/1.0 answer"
    );
}

#[tokio::test]
async fn head_answers_carry_the_length_and_no_body() {
    let pylon = Pylon::start_with(&[], false).await;
    let g = pylon.create_group("h1").await;
    let spec = json!({
        "name": "m", "request": {"method": "ANY", "path": "/m"},
        "backend": {"service": {"inline": {"type": "mock", "status": 200, "body": "twelve bytes"}}, "path": "/"},
    });
    let api = pylon.create_api(&g, spec).await;
    pylon.publish(&g, &api, "RELEASE").await;
    let host = format!("{g}.{}", pylon.base_domain);
    let mut conn = Replies::connect(&pylon).await;
    conn.send(
        format!("HEAD /m HTTP/1.1\r\nHost: {host}\r\n\r\nGET /m HTTP/1.1\r\nHost: {host}\r\n\r\n")
            .as_bytes(),
    )
    .await;
    let (head, reply) = conn.next_of(true).await;
    assert_eq!(reply.status, 200, "{head}");
    assert_eq!(reply.header("content-length"), "12", "{head}");
    // The next response starts right after the head: no body was written.
    let (_, reply) = conn.next().await;
    assert_eq!(reply.text(), "twelve bytes");
}

#[tokio::test]
async fn a_connection_goes_on_with_hyper_from_a_request_the_codec_does_not_take() {
    let (pylon, backend, host) = started(&[]).await;
    let mut conn = Replies::connect(&pylon).await;
    conn.send(format!("GET /up/own HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
        .await;
    assert_eq!(echo(&conn.next().await.1)["path"], "/in/own");
    // A chunked body: hyper's from here, on the same connection.
    conn.send(
        format!(
            "POST /up/chunked HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\
             Content-Type: text/plain\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        )
        .as_bytes(),
    )
    .await;
    let chunked = echo(&conn.next().await.1);
    assert_eq!(chunked["body"], "hello world");
    // An expectation: hyper answers 100 Continue before the body is sent.
    conn.send(
        format!(
            "PUT /up/expect HTTP/1.1\r\nHost: {host}\r\nExpect: 100-continue\r\n\
             Content-Length: 3\r\n\r\n"
        )
        .as_bytes(),
    )
    .await;
    let (head, interim) = conn.next_of(true).await;
    assert_eq!(interim.status, 100, "{head}");
    conn.send(b"abc").await;
    let expected = echo(&conn.next().await.1);
    assert_eq!(
        (&expected["method"], &expected["body"]),
        (&json!("PUT"), &json!("abc"))
    );
    // And a plain request after them.
    conn.send(format!("GET /up/after HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
        .await;
    assert_eq!(echo(&conn.next().await.1)["path"], "/in/after");
    assert_eq!(backend.hits(), 4);
}

#[tokio::test]
async fn a_malformed_head_after_a_served_request_gets_the_gateways_error() {
    let (pylon, _backend, host) = started(&[]).await;
    let mut conn = Replies::connect(&pylon).await;
    conn.send(format!("GET /up HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
        .await;
    echo(&conn.next().await.1);
    conn.send(b"GET /up HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n")
        .await;
    let (_, reply) = conn.next().await;
    reply.assert_error(400, "Malformed Request");
    assert_eq!(reply.header("x-ca-error-code"), "R400MR");
}

#[tokio::test]
async fn a_body_that_never_completes_is_cut_at_the_header_timeout() {
    let (pylon, backend, host) =
        started(&["--header-timeout", "1s", "--idle-timeout", "60s"]).await;
    let mut conn = Replies::connect(&pylon).await;
    let started = Instant::now();
    conn.send(
        format!("POST /up HTTP/1.1\r\nHost: {host}\r\nContent-Length: 10\r\n\r\nhalf").as_bytes(),
    )
    .await;
    assert!(conn.closed_within(Duration::from_secs(5)).await, "cut");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "not before the timeout"
    );
    assert_eq!(
        backend.hits(),
        0,
        "an incomplete request never reaches the backend"
    );
}

#[tokio::test]
async fn a_body_longer_than_its_length_is_the_next_requests_bytes() {
    // Content-Length frames the body; what follows is parsed as a request of its own (here a
    // malformed one), never passed to the backend inside the first.
    let (pylon, backend, host) = started(&[]).await;
    let mut conn = Replies::connect(&pylon).await;
    conn.send(
        format!("POST /up HTTP/1.1\r\nHost: {host}\r\nContent-Length: 2\r\n\r\nokGARBAGE\r\n\r\n")
            .as_bytes(),
    )
    .await;
    assert_eq!(echo(&conn.next().await.1)["body"], "ok");
    conn.next().await.1.assert_error(400, "Malformed Request");
    assert_eq!(backend.hits(), 1);
}

#[tokio::test]
async fn a_client_that_leaves_cancels_its_backend_call() {
    // A backend that reads the request and never answers, and reports whether the gateway
    // closed the backend connection (as it should once its client has gone).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (closed_tx, closed_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut seen = Vec::new();
        let mut chunk = [0u8; 4096];
        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = socket.read(&mut chunk).await.unwrap();
            seen.extend_from_slice(&chunk[..n]);
        }
        let eof = tokio::time::timeout(Duration::from_secs(10), socket.read(&mut chunk)).await;
        let _ = closed_tx.send(matches!(eof, Ok(Ok(0) | Err(_))));
    });
    let pylon = Pylon::start_with(&[], false).await;
    let g = pylon.create_group("h1").await;
    let api = pylon
        .create_api(&g, http_api("hang", "GET", "/hang", &url, "/"))
        .await;
    pylon.publish(&g, &api, "RELEASE").await;
    let host = format!("{g}.{}", pylon.base_domain);
    let mut conn = Replies::connect(&pylon).await;
    conn.send(format!("GET /hang HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(conn);
    let closed = tokio::time::timeout(Duration::from_secs(15), closed_rx)
        .await
        .expect("the backend reports")
        .unwrap();
    assert!(
        closed,
        "the backend connection closed once the client had gone"
    );
}
