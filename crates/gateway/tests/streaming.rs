//! Bodies stream through the gateway: a large upload reaches the backend while the client is
//! still sending, and arrives intact; h2c clients are served too.

mod common;

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use common::*;
use http::{Request, Response};
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::{mpsc, oneshot};

/// A request body fed chunk by chunk from the test.
struct ChannelBody(mpsc::Receiver<Bytes>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.0.poll_recv(cx).map(|c| c.map(|b| Ok(Frame::data(b))))
    }
}

fn fnv(hash: u64, bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(hash, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100000001b3))
}

const CHUNK: usize = 1024 * 1024;
const CHUNKS: usize = 64;

fn chunk(i: usize) -> Bytes {
    Bytes::from(vec![(i % 251) as u8; CHUNK])
}

#[tokio::test]
async fn a_64_mib_upload_streams_through_intact() {
    let (first_tx, first_rx) = oneshot::channel::<()>();
    let first = Arc::new(Mutex::new(Some(first_tx)));
    let counting = backend(move |req: Request<Incoming>| {
        let first = first.clone();
        async move {
            let mut body = req.into_body();
            let (mut total, mut hash) = (0usize, 0xcbf29ce484222325u64);
            while let Some(frame) = body.frame().await {
                if let Ok(data) = frame.unwrap().into_data() {
                    if let Some(tx) = first.lock().unwrap().take() {
                        let _ = tx.send(());
                    }
                    total += data.len();
                    hash = fnv(hash, &data);
                }
            }
            Response::new(Full::new(Bytes::from(format!("{total} {hash}"))))
        }
    })
    .await;
    let snapshot = SnapshotBuilder::new()
        .api(
            "RELEASE",
            http_api("up", "POST", "=/upload", &format!("http://{counting}"), "/"),
        )
        .build();
    let gw = RunningGateway::start(&snapshot).await;

    let (tx, rx) = mpsc::channel::<Bytes>(2);
    let client: Client<HttpConnector, ChannelBody> =
        Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let request = Request::post(gw.url("/upload"))
        .header("host", HOST)
        .header("content-length", (CHUNK * CHUNKS).to_string())
        .body(ChannelBody(rx))
        .unwrap();
    let response = tokio::spawn(client.request(request));

    let mut expected = 0xcbf29ce484222325u64;
    let c = chunk(0);
    expected = fnv(expected, &c);
    tx.send(c).await.unwrap();
    // The backend must see data before the client has sent the rest: nothing buffers it all.
    tokio::time::timeout(std::time::Duration::from_secs(10), first_rx)
        .await
        .expect("backend saw the first chunk while the upload was still going")
        .unwrap();
    for i in 1..CHUNKS {
        let c = chunk(i);
        expected = fnv(expected, &c);
        tx.send(c).await.unwrap();
    }
    drop(tx);
    let response = response.await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(
        String::from_utf8_lossy(&body),
        format!("{} {expected}", CHUNK * CHUNKS)
    );
}

#[tokio::test]
async fn a_large_response_streams_back() {
    let big = backend(|_req: Request<Incoming>| async move {
        Response::new(Full::new(Bytes::from(vec![7u8; 8 * CHUNK])))
    })
    .await;
    let snapshot = SnapshotBuilder::new()
        .api(
            "RELEASE",
            http_api("down", "GET", "=/big", &format!("http://{big}"), "/"),
        )
        .build();
    let gw = RunningGateway::start(&snapshot).await;
    let answer = get(&gw, HOST, "/big").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body.len(), 8 * CHUNK);
    assert!(answer.body.iter().all(|b| *b == 7));
}

#[tokio::test]
async fn h2c_clients_are_served() {
    let echo = echo_backend("echo").await;
    let snapshot = SnapshotBuilder::new()
        .api(
            "RELEASE",
            http_api("x", "POST", "=/h2", &format!("http://{echo}"), "/h2"),
        )
        .build();
    let gw = RunningGateway::start(&snapshot).await;
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build(HttpConnector::new());
    let request = Request::post(gw.url("/h2"))
        .header("host", HOST)
        .body(Full::new(Bytes::from_static(b"over h2")))
        .unwrap();
    let answer = send(&client, request).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let json = answer.json();
    assert_eq!(json["body"], "over h2");
    assert_eq!(answer.header("x-ca-request-id").len(), 36);
}
