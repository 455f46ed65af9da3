//! The codec's connection loop against a service that echoes what it was asked, over an
//! in-memory pipe. End-to-end behaviour (real backends, the real binary) is in `tests/e2e`.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use bytes::Bytes;
use http::request::Parts;
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use super::*;
use crate::limits::Limits;
use crate::request::inbound::ClientBody;

/// Answers with the method, target and body it got, and a body of `x-len` bytes if asked.
struct Echo;

impl Service for Echo {
    fn limits(&self) -> Arc<Limits> {
        Arc::default()
    }

    async fn handle(
        &self,
        _client: &HttpClient,
        parts: &mut Parts,
        body: ClientBody,
        _peer: &Peer,
        _secure: bool,
    ) -> Answer {
        let body = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        if parts.uri.path() == "/never" {
            std::future::pending::<()>().await;
        }
        let text = match parts.headers.get("x-len") {
            Some(n) => "x".repeat(n.to_str().unwrap().parse().unwrap()),
            None => format!(
                "{} {} {}",
                parts.method,
                parts.uri,
                String::from_utf8_lossy(&body)
            ),
        };
        Answer::new(
            http::StatusCode::OK,
            Fields::default(),
            GatewayBody::full(Bytes::from(text)),
        )
    }
}

/// Runs the codec on one end of a pipe; returns the other end and the codec's task.
fn start(state: Arc<ConnState>) -> (DuplexStream, tokio::task::JoinHandle<Option<Bytes>>) {
    let (client, server) = tokio::io::duplex(1 << 20);
    let task = tokio::spawn(async move {
        let draining = AtomicBool::new(false);
        let http = HttpClient::default();
        let peer = Peer::new(([127, 0, 0, 1], 9).into());
        let conn = Conn {
            gateway: &Echo,
            draining: &draining,
            client: &http,
            peer: &peer,
            secure: false,
            state: &state,
            max_head: 8 * 1024,
        };
        match serve(conn, server).await {
            Ended::Closed => None,
            Ended::Hyper(_, read) => Some(read),
        }
    });
    (client, task)
}

async fn read_until(client: &mut DuplexStream, count: usize, marker: &str) -> String {
    let mut seen = Vec::new();
    let mut chunk = [0u8; 4096];
    while String::from_utf8_lossy(&seen).matches(marker).count() < count {
        let n = client.read(&mut chunk).await.unwrap();
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8(seen).unwrap()
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order_on_one_connection() {
    let (mut client, task) = start(ConnState::new());
    client
        .write_all(
            b"GET /one HTTP/1.1\r\nHost: h\r\n\r\nPOST /two HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody",
        )
        .await
        .unwrap();
    let text = read_until(&mut client, 2, "HTTP/1.1 200 OK").await;
    let text = if text.contains("POST /two body") {
        text
    } else {
        text + &read_until(&mut client, 1, "body").await
    };
    let one = text.find("GET /one ").unwrap();
    let two = text.find("POST /two body").unwrap();
    assert!(one < two, "{text}");
    assert!(text.contains("content-length: 9\r\n"), "{text}");
    drop(client);
    assert_eq!(task.await.unwrap(), None);
}

#[tokio::test]
async fn a_request_the_codec_does_not_take_is_handed_over_unread() {
    let (mut client, task) = start(ConnState::new());
    let chunked = b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    let mut wire = b"GET /first HTTP/1.1\r\n\r\n".to_vec();
    wire.extend_from_slice(chunked);
    client.write_all(&wire).await.unwrap();
    let text = read_until(&mut client, 1, "GET /first ").await;
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert_eq!(task.await.unwrap().as_deref(), Some(&chunked[..]));
}

#[tokio::test]
async fn head_answers_carry_the_length_and_no_body() {
    let (mut client, task) = start(ConnState::new());
    client
        .write_all(b"HEAD /h HTTP/1.1\r\n\r\nGET /after HTTP/1.1\r\n\r\n")
        .await
        .unwrap();
    let text = read_until(&mut client, 1, "GET /after ").await;
    let (first, second) = text.split_at(text.rfind("HTTP/1.1 200 OK").unwrap());
    assert!(first.contains("content-length: 8\r\n"), "{first}");
    assert!(
        first.ends_with("\r\n\r\n"),
        "no body after the head: {first}"
    );
    assert!(second.ends_with("GET /after "), "{second}");
    drop(client);
    assert_eq!(task.await.unwrap(), None);
}

#[tokio::test]
async fn a_large_body_goes_out_whole() {
    let (mut client, task) = start(ConnState::new());
    client
        .write_all(b"GET /big HTTP/1.1\r\nx-len: 100000\r\n\r\n")
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = client.read(&mut chunk).await.unwrap();
        seen.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&seen);
        if let Some(at) = text.find("\r\n\r\n")
            && seen.len() - at - 4 >= 100_000
        {
            assert!(text.contains("content-length: 100000\r\n"));
            assert_eq!(seen.len() - at - 4, 100_000);
            break;
        }
    }
    drop(client);
    assert_eq!(task.await.unwrap(), None);
}

