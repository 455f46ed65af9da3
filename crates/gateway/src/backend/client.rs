//! The client backend calls go through: HTTP/1.1, or over TLS HTTP/1.1 or HTTP/2 as the
//! backend chooses by ALPN. Each gateway worker thread has its own, so a pooled connection is
//! always driven by the thread that uses it.
//!
//! A request over plain TCP whose body is in memory (at most 16 KiB) goes through Pylon's own
//! HTTP/1.1 client (`h1`), in the request's task. The rest (TLS, HTTP/2, upgrades, streamed or
//! larger bodies) goes through hyper's connection API rather than a general-purpose client: a
//! backend call needs only a pooled connection to an address known at publish time, and the
//! general client's per-request work (hashing the pool key, a task per request to return the
//! connection, URI rewriting) was about a tenth of a proxied request's instructions.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use http::header::{HOST, UPGRADE};
use http::uri::{PathAndQuery, Scheme, Uri};
use http::{HeaderValue, Method, Request, Response};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;

use super::h1;
use super::pool::{Endpoint, Negotiated, OwnHome, Pool, Ticket};
use crate::request::body::{BackendBody, ForwardBody};
use crate::request::outgoing::OutHeaders;
use crate::response::Answer;

/// A target that does not accept within this time counts as down, so failover stays prompt.
/// Several addresses for one name share it.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// One attempt's request. The path is in origin form (`/path?query`), as HTTP/1.1 sends it
/// to a server that is not a proxy; the address it goes to is the pool's `Endpoint`. `host`
/// is the Host the gateway sets (`None` when the API's constant Host is among the headers).
pub(crate) struct BackendRequest<'a> {
    pub(crate) method: &'a Method,
    pub(crate) path: PathAndQuery,
    pub(crate) headers: &'a OutHeaders<'a>,
    pub(crate) host: Option<&'a HeaderValue>,
    pub(crate) body: ForwardBody,
}

impl BackendRequest<'_> {
    /// The request as hyper's client takes it. Pylon's own client writes the fields as they
    /// are, without this.
    pub(crate) fn into_http(self) -> Request<ForwardBody> {
        let mut req = Request::new(self.body);
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = Uri::from(self.path);
        *req.headers_mut() = self.headers.to_map();
        if let Some(host) = self.host {
            req.headers_mut().insert(HOST, host.clone());
        }
        req
    }
}

/// Why a backend call failed.
#[derive(Debug)]
pub(crate) enum SendError {
    /// No connection could be made: nothing was sent, so another target may be tried.
    Connect(String),
    /// The connection failed while the request or the response head was on it.
    Request(hyper::Error),
    /// The same, on Pylon's own client.
    Exchange(h1::Error),
}

#[derive(Clone, Default)]
pub(crate) struct HttpClient {
    pool: Pool<ForwardBody>,
}

pub(crate) fn client() -> HttpClient {
    HttpClient::default()
}

impl HttpClient {
    /// Sends `request` (origin-form URI, `Host` set) to `endpoint` on an idle connection, or a
    /// new one, and says what the connection negotiated. The response's body hands an
    /// HTTP/1.1 connection back when it has been read.
    pub(crate) async fn send(
        &self,
        endpoint: &Endpoint,
        request: BackendRequest<'_>,
    ) -> Result<(Answer<BackendBody>, Negotiated), SendError> {
        let upgrading = request.headers.contains(&UPGRADE);
        if endpoint.tls().is_none()
            && !upgrading
            && let ForwardBody::Full(body) = &request.body
            && body.as_ref().is_none_or(|b| b.len() <= h1::MAX_BODY)
        {
            let body = body.clone();
            return self.send_own(endpoint, request, body).await;
        }
        // hyper's paths are boxed: held inline, their state made every request's future (and
        // each one wrapping it) 600 bytes bigger, copied at each move.
        let request = request.into_http();
        if upgrading {
            return Box::pin(upgrade(endpoint, request)).await;
        }
        Box::pin(self.send_hyper(endpoint, request)).await
    }

