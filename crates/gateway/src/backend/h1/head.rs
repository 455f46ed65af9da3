//! The request head as it is written, and the response head as it is read: RFC 9112's
//! framing rules (§6.3) and whether the connection may carry another request afterwards.

use std::mem::MaybeUninit;

use bytes::{Buf, Bytes, BytesMut};
use http::header::{CONNECTION, CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use http::{HeaderName, HeaderValue, Method, StatusCode, Version};

use super::error::Error;
use crate::hop;
use crate::request::headers::{
    ConnectionOptions, FieldSpan, content_length, ends_chunked, field_name, field_value,
};
use crate::request::outgoing::OutHeaders;
use crate::response::Fields;

/// The largest response head read (nginx's default `proxy_buffer_size` is 4 or 8 KiB; hyper
/// reads up to 400 KiB). Interim (1xx) heads count toward it.
pub(crate) const MAX_HEAD: usize = 64 * 1024;
/// Header fields in one response head.
const MAX_HEADERS: usize = 100;

/// How the response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body, whatever the head says (a response to HEAD, 204, 304).
    Empty,
    Length(u64),
    Chunked,
    /// Until the backend closes the connection.
    Close,
}

/// A final response head.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) status: StatusCode,
    /// The end-to-end fields: the hop-by-hop ones, and those `Connection` names, describe the
    /// backend connection and stay with it.
    pub(crate) headers: Fields,
    pub(crate) framing: Framing,
    /// The connection may carry the next request once this body has ended.
    pub(crate) reusable: bool,
}

pub(crate) enum Parsed {
    /// An interim (1xx) response, already consumed: the final one follows.
    Interim,
    Final(Head),
}

/// What one exchange sends.
pub(crate) struct Exchange<'a> {
    pub(crate) method: &'a Method,
    /// In origin form: `/path?query`.
    pub(crate) target: &'a str,
    pub(crate) headers: &'a OutHeaders<'a>,
    /// Written as `Host`, in place of any the headers have; `None` when they carry it.
    pub(crate) host: Option<&'a HeaderValue>,
    /// At most `MAX_BODY` bytes.
    pub(crate) body: Option<&'a Bytes>,
}

