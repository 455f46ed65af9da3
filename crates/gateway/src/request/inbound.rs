//! The client's request body as the phases see it: hyper's stream, or the bytes Pylon's own
//! HTTP/1 codec read whole with the head.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

/// A client's request body: hyper's stream, or a small body the listener's own HTTP/1 codec
/// read whole with the head (`listener/h1`). The phases treat both as a stream.
#[derive(Debug)]
pub enum ClientBody {
    Hyper(Incoming),
    Whole(Option<Bytes>),
}

impl Body for ClientBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.get_mut() {
            Self::Hyper(incoming) => Pin::new(incoming).poll_frame(cx),
            Self::Whole(bytes) => whole_frame(bytes),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Hyper(incoming) => incoming.is_end_stream(),
            Self::Whole(bytes) => bytes.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Hyper(incoming) => incoming.size_hint(),
            Self::Whole(bytes) => whole_hint(bytes),
        }
    }
}

/// A body held whole in memory (`None`: empty), as every body enum here has one: its one data
/// frame, then the end.
pub(crate) fn whole_frame<E>(bytes: &mut Option<Bytes>) -> Poll<Option<Result<Frame<Bytes>, E>>> {
    Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b))))
}

/// The exact size of a body held whole.
pub(crate) fn whole_hint(bytes: &Option<Bytes>) -> SizeHint {
    SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
}
