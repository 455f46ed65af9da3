//! Pylon's own HTTP/1 server codec, for the plain request: a head in origin form without
//! `Transfer-Encoding`, `Expect` or `Upgrade`, and a body of at most 16 KiB read whole with
//! it. The request is read, answered and written in the connection's own task, with one read
//! buffer and one write buffer reused for the connection's life, and the response head goes
//! out with the body in one write.
//!
//! Everything else goes to hyper, with the connection: a malformed or oversized head (hyper
//! answers it, and `io.rs` shapes the answer), HTTP/2's preface, an upgrade, a streamed or
//! larger body, an expectation. The codec hands over the bytes it read and did not take
//! (`Rewind`), and hyper serves the connection from that request on. hyper's server cost
//! about 12 000 instructions a request, a third of a proxied request (bench/README.md).

mod encode;
mod head;
mod rewind;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;

use bytes::{Bytes, BytesMut};
use http::header::CONNECTION;
use http::{HeaderValue, Method, StatusCode};
use http_body::{Body, Frame};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::conn::ConnState;
use super::service::Service;
use crate::backend::client::HttpClient;
use crate::request::body::{BodyError, GatewayBody};
use crate::request::client::Peer;
use crate::response::{Answer, Fields};
use encode::{Asked, Encoder, Length};
use head::Read;
pub(super) use rewind::Rewind;

/// The read buffer's first size, and the room made before each read.
const READ_SIZE: usize = 8 * 1024;
const MIN_READ: usize = 1024;
/// Body frames up to this size are copied behind the head, to go out in one write.
const COPY_MAX: usize = 16 * 1024;
/// A write buffer grown past this is not kept for the next response.
const KEEP_OUT: usize = 64 * 1024;

/// How the codec left the connection.
pub(super) enum Ended<I> {
    Closed,
    /// hyper serves it from here, reading these bytes first.
    Hyper(I, Bytes),
}

/// The connection the codec serves, and what it answers with.
pub(super) struct Conn<'a, S> {
    pub(super) gateway: &'a S,
    /// Set at shutdown: responses then carry `Connection: close`.
    pub(super) draining: &'a AtomicBool,
    pub(super) client: &'a HttpClient,
    pub(super) peer: &'a Peer,
    pub(super) secure: bool,
    pub(super) state: &'a Arc<ConnState>,
    /// The largest request head accepted.
    pub(super) max_head: usize,
}

