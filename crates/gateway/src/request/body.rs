//! The body types on both sides of the gateway: enums over "fixed bytes" and hyper's streaming
//! `Incoming`, so nothing is boxed per request and a large body is never held in memory.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use prometheus_client::metrics::counter::Counter;

use crate::backend::h1;
use crate::backend::pool::{OwnHome, Ticket};
use crate::request::inbound::{ClientBody, whole_frame, whole_hint};

/// A response body's failure: hyper's, or Pylon's own client's. Boxed only when it happens.
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// What the gateway answers with: its own bytes (errors, mocks) or the backend's stream.
#[derive(Debug)]
pub enum GatewayBody {
    Full(Option<Bytes>),
    Stream(BackendBody),
    /// The backend's stream, counting the bytes that pass into the metrics.
    Counted(CountedStream),
}

/// A backend's body that adds the bytes it passed on to a counter when it is dropped: one
/// atomic add per response, whether it ended or the client went away.
#[derive(Debug)]
pub struct CountedStream {
    inner: BackendBody,
    passed: u64,
    into: Counter,
}

impl Drop for CountedStream {
    fn drop(&mut self) {
        self.into.inc_by(self.passed);
    }
}

impl GatewayBody {
    pub(crate) fn counted(inner: BackendBody, into: Counter) -> Self {
        Self::Counted(CountedStream {
            inner,
            passed: 0,
            into,
        })
    }

    pub(crate) fn full(bytes: Bytes) -> Self {
        Self::Full(Some(bytes))
    }

    pub(crate) fn empty() -> Self {
        Self::Full(None)
    }
}

impl Body for GatewayBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match self.get_mut() {
            Self::Full(bytes) => whole_frame(bytes),
            Self::Stream(incoming) => Pin::new(incoming).poll_frame(cx),
            Self::Counted(counted) => {
                let polled = Pin::new(&mut counted.inner).poll_frame(cx);
                if let Poll::Ready(Some(Ok(frame))) = &polled
                    && let Some(data) = frame.data_ref()
                {
                    counted.passed += data.len() as u64;
                }
                polled
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Full(bytes) => bytes.is_none(),
            Self::Stream(incoming) => incoming.is_end_stream(),
            Self::Counted(counted) => counted.inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Full(bytes) => whole_hint(bytes),
            Self::Stream(incoming) => incoming.size_hint(),
            Self::Counted(counted) => counted.inner.size_hint(),
        }
    }
}

/// A backend's response body. Its connection goes back to the worker's pool once the body has
/// been read to the end (a body that ends at its head, at once); dropped before that, the
/// connection closes with it.
#[derive(Debug)]
pub struct BackendBody(Source);

///
/// The streams are boxed: a response moves through every phase on its way out, and the
/// common case, a body that came whole with its head, is then a few words, not a connection.
#[derive(Debug)]
enum Source {
    /// Read whole with the head by Pylon's own client, whose connection is already back in
    /// the pool.
    Whole(Option<Bytes>),
    /// Through Pylon's own client, which takes its connection home itself.
    Own(Box<h1::ResponseBody<OwnHome<ForwardBody>>>),
    /// Through hyper's client.
    Hyper(Box<HyperSource>),
}

#[derive(Debug)]
struct HyperSource {
    inner: Incoming,
    ticket: Option<Ticket<ForwardBody>>,
}

impl BackendBody {
    pub(crate) fn new(inner: Incoming, ticket: Ticket<ForwardBody>) -> Self {
        if inner.is_end_stream() {
            ticket.release();
            return Self::unpooled(inner);
        }
        BackendBody(Source::Hyper(Box::new(HyperSource {
            inner,
            ticket: Some(ticket),
        })))
    }

    /// A body whose connection is not the pool's to take back (HTTP/2, shared).
    pub(crate) fn unpooled(inner: Incoming) -> Self {
        BackendBody(Source::Hyper(Box::new(HyperSource {
            inner,
            ticket: None,
        })))
    }

    pub(crate) fn own(body: h1::ResponseBody<OwnHome<ForwardBody>>) -> Self {
        BackendBody(Source::Own(Box::new(body)))
    }

