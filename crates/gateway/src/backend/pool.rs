//! Connections to backends, kept per backend address and TLS settings by each worker thread:
//! idle HTTP/1.1 connections (hyper's, and Pylon's own client's over plain TCP), and one shared
//! HTTP/2 connection where the backend chose h2.
//!
//! An HTTP/1.1 connection comes back when the response it carried has been read to its end
//! (`Ticket`), and the newest goes out first, so a busy worker keeps reusing a few warm
//! connections while the others age out. An HTTP/2 connection carries every request at once
//! and stays until it closes or idles out. Lookups hash nothing per request: an `Endpoint`
//! carries its hash, worked out when the snapshot is compiled.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use http::uri::Authority;
use hyper::client::conn::http1::SendRequest;
use hyper::client::conn::http2;

use super::h1;
use super::tls::TlsConnect;

/// An idle connection older than this is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// Idle connections kept per address; one more is closed instead.
const MAX_IDLE_PER_ENDPOINT: usize = 1024;

/// A backend address and how it is reached (plain, or TLS with given settings): the key
/// connections are pooled by.
#[derive(Clone, Debug)]
pub(crate) struct Endpoint {
    authority: Authority,
    tls: Option<Arc<TlsConnect>>,
    hash: u64,
}

impl Endpoint {
    pub(crate) fn new(authority: Authority) -> Self {
        Self::with_tls(authority, None)
    }

    pub(crate) fn with_tls(authority: Authority, tls: Option<Arc<TlsConnect>>) -> Self {
        // Fixed keys: the same address must hash the same in every snapshot. Addresses come
        // from the configuration, not from clients, so there is no flooding to defend against.
        let mut hasher = std::hash::DefaultHasher::new();
        authority.as_str().hash(&mut hasher);
        if let Some(tls) = &tls {
            tls.key.hash(&mut hasher);
        }
        Endpoint {
            hash: hasher.finish(),
            authority,
            tls,
        }
    }

    pub(crate) fn authority(&self) -> &Authority {
        &self.authority
    }

    pub(crate) fn tls(&self) -> Option<&TlsConnect> {
        self.tls.as_deref()
    }

    fn tls_key(&self) -> Option<u64> {
        self.tls.as_ref().map(|t| t.key)
    }
}

/// Byte for byte: `Authority`'s own comparison ignores case, a byte at a time. An address
/// written in two cases only gets two pools.
impl PartialEq for Endpoint {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash
            && self.authority.as_str() == other.authority.as_str()
            && self.tls_key() == other.tls_key()
    }
}

impl Eq for Endpoint {}

impl Hash for Endpoint {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// Passes an `Endpoint`'s own hash through.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used; this keeps any other use correct, if slower.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type IdleMap<B> = HashMap<Endpoint, Vec<Idle<B>>, BuildHasherDefault<Prehashed>>;
type OwnMap = HashMap<Endpoint, Vec<IdleOwn>, BuildHasherDefault<Prehashed>>;
type SharedMap<B> = HashMap<Endpoint, Shared<B>, BuildHasherDefault<Prehashed>>;

/// What a connection negotiated, for the debug trace.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Negotiated {
    /// `TLSv1.3`, `TLSv1.2`; `None` over plain TCP.
    pub(crate) tls: Option<&'static str>,
    pub(crate) h2: bool,
}

struct State<B> {
    idle: IdleMap<B>,
    /// Pylon's own client's connections.
    own: OwnMap,
    /// HTTP/2 connections, one per endpoint, shared by every request to it.
    shared: SharedMap<B>,
    /// The time of the last housekeeping tick: a connection put back is stamped with it, so
    /// that the request path reads no clock for the pool (ages are then good to a tick).
    now: Instant,
}

struct Idle<B> {
    sender: SendRequest<B>,
    negotiated: Negotiated,
    since: Instant,
}

struct IdleOwn {
    conn: h1::Conn,
    since: Instant,
}

struct Shared<B> {
    sender: http2::SendRequest<B>,
    negotiated: Negotiated,
    /// Stamped when a request takes it: it idles out like an HTTP/1.1 connection.
    used: Instant,
}

/// One worker's idle connections. Cloning shares them.
pub(crate) struct Pool<B> {
    state: Arc<Mutex<State<B>>>,
}

