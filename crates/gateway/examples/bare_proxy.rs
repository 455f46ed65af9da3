//! The floor under Pylon's pass-through, for `bench/profile.sh`: hyper's server and hyper's
//! client with nothing between them, laid out as Pylon's listener is (a thread and a
//! single-threaded runtime per CPU, each with its own pool of kept-alive backend connections,
//! a connection handed back when its response body ends). What this costs per request is what
//! Pylon would cost with a pipeline that took no time at all; the rest of Pylon's cost is the
//! pipeline's.
//!
//! `bare_proxy LISTEN BACKEND [--http1-only]`: proxies every request to `BACKEND`
//! (`host:port`) unchanged but for `Connection` and `Host` (the backend's address), in HTTP/1.1. `--http1-only` serves with hyper's
//! HTTP/1 connection instead of the auto-detecting one Pylon uses (HTTP/1 and HTTP/2).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{CONNECTION, HOST};
use http::{HeaderValue, Request, Response};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};

type Pool = Arc<Mutex<Vec<SendRequest<Incoming>>>>;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(listen), Some(backend)) = (args.first(), args.get(1)) else {
        return Err("usage: bare_proxy LISTEN BACKEND [--http1-only]".into());
    };
    let listen: SocketAddr = listen.parse()?;
    let backend: SocketAddr = backend.parse()?;
    let http1_only = args.iter().any(|a| a == "--http1-only");
    let listener = std::net::TcpListener::bind(listen)?;
    listener.set_nonblocking(true)?;
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads: Vec<_> = (0..workers)
        .map(|_| {
            let socket = listener.try_clone()?;
            Ok(std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .and_then(|rt| rt.block_on(worker(socket, backend, http1_only)))
            }))
        })
        .collect::<std::io::Result<_>>()?;
    for thread in threads {
        thread.join().map_err(|_| "a worker panicked")??;
    }
    Ok(())
}

async fn worker(
    socket: std::net::TcpListener,
    backend: SocketAddr,
    http1_only: bool,
) -> std::io::Result<()> {
    let listener = TcpListener::from_std(socket)?;
    let pool = Pool::default();
    // The backend's address is the Host it is sent, as with Pylon's upstreams.
    let host = HeaderValue::try_from(backend.to_string()).map_err(std::io::Error::other)?;
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let (pool, host) = (pool.clone(), host.clone());
        tokio::spawn(async move {
            let service =
                service_fn(move |request| proxy(pool.clone(), backend, host.clone(), request));
            let io = TokioIo::new(stream);
            let served = if http1_only {
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await
                    .map_err(Into::into)
            } else {
                auto::Builder::new(TokioExecutor::new())
                    .serve_connection(io, service)
                    .await
            };
            if let Err(e) = served {
                eprintln!("connection: {e}");
            }
        });
    }
}

async fn proxy(
    pool: Pool,
    backend: SocketAddr,
    host: HeaderValue,
    request: Request<Incoming>,
) -> Result<Response<Pooled>, Infallible> {
    let (mut parts, body) = request.into_parts();
    parts.headers.remove(CONNECTION);
    parts.headers.insert(HOST, host);
    // Kept alive whatever the client spoke (ab: HTTP/1.0), as Pylon sends it.
    parts.version = http::Version::HTTP_11;
    let request = Request::from_parts(parts, body);
    let checked_out = pool
        .lock()
        .ok()
        .and_then(|mut idle| std::iter::from_fn(|| idle.pop()).find(|sender| sender.is_ready()));
    let sender = match checked_out {
        Some(sender) => Some(sender),
        None => connect(backend).await,
    };
    let Some(mut sender) = sender else {
        return Ok(bad_gateway());
    };
    match sender.send_request(request).await {
        Ok(response) => {
            let (parts, body) = response.into_parts();
            let body = Pooled {
                body: Some(body),
                sender: Some(sender),
                pool,
            };
            Ok(Response::from_parts(parts, body))
        }
        Err(e) => {
            eprintln!("backend: {e}");
            Ok(bad_gateway())
        }
    }
}

async fn connect(backend: SocketAddr) -> Option<SendRequest<Incoming>> {
    let stream = TcpStream::connect(backend).await.ok()?;
    stream.set_nodelay(true).ok()?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .ok()?;
    tokio::spawn(connection);
    Some(sender)
}

fn bad_gateway() -> Response<Pooled> {
    let mut response = Response::new(Pooled::empty());
    *response.status_mut() = http::StatusCode::BAD_GATEWAY;
    response
}

/// Puts a connection whose response has ended back in the pool, once it can take a request
/// (at once, nearly always), as Pylon's pool does.
fn release(mut sender: SendRequest<Incoming>, pool: Pool) {
    let mut cx = Context::from_waker(std::task::Waker::noop());
    match sender.poll_ready(&mut cx) {
        Poll::Ready(Ok(())) => {
            if let Ok(mut idle) = pool.lock() {
                idle.push(sender);
            }
        }
        Poll::Ready(Err(_)) => {}
        Poll::Pending => {
            tokio::spawn(async move {
                if sender.ready().await.is_ok()
                    && let Ok(mut idle) = pool.lock()
                {
                    idle.push(sender);
                }
            });
        }
    }
}

/// The backend's response body; its connection goes back to the pool when it ends.
struct Pooled {
    /// `None`: the gateway's own empty answer.
    body: Option<Incoming>,
    sender: Option<SendRequest<Incoming>>,
    pool: Pool,
}

impl Pooled {
    fn empty() -> Self {
        Pooled {
            body: None,
            sender: None,
            pool: Pool::default(),
        }
    }
}

impl Body for Pooled {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let Some(body) = &mut this.body else {
            return Poll::Ready(None);
        };
        let frame = Pin::new(&mut *body).poll_frame(cx);
        let ended = match &frame {
            Poll::Ready(None) => true,
            Poll::Ready(Some(Ok(_))) => body.is_end_stream(),
            _ => false,
        };
        if ended && let Some(sender) = this.sender.take() {
            release(sender, this.pool.clone());
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.body.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.body
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}
