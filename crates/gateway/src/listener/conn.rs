//! What the listener knows of each client connection: requests in flight, when it was last
//! busy, and a way to ask it to close. The accept loop keeps them to enforce the connection
//! cap and the header and idle timeouts; each connection's service and body update them.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::sync::Notify;

use crate::clock;
use crate::request::body::{BodyError, GatewayBody};

const NOT_STARTED: u64 = u64::MAX;

/// One client connection, shared by its task, its service and the accept loop.
#[derive(Debug)]
pub(crate) struct ConnState {
    pub(crate) accepted: Instant,
    /// Requests whose response has not been fully written.
    in_flight: AtomicU32,
    /// Requests seen so far.
    requests: AtomicU64,
    /// Milliseconds after `accepted` when the last response finished.
    last_active_ms: AtomicU64,
    /// Milliseconds after `accepted` when the first bytes of the next request arrived, while
    /// its head is incomplete; `NOT_STARTED` otherwise.
    head_started_ms: AtomicU64,
    /// Has served an HTTP/2 request: GOAWAY, not `Connection: close`, ends it.
    pub(crate) h2: AtomicBool,
    pub(crate) done: AtomicBool,
    pub(crate) close: Notify,
}

impl ConnState {
    pub(crate) fn new() -> Arc<ConnState> {
        Arc::new(ConnState {
            accepted: Instant::now(),
            in_flight: AtomicU32::new(0),
            requests: AtomicU64::new(0),
            last_active_ms: AtomicU64::new(0),
            head_started_ms: AtomicU64::new(NOT_STARTED),
            h2: AtomicBool::new(false),
            done: AtomicBool::new(false),
            close: Notify::new(),
        })
    }

    pub(crate) fn is_idle(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0
    }

    /// Marks a request as started; the guard ends it when the response body is dropped.
    pub(crate) fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.head_started_ms.store(NOT_STARTED, Ordering::Relaxed);
        InFlight(self.clone())
    }

    /// Bytes came in. Between requests they start the next head, which from then on has the
    /// header timeout to complete; while a request is in flight they are its body. One clock
    /// read per request, where a timer per request head cost hundreds of instructions.
    pub(crate) fn bytes_arrived(&self) {
        if self.is_idle() && self.head_started_ms.load(Ordering::Relaxed) == NOT_STARTED {
            self.head_started_ms
                .store(self.ms_since_accepted(clock::now()), Ordering::Relaxed);
        }
    }

    fn ms_since_accepted(&self, now: Instant) -> u64 {
        let ms = now.saturating_duration_since(self.accepted).as_millis();
        // Never `NOT_STARTED`: that would take 584 million years.
        u64::try_from(ms).unwrap_or(NOT_STARTED - 1)
    }

    /// How long it has been idle, or `None` while a request is in flight.
    fn idle_for(&self, now: Instant) -> Option<Duration> {
        if !self.is_idle() {
            return None;
        }
        let since = Duration::from_millis(self.last_active_ms.load(Ordering::Relaxed));
        Some(now.saturating_duration_since(self.accepted + since))
    }

    /// Why the accept loop should close it now, if it should.
    pub(crate) fn expired(
        &self,
        now: Instant,
        header_timeout: Duration,
        idle_timeout: Duration,
    ) -> Option<&'static str> {
        let idle = self.idle_for(now)?;
        let head_started = self.head_started_ms.load(Ordering::Relaxed);
        if self.requests.load(Ordering::Relaxed) == 0 {
            (idle >= header_timeout).then_some("no request head within the header timeout")
        } else if head_started != NOT_STARTED && !self.h2.load(Ordering::Relaxed) {
            // (HTTP/2 frames between requests, a PING, are no request head.)
            let waited = self.ms_since_accepted(now).saturating_sub(head_started);
            (Duration::from_millis(waited) >= header_timeout)
                .then_some("request head not complete within the header timeout")
        } else {
            (idle >= idle_timeout).then_some("idle timeout")
        }
    }
}