    /// A body Pylon's own client read whole with the head (`None`: no body).
    pub(crate) fn whole(bytes: Option<Bytes>) -> Self {
        BackendBody(Source::Whole(bytes))
    }
}

impl Body for BackendBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match &mut self.get_mut().0 {
            Source::Whole(bytes) => whole_frame(bytes),
            Source::Own(body) => Pin::new(&mut **body)
                .poll_frame(cx)
                .map(|frame| frame.map(|r| r.map_err(Into::into))),
            Source::Hyper(hyper) => {
                let HyperSource { inner, ticket } = &mut **hyper;
                let polled = Pin::new(&mut *inner).poll_frame(cx);
                // Released before the last frame is passed on, so that a client sending its
                // next request as soon as it has this one finds the connection back in the
                // pool.
                let ended = match &polled {
                    Poll::Ready(None) => true,
                    Poll::Ready(Some(Ok(_))) => inner.is_end_stream(),
                    Poll::Ready(Some(Err(_))) => {
                        *ticket = None;
                        false
                    }
                    Poll::Pending => false,
                };
                if ended && let Some(ticket) = ticket.take() {
                    ticket.release();
                }
                polled.map(|frame| frame.map(|r| r.map_err(Into::into)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.0 {
            Source::Whole(bytes) => bytes.is_none(),
            Source::Own(body) => body.is_end_stream(),
            Source::Hyper(hyper) => hyper.inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            Source::Whole(bytes) => whole_hint(bytes),
            Source::Own(body) => body.size_hint(),
            Source::Hyper(hyper) => hyper.inner.size_hint(),
        }
    }
}

/// What the gateway sends to a backend.
#[derive(Debug)]
pub(crate) enum ForwardBody {
    Full(Option<Bytes>),
    Stream(ClientBody),
    /// A stream that can be taken back if the connection attempt failed before it was read.
    Reclaimable(ReclaimableBody),
}

impl Body for ForwardBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.get_mut() {
            Self::Full(bytes) => whole_frame(bytes),
            Self::Stream(incoming) => Pin::new(incoming).poll_frame(cx),
            Self::Reclaimable(shared) => shared.poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Full(bytes) => bytes.is_none(),
            Self::Stream(incoming) => incoming.is_end_stream(),
            Self::Reclaimable(shared) => shared.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Full(bytes) => whole_hint(bytes),
            Self::Stream(incoming) => incoming.size_hint(),
            Self::Reclaimable(shared) => shared.size_hint(),
        }
    }
}

#[derive(Debug)]
struct Slot {
    body: Option<ClientBody>,
    /// Set on the first poll: from then on the body is (partly) sent and cannot be re-sent.
    touched: bool,
}

/// A request body shared between the request handed to the HTTP client and the failover loop.
/// Failover happens only when connecting failed, which is before the client reads the body;
/// the loop then takes the untouched body back for the next target, so the body is never
/// buffered or replayed.
#[derive(Debug, Clone)]
pub(crate) struct ReclaimableBody {
    slot: Arc<Mutex<Slot>>,
    /// Cached at creation: `size_hint` and `is_end_stream` must not lock.
    hint: SizeHint,
    end: bool,
}

impl ReclaimableBody {
    pub(crate) fn new(body: ClientBody) -> Self {
        let hint = body.size_hint();
        let end = body.is_end_stream();
        Self {
            slot: Arc::new(Mutex::new(Slot {
                body: Some(body),
                touched: false,
            })),
            hint,
            end,
        }
    }

    /// A handle for one more attempt, if no earlier attempt has read from the body.
    pub(crate) fn reclaim(&self) -> Option<Self> {
        let slot = self.slot.lock().ok()?;
        (!slot.touched && slot.body.is_some()).then(|| self.clone())
    }

    fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let Ok(mut slot) = self.slot.lock() else {
            return Poll::Ready(None);
        };
        slot.touched = true;
        match slot.body.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.end
    }

    fn size_hint(&self) -> SizeHint {
        self.hint
    }
}