    /// A request through hyper's client: TLS, HTTP/2, streamed or larger bodies.
    /// The cold paths are boxed in turn: a TLS or HTTP/2 handshake's state is kilobytes, and
    /// held inline it made every request's future that big (measured: +26k instructions of
    /// memcpy per pooled request); an HTTP/2 send, a kilobyte.
    async fn send_hyper(
        &self,
        endpoint: &Endpoint,
        mut request: Request<ForwardBody>,
    ) -> Result<(Answer<BackendBody>, Negotiated), SendError> {
        if endpoint.tls().is_some()
            && let Some((sender, negotiated)) = self.pool.shared(endpoint)
        {
            return Box::pin(send_h2(sender, request, negotiated)).await;
        }
        while let Some((mut sender, negotiated)) = self.pool.checkout(endpoint) {
            match sender.try_send_request(request).await {
                Ok(response) => {
                    return Ok((
                        self.lend(endpoint, sender, negotiated, response),
                        negotiated,
                    ));
                }
                Err(mut e) => match e.take_message() {
                    // The connection closed before it took the request (the backend ended it
                    // while it was idle): the request is intact for the next one.
                    Some(back) => request = back,
                    None => return Err(SendError::Request(e.into_error())),
                },
            }
        }
        match Box::pin(connect(endpoint))
            .await
            .map_err(SendError::Connect)?
        {
            Connection::Http1(mut sender, negotiated) => match sender.send_request(request).await {
                Ok(response) => Ok((
                    self.lend(endpoint, sender, negotiated, response),
                    negotiated,
                )),
                Err(e) => Err(SendError::Request(e)),
            },
            Connection::Http2(sender, negotiated) => {
                self.pool
                    .share(endpoint.clone(), sender.clone(), negotiated);
                Box::pin(send_h2(sender, request, negotiated)).await
            }
        }
    }

    /// A request whose body is in memory and small (`body`), over plain TCP, on Pylon's own
    /// client. An idempotent request whose pooled connection turns out closed (the backend
    /// ended it as it was taken) goes again, once, on a new connection.
    async fn send_own(
        &self,
        endpoint: &Endpoint,
        request: BackendRequest<'_>,
        body: Option<Bytes>,
    ) -> Result<(Answer<BackendBody>, Negotiated), SendError> {
        let exchange = h1::Exchange {
            method: request.method,
            target: request.path.as_str(),
            headers: request.headers,
            host: request.host,
            body: body.as_ref(),
        };
        if let Some(mut conn) = self.pool.checkout_own(endpoint) {
            match conn.exchange(&exchange).await {
                Ok(head) => {
                    return Ok((self.lend_own(endpoint, conn, head), Negotiated::default()));
                }
                Err(e) if e.is_stale() && request.method.is_idempotent() => {}
                Err(e) => return Err(SendError::Exchange(e)),
            }
        }
        let stream = Box::pin(open(endpoint)).await.map_err(SendError::Connect)?;
        let mut conn = h1::Conn::new(stream);
        match conn.exchange(&exchange).await {
            Ok(head) => Ok((self.lend_own(endpoint, conn, head), Negotiated::default())),
            Err(e) => Err(SendError::Exchange(e)),
        }
    }

    /// The response, with its connection: back to the pool at once when the body came whole
    /// with the head, else lent to the body until it has been read.
    fn lend_own(
        &self,
        endpoint: &Endpoint,
        mut conn: h1::Conn,
        head: h1::Head,
    ) -> Answer<BackendBody> {
        if let Some(body) = conn.take_whole(head.framing) {
            if head.reusable {
                self.pool.put_own(endpoint, conn);
            }
            return Answer::new(head.status, head.headers, BackendBody::whole(body));
        }
        let home = OwnHome::new(self.pool.clone(), endpoint.clone());
        let body = h1::ResponseBody::new(conn, head.framing, head.reusable, home);
        Answer::new(head.status, head.headers, BackendBody::own(body))
    }