/// A request in flight on a connection; dropped with the response body.
#[derive(Debug)]
pub(crate) struct InFlight(Arc<ConnState>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let state = &self.0;
        state
            .last_active_ms
            .store(state.ms_since_accepted(clock::now()), Ordering::Relaxed);
        state.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The response body as the connection writes it: it holds the request's [`InFlight`] until
/// hyper is done with it.
#[derive(Debug)]
pub(crate) struct TrackedBody {
    inner: GatewayBody,
    _in_flight: InFlight,
}

impl TrackedBody {
    pub(crate) fn new(inner: GatewayBody, in_flight: InFlight) -> Self {
        TrackedBody {
            inner,
            _in_flight: in_flight,
        }
    }
}

impl Body for TrackedBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Open connections across all workers; decremented when the guard drops.
#[derive(Debug, Default)]
pub(crate) struct OpenCount(AtomicUsize);

impl OpenCount {
    /// Counts a new connection; returns the count including it.
    pub(crate) fn open(self: &Arc<Self>) -> (usize, OpenGuard) {
        let now = self.0.fetch_add(1, Ordering::AcqRel) + 1;
        (now, OpenGuard(self.clone()))
    }
}

#[derive(Debug)]
pub(crate) struct OpenGuard(Arc<OpenCount>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A worker's connections.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    conns: Vec<Arc<ConnState>>,
}

impl Registry {
    pub(crate) fn add(&mut self, conn: Arc<ConnState>) {
        self.conns.push(conn);
    }

    pub(crate) fn prune(&mut self) {
        self.conns.retain(|c| !c.done.load(Ordering::Acquire));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// The connection idle the longest, and for how long.
    pub(crate) fn oldest_idle(&self, now: Instant) -> Option<(Duration, Arc<ConnState>)> {
        self.conns
            .iter()
            .filter(|c| !c.done.load(Ordering::Acquire))
            .filter_map(|c| c.idle_for(now).map(|idle| (idle, c.clone())))
            .max_by_key(|(idle, _)| *idle)
    }

    /// Closes connections past their header or idle timeout.
    pub(crate) fn reap(&self, header_timeout: Duration, idle_timeout: Duration) {
        let now = Instant::now();
        for conn in &self.conns {
            if let Some(why) = conn.expired(now, header_timeout, idle_timeout) {
                tracing::debug!(why, "closing connection");
                conn.close.notify_one();
            }
        }
    }

    /// Asks every connection to close, or only HTTP/2 ones (which then get GOAWAY).
    pub(crate) fn close_all(&self, only_h2: bool) {
        for conn in &self.conns {
            if !only_h2 || conn.h2.load(Ordering::Relaxed) {
                conn.close.notify_one();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_silent_connection_expires_after_the_header_timeout() {
        let conn = ConnState::new();
        let later = conn.accepted + Duration::from_secs(31);
        let header = Duration::from_secs(30);
        let idle = Duration::from_secs(75);
        assert_eq!(conn.expired(conn.accepted, header, idle), None);
        assert!(conn.expired(later, header, idle).is_some());
    }

    #[test]
    fn a_busy_connection_never_expires_and_an_idle_one_after_the_idle_timeout() {
        let conn = ConnState::new();
        let header = Duration::from_secs(30);
        let idle = Duration::from_secs(75);
        let guard = conn.begin();
        let much_later = conn.accepted + Duration::from_secs(1000);
        assert_eq!(conn.expired(much_later, header, idle), None);
        drop(guard);
        let soon = Instant::now() + Duration::from_secs(31);
        assert_eq!(conn.expired(soon, header, idle), None);
        let late = Instant::now() + Duration::from_secs(76);
        assert_eq!(conn.expired(late, header, idle), Some("idle timeout"));
    }

    #[test]
    fn a_head_begun_between_requests_has_the_header_timeout_to_complete() {
        let conn = ConnState::new();
        let header = Duration::from_secs(30);
        let idle = Duration::from_secs(75);
        drop(conn.begin());
        // The body of a request in flight starts no head.
        let guard = conn.begin();
        conn.bytes_arrived();
        drop(guard);
        let now = Instant::now();
        assert_eq!(
            conn.expired(now + Duration::from_secs(31), header, idle),
            None
        );
        conn.bytes_arrived();
        assert_eq!(
            conn.expired(now + Duration::from_secs(31), header, idle),
            Some("request head not complete within the header timeout")
        );
        // Once the head is complete its request begins, and the clock is off again.
        drop(conn.begin());
        assert_eq!(
            conn.expired(Instant::now() + Duration::from_secs(31), header, idle),
            None
        );
        // HTTP/2 frames between requests start no head.
        conn.h2.store(true, Ordering::Relaxed);
        conn.bytes_arrived();
        assert_eq!(
            conn.expired(Instant::now() + Duration::from_secs(31), header, idle),
            None
        );
    }

    #[test]
    fn the_oldest_idle_is_the_longest_idle() {
        let mut registry = Registry::default();
        let busy = ConnState::new();
        let _guard = busy.begin();
        registry.add(busy.clone());
        assert!(registry.oldest_idle(Instant::now()).is_none(), "none idle");
        let old = ConnState::new();
        std::thread::sleep(Duration::from_millis(5));
        let young = ConnState::new();
        registry.add(young.clone());
        registry.add(old.clone());
        let (_, picked) = registry.oldest_idle(Instant::now()).unwrap();
        assert!(Arc::ptr_eq(&picked, &old));
        old.close.notify_one();
        assert!(futures_now(old.close.notified()), "the permit is stored");
        assert!(!futures_now(young.close.notified()));
    }

    /// Whether `f` is ready on its first poll.
    fn futures_now(f: impl std::future::Future<Output = ()>) -> bool {
        let mut f = std::pin::pin!(f);
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        f.as_mut().poll(&mut cx).is_ready()
    }
}