#[tokio::test]
async fn an_http_1_0_request_without_keep_alive_closes_after_its_answer() {
    let (mut client, task) = start(ConnState::new());
    client
        .write_all(b"GET /old HTTP/1.0\r\n\r\n")
        .await
        .unwrap();
    let mut all = String::new();
    client.read_to_string(&mut all).await.unwrap();
    assert!(all.starts_with("HTTP/1.0 200 OK\r\n"), "{all}");
    assert!(all.ends_with("GET /old "), "{all}");
    assert_eq!(task.await.unwrap(), None);
}

#[tokio::test]
async fn the_accept_loop_closes_an_idle_connection() {
    let state = ConnState::new();
    let (mut client, task) = start(state.clone());
    client.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    tokio::task::yield_now().await;
    state.close.notify_one();
    assert_eq!(task.await.unwrap(), None);
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).await.unwrap();
    assert!(
        rest.is_empty(),
        "nothing answered to a head never completed"
    );
}

#[tokio::test]
async fn requests_arriving_a_byte_at_a_time_are_read_whole() {
    let (mut client, task) = start(ConnState::new());
    let wire = b"POST /slow HTTP/1.1\r\nHost: h\r\nContent-Length: 7\r\n\r\ntrickleGET /next HTTP/1.1\r\n\r\n";
    for byte in wire {
        client.write_all(std::slice::from_ref(byte)).await.unwrap();
        tokio::task::yield_now().await;
    }
    let text = read_until(&mut client, 1, "GET /next ").await;
    assert!(text.contains("POST /slow trickle"), "{text}");
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 2, "{text}");
    drop(client);
    assert_eq!(task.await.unwrap(), None);
}

#[tokio::test]
async fn a_request_whose_client_left_is_dropped() {
    let (mut client, task) = start(ConnState::new());
    client
        .write_all(b"GET /never HTTP/1.1\r\n\r\n")
        .await
        .unwrap();
    tokio::task::yield_now().await;
    drop(client);
    let ended = tokio::time::timeout(std::time::Duration::from_secs(5), task).await;
    assert_eq!(ended.expect("the codec stops waiting").unwrap(), None);
}

#[tokio::test]
async fn a_pipelined_request_arriving_during_a_response_waits_its_turn() {
    let (mut client, task) = start(ConnState::new());
    client
        .write_all(b"GET /big HTTP/1.1\r\nx-len: 10\r\n\r\n")
        .await
        .unwrap();
    client
        .write_all(b"GET /second HTTP/1.1\r\n\r\n")
        .await
        .unwrap();
    let text = read_until(&mut client, 1, "GET /second ").await;
    assert!(text.contains("xxxxxxxxxx"), "{text}");
    drop(client);
    assert_eq!(task.await.unwrap(), None);
}
