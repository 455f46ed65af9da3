//! Reading a request head, and deciding whether this codec takes the request or hands the
//! connection to hyper.
//!
//! The codec takes the plain case and only that: an origin-form target, HTTP/1.0 or 1.1, no
//! `Transfer-Encoding`, `Expect` or `Upgrade`, at most one `Content-Length` of plain digits,
//! and a body small enough to read whole with the head. Everything else, every malformed head
//! included, goes to hyper unread, which answers it as it always has.

use std::mem::MaybeUninit;

use bytes::{Bytes, BytesMut};
use http::header::{CONNECTION, CONTENT_LENGTH, EXPECT, TRANSFER_ENCODING, UPGRADE};
use http::request::Parts;
use http::{HeaderMap, Method, Request, Uri, Version};

use crate::request::headers::{
    ConnectionOptions, FieldSpan, content_length, field_name, field_value,
};
use crate::request::inbound::ClientBody;

/// httparse's slots; a head with more fields goes to hyper (which answers 431).
const MAX_HEADERS: usize = 100;
/// The largest body read whole with its head: the size Pylon's own backend client sends
/// whole. A larger body streams, through hyper.
pub(super) const MAX_BODY: u64 = crate::backend::h1::MAX_BODY as u64;

/// What the head at the start of the buffer is.
#[derive(Debug)]
pub(super) enum Read {
    /// Not complete yet.
    Partial,
    /// A request this codec takes: its head is `len` bytes, its body the next `body` bytes.
    Ours(Head),
    /// A request or bytes hyper must have, from the start of the buffer.
    Hyper,
}

/// A request head this codec takes.
#[derive(Debug)]
pub(super) struct Head {
    len: usize,
    pub(super) body: usize,
    method: Method,
    version: Version,
    /// The client keeps the connection open after this exchange (HTTP/1.1 without `close`,
    /// HTTP/1.0 with `keep-alive`).
    pub(super) keep_alive: bool,
    /// Where the target lies in the head.
    target: (u32, u32),
}

/// A connection's request reader, with what it reuses from one request to the next: the
/// fields' positions.
pub(super) struct Parser {
    max_head: usize,
    fields: Vec<FieldSpan>,
}

impl Parser {
    /// `max_head`: the largest head the gateway accepts.
    pub(super) fn new(max_head: usize) -> Self {
        Parser {
            max_head,
            fields: Vec::new(),
        }
    }

    /// Looks at the head at the start of `buf`; takes nothing out of it.
    pub(super) fn read(&mut self, buf: &[u8]) -> Read {
        read(buf, self.max_head, &mut self.fields)
    }

    /// Takes the head and its body out of `buf` (which must hold both) as the request the
    /// pipeline reads: the head into `parts` (emptied since the last request, `release`), the
    /// body returned. `None` when the target or a field is not what a request may carry
    /// (httparse is laxer than `http` in places): `buf` is then as it was, for hyper.
    pub(super) fn take(
        &mut self,
        head: &Head,
        buf: &mut BytesMut,
        parts: &mut Parts,
    ) -> Option<ClientBody> {
        let bytes = buf.split_to(head.len).freeze();
        let body = match head.body {
            0 => Bytes::new(),
            n => buf.split_to(n).freeze(),
        };
        match head.build(&bytes, &body, &self.fields, parts) {
            Some(body) => Some(body),
            None => {
                let mut whole = BytesMut::with_capacity(bytes.len() + body.len() + buf.len());
                whole.extend_from_slice(&bytes);
                whole.extend_from_slice(&body);
                whole.extend_from_slice(buf);
                *buf = whole;
                None
            }
        }
    }
}

/// The parts a connection fills for each of its requests: one allocation of a header map for
/// the connection's life, not one a request, and a request moved by reference, not by value,
/// into the pipeline.
pub(super) fn empty_parts() -> Parts {
    Request::new(()).into_parts().0
}

/// A map grown past this many fields is not kept for the connection's next request.
const KEEP_MAP: usize = 64;

