//! The floor under Pylon's pass-through, for `bench/profile.sh`: hyper's server and hyper's
//! client with nothing between them, laid out as Pylon's listener is (a thread and a
//! single-threaded runtime per CPU, each with its own pool of kept-alive backend connections,
//! a connection handed back when its response body ends). What this costs per request is what
//! Pylon would cost with a pipeline that took no time at all; the rest of Pylon's cost is the
//! pipeline's.
//!
//! `bare_proxy LISTEN BACKEND [--http1-only] [--inline-client]`: proxies every request to
//! `BACKEND` (`host:port`) unchanged but for `Connection` and `Host` (the backend's address),
//! in HTTP/1.1. `--http1-only` serves with hyper's HTTP/1 connection instead of the
//! auto-detecting one Pylon uses (HTTP/1 and HTTP/2).
//!
//! `--inline-client` measures what a backend client of Pylon's own could save: instead of
//! hyper's client (a connection task per backend connection, a channel to it, a oneshot back),
//! the request's own task writes the head to a pooled connection and reads the answer into
//! the connection's reused buffer with `httparse`. It is a measurement, not a client: bodiless
//! requests and `Content-Length` responses only (anything else is answered 501 or 502).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use http::header::{CONNECTION, CONTENT_LENGTH, HOST};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

type Pool = Arc<Mutex<Vec<SendRequest<Incoming>>>>;
/// The inline client's idle connections, each with its read buffer.
type Streams = Arc<Mutex<Vec<(TcpStream, BytesMut)>>>;
type Answer = Response<Either<Pooled, Full<Bytes>>>;

/// A worker's way to the backend and its idle connections: one per run, so a request clones
/// only the pool it uses.
#[derive(Clone)]
enum Client {
    Hyper(Pool),
    Inline(Streams),
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(listen), Some(backend)) = (args.first(), args.get(1)) else {
        return Err("usage: bare_proxy LISTEN BACKEND [--http1-only] [--inline-client]".into());
    };
    let listen: SocketAddr = listen.parse()?;
    let backend: SocketAddr = backend.parse()?;
    let http1_only = args.iter().any(|a| a == "--http1-only");
    let inline = args.iter().any(|a| a == "--inline-client");
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
                    .and_then(|rt| rt.block_on(worker(socket, backend, http1_only, inline)))
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
    inline: bool,
) -> std::io::Result<()> {
    let listener = TcpListener::from_std(socket)?;
    let client = if inline {
        Client::Inline(Streams::default())
    } else {
        Client::Hyper(Pool::default())
    };
    // The backend's address is the Host it is sent, as with Pylon's upstreams.
    let host = HeaderValue::try_from(backend.to_string()).map_err(std::io::Error::other)?;
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let (client, host) = (client.clone(), host.clone());
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let (client, host) = (client.clone(), host.clone());
                async move {
                    Ok::<_, Infallible>(match client {
                        Client::Hyper(pool) => proxy(pool, backend, host, request).await,
                        Client::Inline(streams) => {
                            proxy_inline(streams, backend, host, request).await
                        }
                    })
                }
            });
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
) -> Answer {
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
        return status(StatusCode::BAD_GATEWAY);
    };
    match sender.send_request(request).await {
        Ok(response) => {
            let (parts, body) = response.into_parts();
            let body = Pooled {
                body,
                sender: Some(sender),
                pool,
            };
            Response::from_parts(parts, Either::Left(body))
        }
        Err(e) => {
            eprintln!("backend: {e}");
            status(StatusCode::BAD_GATEWAY)
        }
    }
}