    fn lend(
        &self,
        endpoint: &Endpoint,
        sender: SendRequest<ForwardBody>,
        negotiated: Negotiated,
        response: Response<hyper::body::Incoming>,
    ) -> Answer<BackendBody> {
        let ticket = Ticket::new(self.pool.clone(), endpoint.clone(), sender, negotiated);
        Answer::from(response.map(|body| BackendBody::new(body, ticket)))
    }

    /// Housekeeping, on the worker's tick: closes connections idle too long.
    pub(crate) fn reap(&self) {
        self.pool.reap();
    }

    #[cfg(test)]
    pub(crate) fn idle_count(&self) -> usize {
        self.pool.idle_count()
    }
}

/// A request over HTTP/2: the URI in absolute form, its authority from the Host header (the
/// `:authority` HTTP/2 sends in its place).
async fn send_h2(
    mut sender: http2::SendRequest<ForwardBody>,
    mut request: Request<ForwardBody>,
    negotiated: Negotiated,
) -> Result<(Answer<BackendBody>, Negotiated), SendError> {
    let host = request.headers_mut().remove(HOST);
    let mut parts = request.uri().clone().into_parts();
    parts.scheme = Some(Scheme::HTTPS);
    parts.authority = host.and_then(|h| http::uri::Authority::try_from(h.as_bytes()).ok());
    if let Ok(uri) = Uri::from_parts(parts) {
        *request.uri_mut() = uri;
    }
    sender.ready().await.map_err(SendError::Request)?;
    match sender.send_request(request).await {
        Ok(response) => Ok((
            Answer::from(response.map(BackendBody::unpooled)),
            negotiated,
        )),
        Err(e) => Err(SendError::Request(e)),
    }
}

/// An upgrade request (a WebSocket) goes on a connection of its own, HTTP/1.1 even over TLS,
/// never pooled: after a `101` the connection is the WebSocket's. The response keeps hyper's
/// upgrade handle.
async fn upgrade(
    endpoint: &Endpoint,
    request: Request<ForwardBody>,
) -> Result<(Answer<BackendBody>, Negotiated), SendError> {
    let (mut sender, negotiated) = connect_with(endpoint, Alpn::Http1)
        .await
        .map_err(SendError::Connect)?;
    match sender.send_request(request).await {
        Ok(response) => Ok((
            Answer::from(response.map(BackendBody::unpooled)),
            negotiated,
        )),
        Err(e) => Err(SendError::Request(e)),
    }
}

/// What a TLS connection offers by ALPN.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Alpn {
    /// `h2` and `http/1.1`: pooled requests.
    Any,
    /// `http/1.1` only, with upgrades: WebSockets.
    Http1,
}

async fn connect_with(
    endpoint: &Endpoint,
    alpn: Alpn,
) -> Result<(SendRequest<ForwardBody>, Negotiated), String> {
    match connect_alpn(endpoint, alpn).await? {
        Connection::Http1(sender, negotiated) => Ok((sender, negotiated)),
        Connection::Http2(..) => Err("the backend chose HTTP/2 for an upgrade".into()),
    }
}

/// A new connection, as the backend chose to speak.
enum Connection {
    Http1(SendRequest<ForwardBody>, Negotiated),
    Http2(http2::SendRequest<ForwardBody>, Negotiated),
}

/// Opens a connection in the protocol the backend picks.
async fn connect(endpoint: &Endpoint) -> Result<Connection, String> {
    connect_alpn(endpoint, Alpn::Any).await
}

async fn connect_alpn(endpoint: &Endpoint, alpn: Alpn) -> Result<Connection, String> {
    let stream = open(endpoint).await?;
    handshake(endpoint, stream, alpn).await
}