/// Writes the request into `out`: the request line, `Host`, the headers minus any framing
/// they carry (and minus their own `Host` when one is given), the framing of the body, and
/// the body. A `Content-Length` is written when there is a body, or when the headers had one
/// (then it is the body's, so a stale value can never frame a body it does not describe).
pub(crate) fn encode(out: &mut Vec<u8>, request: &Exchange<'_>) {
    out.clear();
    out.extend_from_slice(request.method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(request.target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    if let Some(host) = request.host {
        out.extend_from_slice(b"host: ");
        out.extend_from_slice(host.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let mut had_length = false;
    for (name, value) in request.headers.iter() {
        if name == CONTENT_LENGTH {
            had_length = true;
            continue;
        }
        if name == TRANSFER_ENCODING || (name == HOST && request.host.is_some()) {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let body = request.body.map_or(&[][..], |b| &b[..]);
    if !body.is_empty() || had_length {
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(itoa::Buffer::new().format(body.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

/// Reads a response head from the start of `buf`, taking its bytes out of it; `None` while
/// it is incomplete. `method` is the request's: a response to HEAD has no body.
/// `spans` is the connection's room for where the fields lie, reused from one response to the
/// next.
pub(crate) fn parse(
    buf: &mut BytesMut,
    spans: &mut Vec<FieldSpan>,
    method: &Method,
) -> Result<Option<Parsed>, Error> {
    // Left uninitialised: httparse fills what it parses (writing 100 empty slots first cost
    // more than parsing a short head).
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut response,
        buf,
        &mut slots,
    );
    let len = match parsed {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => {
            return Err(Error::HeadTooLarge(MAX_HEAD));
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Error::Head("more than 100 header fields"));
        }
        Err(e) => return Err(Error::Head(parse_error(e))),
    };
    if len > MAX_HEAD {
        return Err(Error::HeadTooLarge(MAX_HEAD));
    }
    let code = response.code.unwrap_or(0);
    let status = StatusCode::from_u16(code).map_err(|_| Error::Head("invalid status code"))?;
    let version = match response.version {
        Some(1) => Version::HTTP_11,
        _ => Version::HTTP_10,
    };
    if status.is_informational() {
        // A 101 would hand the connection to another protocol, which only an upgrade request
        // (sent through hyper) may ask for.
        if status == StatusCode::SWITCHING_PROTOCOLS {
            return Err(Error::Head(
                "101 Switching Protocols to a request without Upgrade",
            ));
        }
        buf.advance(len);
        return Ok(Some(Parsed::Interim));
    }
    // Where each field lies in the head, so that the values can share the head's bytes
    // (one reference count each) once `buf` is no longer borrowed by the parser.
    let base = buf.as_ptr() as usize;
    spans.clear();
    spans.extend(response.headers.iter().map(|field| {
        let name = field.name.as_ptr() as usize - base;
        let value = field.value.as_ptr() as usize - base;
        // Offsets within a head of at most MAX_HEAD bytes.
        (
            name as u32,
            field.name.len() as u32,
            value as u32,
            field.value.len() as u32,
        )
    }));
    let head = buf.split_to(len).freeze();
    let mut headers = Fields::with_capacity(spans.len());
    // The fields framing depends on, noted on the way rather than looked up after.
    let mut seen = Framed::default();
    for &(name, name_len, value, value_len) in spans.iter() {
        let name = &head[name as usize..(name + name_len) as usize];
        let name = field_name(name).ok_or(Error::Head("invalid header name"))?;
        let value = head.slice(value as usize..(value + value_len) as usize);
        let value = field_value(value).ok_or(Error::Head("invalid header value"))?;
        seen.note(&name, &value)?;
        // The backend connection's own fields end here: what the client gets is end to end.
        if !hop::is_hop_by_hop(&name) {
            headers.append(name, value);
        }
    }
    for value in &seen.listed {
        hop::remove_listed(&mut headers, value);
    }
    let mut reusable = version == Version::HTTP_11 && !seen.close;
    let framing = framing(method, status, version, &seen, &mut headers, &mut reusable)?;
    Ok(Some(Parsed::Final(Head {
        status,
        headers,
        framing,
        reusable,
    })))
}

/// What the head's framing fields said.
#[derive(Default)]
struct Framed {
    /// The body's length, if `Content-Length` gave one; every value must agree (RFC 9110
    /// §8.6 allows repeats and lists of one number).
    length: Option<u64>,
    /// The length came more than once: it is rewritten once, so what is passed on is
    /// unambiguous.
    repeated: bool,
    /// `Some(chunked)` when `Transfer-Encoding` is present: whether its last coding is
    /// `chunked`.
    chunked: Option<bool>,
    /// `Connection` lists `close`.
    close: bool,
    /// The `Connection` values that name headers to remove (rarely any).
    listed: Vec<HeaderValue>,
}

impl Framed {
    fn note(&mut self, name: &HeaderName, value: &HeaderValue) -> Result<(), Error> {
        if name == CONTENT_LENGTH {
            for item in value.as_bytes().split(|&b| b == b',') {
                let n = content_length(item.trim_ascii())
                    .ok_or(Error::Head("invalid Content-Length"))?;
                match self.length {
                    Some(earlier) if earlier != n => {
                        return Err(Error::Head("conflicting Content-Length values"));
                    }
                    Some(_) => self.repeated = true,
                    None => self.length = Some(n),
                }
            }
        } else if name == TRANSFER_ENCODING {
            // The last field's last coding is the one that frames the body.
            self.chunked = Some(ends_chunked(value.as_bytes()));
        } else if name == CONNECTION {
            let options = ConnectionOptions::of(value.as_bytes());
            self.close |= options.close;
            if options.names {
                self.listed.push(value.clone());
            }
        }
        Ok(())
    }
}

/// RFC 9112 §6.3, in its order. A response with both `Transfer-Encoding` and
/// `Content-Length` may be an attempt at response splitting: the length is dropped, as the
/// RFC requires of an intermediary, and the connection is not trusted with another request.
fn framing(
    method: &Method,
    status: StatusCode,
    version: Version,
    seen: &Framed,
    headers: &mut Fields,
    reusable: &mut bool,
) -> Result<Framing, Error> {
    if method == Method::HEAD
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        return Ok(Framing::Empty);
    }
    if let Some(chunked) = seen.chunked {
        if version == Version::HTTP_10 {
            return Err(Error::Head("Transfer-Encoding in an HTTP/1.0 response"));
        }
        if seen.length.is_some() {
            headers.remove(&CONTENT_LENGTH);
            *reusable = false;
        }
        if chunked {
            return Ok(Framing::Chunked);
        }
        *reusable = false;
        return Ok(Framing::Close);
    }
    match seen.length {
        Some(length) => {
            if seen.repeated {
                headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
            }
            Ok(Framing::Length(length))
        }
        None => {
            *reusable = false;
            Ok(Framing::Close)
        }
    }
}

fn parse_error(error: httparse::Error) -> &'static str {
    match error {
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Status => "invalid status line",
        httparse::Error::Version => "not HTTP/1.x",
        httparse::Error::Token | httparse::Error::TooManyHeaders => "invalid head",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(buf: &mut BytesMut, method: &Method) -> Result<Option<Parsed>, Error> {
        super::parse(buf, &mut Vec::new(), method)
    }

    fn final_head(bytes: &[u8], method: Method) -> Result<Head, Error> {
        let mut buf = BytesMut::from(bytes);
        match parse(&mut buf, &method)? {
            Some(Parsed::Final(head)) => Ok(head),
            Some(Parsed::Interim) => panic!("interim"),
            None => panic!("incomplete"),
        }
    }

    fn get(bytes: &[u8]) -> Result<Head, Error> {
        final_head(bytes, Method::GET)
    }

    #[test]
    fn the_request_head_carries_its_own_framing() {
        let mut headers = OutHeaders::default();
        headers.insert(HOST, HeaderValue::from_static("client.example"));
        headers.insert(CONTENT_LENGTH, HeaderValue::from_static("999"));
        headers.insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        headers.append(
            HeaderName::from_static("x-a"),
            HeaderValue::from_static("1"),
        );
        headers.append(
            HeaderName::from_static("x-a"),
            HeaderValue::from_static("2"),
        );
        let host = HeaderValue::from_static("b.internal");
        let body = Bytes::from_static(b"abc");
        let mut request = Exchange {
            method: &Method::POST,
            target: "/p?q=1",
            headers: &headers,
            host: Some(&host),
            body: Some(&body),
        };
        let mut out = Vec::new();
        encode(&mut out, &request);
        assert_eq!(
            out,
            b"POST /p?q=1 HTTP/1.1\r\nhost: b.internal\r\nx-a: 1\r\nx-a: 2\r\ncontent-length: 3\r\n\r\nabc"
        );
        // An empty body: a client's length becomes 0; without one, none is written. Without
        // a Host of the gateway's, the headers' own goes.
        request.body = None;
        request.host = None;
        encode(&mut out, &request);
        assert!(out.starts_with(b"POST /p?q=1 HTTP/1.1\r\nhost: client.example\r\n"));
        assert!(out.ends_with(b"x-a: 2\r\ncontent-length: 0\r\n\r\n"));
        let mut unframed = OutHeaders::default();
        for (name, value) in headers.iter().filter(|(n, _)| **n != CONTENT_LENGTH) {
            unframed.push_client(name, value);
        }
        request.headers = &unframed;
        encode(&mut out, &request);
        assert!(out.ends_with(b"x-a: 2\r\n\r\n"));
    }

    #[test]
    fn hop_by_hop_fields_stay_with_the_backend_connection() {
        let head = get(
            b"HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Hop\r\nKeep-Alive: timeout=5\r\n\
            Transfer-Encoding: chunked\r\nX-Hop: 1\r\nUpgrade: h2c\r\nX-Kept: yes\r\n\r\n",
        )
        .unwrap();
        assert_eq!(head.framing, Framing::Chunked);
        let names: Vec<_> = head.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["x-kept"]);
        // `close` is an option, not a name: the connection is not reused, nothing else goes.
        let head =
            get(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\nClose: x\r\n\r\n")
                .unwrap();
        assert!(!head.reusable);
        let names: Vec<_> = head.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["content-length", "close"]);
    }

    #[test]
    fn a_head_is_read_with_its_framing() {
        let mut buf =
            BytesMut::from(&b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello"[..]);
        let Some(Parsed::Final(head)) = parse(&mut buf, &Method::GET).unwrap() else {
            panic!("no head");
        };
        assert_eq!(head.status, 200);
        assert_eq!(head.framing, Framing::Length(5));
        assert!(head.reusable);
        let x_a = HeaderName::from_static("x-a");
        assert_eq!(head.headers.get(&x_a).unwrap(), "b");
        assert_eq!(&buf[..], b"hello", "the body stays in the buffer");
    }

    #[test]
    fn an_incomplete_head_waits_and_a_huge_one_is_refused() {
        let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\nX-A: b\r\n"[..]);
        assert!(parse(&mut buf, &Method::GET).unwrap().is_none());
        let mut huge = b"HTTP/1.1 200 OK\r\n".to_vec();
        while huge.len() < MAX_HEAD {
            huge.extend_from_slice(b"X-Filler: ");
            huge.resize(huge.len() + 20_000, b'a');
            huge.extend_from_slice(b"\r\n");
        }
        let mut buf = BytesMut::from(&huge[..]);
        assert!(matches!(
            parse(&mut buf, &Method::GET),
            Err(Error::HeadTooLarge(MAX_HEAD))
        ));
    }

    #[test]
    fn interim_responses_are_skipped_and_101_is_refused() {
        let mut buf =
            BytesMut::from(&b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"[..]);
        assert!(matches!(
            parse(&mut buf, &Method::GET),
            Ok(Some(Parsed::Interim))
        ));
        let Ok(Some(Parsed::Final(head))) = parse(&mut buf, &Method::GET) else {
            panic!("no final head");
        };
        assert_eq!(head.status, 204);
        assert!(buf.is_empty());
        let mut buf =
            BytesMut::from(&b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n"[..]);
        assert!(parse(&mut buf, &Method::GET).is_err());
    }

    #[test]
    fn bodies_that_cannot_exist_are_empty() {
        let head = final_head(
            b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n",
            Method::HEAD,
        );
        let head = head.unwrap();
        assert_eq!(head.framing, Framing::Empty);
        assert_eq!(
            head.headers.get(&CONTENT_LENGTH).unwrap(),
            "50",
            "HEAD passes the length on"
        );
        for status in ["204 No Content", "304 Not Modified"] {
            let text = format!("HTTP/1.1 {status}\r\nTransfer-Encoding: chunked\r\n\r\n");
            assert_eq!(get(text.as_bytes()).unwrap().framing, Framing::Empty);
        }
    }

    #[test]
    fn transfer_encoding_overrides_and_removes_content_length() {
        let head =
            get(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n")
                .unwrap();
        assert_eq!(head.framing, Framing::Chunked);
        assert!(head.headers.get(&CONTENT_LENGTH).is_none());
        assert!(
            !head.reusable,
            "a smuggling attempt's connection is not reused"
        );
        let head = get(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n").unwrap();
        assert_eq!(head.framing, Framing::Chunked);
        assert!(head.reusable);
        // Chunked not last: the body runs to the connection's end.
        let head = get(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n").unwrap();
        assert_eq!(head.framing, Framing::Close);
        assert!(!head.reusable);
        assert!(get(b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").is_err());
    }

    #[test]
    fn content_length_must_be_digits_and_agree() {
        for bad in [
            "+5",
            "-1",
            "5 5",
            "0x10",
            "",
            "99999999999999999999",
            "5, 6",
        ] {
            let text = format!("HTTP/1.1 200 OK\r\nContent-Length: {bad}\r\n\r\n");
            assert!(get(text.as_bytes()).is_err(), "{bad:?} accepted");
        }
        let two = get(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n");
        assert!(two.is_err());
        let same =
            get(b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\n").unwrap();
        assert_eq!(same.framing, Framing::Length(5));
        let values: Vec<_> = same.headers.get_all(&CONTENT_LENGTH).collect();
        assert_eq!(values, ["5"], "passed on once");
    }

    #[test]
    fn only_a_persistent_connection_is_reused() {
        assert!(
            !get(b"HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n")
                .unwrap()
                .reusable
        );
        assert!(
            !get(b"HTTP/1.1 200 OK\r\nConnection: x, close\r\nContent-Length: 0\r\n\r\n")
                .unwrap()
                .reusable
        );
        assert!(
            !get(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
                .unwrap()
                .reusable
        );
        let close = get(b"HTTP/1.1 200 OK\r\n\r\n").unwrap();
        assert_eq!(close.framing, Framing::Close);
        assert!(!close.reusable);
    }

    #[test]
    fn malformed_heads_are_refused() {
        for bad in [
            &b"HTTP/1.1 200 OK\r\nX-A: b\r\n folded\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nX A: b\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nX-A: b\x00c\r\n\r\n",
            b"HTTP/2 200 OK\r\n\r\n",
            b"HTTP/1.1 20 OK\r\n\r\n",
            b"ICY 200 OK\r\n\r\n",
        ] {
            assert!(
                get(bad).is_err(),
                "{:?} accepted",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
