//! Backends that answer badly or treacherously, scripted byte for byte on raw sockets: what
//! reaches the client, and which connections the gateway dares to reuse.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::harness::{Limits, Pylon, http_api};

/// What a scripted backend does with a request.
enum Act {
    Answer(Vec<u8>),
    /// Answers, then closes the connection.
    AnswerAndClose(Vec<u8>),
    /// Closes the connection without a word.
    Close,
}

/// What to do with the `n`th request (from 0) on the `c`th connection.
type Script = fn(c: usize, n: usize) -> Act;

/// A backend speaking raw bytes: reads each request head (bodies are not expected) and acts
/// as the script says. Counts connections and requests.
struct Scripted {
    url: String,
    connections: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Scripted {
    async fn start(script: Script) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let (conns, reqs) = (connections.clone(), requests.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let c = conns.fetch_add(1, Ordering::SeqCst);
                let reqs = reqs.clone();
                tokio::spawn(serve(stream, c, script, reqs));
            }
        });
        Scripted {
            url,
            connections,
            requests,
            task,
        }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

async fn serve(mut stream: TcpStream, c: usize, script: Script, requests: Arc<AtomicUsize>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    for n in 0.. {
        let end = loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(k) => buf.extend_from_slice(&chunk[..k]),
            }
        };
        buf.drain(..end);
        requests.fetch_add(1, Ordering::SeqCst);
        match script(c, n) {
            Act::Answer(answer) => {
                if stream.write_all(&answer).await.is_err() {
                    return;
                }
            }
            Act::AnswerAndClose(answer) => {
                let _ = stream.write_all(&answer).await;
                return;
            }
            Act::Close => return,
        }
    }
}

/// Pylon on one CPU: one worker, so every request meets the same connection pool.
async fn one_worker(logged: bool) -> Pylon {
    let limits = Limits {
        one_cpu: true,
        ..Limits::default()
    };
    Pylon::start_limited(&[], logged, limits).await
}

async fn published(pylon: &Pylon, backend: &Scripted) -> String {
    let g = pylon.create_group("framing").await;
    let api = pylon
        .create_api(&g, http_api("scripted", "ANY", "/s", &backend.url, "/"))
        .await;
    pylon.publish(&g, &api, "RELEASE").await;
    g
}

fn ok(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[tokio::test]
async fn a_response_smuggled_past_the_framing_never_reaches_another_client() {
    let pylon = one_worker(false).await;
    // The first connection's first answer carries a second one after its declared end.
    let backend = Scripted::start(|c, _| {
        Act::Answer(if c == 0 {
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil"
                .to_vec()
        } else {
            ok("fine")
        })
    })
    .await;
    let g = published(&pylon, &backend).await;
    assert_eq!(pylon.get(&g, "/s").await.text(), "ok");
    for _ in 0..3 {
        let r = pylon.get(&g, "/s").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.text(), "fine", "the smuggled answer was served");
    }
    assert_eq!(
        backend.connections(),
        2,
        "the tainted connection was not reused"
    );
}

#[tokio::test]
async fn the_backend_connections_own_fields_never_reach_the_client() {
    let pylon = one_worker(false).await;
    let backend = Scripted::start(|_, _| {
        Act::Answer(
            b"HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Secret\r\nKeep-Alive: timeout=5\r\n\
              X-Secret: internal\r\nUpgrade: h2c\r\nX-Kept: yes\r\nContent-Length: 2\r\n\r\nok"
                .to_vec(),
        )
    })
    .await;
    let g = published(&pylon, &backend).await;
    for _ in 0..2 {
        let r = pylon.get(&g, "/s").await;
        assert_eq!((r.status.as_u16(), r.text().as_str()), (200, "ok"));
        assert_eq!(r.header("x-kept"), "yes");
        for hop in ["x-secret", "keep-alive", "upgrade"] {
            assert_eq!(r.header(hop), "", "{hop} crossed the gateway");
        }
    }
    assert_eq!(backend.connections(), 1, "the connection was kept alive");
}

#[tokio::test]
async fn chunked_framing_wins_over_a_length_and_the_connection_is_dropped() {
    let pylon = one_worker(false).await;
    let backend = Scripted::start(|c, _| {
        Act::Answer(if c == 0 {
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
                .to_vec()
        } else {
            ok("next")
        })
    })
    .await;
    let g = published(&pylon, &backend).await;
    let r = pylon.get(&g, "/s").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "hello");
    assert_eq!(pylon.get(&g, "/s").await.text(), "next");
    assert_eq!(backend.connections(), 2);
}