impl<B> Clone for Pool<B> {
    fn clone(&self) -> Self {
        Pool {
            state: self.state.clone(),
        }
    }
}

impl<B> Default for Pool<B> {
    fn default() -> Self {
        Pool {
            state: Arc::new(Mutex::new(State {
                idle: IdleMap::default(),
                own: OwnMap::default(),
                shared: SharedMap::default(),
                now: Instant::now(),
            })),
        }
    }
}

impl<B: Send + 'static> Pool<B> {
    fn lock(&self) -> MutexGuard<'_, State<B>> {
        // The map stays consistent whatever panicked while holding it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The newest idle connection to `endpoint` that can take a request now.
    pub(crate) fn checkout(&self, endpoint: &Endpoint) -> Option<(SendRequest<B>, Negotiated)> {
        let mut state = self.lock();
        let list = state.idle.get_mut(endpoint)?;
        while let Some(entry) = list.pop() {
            if entry.sender.is_ready() {
                return Some((entry.sender, entry.negotiated));
            }
        }
        None
    }

    /// The newest idle connection of Pylon's own client to `endpoint` that the backend has
    /// not closed.
    pub(crate) fn checkout_own(&self, endpoint: &Endpoint) -> Option<h1::Conn> {
        let mut state = self.lock();
        let list = state.own.get_mut(endpoint)?;
        while let Some(entry) = list.pop() {
            if entry.conn.is_idle_open() {
                return Some(entry.conn);
            }
        }
        None
    }

    pub(crate) fn put_own(&self, endpoint: &Endpoint, conn: h1::Conn) {
        let mut state = self.lock();
        let entry = IdleOwn {
            conn,
            since: state.now,
        };
        keep_idle(&mut state.own, endpoint, entry);
    }

    /// The HTTP/2 connection to `endpoint`, if one is open.
    pub(crate) fn shared(
        &self,
        endpoint: &Endpoint,
    ) -> Option<(http2::SendRequest<B>, Negotiated)> {
        let mut state = self.lock();
        let now = state.now;
        let entry = state.shared.get_mut(endpoint)?;
        if entry.sender.is_closed() {
            state.shared.remove(endpoint);
            return None;
        }
        entry.used = now;
        Some((entry.sender.clone(), entry.negotiated))
    }

    /// Keeps `sender`, a new HTTP/2 connection, for the next requests to `endpoint`.
    pub(crate) fn share(
        &self,
        endpoint: Endpoint,
        sender: http2::SendRequest<B>,
        negotiated: Negotiated,
    ) {
        let mut state = self.lock();
        let used = state.now;
        state.shared.insert(
            endpoint,
            Shared {
                sender,
                negotiated,
                used,
            },
        );
    }

    fn put(&self, endpoint: Endpoint, sender: SendRequest<B>, negotiated: Negotiated) {
        let mut state = self.lock();
        let entry = Idle {
            sender,
            negotiated,
            since: state.now,
        };
        keep_idle(&mut state.idle, &endpoint, entry);
    }

    /// Closes connections idle for too long or closed by the backend, and forgets addresses
    /// with none left. Called on the worker's housekeeping tick.
    pub(crate) fn reap(&self) {
        let now = Instant::now();
        let mut state = self.lock();
        state.now = now;
        state.idle.retain(|_, list| {
            list.retain(|e| !e.sender.is_closed() && now.duration_since(e.since) < IDLE_TIMEOUT);
            !list.is_empty()
        });
        state.own.retain(|_, list| {
            list.retain(|e| now.duration_since(e.since) < IDLE_TIMEOUT && e.conn.is_idle_open());
            !list.is_empty()
        });
        // An HTTP/2 connection no request took for the idle timeout is dropped (in-flight
        // requests hold their own handles to it).
        state
            .shared
            .retain(|_, s| !s.sender.is_closed() && now.duration_since(s.used) < IDLE_TIMEOUT);
    }

    /// How many connections are idle, for tests.
    #[cfg(test)]
    pub(crate) fn idle_count(&self) -> usize {
        let state = self.lock();
        state.idle.values().map(Vec::len).sum::<usize>()
            + state.own.values().map(Vec::len).sum::<usize>()
    }
}

