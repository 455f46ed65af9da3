//! The listener: one single-threaded event loop per core (nginx's worker model), all accepting
//! from the same socket, each with its own pooled backend client. A request and the backend
//! connection serving it stay on one thread: no work stealing, no cross-thread wake-ups, which
//! on a loaded 2-core machine were most of the proxy's CPU.
//!
//! A connection is served by Pylon's own HTTP/1 codec (`h1`) until a request it does not take
//! (HTTP/2, an upgrade, a streamed body, anything unusual), and by hyper from there on.
//!
//! Each loop also keeps its connections (`conn`): it closes those that send no request head
//! within the header timeout (counted from accept) or stay idle past the idle timeout, and
//! keeps the open count under the cap by closing the oldest idle one first.
//!
//! Shutdown (docs/configuration.md): stop accepting; for the grace period keep answering
//! requests that arrive on open connections, with `Connection: close` (HTTP/2 gets GOAWAY at
//! once); then close what is idle and let requests in flight finish, for at most 30 seconds.

mod balance;
mod conn;
mod h1;
mod io;
mod service;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::header::{CONNECTION, UPGRADE};
use http::{HeaderValue, Request, Version};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio_rustls::TlsAcceptor;

use crate::backend::client as backend_client;
use crate::backend::deadline;
use crate::clock;
use crate::error::{self, GatewayError};
use crate::limits::{Limits, MIN_HEADER_SIZE};
use crate::observe::log::gather as log_lines;
use crate::request::client::Peer;
use crate::request::id::RequestId;
use crate::request::inbound::ClientBody;
use crate::request::slot::ConnectionSlot;
use crate::served;
use balance::{Balance, Load};
use conn::{ConnState, OpenCount, OpenGuard, Registry, TrackedBody};
pub(crate) use service::Service;

/// How long in-flight requests may take to finish after shutdown fires.
const DRAIN_DEADLINE: Duration = Duration::from_secs(30);
/// How often a loop checks its connections' timeouts.
const REAP_INTERVAL: Duration = Duration::from_millis(500);
/// A failing accept is logged at most once per this interval.
const ACCEPT_LOG_INTERVAL: Duration = Duration::from_secs(10);
/// An idle connection asked to close that has not within this time is dropped.
const CLOSE_IDLE_WITHIN: Duration = Duration::from_secs(1);
/// A TLS handshake not finished within this time is dropped.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What every worker shares.
struct Shared<S> {
    gateway: Arc<S>,
    open: Arc<OpenCount>,
    /// Each worker's connections, by worker index; the others' are read only to find the
    /// connection idle the longest when the cap is reached.
    registries: Vec<Mutex<Registry>>,
    /// Each worker's open connections: which worker accepts the next one.
    balance: Arc<Balance>,
    /// Set at shutdown: HTTP/1 responses then carry `Connection: close`.
    draining: AtomicBool,
    /// Set on the HTTPS listener: every connection starts with a handshake.
    tls: Option<TlsAcceptor>,
}

/// Serves plain HTTP on `listener` and, with `tls`, HTTPS on its socket with its
/// configuration: the same workers accept from both, under one connection cap.
pub(crate) async fn serve<S: Service>(
    gateway: Arc<S>,
    listener: TcpListener,
    tls: Option<(TcpListener, Arc<rustls::ServerConfig>)>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let listener = listener.into_std()?;
    let (tls_listener, tls) = match tls {
        Some((listener, config)) => (Some(listener.into_std()?), Some(config)),
        None => (None, None),
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let shared = Arc::new(Shared {
        gateway,
        open: Arc::default(),
        registries: (0..workers).map(|_| Mutex::default()).collect(),
        balance: Arc::new(Balance::new(workers)),
        draining: AtomicBool::new(false),
        tls: tls.map(TlsAcceptor::from),
    });
    let mut finished = Vec::with_capacity(workers);
    for index in 0..workers {
        let socket = listener.try_clone()?;
        let tls_socket = tls_listener.as_ref().map(|l| l.try_clone()).transpose()?;
        let shared = shared.clone();
        let stop = stop_rx.clone();
        let (done_tx, done_rx) = oneshot::channel();
        std::thread::Builder::new()
            .name(format!("pylon-gateway-{index}"))
            .spawn(move || {
                let result = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    // Lines gathered while busy go to the writer before the worker sleeps.
                    .on_thread_park(log_lines::hand_over_this_thread)
                    .build()
                    .and_then(|runtime| {
                        runtime.block_on(async move {
                            let plain = TcpListener::from_std(socket)?;
                            let tls = tls_socket.map(TcpListener::from_std).transpose()?;
                            worker(shared, index, plain, tls, stop).await
                        })
                    });
                let _ = done_tx.send(result);
            })?;
        finished.push(done_rx);
    }
    drop((listener, tls_listener));
    shutdown.await;
    shared.draining.store(true, Ordering::Release);
    let _ = stop_tx.send(true);
    let mut outcome = Ok(());
    for done in finished {
        match done.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => outcome = Err(e),
            Err(_) => outcome = Err(std::io::Error::other("a gateway worker thread died")),
        }
    }
    outcome
}

