//! The client socket as hyper sees it. hyper answers requests it cannot parse (a malformed
//! request line, a head over the limit, a URI too long) by itself, with a bare 400, 431 or 414
//! and no hook to shape it. Those answers are the only responses hyper writes while no request
//! of the connection is in flight, and the only ones without `X-Ca-Request-Id`; this wrapper
//! recognises them there and writes the gateway's own error in their place, so every error
//! the gateway returns looks the same.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::Response;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::conn::ConnState;
use crate::error::{self, GatewayError};
use crate::request::body::GatewayBody;
use crate::request::id::RequestId;
use crate::response::Fields;

/// `S`: the TCP stream, or the TLS stream over it (interception works on plaintext).
pub(crate) struct ConnIo<S> {
    inner: S,
    state: Arc<ConnState>,
    peer: SocketAddr,
    /// The gateway's error written in place of hyper's, and how much of it is out.
    replacement: Option<(Vec<u8>, usize)>,
}

impl<S: AsyncWrite + Unpin> ConnIo<S> {
    pub(crate) fn new(inner: S, state: Arc<ConnState>, peer: SocketAddr) -> Self {
        ConnIo {
            inner,
            state,
            peer,
            replacement: None,
        }
    }

    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, written)) = &mut self.replacement {
            if *written == bytes.len() {
                self.replacement = None;
                break;
            }
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        Poll::Ready(Ok(()))
    }

    /// Takes `buf` in place of hyper's automatic error response when it is one.
    fn intercept(&mut self, buf: &[u8]) -> bool {
        if !self.state.is_idle() || !buf.starts_with(b"HTTP/1.") {
            return false;
        }
        match replacement_for(buf, self.peer) {
            Some(bytes) => {
                self.replacement = Some((bytes, 0));
                true
            }
            None => false,
        }
    }
}

/// The gateway's error for the automatic response in `buf`, if `buf` is exactly one.
fn replacement_for(buf: &[u8], peer: SocketAddr) -> Option<Vec<u8>> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    if end + 4 != buf.len() {
        return None;
    }
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    if head.to_ascii_lowercase().contains("\r\nx-ca-request-id:") {
        return None;
    }
    let status: u16 = head.get(9..12)?.parse().ok()?;
    let error = match status {
        431 => GatewayError::HeadTooLarge,
        414 => GatewayError::UriTooLong,
        400 => GatewayError::MalformedRequest,
        _ => return None,
    };
    let id = RequestId::generate();
    tracing::info!(
        target: "pylon::access",
        request_id = id.as_str(), %peer, status, error = error.to_string(),
        "request rejected"
    );
    Some(to_wire(error::render(&error, &id)))
}

/// An HTTP/1.1 response with a complete body, as bytes, closing the connection.
pub(crate) fn to_wire(response: Response<GatewayBody>) -> Vec<u8> {
    let (parts, body) = response.into_parts();
    let body = match body {
        GatewayBody::Full(bytes) => bytes.unwrap_or_default(),
        GatewayBody::Stream(_) | GatewayBody::Counted(_) => bytes::Bytes::new(),
    };
    super::h1::closing_response(parts.status, Fields::from(parts.headers), &body)
}

impl<S: AsyncRead + Unpin> AsyncRead for ConnIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.state.bytes_arrived();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ConnIo<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_replacement(cx))?;
        if this.intercept(buf) {
            // hyper's bytes count as written; ours go out here or on flush.
            let _ = this.poll_replacement(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_replacement(cx))?;
        let mut filled = bufs.iter().filter(|b| !b.is_empty());
        if let (Some(only), None) = (filled.next(), filled.next())
            && this.intercept(only)
        {
            let _ = this.poll_replacement(cx)?;
            return Poll::Ready(Ok(only.len()));
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_replacement(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_replacement(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 9))
    }

    #[test]
    fn hyper_automatic_errors_are_replaced_by_gateway_errors() {
        let hyper_431 = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Tue, 01 Dec 2026 03:00:00 GMT\r\n\r\n";
        let out = String::from_utf8(replacement_for(hyper_431, peer()).unwrap()).unwrap();
        assert!(
            out.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
            "{out}"
        );
        assert!(out.contains("x-ca-request-id: "), "{out}");
        assert!(out.contains("x-ca-error-code: R431HL\r\n"), "{out}");
        assert!(out.contains("connection: close\r\n"), "{out}");
        let body = out.split("\r\n\r\n").nth(1).unwrap();
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["code"], "R431HL");
        assert!(out.contains(&format!("content-length: {}\r\n", body.len())));
    }

    #[test]
    fn the_gateways_own_responses_and_partial_heads_pass() {
        let ours = b"HTTP/1.1 400 Bad Request\r\nx-ca-request-id: X\r\ncontent-length: 0\r\n\r\n";
        assert!(replacement_for(ours, peer()).is_none());
        let with_body = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\nhi";
        assert!(replacement_for(with_body, peer()).is_none());
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert!(replacement_for(ok, peer()).is_none());
    }
}
