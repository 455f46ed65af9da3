//! Pylon's own HTTP/1.1 client, for requests to plain-TCP backends whose body is in memory
//! and at most 16 KiB (bodiless requests, most buffered forms and function events): the exchange is written and read in
//! the request's own task, on a pooled connection whose buffers are reused. hyper's client
//! hands every request to a connection task over a channel and wakes it twice; that was a
//! third of the instructions of a proxied request (bench/README.md, "Where the user-space time
//! goes").
//!
//! hyper's client stays for the rest: TLS, HTTP/2, upgrades and streamed bodies.
//!
//! What this client takes from a backend is as strict as hyper, and stricter where readers
//! are known to disagree: RFC 9112's framing (`head`), a strict chunked decoder (`chunked`),
//! and a connection reused only when its response ended exactly where its framing said.

mod body;
mod chunked;
mod error;
mod head;

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::request::headers::FieldSpan;

pub(crate) use body::{Home, ResponseBody};
pub(crate) use error::Error;
pub(crate) use head::{Exchange, Framing, Head};

/// Room made for each read. A response that fits leaves the socket drained, which tokio
/// notes without another system call, so that the idle check at checkout costs none.
const READ_SIZE: usize = 8 * 1024;
/// The largest body this client sends. It goes out with the head in one write, which the
/// kernel takes whole (16 KiB is Linux's initial send buffer), so a backend that answers
/// before reading the body (a 413, say) is never met with a write that cannot finish; a larger
/// body goes through hyper, which reads the answer while it writes.
pub(crate) const MAX_BODY: usize = 16 * 1024;
/// A write buffer grown past this is not kept.
const KEEP_WRITE: usize = 2 * MAX_BODY;

/// A connection with its read buffer (empty between exchanges) and write buffer, and room
/// for where a response head's fields lie.
pub(crate) struct Conn {
    io: TcpStream,
    buf: BytesMut,
    out: Vec<u8>,
    spans: Vec<FieldSpan>,
}

impl Conn {
    pub(crate) fn new(io: TcpStream) -> Self {
        Conn {
            io,
            buf: BytesMut::new(),
            out: Vec::new(),
            spans: Vec::new(),
        }
    }

    /// Whether an idle connection can take a request: the backend has neither closed it nor
    /// sent anything unasked. Reads the readiness tokio has recorded; only when that says
    /// there may be something does it ask the socket.
    pub(crate) fn is_idle_open(&self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        match self.io.poll_read_ready(&mut cx) {
            Poll::Pending => true,
            Poll::Ready(Err(_)) => false,
            Poll::Ready(Ok(())) => {
                let mut probe = [0u8; 1];
                matches!(self.io.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            }
        }
    }

    /// Sends a request and reads up to the final response's head; its body stays on the
    /// connection for a `ResponseBody`.
    pub(crate) async fn exchange(&mut self, request: &Exchange<'_>) -> Result<Head, Error> {
        head::encode(&mut self.out, request);
        self.io.write_all(&self.out).await.map_err(Error::Reset)?;
        if self.out.capacity() > KEEP_WRITE {
            self.out = Vec::new();
        }
        let mut received = false;
        loop {
            if !self.buf.is_empty() {
                match head::parse(&mut self.buf, &mut self.spans, request.method)? {
                    Some(head::Parsed::Final(head)) => return Ok(head),
                    Some(head::Parsed::Interim) => continue,
                    None => {}
                }
            }
            match std::future::poll_fn(|cx| self.poll_fill(cx)).await {
                Ok(0) if received => return Err(Error::HeadCut),
                Ok(0) => return Err(Error::Closed),
                Ok(_) => received = true,
                Err(e) if received => return Err(Error::Io(e)),
                Err(e) => return Err(Error::Reset(e)),
            }
        }
    }

    /// The body of a response with this framing, when the connection's buffer holds all of it
    /// and nothing past it: `Some(None)` for no body. The connection is then free for the next
    /// exchange. Most responses arrive whole with their head, and such a body needs neither
    /// the connection nor a reader.
    pub(crate) fn take_whole(&mut self, framing: Framing) -> Option<Option<Bytes>> {
        match framing {
            Framing::Empty | Framing::Length(0) if self.buf.is_empty() => Some(None),
            Framing::Length(n) if self.buf.len() as u64 == n => {
                Some(Some(self.buf.split().freeze()))
            }
            _ => None,
        }
    }

    /// Reads more of the response into the buffer; 0 when the backend closed.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        self.buf.reserve(READ_SIZE);
        tokio_util::io::poll_read_buf(Pin::new(&mut self.io), cx, &mut self.buf)
    }
}

#[cfg(test)]
mod tests;