/// Adds `entry` to `endpoint`'s idle connections, unless it has as many as it may keep.
#[expect(
    clippy::mutable_key_type,
    reason = "an Endpoint hashes and compares by its address and TLS settings' key, which never change"
)]
fn keep_idle<E>(
    idle: &mut HashMap<Endpoint, Vec<E>, BuildHasherDefault<Prehashed>>,
    endpoint: &Endpoint,
    entry: E,
) {
    // The key is nearly always there already: copied only when it is not.
    let list = match idle.get_mut(endpoint) {
        Some(list) => list,
        None => idle.entry(endpoint.clone()).or_default(),
    };
    if list.len() < MAX_IDLE_PER_ENDPOINT {
        list.push(entry);
    }
}

/// A connection lent to one response: it goes back to the pool when the response has been
/// read to its end, and is closed if the response is dropped before that.
pub(crate) struct Ticket<B> {
    pool: Pool<B>,
    endpoint: Endpoint,
    sender: SendRequest<B>,
    negotiated: Negotiated,
}

impl<B: Send + 'static> Ticket<B> {
    pub(crate) fn new(
        pool: Pool<B>,
        endpoint: Endpoint,
        sender: SendRequest<B>,
        negotiated: Negotiated,
    ) -> Self {
        Ticket {
            pool,
            endpoint,
            sender,
            negotiated,
        }
    }

    /// The response was read to its end: the connection goes back once it can take the next
    /// request. That is nearly always at once; when the request's body is still being sent
    /// (a backend that answered before reading it), a task waits for it.
    pub(crate) fn release(mut self) {
        let mut cx = Context::from_waker(Waker::noop());
        match self.sender.poll_ready(&mut cx) {
            Poll::Ready(Ok(())) => self.pool.put(self.endpoint, self.sender, self.negotiated),
            Poll::Ready(Err(_)) => {}
            Poll::Pending => {
                // Outside a runtime (a body read after its worker stopped) it is simply closed.
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    runtime.spawn(async move {
                        if self.sender.ready().await.is_ok() {
                            self.pool.put(self.endpoint, self.sender, self.negotiated);
                        }
                    });
                }
            }
        }
    }
}

/// Where a connection of Pylon's own client goes when its response has been read.
pub(crate) struct OwnHome<B> {
    pool: Pool<B>,
    endpoint: Endpoint,
}

impl<B> OwnHome<B> {
    pub(crate) fn new(pool: Pool<B>, endpoint: Endpoint) -> Self {
        OwnHome { pool, endpoint }
    }
}

impl<B: Send + 'static> h1::Home for OwnHome<B> {
    fn put(self, conn: h1::Conn) {
        self.pool.put_own(&self.endpoint, conn);
    }
}

impl<B> std::fmt::Debug for Ticket<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ticket")
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_equal_by_address() {
        let a = Endpoint::new(Authority::from_static("backend.internal:8080"));
        let b = Endpoint::new(Authority::from_static("backend.internal:8080"));
        let c = Endpoint::new(Authority::from_static("backend.internal:8081"));
        assert_eq!(a, b);
        assert_eq!(a.hash, b.hash);
        assert_ne!(a, c);
    }

    #[test]
    fn tls_settings_are_part_of_the_key() {
        let authority = Authority::from_static("backend.internal:443");
        let none = super::super::tls::ClientCertificates::default();
        let insecure = pylon_model::BackendTls {
            insecure: true,
            ..Default::default()
        };
        let named = pylon_model::BackendTls {
            server_name: Some("other.internal".into()),
            ..insecure.clone()
        };
        let tls = |t: &pylon_model::BackendTls| {
            Some(super::super::tls::compile(t, "backend.internal", &none).unwrap())
        };
        let plain = Endpoint::new(authority.clone());
        let a = Endpoint::with_tls(authority.clone(), tls(&insecure));
        let again = Endpoint::with_tls(authority.clone(), tls(&insecure));
        let b = Endpoint::with_tls(authority, tls(&named));
        assert_ne!(plain, a, "plain and TLS connections never share a pool");
        assert_eq!(a, again, "the same settings in another snapshot share it");
        assert_ne!(a, b);
    }
}