/// Empties `parts` once its request is done: nothing of it (the header values share the read
/// buffer's bytes) outlives the request, and the map's room is kept.
pub(super) fn release(parts: &mut Parts) {
    if parts.headers.capacity() > KEEP_MAP {
        parts.headers = HeaderMap::new();
    } else {
        parts.headers.clear();
    }
    parts.uri = Uri::default();
    parts.extensions.clear();
}

fn read(buf: &[u8], max_head: usize, fields: &mut Vec<FieldSpan>) -> Read {
    // Left uninitialised: httparse fills what it parses.
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut []);
    let len = match httparse::ParserConfig::default().parse_request_with_uninit_headers(
        &mut request,
        buf,
        &mut slots,
    ) {
        Ok(httparse::Status::Complete(len)) if len <= max_head => len,
        Ok(httparse::Status::Partial) if buf.len() < max_head => return Read::Partial,
        _ => return Read::Hyper,
    };
    let (Some(method), Some(target), Some(minor)) = (request.method, request.path, request.version)
    else {
        return Read::Hyper;
    };
    let Ok(method) = Method::from_bytes(method.as_bytes()) else {
        return Read::Hyper;
    };
    if method == Method::CONNECT || !target.starts_with('/') {
        return Read::Hyper;
    }
    let version = if minor == 1 {
        Version::HTTP_11
    } else {
        Version::HTTP_10
    };
    let mut keep_alive = version == Version::HTTP_11;
    let mut close = false;
    let mut length: Option<u64> = None;
    let base = buf.as_ptr() as usize;
    // Offsets within a head of at most `max_head` bytes, which a u32 holds.
    let span = |s: &[u8]| ((s.as_ptr() as usize - base) as u32, s.len() as u32);
    fields.clear();
    for field in request.headers.iter() {
        let name = field.name.as_bytes();
        if name.eq_ignore_ascii_case(TRANSFER_ENCODING.as_str().as_bytes())
            || name.eq_ignore_ascii_case(EXPECT.as_str().as_bytes())
            || name.eq_ignore_ascii_case(UPGRADE.as_str().as_bytes())
        {
            return Read::Hyper;
        }
        if name.eq_ignore_ascii_case(CONTENT_LENGTH.as_str().as_bytes()) {
            match (length, content_length(field.value)) {
                (None, Some(n)) => length = Some(n),
                _ => return Read::Hyper,
            }
        } else if name.eq_ignore_ascii_case(CONNECTION.as_str().as_bytes()) {
            // Once any line asks to close, a later `keep-alive` does not undo it.
            let options = ConnectionOptions::of(field.value);
            close |= options.close;
            keep_alive |= options.keep_alive;
        }
        let (name_at, name_len) = span(name);
        let (value_at, value_len) = span(field.value);
        fields.push((name_at, name_len, value_at, value_len));
    }
    let body = length.unwrap_or(0);
    if body > MAX_BODY {
        return Read::Hyper;
    }
    Read::Ours(Head {
        len,
        body: body as usize,
        method,
        version,
        keep_alive: keep_alive && !close,
        target: span(target.as_bytes()),
    })
}

impl Head {
    fn build(
        &self,
        head: &Bytes,
        body: &Bytes,
        fields: &[FieldSpan],
        parts: &mut Parts,
    ) -> Option<ClientBody> {
        let slice = |at: u32, len: u32| head.slice(at as usize..(at + len) as usize);
        let (at, len) = self.target;
        parts.uri = Uri::from_maybe_shared(slice(at, len)).ok()?;
        let headers = &mut parts.headers;
        if !headers.is_empty() {
            headers.clear();
        }
        headers.reserve(fields.len());
        for &(name_at, name_len, value_at, value_len) in fields {
            let name = &head[name_at as usize..(name_at + name_len) as usize];
            let name = field_name(name)?;
            let value = field_value(slice(value_at, value_len))?;
            headers.append(name, value);
        }
        parts.method = self.method.clone();
        parts.version = self.version;
        Some(ClientBody::Whole((!body.is_empty()).then(|| body.clone())))
    }

