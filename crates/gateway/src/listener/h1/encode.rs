//! Writing a response head, and the framing its body goes out with. The rules are hyper's
//! server's (`proto/h1/role.rs`), so that a client sees the same bytes whichever of the two
//! served it: a body of known length gets `content-length`, one of unknown length is chunked
//! (or, to an HTTP/1.0 client, ends with the connection), and HEAD, 204 and 304 answers carry
//! no body.

use std::cell::RefCell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{CONNECTION, CONTENT_LENGTH, DATE, TRAILER, TRANSFER_ENCODING};
use http::{StatusCode, Version};

use crate::request::headers::{ConnectionOptions, content_length, ends_chunked};
use crate::response::Fields;

/// What the body's `size_hint` and `is_end_stream` say of its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Length {
    /// No body at all.
    None,
    Known(u64),
    Unknown,
}

/// How the body's bytes go out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Encoder {
    /// Exactly this many bytes (zero: the body is not written).
    Length(u64),
    Chunked,
    /// Until the body ends, and then the connection closes.
    CloseDelimited,
}

/// The head's framing: how the body goes out, and whether the connection ends after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Framing {
    pub(super) encoder: Encoder,
    pub(super) last: bool,
}

/// What the request said that shapes the response head.
#[derive(Debug, Clone, Copy)]
pub(super) struct Asked {
    pub(super) head: bool,
    pub(super) version: Version,
    pub(super) keep_alive: bool,
}

/// Writes the status line and `headers` into `out`, with the framing fields the body
/// needs and `date` when the response has none.
pub(super) fn head(
    out: &mut Vec<u8>,
    status: StatusCode,
    headers: &Fields,
    body: Length,
    asked: Asked,
) -> Framing {
    if status.is_informational() {
        // Interim responses do not come through this codec (an upgrade goes to hyper); one
        // here would be a bug, answered as hyper answers it.
        out.extend_from_slice(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n");
        finish_head(out, false);
        return Framing {
            encoder: Encoder::Length(0),
            last: true,
        };
    }
    let http10 = asked.version == Version::HTTP_10;
    let mut last = !asked.keep_alive;
    status_line(out, status, http10);
    let can_chunk = !http10 && can_have_body(asked.head, status);
    let mut encoder = None;
    let mut wrote_date = false;
    let mut said_keep_alive = false;
    for (name, value) in headers.iter() {
        if name == CONTENT_LENGTH {
            match body {
                // Trusted to agree with the body, as hyper does.
                Length::Known(n) if encoder.is_none() => encoder = Some(Encoder::Length(n)),
                Length::Unknown if encoder.is_none() => {
                    match content_length(value.as_bytes().trim_ascii()) {
                        Some(n) => encoder = Some(Encoder::Length(n)),
                        None => continue,
                    }
                }
                Length::None if asked.head && encoder.is_none() => {
                    encoder = Some(Encoder::Length(0));
                }
                _ => continue,
            }
        } else if name == TRANSFER_ENCODING {
            if !can_chunk || matches!(encoder, Some(Encoder::Length(_))) {
                continue;
            }
            encoder = Some(Encoder::Chunked);
            field(out, name.as_str(), value.as_bytes());
            if !ends_chunked(value.as_bytes()) {
                // `chunked` must be the last coding: it is what frames the body.
                out.truncate(out.len() - 2);
                out.extend_from_slice(b", chunked\r\n");
            }
            continue;
        } else if name == CONNECTION {
            let options = ConnectionOptions::of(value.as_bytes());
            last |= options.close;
            said_keep_alive |= options.keep_alive;
        } else if name == DATE {
            wrote_date = true;
        } else if name == TRAILER && !can_chunk {
            continue;
        }
        field(out, name.as_str(), value.as_bytes());
    }
    if asked.version == Version::HTTP_10 && !last && !said_keep_alive {
        // An HTTP/1.0 client closes unless told otherwise.
        out.extend_from_slice(b"connection: keep-alive\r\n");
    }
    let encoder = match encoder {
        Some(encoder) => encoder,
        None => match body {
            Length::Unknown if can_chunk => {
                out.extend_from_slice(b"transfer-encoding: chunked\r\n");
                Encoder::Chunked
            }
            Length::Unknown => Encoder::CloseDelimited,
            Length::None | Length::Known(0) => {
                if can_have_length(status) && !asked.head {
                    out.extend_from_slice(b"content-length: 0\r\n");
                }
                Encoder::Length(0)
            }
            Length::Known(n) if can_have_length(status) => {
                out.extend_from_slice(b"content-length: ");
                out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
                out.extend_from_slice(b"\r\n");
                Encoder::Length(n)
            }
            Length::Known(_) => Encoder::Length(0),
        },
    };
    let encoder = if can_have_body(asked.head, status) {
        encoder
    } else {
        Encoder::Length(0)
    };
    finish_head(out, !wrote_date);
    Framing {
        last: last || encoder == Encoder::CloseDelimited,
        encoder,
    }
}

fn status_line(out: &mut Vec<u8>, status: StatusCode, http10: bool) {
    if !http10 && status == StatusCode::OK {
        out.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
        return;
    }
    out.extend_from_slice(if http10 { b"HTTP/1.0 " } else { b"HTTP/1.1 " });
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    // A reason must be written: many parsers expect one.
    out.extend_from_slice(status.canonical_reason().unwrap_or("<none>").as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn field(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

fn finish_head(out: &mut Vec<u8>, with_date: bool) {
    if with_date {
        out.extend_from_slice(b"date: ");
        DATE_NOW.with(|date| out.extend_from_slice(date.borrow_mut().now()));
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// HEAD answers, 1xx, 204 and 304 carry no body.
fn can_have_body(head: bool, status: StatusCode) -> bool {
    !head && can_have_length(status)
}

fn can_have_length(status: StatusCode) -> bool {
    !status.is_informational()
        && status != StatusCode::NO_CONTENT
        && status != StatusCode::NOT_MODIFIED
}

/// The start of a chunk of `len` bytes.
pub(super) fn chunk_start(out: &mut Vec<u8>, len: usize) {
    let mut hex = [0u8; 16];
    let mut at = hex.len();
    let mut n = len;
    loop {
        at -= 1;
        hex[at] = b"0123456789abcdef"[n & 0xf];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&hex[at..]);
    out.extend_from_slice(b"\r\n");
}

/// The last chunk, without trailers.
pub(super) const CHUNKED_END: &[u8] = b"0\r\n\r\n";

thread_local! {
    static DATE_NOW: RefCell<CachedDate> = RefCell::new(CachedDate::default());
}

/// The `date` value, formatted once a second per thread, as hyper does.
#[derive(Default)]
struct CachedDate {
    second: u64,
    text: Vec<u8>,
}

impl CachedDate {
    fn now(&mut self) -> &[u8] {
        let now = SystemTime::now();
        let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if second != self.second || self.text.is_empty() {
            self.second = second;
            let whole = UNIX_EPOCH + Duration::from_secs(second);
            self.text = httpdate::fmt_http_date(whole).into_bytes();
        }
        &self.text
    }
}

#[cfg(test)]
#[path = "encode_tests.rs"]
mod tests;
