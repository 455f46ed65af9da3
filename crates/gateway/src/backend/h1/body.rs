//! The response body, read from the connection as the client's side asks for it. The
//! connection goes home (back to the pool) the moment the body's last byte is taken, if the
//! response allows it and the backend sent nothing past it; dropped before that, the
//! connection closes.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use super::Conn;
use super::chunked::{Decoder, Step};
use super::error::Error;
use super::head::Framing;

/// Where a connection goes when its response has been read: the pool, for the next request
/// to the same address.
pub(crate) trait Home: Send + Sync + Unpin + 'static {
    fn put(self, conn: Conn);
}

enum State {
    Length(u64),
    Chunked(Decoder),
    Close,
    Done,
}

pub(crate) struct ResponseBody<H> {
    conn: Option<Conn>,
    state: State,
    reusable: bool,
    home: Option<H>,
}

impl<H: Home> ResponseBody<H> {
    pub(crate) fn new(conn: Conn, framing: Framing, reusable: bool, home: H) -> Self {
        let state = match framing {
            Framing::Empty | Framing::Length(0) => State::Done,
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => State::Chunked(Decoder::new()),
            Framing::Close => State::Close,
        };
        let mut body = ResponseBody {
            conn: Some(conn),
            state,
            reusable,
            home: Some(home),
        };
        if matches!(body.state, State::Done) {
            body.finish();
        }
        body
    }

    /// The body has ended: the connection goes home if it can carry another request.
    fn finish(&mut self) {
        self.state = State::Done;
        if let Some(conn) = self.conn.take()
            && self.reusable
            && conn.buf.is_empty()
            && let Some(home) = self.home.take()
        {
            home.put(conn);
        }
    }

    fn fail(&mut self, error: Error) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        self.state = State::Done;
        self.conn = None;
        Poll::Ready(Some(Err(error)))
    }
}

impl<H: Home> Body for ResponseBody<H> {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = self.get_mut();
        loop {
            let Some(conn) = this.conn.as_mut() else {
                return Poll::Ready(None);
            };
            match &mut this.state {
                State::Done => return Poll::Ready(None),
                State::Length(remaining) => {
                    if !conn.buf.is_empty() {
                        let n = (*remaining).min(conn.buf.len() as u64);
                        *remaining -= n;
                        // `n` is at most the buffer's length.
                        let data = conn.buf.split_to(n as usize).freeze();
                        if *remaining == 0 {
                            // Home before the last bytes are passed on, so that a client
                            // sending its next request at once finds the connection there.
                            this.finish();
                        }
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                }
                State::Chunked(decoder) => match decoder.step(&mut conn.buf) {
                    Ok(Step::Data(data)) => return Poll::Ready(Some(Ok(Frame::data(data)))),
                    Ok(Step::Trailers(trailers)) => {
                        this.finish();
                        return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
                    }
                    Ok(Step::End) => {
                        this.finish();
                        return Poll::Ready(None);
                    }
                    Ok(Step::More) => {}
                    Err(e) => return this.fail(e),
                },
                State::Close => {
                    if !conn.buf.is_empty() {
                        let data = conn.buf.split().freeze();
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                }
            }
            match ready!(conn.poll_fill(cx)) {
                Ok(0) if matches!(this.state, State::Close) => {
                    this.finish();
                    return Poll::Ready(None);
                }
                Ok(0) => return this.fail(Error::BodyCut),
                Ok(_) => {}
                Err(e) => return this.fail(Error::Io(e)),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.state, State::Done)
    }

    fn size_hint(&self) -> SizeHint {
        match self.state {
            State::Length(n) => SizeHint::with_exact(n),
            State::Done => SizeHint::with_exact(0),
            _ => SizeHint::default(),
        }
    }
}

impl<H> std::fmt::Debug for ResponseBody<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.state {
            State::Length(n) => format!("{n} bytes to go"),
            State::Chunked(_) => "chunked".into(),
            State::Close => "until closed".into(),
            State::Done => "done".into(),
        };
        f.debug_struct("ResponseBody")
            .field("state", &state)
            .finish()
    }
}