/// Logs accept failures once per interval and backs off exponentially while they last.
#[derive(Default)]
struct AcceptBackoff {
    failures: u64,
    logged_at: Option<Instant>,
    delay: Duration,
}

impl AcceptBackoff {
    fn failed(&mut self, error: &std::io::Error) -> Duration {
        self.failures += 1;
        if self
            .logged_at
            .is_none_or(|at| at.elapsed() >= ACCEPT_LOG_INTERVAL)
        {
            tracing::warn!(
                %error, failures = self.failures,
                "accept failed; backing off (logged once per {} s)", ACCEPT_LOG_INTERVAL.as_secs()
            );
            self.logged_at = Some(Instant::now());
            self.failures = 0;
        }
        self.delay = (self.delay * 2).clamp(Duration::from_millis(5), Duration::from_secs(1));
        self.delay
    }

    fn succeeded(&mut self) {
        self.delay = Duration::ZERO;
    }
}

/// Accepts on `listener`, or never when there is none.
async fn accept_on(listener: Option<&TcpListener>) -> std::io::Result<(TcpStream, SocketAddr)> {
    match listener {
        Some(listener) => listener.accept().await,
        None => std::future::pending().await,
    }
}

/// One event loop: accepts (plain and TLS), serves, reaps, and on `stop` drains.
async fn worker<S: Service>(
    shared: Arc<Shared<S>>,
    index: usize,
    listener: TcpListener,
    tls_listener: Option<TcpListener>,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let client = backend_client::client();
    let _timers = deadline::keep_on_this_worker();
    let _served = served::keep_on_this_worker();
    let _log = log_lines::gather_on_this_worker();
    let _seat = shared.balance.seat(index);
    let registry = |f: &mut dyn FnMut(&mut Registry)| {
        if let Some(r) = shared.registries.get(index) {
            f(&mut r.lock().unwrap_or_else(|p| p.into_inner()));
        }
    };
    let mut backoff = AcceptBackoff::default();
    let mut reap = tokio::time::interval(REAP_INTERVAL);
    reap.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // Registered before the counts are read, so that a change in between wakes it.
        let changed = shared.balance.changed();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let turn = shared.balance.may_accept(index);
        let accepted = tokio::select! {
            accepted = listener.accept(), if turn => accepted.map(|(s, p)| (s, p, false)),
            accepted = accept_on(tls_listener.as_ref()), if turn => {
                accepted.map(|(s, p)| (s, p, true))
            }
            () = &mut changed, if !turn => continue,
            _ = reap.tick() => {
                client.reap();
                let limits = shared.gateway.limits();
                registry(&mut |r| {
                    r.prune();
                    r.reap(limits.header_timeout, limits.idle_timeout);
                });
                continue;
            }
            _ = stop.wait_for(|stop| *stop) => break,
        };
        let (stream, peer, secure) = match accepted {
            Ok(accepted) => {
                backoff.succeeded();
                accepted
            }
            Err(e) => {
                // Out of file descriptors: an idle connection gives one back.
                if matches!(e.raw_os_error(), Some(24 | 23)) {
                    shed_oldest_idle(&shared);
                }
                tokio::time::sleep(backoff.failed(&e)).await;
                continue;
            }
        };
        let limits = shared.gateway.limits();
        let (open, guard) = shared.open.open();
        if open > limits.max_connections && !shed_oldest_idle(&shared) {
            if secure {
                // A plain-text 503 means nothing to a TLS client, and a handshake is the
                // expensive part the cap guards against: the connection is closed.
                tracing::warn!(%peer, "HTTPS connection closed: connection limit reached");
            } else {
                tokio::spawn(refuse(stream, peer, guard));
            }
            continue;
        }
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "set_nodelay failed");
        }
        let state = ConnState::new();
        registry(&mut |r| r.add(state.clone()));
        let accepted = Accepted {
            stream,
            peer,
            secure,
            state,
            _open: guard,
            _load: shared.balance.take(index),
        };
        let codecs = Codecs {
            hyper: builder(&limits),
            max_head: limits.max_header_size.max(MIN_HEADER_SIZE),
        };
        tokio::spawn(clock::per_poll(connection(
            shared.clone(),
            codecs,
            client.clone(),
            accepted,
        )));
    }
    drop((listener, tls_listener));
    let mine = shared
        .registries
        .get(index)
        .map(|r| std::mem::take(&mut *r.lock().unwrap_or_else(|p| p.into_inner())))
        .unwrap_or_default();
    drain(&shared, mine).await;
    Ok(())
}