#[tokio::test]
async fn answers_a_proxy_cannot_frame_are_502s() {
    let pylon = one_worker(true).await;
    let backend = Scripted::start(|c, _| {
        Act::Answer(match c {
            0 => {
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!".to_vec()
            }
            1 => b"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello".to_vec(),
            2 => b"HTTP/1.1 200 OK\r\nX-A: b\r\n folded\r\nContent-Length: 0\r\n\r\n".to_vec(),
            3 => b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: evil\r\n\r\n".to_vec(),
            4 => {
                let mut huge = b"HTTP/1.1 200 OK\r\n".to_vec();
                for _ in 0..4 {
                    huge.extend_from_slice(b"X-Big: ");
                    huge.resize(huge.len() + 20_000, b'a');
                    huge.extend_from_slice(b"\r\n");
                }
                huge.extend_from_slice(b"Content-Length: 0\r\n\r\n");
                huge
            }
            _ => b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n"
                .to_vec(),
        })
    })
    .await;
    let g = published(&pylon, &backend).await;
    for _ in 0..5 {
        pylon
            .get(&g, "/s")
            .await
            .assert_error(502, "Failed To Invoke Backend Service");
    }
    // A chunked body found broken after its head was read can only be cut short: the client's
    // connection closes before the response is complete (before its head, when hyper had not
    // written it yet).
    let mut stream = TcpStream::connect(pylon.gateway).await.unwrap();
    let request = format!("GET /s HTTP/1.1\r\nHost: {g}.{}\r\n\r\n", pylon.base_domain);
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut received = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut received))
        .await
        .expect("the gateway closes the connection")
        .ok();
    let text = String::from_utf8_lossy(&received);
    assert!(
        !text.contains("hello") && !text.ends_with("0\r\n\r\n"),
        "{text}"
    );
    assert_eq!(backend.connections(), 6, "no broken connection was reused");
    let log = pylon.log();
    for reason in [
        "conflicting Content-Length values",
        "invalid Content-Length",
        "101 Switching Protocols to a request without Upgrade",
        "response head larger than 64 KiB",
    ] {
        assert!(
            log.contains(reason),
            "the log does not say {reason:?}: {log}"
        );
    }
}

#[tokio::test]
async fn interim_answers_are_skipped_and_a_body_without_framing_runs_to_the_close() {
    let pylon = one_worker(false).await;
    let backend = Scripted::start(|c, n| match (c, n) {
        (0, 0) => Act::Answer(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n\
              HTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\ndone"
                .to_vec(),
        ),
        _ => Act::AnswerAndClose(
            b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end".to_vec(),
        ),
    })
    .await;
    let g = published(&pylon, &backend).await;
    let r = pylon.get(&g, "/s").await;
    assert_eq!(r.status, 201);
    assert_eq!(r.text(), "done");
    assert!(
        r.headers.get("link").is_none(),
        "an interim answer's fields stay behind"
    );
    // Every later answer is HTTP/1.0 without a length, and the connection closes after it:
    // that is the body's end.
    for _ in 0..2 {
        let r = pylon.call(&g, Method::POST, "/s", &[], "").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.text(), "until the end");
    }
}

#[tokio::test]
async fn connections_the_backend_closes_are_not_used_again() {
    let pylon = one_worker(false).await;
    // Every connection carries one answer and is closed right after it. A POST, which is
    // never sent twice, fails if it is written to one of those.
    let backend = Scripted::start(|_, _| Act::AnswerAndClose(ok("once"))).await;
    let g = published(&pylon, &backend).await;
    for _ in 0..3 {
        let r = pylon.call(&g, Method::POST, "/s", &[], "").await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.text(), "once");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(backend.connections(), 3);
}

#[tokio::test]
async fn a_connection_closed_as_it_is_taken_retries_only_what_may_go_twice() {
    let pylon = one_worker(false).await;
    // Each connection answers one request and closes on the next without answering: the race
    // of a backend's idle timeout with a request that was just written.
    let backend = Scripted::start(|_, n| {
        if n == 0 {
            Act::Answer(ok("first"))
        } else {
            Act::Close
        }
    })
    .await;
    let g = published(&pylon, &backend).await;
    assert_eq!(pylon.get(&g, "/s").await.text(), "first");
    let r = pylon.get(&g, "/s").await;
    assert_eq!(
        r.status,
        200,
        "a GET goes again on a new connection: {}",
        r.text()
    );
    assert_eq!(r.text(), "first");
    assert_eq!((backend.connections(), backend.requests()), (2, 3));
    pylon
        .call(&g, Method::POST, "/s", &[], "")
        .await
        .assert_error(502, "Failed To Invoke Backend Service");
    assert_eq!(backend.requests(), 4, "the POST was not sent twice");
}

#[tokio::test]
async fn the_backends_fields_pass_in_order_beside_the_gateways_own() {
    const ORIGIN: &str = "https://shop.example.com";
    let pylon = one_worker(false).await;
    let backend = Scripted::start(|_, _| {
        Act::Answer(
            b"HTTP/1.1 200 OK\r\nVary: Accept-Encoding\r\nX-Kept: a\r\n\
              Access-Control-Allow-Origin: https://evil.example\r\n\
              Connection: keep-alive, X-Hop\r\nX-Hop: secret\r\nKeep-Alive: timeout=5\r\n\
              X-Ca-Request-Id: forged\r\nX-Kept: b\r\nContent-Length: 2\r\n\r\nok"
                .to_vec(),
        )
    })
    .await;
    let g = pylon.create_group("framing").await;
    let mut spec = http_api("scripted", "ANY", "/s", &backend.url, "/");
    spec["cors"] = serde_json::json!({"allow_origins": [ORIGIN]});
    let api = pylon.create_api(&g, spec).await;
    pylon.publish(&g, &api, "RELEASE").await;

    let reply = pylon
        .call(&g, Method::GET, "/s", &[("origin", ORIGIN)], "")
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "ok");
    let all = |name: &str| -> Vec<&str> {
        reply
            .headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    };
    // A repeated field keeps its values in order; the CORS policy's `Vary` is added to the
    // backend's, and its allowed origin replaces the backend's.
    assert_eq!(all("x-kept"), ["a", "b"]);
    assert_eq!(all("vary"), ["Accept-Encoding", "Origin"]);
    assert_eq!(all("access-control-allow-origin"), [ORIGIN]);
    // The backend connection's own fields stay with it, and the request id is the gateway's.
    assert!(all("x-hop").is_empty() && all("keep-alive").is_empty());
    let ids = all("x-ca-request-id");
    assert_eq!(ids.len(), 1);
    assert_ne!(ids[0], "forged");
    assert_eq!(ids[0].len(), 36);
}