    /// The head's and the body's bytes.
    pub(super) fn whole_len(&self) -> usize {
        self.len + self.body
    }

    pub(super) fn method(&self) -> &Method {
        &self.method
    }

    pub(super) fn version(&self) -> Version {
        self.version
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use http::{Method, Version};
    use http_body::Body;

    use super::*;

    const MAX: usize = 8 * 1024;

    fn ours(bytes: &[u8]) -> Head {
        match Parser::new(MAX).read(bytes) {
            Read::Ours(head) => head,
            other => panic!("{other:?} for {:?}", String::from_utf8_lossy(bytes)),
        }
    }

    fn hyper(bytes: &[u8]) {
        assert!(
            matches!(Parser::new(MAX).read(bytes), Read::Hyper),
            "expected hyper's for {:?}",
            String::from_utf8_lossy(bytes)
        );
    }

    #[test]
    fn a_plain_request_is_taken_and_what_follows_stays() {
        let wire = b"GET /a/b?x=1 HTTP/1.1\r\nHost: api.example\r\nX-Ca-Key: k\r\nx-ca-key: k2\r\n\r\nGET /next";
        let mut parser = Parser::new(MAX);
        let Read::Ours(head) = parser.read(wire) else {
            panic!("taken by the codec");
        };
        assert!(head.keep_alive);
        assert_eq!(head.whole_len(), wire.len() - b"GET /next".len());
        let mut buf = BytesMut::from(&wire[..]);
        let mut parts = empty_parts();
        let body = parser.take(&head, &mut buf, &mut parts).unwrap();
        assert_eq!(&buf[..], b"GET /next");
        assert_eq!(parts.method, Method::GET);
        assert_eq!(parts.version, Version::HTTP_11);
        assert_eq!(parts.uri.path(), "/a/b");
        assert_eq!(parts.uri.query(), Some("x=1"));
        assert_eq!(parts.headers["host"], "api.example");
        let keys: Vec<_> = parts.headers.get_all("x-ca-key").iter().collect();
        assert_eq!(keys, ["k", "k2"]);
        assert!(body.is_end_stream());
        assert_eq!(body.size_hint().exact(), Some(0));
    }

    #[test]
    fn the_parts_of_one_request_are_not_the_next_ones() {
        let wire = b"POST /one?a=1 HTTP/1.1\r\nX-One: 1\r\nX-Both: a\r\n\r\nGET /two HTTP/1.0\r\nX-Both: b\r\n\r\n";
        let mut parser = Parser::new(MAX);
        let mut buf = BytesMut::from(&wire[..]);
        let mut parts = empty_parts();
        let Read::Ours(head) = parser.read(&buf) else {
            panic!("taken by the codec");
        };
        parser.take(&head, &mut buf, &mut parts).unwrap();
        parts.extensions.insert(7u8);
        release(&mut parts);
        assert!(parts.headers.is_empty() && parts.extensions.is_empty());
        assert_eq!(
            parts.uri, "/",
            "nothing of the last request's bytes is kept"
        );
        let Read::Ours(head) = parser.read(&buf) else {
            panic!("taken by the codec");
        };
        parser.take(&head, &mut buf, &mut parts).unwrap();
        assert_eq!(parts.method, Method::GET);
        assert_eq!(parts.version, Version::HTTP_10);
        assert_eq!(parts.uri, "/two");
        let fields: Vec<_> = parts
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()))
            .collect();
        assert_eq!(fields, [("x-both", &b"b"[..])]);
        // A request that left a large map: the next one starts with a small one.
        for i in 0..100 {
            parts.headers.append(
                http::HeaderName::try_from(format!("x-{i}")).unwrap(),
                http::HeaderValue::from_static("v"),
            );
        }
        release(&mut parts);
        assert!(parts.headers.capacity() <= KEEP_MAP);
    }

    #[test]
    fn a_small_body_is_read_whole_with_its_head() {
        let wire = b"POST /f HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloGET";
        let mut parser = Parser::new(MAX);
        let Read::Ours(head) = parser.read(wire) else {
            panic!("taken by the codec");
        };
        assert_eq!(head.body, 5);
        let mut buf = BytesMut::from(&wire[..]);
        let body = parser.take(&head, &mut buf, &mut empty_parts()).unwrap();
        assert_eq!(&buf[..], b"GET");
        assert_eq!(body.size_hint().exact(), Some(5));
        let ClientBody::Whole(Some(body)) = body else {
            panic!("a whole body");
        };
        assert_eq!(&body[..], b"hello");
    }

    #[test]
    fn an_incomplete_head_waits_until_it_is_too_large() {
        assert!(matches!(
            Parser::new(MAX).read(b"GET / HTTP/1.1\r\nHost: h\r\n"),
            Read::Partial
        ));
        let mut long = b"GET / HTTP/1.1\r\nX-Long: ".to_vec();
        long.resize(MAX, b'a');
        hyper(&long);
        // Complete, but larger than the limit.
        let mut complete = long.clone();
        complete.extend_from_slice(b"\r\n\r\n");
        hyper(&complete);
    }

    #[test]
    fn what_the_codec_does_not_take_goes_to_hyper() {
        for wire in [
            &b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            // Any spelling of a framing field is seen: one missed would let Content-Length
            // frame a body the backend reads as chunked.
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\ntRaNsFeR-eNcOdInG: chunked\r\n\r\n",
            b"POST / HTTP/1.1\r\ncontent-length: 3\r\nCONTENT-LENGTH: 4\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding : chunked\r\nContent-Length: 3\r\n\r\n",
            b"POST / HTTP/1.1\r\nEXPECT: 100-continue\r\nContent-Length: 3\r\n\r\n",
            b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
            b"GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
            b"POST / HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\nabc",
            b"POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\nabc",
            b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 16385\r\n\r\n",
            b"CONNECT backend:443 HTTP/1.1\r\n\r\n",
            b"GET http://other/ HTTP/1.1\r\n\r\n",
            b"OPTIONS * HTTP/1.1\r\n\r\n",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
            b"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n",
            b"GET /\x00 HTTP/1.1\r\n\r\n",
            b"GET / HTTP/3.0\r\n\r\n",
            b"\r\n\r\nGARBAGE\r\n\r\n",
        ] {
            hyper(wire);
        }
    }

    #[test]
    fn keep_alive_follows_the_version_and_every_connection_line() {
        assert!(!ours(b"GET / HTTP/1.0\r\n\r\n").keep_alive);
        assert!(ours(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
        assert!(!ours(b"GET / HTTP/1.1\r\nConnection: keep-alive, close\r\n\r\n").keep_alive);
        assert!(
            !ours(b"GET / HTTP/1.1\r\nConnection: close\r\nConnection: keep-alive\r\n\r\n")
                .keep_alive
        );
        assert!(ours(b"GET / HTTP/1.1\r\nConnection: x-other\r\n\r\n").keep_alive);
        assert_eq!(ours(b"GET / HTTP/1.0\r\n\r\n").version(), Version::HTTP_10);
    }

    #[test]
    fn a_target_http_refuses_leaves_the_buffer_whole_for_hyper() {
        // httparse takes a target of any length; `http`'s URI, at most 65 534 bytes (and a
        // gateway configured for heads that large lets it through to `take`).
        let mut wire = b"POST /".to_vec();
        wire.resize(70_000, b'a');
        wire.extend_from_slice(b" HTTP/1.1\r\nContent-Length: 2\r\n\r\nokGET / HTTP/1.1\r\n");
        let mut parser = Parser::new(100_000);
        let Read::Ours(head) = parser.read(&wire) else {
            panic!("taken by the codec");
        };
        let mut buf = BytesMut::from(&wire[..]);
        assert!(parser.take(&head, &mut buf, &mut empty_parts()).is_none());
        assert_eq!(&buf[..], &wire[..]);
    }
}