/// Serves requests on `io` until it closes, or until a request this codec does not take.
pub(super) async fn serve<S, I>(conn: Conn<'_, S>, mut io: I) -> Ended<I>
where
    S: Service,
    I: AsyncRead + AsyncWrite + Unpin + Send,
{
    let mut parser = head::Parser::new(conn.max_head);
    let mut parts = head::empty_parts();
    let mut buf = BytesMut::with_capacity(READ_SIZE);
    let mut out = Vec::with_capacity(1024);
    // Registered once for the connection's life: the accept loop's way to close it (header
    // and idle timeouts, the connection cap, shutdown).
    let closed = conn.state.close.notified();
    let mut closed = std::pin::pin!(closed);
    loop {
        let head = loop {
            if !buf.is_empty() {
                match parser.read(&buf) {
                    Read::Ours(head) => break head,
                    Read::Hyper => return Ended::Hyper(io, buf.freeze()),
                    Read::Partial => {}
                }
            }
            if !fill(&mut io, &mut buf, closed.as_mut()).await {
                return Ended::Closed;
            }
        };
        // The body, under the header timeout like the head: the request has not begun.
        while buf.len() < head.whole_len() {
            if !fill(&mut io, &mut buf, closed.as_mut()).await {
                return Ended::Closed;
            }
        }
        let Some(body) = parser.take(&head, &mut buf, &mut parts) else {
            return Ended::Hyper(io, buf.freeze());
        };
        let asked = Asked {
            head: head.method() == Method::HEAD,
            version: head.version(),
            keep_alive: head.keep_alive,
        };
        let in_flight = conn.state.begin();
        let response = {
            // Pinned where it is made, not passed down: the future is kilobytes, and each move
            // copies it.
            let mut handled = std::pin::pin!(conn.gateway.handle(
                conn.client,
                &mut parts,
                body,
                conn.peer,
                conn.secure
            ));
            // Unless the client closes its connection first, as hyper's server does: a request
            // nobody waits for is dropped, and with it its backend call. Bytes that arrive
            // meanwhile (the next request, pipelined) stay in `buf`, and the watch ends.
            let watch = buf.is_empty();
            tokio::select! {
                biased;
                response = &mut handled => Some(response),
                read = io.read_buf(&mut buf), if watch => match read {
                    Ok(n) if n > 0 => Some(handled.await),
                    _ => None,
                },
            }
        };
        let Some(mut response) = response else {
            tracing::debug!("the client closed its connection before its response; dropped");
            return Ended::Closed;
        };
        head::release(&mut parts);
        if conn.draining.load(Ordering::Acquire) {
            response
                .headers
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }
        let reusable = respond(&mut io, &mut out, response, asked).await;
        drop(in_flight);
        if out.capacity() > KEEP_OUT {
            out = Vec::with_capacity(1024);
        }
        if !reusable {
            let _ = io.shutdown().await;
            return Ended::Closed;
        }
    }
}

/// A whole response written for a connection that closes after it, outside the codec's loop
/// (the connection cap's 503, the gateway's errors in place of hyper's): the same head rules,
/// with `connection: close`.
pub(super) fn closing_response(status: StatusCode, mut headers: Fields, body: &[u8]) -> Vec<u8> {
    headers.insert(CONNECTION, HeaderValue::from_static("close"));
    let mut out = Vec::with_capacity(256 + body.len());
    let asked = Asked {
        head: false,
        version: http::Version::HTTP_11,
        keep_alive: false,
    };
    encode::head(
        &mut out,
        status,
        &headers,
        Length::Known(body.len() as u64),
        asked,
    );
    out.extend_from_slice(body);
    out
}

/// Reads more of the request into `buf`; false when the client closed, the read failed, or
/// the accept loop asked the connection to close.
async fn fill<I: AsyncRead + Unpin>(
    io: &mut I,
    buf: &mut BytesMut,
    closed: Pin<&mut tokio::sync::futures::Notified<'_>>,
) -> bool {
    if buf.capacity() - buf.len() < MIN_READ {
        // Takes back the buffer's space once the requests that shared it are gone.
        buf.reserve(READ_SIZE);
    }
    tokio::select! {
        biased;
        read = io.read_buf(buf) => matches!(read, Ok(n) if n > 0),
        () = closed => false,
    }
}

/// Writes `response`; whether the connection can take another request after it.
async fn respond<I: AsyncWrite + Unpin>(
    io: &mut I,
    out: &mut Vec<u8>,
    response: Answer,
    asked: Asked,
) -> bool {
    let Answer {
        status,
        headers,
        mut body,
        ..
    } = response;
    let length = if body.is_end_stream() {
        Length::None
    } else {
        match body.size_hint().exact() {
            Some(n) => Length::Known(n),
            None => Length::Unknown,
        }
    };
    out.clear();
    let framing = encode::head(out, status, &headers, length, asked);
    drop(headers);
    let complete = match framing.encoder {
        // Nothing to write (HEAD, 204, 304, or empty): the body is dropped unread.
        Encoder::Length(0) => Ok(true),
        encoder => write_body(io, out, &mut body, encoder).await,
    };
    drop(body);
    let sent = match complete {
        Ok(complete) => send(io, out).await.map(|()| complete),
        Err(e) => Err(e),
    };
    match sent {
        Ok(complete) => complete && !framing.last && io.flush().await.is_ok(),
        Err(e) => {
            tracing::debug!(error = %e, "response not written whole; closing the connection");
            false
        }
    }
}

/// Writes the body's frames in `encoder`'s framing; `Ok(false)` when the body failed or did
/// not match its length, so the connection cannot carry another response.
async fn write_body<I: AsyncWrite + Unpin>(
    io: &mut I,
    out: &mut Vec<u8>,
    body: &mut GatewayBody,
    encoder: Encoder,
) -> std::io::Result<bool> {
    let mut left = match encoder {
        Encoder::Length(n) => n,
        Encoder::Chunked | Encoder::CloseDelimited => u64::MAX,
    };
    while !body.is_end_stream() {
        let frame = match poll_once(body).await {
            Poll::Ready(frame) => frame,
            Poll::Pending => {
                // The body is not ready: what is written so far goes out while it waits.
                send(io, out).await?;
                std::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await
            }
        };
        let data = match frame {
            None => break,
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => data,
                // Trailers are not passed on, as hyper's server does not without `TE: trailers`.
                Err(_) => continue,
            },
            Some(Err(e)) => {
                tracing::debug!(error = %e, "response body failed; closing the connection");
                send(io, out).await?;
                return Ok(false);
            }
        };
        if data.is_empty() {
            continue;
        }
        let mut data = data;
        if let Encoder::Length(_) = encoder {
            if data.len() as u64 > left {
                // More than the head announced: the rest cannot be framed.
                data.truncate(left as usize);
                put(io, out, &data).await?;
                send(io, out).await?;
                return Ok(false);
            }
            left -= data.len() as u64;
        }
        if encoder == Encoder::Chunked {
            encode::chunk_start(out, data.len());
            put(io, out, &data).await?;
            out.extend_from_slice(b"\r\n");
        } else {
            put(io, out, &data).await?;
        }
    }
    Ok(match encoder {
        Encoder::Length(_) => left == 0,
        Encoder::Chunked => {
            out.extend_from_slice(encode::CHUNKED_END);
            true
        }
        Encoder::CloseDelimited => true,
    })
}

type Polled = Option<Result<Frame<Bytes>, BodyError>>;

/// One poll of the body: a frame if it has one now.
fn poll_once(body: &mut GatewayBody) -> impl Future<Output = Poll<Polled>> + '_ {
    std::future::poll_fn(move |cx| Poll::Ready(Pin::new(&mut *body).poll_frame(cx)))
}

/// Queues `data` behind what `out` holds; a large piece goes out directly after it.
async fn put<I: AsyncWrite + Unpin>(
    io: &mut I,
    out: &mut Vec<u8>,
    data: &[u8],
) -> std::io::Result<()> {
    if data.len() <= COPY_MAX {
        out.extend_from_slice(data);
        return Ok(());
    }
    send(io, out).await?;
    io.write_all(data).await
}

async fn send<I: AsyncWrite + Unpin>(io: &mut I, out: &mut Vec<u8>) -> std::io::Result<()> {
    if !out.is_empty() {
        io.write_all(out).await?;
        out.clear();
    }
    Ok(())
}

#[cfg(test)]
mod tests;
