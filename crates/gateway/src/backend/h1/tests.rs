//! Exchanges with scripted backends on loopback: each test's backend answers with exactly the
//! bytes it is given, so what the client does with every framing is seen on a real socket.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method};
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::request::outgoing::OutHeaders;

/// A home that keeps the connection, so a test can see whether it came back.
#[derive(Clone, Default)]
struct Kept(Arc<Mutex<Option<Conn>>>);

impl Home for Kept {
    fn put(self, conn: Conn) {
        *self.0.lock().unwrap() = Some(conn);
    }
}

impl Kept {
    fn take(&self) -> Option<Conn> {
        self.0.lock().unwrap().take()
    }
}

/// A backend that, for each request it reads (a head, and `body` more bytes), writes the next
/// answer of `answers` in pieces of `piece` bytes; then closes.
async fn backend(answers: Vec<&'static [u8]>, piece: usize) -> TcpStream {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        for answer in answers {
            let mut chunk = [0u8; 4096];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            buf.clear();
            for part in answer.chunks(piece) {
                if stream.write_all(part).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        // Linger until the client is done, so that the close is seen only when it should be.
        let _ = stream.read(&mut [0u8; 16]).await;
    });
    let stream = TcpStream::connect(address).await.unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

async fn get(conn: &mut Conn) -> Result<Head, Error> {
    let host = HeaderValue::from_static("b");
    let request = Exchange {
        method: &Method::GET,
        target: "/",
        headers: &OutHeaders::default(),
        host: Some(&host),
        body: None,
    };
    conn.exchange(&request).await
}

/// Reads a whole response; returns its body, and the connection if it came home.
async fn read(conn: Conn, head: Head) -> (Result<Vec<u8>, Error>, Option<Conn>) {
    let kept = Kept::default();
    let mut body = ResponseBody::new(conn, head.framing, head.reusable, kept.clone());
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Some(data) = frame.data_ref() {
                    bytes.extend_from_slice(data);
                }
            }
            Err(e) => return (Err(e), kept.take()),
        }
    }
    (Ok(bytes), kept.take())
}

#[tokio::test]
async fn a_connection_carries_one_response_after_another() {
    let stream = backend(
        vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
        ],
        4,
    )
    .await;
    let mut conn = Conn::new(stream);
    let head = get(&mut conn).await.unwrap();
    let (body, back) = read(conn, head).await;
    assert_eq!(body.unwrap(), b"hello world");
    let mut conn = back.expect("the connection came home");
    assert!(conn.is_idle_open());
    let head = get(&mut conn).await.unwrap();
    let (body, back) = read(conn, head).await;
    assert_eq!(body.unwrap(), b"abcde");
    let mut conn = back.expect("home after a chunked body");
    let head = get(&mut conn).await.unwrap();
    assert_eq!(head.status, 204);
    let (body, back) = read(conn, head).await;
    assert!(body.unwrap().is_empty());
    assert!(back.is_some(), "home at once after a bodiless response");
}

#[tokio::test]
async fn bytes_past_the_framing_keep_the_connection_out_of_the_pool() {
    // A second response smuggled after the first's declared end.
    let stream = backend(
        vec![b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil"],
        1024,
    )
    .await;
    let mut conn = Conn::new(stream);
    let head = get(&mut conn).await.unwrap();
    let (body, back) = read(conn, head).await;
    assert_eq!(body.unwrap(), b"ok");
    assert!(
        back.is_none(),
        "a connection with bytes left over is closed"
    );
}

/// A connection to a backend that reads one request, writes `parts` with a pause between
/// them, and closes.
async fn answered_once(parts: Vec<&'static [u8]>) -> Conn {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let _ = stream.read(&mut [0u8; 1024]).await;
        for part in parts {
            let _ = stream.write_all(part).await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    Conn::new(TcpStream::connect(address).await.unwrap())
}

#[tokio::test]
async fn a_body_cut_short_is_an_error_not_an_end() {
    for answer in [
        &b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf"[..],
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
    ] {
        let mut conn = answered_once(vec![answer]).await;
        let head = get(&mut conn).await.unwrap();
        let (body, back) = read(conn, head).await;
        assert!(matches!(body, Err(Error::BodyCut)), "{body:?}");
        assert!(back.is_none());
    }
}

#[tokio::test]
async fn a_body_without_framing_runs_to_the_close() {
    let mut conn = answered_once(vec![b"HTTP/1.0 200 OK\r\n\r\nall of ", b"it"]).await;
    let head = get(&mut conn).await.unwrap();
    let (body, back) = read(conn, head).await;
    assert_eq!(body.unwrap(), b"all of it");
    assert!(back.is_none());
}

#[tokio::test]
async fn a_connection_closed_before_answering_is_stale() {
    let mut conn = answered_once(Vec::new()).await;
    let error = get(&mut conn).await.unwrap_err();
    assert!(error.is_stale(), "{error}");
}

#[tokio::test]
async fn an_idle_connection_the_backend_closed_is_not_open() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (closed_tx, closed_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        drop(stream);
        let _ = closed_tx.send(());
    });
    let conn = Conn::new(TcpStream::connect(address).await.unwrap());
    closed_rx.await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!conn.is_idle_open());
}

#[tokio::test]
async fn the_request_goes_out_with_its_body_and_length() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let got = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut received = Vec::new();
        let mut chunk = [0u8; 65536];
        // Head, and a body of 16,000 bytes.
        while received.len() < 16_000 + 60 {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&chunk[..n]),
            }
            if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n")
                && received.len() >= end + 4 + 16_000
            {
                break;
            }
        }
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .await;
        received
    });
    let mut conn = Conn::new(TcpStream::connect(address).await.unwrap());
    let body = Bytes::from(vec![b'x'; 16_000]);
    let host = HeaderValue::from_static("b");
    let request = Exchange {
        method: &Method::POST,
        target: "/upload?x=1",
        headers: &OutHeaders::default(),
        host: Some(&host),
        body: Some(&body),
    };
    let head = conn.exchange(&request).await.unwrap();
    assert_eq!(head.status, 200);
    let received = got.await.unwrap();
    let text = String::from_utf8_lossy(&received);
    assert!(
        text.starts_with(
            "POST /upload?x=1 HTTP/1.1\r\nhost: b\r\ncontent-length: 16000\r\n\r\nxxx"
        ),
        "{}",
        &text[..80]
    );
    assert_eq!(received.len(), text.find("\r\n\r\n").unwrap() + 4 + 16_000);
}