/// Opens a TCP connection: to the address itself, or to each address the name resolves to in
/// turn, the connect timeout shared between them. Small requests go out at once rather than
/// waiting for an acknowledgement (`TCP_NODELAY`).
async fn open(endpoint: &Endpoint) -> Result<TcpStream, String> {
    let authority = endpoint.authority();
    let port = authority.port_u16().unwrap_or(80);
    let host = authority.host();
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    let given = literal.parse::<IpAddr>().ok();
    let is_name = given.is_none();
    let addresses: Vec<SocketAddr> = match given {
        Some(ip) => vec![SocketAddr::new(ip, port)],
        None => tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| format!("dns error: {host}: {e}"))?
            .collect(),
    };
    if addresses.is_empty() {
        return Err(format!("dns error: {host}: no addresses"));
    }
    let each = CONNECT_TIMEOUT / u32::try_from(addresses.len()).unwrap_or(u32::MAX);
    let mut failure = String::new();
    for address in addresses {
        // The address a name resolved to is worth saying; an address given is already named
        // by whoever reports the failure.
        let which = if is_name {
            format!("{address}: ")
        } else {
            String::new()
        };
        match tokio::time::timeout(each, TcpStream::connect(address)).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Ok(Err(e)) => failure = format!("tcp connect error: {which}{e}"),
            Err(_) => {
                failure = format!(
                    "tcp connect error: {which}no answer within {} ms",
                    each.as_millis()
                )
            }
        }
    }
    Err(failure)
}

/// HTTP over the TCP connection: directly, or after a TLS handshake, in the protocol the
/// backend picked by ALPN.
async fn handshake(
    endpoint: &Endpoint,
    stream: TcpStream,
    alpn: Alpn,
) -> Result<Connection, String> {
    let upgrades = alpn == Alpn::Http1;
    let Some(tls) = endpoint.tls() else {
        let sender = http1_handshake(stream, upgrades).await?;
        return Ok(Connection::Http1(sender, Negotiated::default()));
    };
    let connector = match alpn {
        Alpn::Any => &tls.connector,
        Alpn::Http1 => &tls.connector_http1,
    };
    let secured = connector
        .connect(tls.server_name.clone(), stream)
        .await
        .map_err(|e| format!("tls handshake: {}", crate::compiled::jwt::error_chain(&e)))?;
    let (_, session) = secured.get_ref();
    let negotiated = Negotiated {
        tls: session.protocol_version().map(version_name),
        h2: session.alpn_protocol() == Some(b"h2"),
    };
    if !negotiated.h2 {
        let sender = http1_handshake(secured, upgrades).await?;
        return Ok(Connection::Http1(sender, negotiated));
    }
    let (sender, connection) = http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .handshake(TokioIo::new(secured))
        .await
        .map_err(|e| format!("h2 handshake: {e}"))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "backend HTTP/2 connection ended");
        }
    });
    Ok(Connection::Http2(sender, negotiated))
}

/// `upgrades`: the connection may become a WebSocket after a `101`.
async fn http1_handshake<I>(io: I, upgrades: bool) -> Result<SendRequest<ForwardBody>, String>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = http1::Builder::new()
        // One buffer per write: a proxied request's head is small, and copying it beats a
        // vectored write's bookkeeping.
        .writev(false)
        .handshake(TokioIo::new(io))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(async move {
        let ended = if upgrades {
            connection.with_upgrades().await
        } else {
            connection.await
        };
        if let Err(e) = ended {
            tracing::debug!(error = %e, "backend connection ended");
        }
    });
    Ok(sender)
}