/// Asks the connection idle the longest, on any worker, to close; false when none is idle.
fn shed_oldest_idle<S>(shared: &Shared<S>) -> bool {
    let now = Instant::now();
    let mut oldest: Option<(Duration, Arc<ConnState>)> = None;
    for registry in &shared.registries {
        let registry = registry.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((idle, conn)) = registry.oldest_idle(now)
            && oldest.as_ref().is_none_or(|(best, _)| idle > *best)
        {
            oldest = Some((idle, conn));
        }
    }
    match oldest {
        Some((_, conn)) => {
            conn.close.notify_one();
            true
        }
        None => false,
    }
}

/// The shutdown sequence for one loop's connections (the module doc).
async fn drain<S: Service>(shared: &Shared<S>, mut registry: Registry) {
    registry.close_all(true);
    let grace = shared.gateway.limits().shutdown_grace;
    let grace_ends = tokio::time::Instant::now() + grace;
    let deadline = tokio::time::Instant::now() + DRAIN_DEADLINE;
    let mut closed_idle = false;
    loop {
        registry.prune();
        if registry.is_empty() {
            tracing::debug!("worker drained");
            return;
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            tracing::warn!("shutdown deadline passed with requests still in flight");
            return;
        }
        if !closed_idle && now >= grace_ends {
            registry.close_all(false);
            closed_idle = true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Past the connection cap with nothing idle to close: a 503 for the newcomer.
async fn refuse(mut stream: TcpStream, peer: SocketAddr, _open: OpenGuard) {
    let id = RequestId::generate();
    let error = GatewayError::ServiceUnavailable("connection limit reached".into());
    tracing::warn!(
        target: "pylon::access",
        request_id = id.as_str(), %peer, status = 503u16, error = error.to_string(),
        "connection refused"
    );
    let bytes = io::to_wire(error::render(&error, &id));
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(&bytes).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

fn builder(limits: &Limits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        // The accept loop's housekeeping enforces the header timeout (`ConnState::expired`):
        // hyper's own would arm a timer per request head, and would also cut a keep-alive
        // connection idle for that long, before the idle timeout.
        .header_read_timeout(None)
        .max_buf_size(limits.max_header_size.max(MIN_HEADER_SIZE));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_header_size).unwrap_or(u32::MAX));
    builder
}

/// How a connection's HTTP is served: Pylon's codec (`h1`), then hyper for what it does not
/// take.
struct Codecs {
    hyper: auto::Builder<TokioExecutor>,
    max_head: usize,
}

/// A connection just accepted, counted and registered.
struct Accepted {
    stream: TcpStream,
    peer: SocketAddr,
    /// Accepted on the HTTPS listener: a handshake comes first.
    secure: bool,
    state: Arc<ConnState>,
    _open: OpenGuard,
    /// Held while the connection's task runs.
    _load: Load,
}

async fn connection<S: Service>(
    shared: Arc<Shared<S>>,
    codecs: Codecs,
    client: backend_client::HttpClient,
    accepted: Accepted,
) {
    let Accepted {
        stream,
        peer,
        secure,
        state,
        _open,
        _load,
    } = accepted;
    // Shared with the WebSockets the connection may become, which outlive this function.
    let slot = ConnectionSlot::new(Arc::new(_open));
    let origin = |secure| Origin {
        peer,
        secure,
        slot: slot.clone(),
    };
    match shared.tls.clone().filter(|_| secure) {
        None => serve_connection(&shared, codecs, client, stream, origin(false), &state).await,
        Some(acceptor) => {
            let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream));
            let accepted = tokio::select! {
                accepted = handshake => accepted,
                () = state.close.notified() => Ok(Err(std::io::ErrorKind::Interrupted.into())),
            };
            match accepted {
                Ok(Ok(tls)) => {
                    // Boxed: a TLS session is kilobytes, and inline it would size every
                    // connection's task by it, plain ones too (15.6 KiB, against 9.7 boxed).
                    Box::pin(serve_connection(
                        &shared,
                        codecs,
                        client,
                        tls,
                        origin(true),
                        &state,
                    ))
                    .await;
                }
                Ok(Err(e)) => tracing::debug!(error = %e, %peer, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        }
    }
    state.done.store(true, Ordering::Release);
}

/// Where a connection came from, and its place under the connection cap.
struct Origin {
    peer: SocketAddr,
    /// Over TLS.
    secure: bool,
    slot: ConnectionSlot,
}

/// Serves HTTP on `io` (the TCP stream, or the TLS stream over it) until it closes: Pylon's
/// codec first, then hyper from the first request the codec does not take.
async fn serve_connection<S, I>(
    shared: &Arc<Shared<S>>,
    codecs: Codecs,
    client: backend_client::HttpClient,
    stream: I,
    origin: Origin,
    state: &Arc<ConnState>,
) where
    S: Service,
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let Origin { peer, secure, slot } = origin;
    let connection_peer = Peer::new(peer);
    let own = h1::Conn {
        gateway: &*shared.gateway,
        draining: &shared.draining,
        client: &client,
        peer: &connection_peer,
        secure,
        state,
        max_head: codecs.max_head,
    };
    let (io, read) = match h1::serve(own, io::ConnIo::new(stream, state.clone(), peer)).await {
        h1::Ended::Closed => return,
        h1::Ended::Hyper(io, read) => (io, read),
    };
    let service = {
        let state = state.clone();
        let shared = shared.clone();
        service_fn(move |mut request: Request<Incoming>| {
            let shared = shared.clone();
            let client = client.clone();
            let in_flight = state.begin();
            // A request that may become a WebSocket carries the connection's slot along.
            if request.headers().contains_key(UPGRADE) {
                request.extensions_mut().insert(slot.clone());
            }
            let peer = connection_peer.clone();
            let version = request.version();
            if version == Version::HTTP_2 {
                state.h2.store(true, Ordering::Relaxed);
            }
            async move {
                let (mut parts, body) = request.into_parts();
                let mut response = shared
                    .gateway
                    .handle(&client, &mut parts, ClientBody::Hyper(body), &peer, secure)
                    .await;
                if shared.draining.load(Ordering::Acquire) && version < Version::HTTP_2 {
                    response
                        .headers
                        .insert(CONNECTION, HeaderValue::from_static("close"));
                }
                Ok::<_, Infallible>(
                    response
                        .into_http()
                        .map(|body| TrackedBody::new(body, in_flight)),
                )
            }
        })
    };
    let io = TokioIo::new(h1::Rewind::new(io, read));
    // With upgrades: a WebSocket request takes the connection over once answered `101`.
    let connection = codecs.hyper.serve_connection_with_upgrades(io, service);
    let mut connection = std::pin::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = state.close.notified() => {
            connection.as_mut().graceful_shutdown();
            let within = if state.is_idle() { CLOSE_IDLE_WITHIN } else { DRAIN_DEADLINE };
            tokio::time::timeout(within, connection.as_mut())
                .await
                .unwrap_or(Ok(()))
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, %peer, "connection ended with an error");
    }
}