/// The backend exchange inside the request's task (`--inline-client`).
async fn proxy_inline(
    streams: Streams,
    backend: SocketAddr,
    host: HeaderValue,
    request: Request<Incoming>,
) -> Answer {
    if !request.body().is_end_stream() {
        return status(StatusCode::NOT_IMPLEMENTED);
    }
    let mut head = Vec::with_capacity(512);
    head.extend_from_slice(request.method().as_str().as_bytes());
    head.push(b' ');
    let target = request.uri().path_and_query().map_or("/", |p| p.as_str());
    head.extend_from_slice(target.as_bytes());
    head.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    head.extend_from_slice(host.as_bytes());
    head.extend_from_slice(b"\r\n");
    for (name, value) in request.headers() {
        if name != CONNECTION && name != HOST {
            head.extend_from_slice(name.as_str().as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
    }
    head.extend_from_slice(b"\r\n");
    // A pooled connection the backend has closed fails at once: one retry on a new one.
    let pooled = streams.lock().ok().and_then(|mut idle| idle.pop());
    let fresh = pooled.is_none();
    let (mut stream, mut buf) = match pooled {
        Some(idle) => idle,
        None => match open(backend).await {
            Ok(new) => new,
            Err(_) => return status(StatusCode::BAD_GATEWAY),
        },
    };
    let mut answer = exchange(&mut stream, &mut buf, &head).await;
    if answer.is_err() && !fresh {
        match open(backend).await {
            Ok(new) => (stream, buf) = new,
            Err(_) => return status(StatusCode::BAD_GATEWAY),
        }
        answer = exchange(&mut stream, &mut buf, &head).await;
    }
    match answer {
        Ok(response) => {
            if let Ok(mut idle) = streams.lock() {
                idle.push((stream, buf));
            }
            response
        }
        Err(e) => {
            eprintln!("backend: {e}");
            status(StatusCode::BAD_GATEWAY)
        }
    }
}

async fn open(backend: SocketAddr) -> std::io::Result<(TcpStream, BytesMut)> {
    let stream = TcpStream::connect(backend).await?;
    stream.set_nodelay(true)?;
    Ok((stream, BytesMut::with_capacity(8192)))
}

/// Writes the request head, reads the response head and its `Content-Length` body; `buf` is
/// left empty for the next exchange.
async fn exchange(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    head: &[u8],
) -> std::io::Result<Answer> {
    stream.write_all(head).await?;
    buf.clear();
    let (code, headers, head_len, length) = loop {
        if stream.read_buf(buf).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let mut slots = [httparse::EMPTY_HEADER; 32];
        let mut parsed = httparse::Response::new(&mut slots);
        let httparse::Status::Complete(head_len) =
            parsed.parse(buf).map_err(std::io::Error::other)?
        else {
            continue;
        };
        let mut headers = HeaderMap::with_capacity(parsed.headers.len());
        let mut length = None;
        for h in parsed.headers.iter() {
            let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(std::io::Error::other)?;
            if name == CONTENT_LENGTH {
                length = std::str::from_utf8(h.value)
                    .ok()
                    .and_then(|v| v.parse::<usize>().ok());
            }
            if name != CONNECTION {
                let value = HeaderValue::from_bytes(h.value).map_err(std::io::Error::other)?;
                headers.append(name, value);
            }
        }
        let length = length.ok_or_else(|| std::io::Error::other("no Content-Length"))?;
        break (parsed.code.unwrap_or(502), headers, head_len, length);
    };
    while buf.len() < head_len + length {
        if stream.read_buf(buf).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
    }
    // Copied out, so that the buffer stays the connection's own and is reused.
    let body = Bytes::copy_from_slice(&buf[head_len..head_len + length]);
    buf.advance(head_len + length);
    let mut response = Response::new(Either::Right(Full::new(body)));
    *response.status_mut() = StatusCode::from_u16(code).map_err(std::io::Error::other)?;
    *response.headers_mut() = headers;
    Ok(response)
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

fn status(code: StatusCode) -> Answer {
    let mut response = Response::new(Either::Right(Full::default()));
    *response.status_mut() = code;
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
    body: Incoming,
    sender: Option<SendRequest<Incoming>>,
    pool: Pool,
}

impl Body for Pooled {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let frame = Pin::new(&mut this.body).poll_frame(cx);
        let ended = match &frame {
            Poll::Ready(None) => true,
            Poll::Ready(Some(Ok(_))) => this.body.is_end_stream(),
            _ => false,
        };
        if ended && let Some(sender) = this.sender.take() {
            release(sender, this.pool.clone());
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