fn version_name(version: rustls::ProtocolVersion) -> &'static str {
    match version {
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3",
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2",
        _ => "TLS",
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use http::uri::Authority;
    use http_body::Body as _;
    use http_body_util::BodyExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// A keep-alive HTTP/1.1 backend answering every request with `body_len` bytes; with
    /// `close_idle`, it closes each connection 50 ms after answering. Counts connections.
    async fn backend(body_len: usize, close_idle: bool) -> (Endpoint, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    loop {
                        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                            match stream.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        buf.clear();
                        let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {body_len}\r\n\r\n");
                        let mut answer = head.into_bytes();
                        answer.resize(answer.len() + body_len, b'x');
                        if stream.write_all(&answer).await.is_err() {
                            return;
                        }
                        if close_idle {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            return;
                        }
                    }
                });
            }
        });
        let authority = Authority::try_from(address.to_string()).unwrap();
        (Endpoint::new(authority), accepted)
    }

    fn get(endpoint: &Endpoint) -> BackendRequest<'static> {
        static GET: http::Method = http::Method::GET;
        // Leaked: each test makes a few, and a request borrows its headers and Host.
        let host: &'static HeaderValue =
            Box::leak(Box::new(endpoint.authority().as_str().parse().unwrap()));
        BackendRequest {
            method: &GET,
            path: http::uri::PathAndQuery::from_static("/x"),
            headers: Box::leak(Box::default()),
            host: Some(host),
            body: ForwardBody::Full(None),
        }
    }

    async fn read(response: Answer<BackendBody>) -> usize {
        response.body.collect().await.unwrap().to_bytes().len()
    }

    #[tokio::test]
    async fn a_connection_read_to_the_end_is_reused() {
        let (endpoint, accepted) = backend(3, false).await;
        let client = client();
        for _ in 0..5 {
            let (response, _) = client.send(&endpoint, get(&endpoint)).await.unwrap();
            assert_eq!(read(response).await, 3);
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        assert_eq!(client.idle_count(), 1);
    }

    #[tokio::test]
    async fn a_body_that_came_with_its_head_gives_the_connection_back_before_it_is_read() {
        // One small write from the backend: the head and the body arrive in one read.
        let (endpoint, accepted) = backend(3, false).await;
        let client = client();
        let (response, _) = client.send(&endpoint, get(&endpoint)).await.unwrap();
        assert_eq!(client.idle_count(), 1);
        assert_eq!(response.body.size_hint().exact(), Some(3));
        // The next request takes the connection while the first body is still unread.
        let (second, _) = client.send(&endpoint, get(&endpoint)).await.unwrap();
        assert_eq!(read(response).await, 3);
        assert_eq!(read(second).await, 3);
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_response_without_a_body_gives_its_connection_back_at_once() {
        let (endpoint, accepted) = backend(0, false).await;
        let client = client();
        for _ in 0..3 {
            let (response, _) = client.send(&endpoint, get(&endpoint)).await.unwrap();
            assert!(response.body.is_end_stream());
            drop(response);
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_response_dropped_unread_closes_its_connection() {
        let (endpoint, accepted) = backend(1 << 20, false).await;
        let client = client();
        let (response, _) = client.send(&endpoint, get(&endpoint)).await.unwrap();
        drop(response);
        assert_eq!(client.idle_count(), 0);
        let (response, _) = client.send(&endpoint, get(&endpoint)).await.unwrap();
        assert_eq!(read(response).await, 1 << 20);
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_connection_the_backend_closed_while_idle_is_not_used_again() {
        let (endpoint, accepted) = backend(2, true).await;
        let client = client();
        let (response, _) = client.send(&endpoint, get(&endpoint)).await.unwrap();
        assert_eq!(read(response).await, 2);
        assert_eq!(client.idle_count(), 1);
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (response, _) = client.send(&endpoint, get(&endpoint)).await.unwrap();
        assert_eq!(read(response).await, 2);
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
        // The housekeeping tick drops what the backend closed.
        tokio::time::sleep(Duration::from_millis(200)).await;
        client.reap();
        assert_eq!(client.idle_count(), 0);
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_connect_error() {
        // Bound, never listening, held to the end: refused, and not another test's port.
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let address = socket.local_addr().unwrap();
        let endpoint = Endpoint::new(Authority::try_from(address.to_string()).unwrap());
        match client().send(&endpoint, get(&endpoint)).await {
            Err(SendError::Connect(reason)) => {
                assert!(reason.starts_with("tcp connect error"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        drop(socket);
    }
}
