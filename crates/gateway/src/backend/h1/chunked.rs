//! The chunked transfer coding (RFC 9112 §7.1), decoded from the connection's buffer. Strict
//! where readers disagree, since a lenient reader is how a backend's body smuggles a second
//! response: size lines are hex digits, optional extensions of visible characters, and CRLF;
//! a bare LF or CR anywhere is refused, and every chunk's data must end in CRLF.

use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue};

use super::error::Error;

/// The longest chunk size line, extensions included.
const MAX_LINE: usize = 4096;
/// The most trailer bytes, and fields.
const MAX_TRAILERS: usize = 16 * 1024;
const MAX_TRAILER_FIELDS: usize = 64;

#[derive(Debug)]
pub(crate) enum Decoder {
    Size,
    Data(u64),
    /// The CRLF after a chunk's data.
    DataEnd,
    Trailers,
    Done,
}

pub(crate) enum Step {
    Data(Bytes),
    Trailers(HeaderMap),
    End,
    /// The buffer holds no complete next piece.
    More,
}

impl Decoder {
    pub(crate) fn new() -> Self {
        Decoder::Size
    }

    /// The next piece of the body from `buf`, taking its bytes out.
    pub(crate) fn step(&mut self, buf: &mut BytesMut) -> Result<Step, Error> {
        loop {
            match self {
                Decoder::Size => {
                    let Some(line) = buf.iter().position(|&b| b == b'\n') else {
                        if buf.len() > MAX_LINE {
                            return Err(Error::Chunked("size line too long"));
                        }
                        return Ok(Step::More);
                    };
                    if line > MAX_LINE {
                        return Err(Error::Chunked("size line too long"));
                    }
                    let size = size_line(&buf[..=line])?;
                    buf.advance(line + 1);
                    *self = if size == 0 {
                        Decoder::Trailers
                    } else {
                        Decoder::Data(size)
                    };
                }
                Decoder::Data(remaining) => {
                    if buf.is_empty() {
                        return Ok(Step::More);
                    }
                    let n = (*remaining).min(buf.len() as u64);
                    *remaining -= n;
                    if *remaining == 0 {
                        *self = Decoder::DataEnd;
                    }
                    // `n` is at most the buffer's length.
                    return Ok(Step::Data(buf.split_to(n as usize).freeze()));
                }
                Decoder::DataEnd => {
                    if buf.len() < 2 {
                        if buf.first().is_some_and(|&b| b != b'\r') {
                            return Err(Error::Chunked("chunk data not followed by CRLF"));
                        }
                        return Ok(Step::More);
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err(Error::Chunked("chunk data not followed by CRLF"));
                    }
                    buf.advance(2);
                    *self = Decoder::Size;
                }
                Decoder::Trailers => {
                    if buf.starts_with(b"\r\n") {
                        buf.advance(2);
                        *self = Decoder::Done;
                        return Ok(Step::End);
                    }
                    let mut slots = [httparse::EMPTY_HEADER; MAX_TRAILER_FIELDS];
                    return match httparse::parse_headers(buf, &mut slots) {
                        Ok(httparse::Status::Complete((len, fields))) => {
                            let trailers = trailers(fields)?;
                            buf.advance(len);
                            *self = Decoder::Done;
                            Ok(Step::Trailers(trailers))
                        }
                        Ok(httparse::Status::Partial) if buf.len() > MAX_TRAILERS => {
                            Err(Error::Chunked("trailers too large"))
                        }
                        Ok(httparse::Status::Partial) => Ok(Step::More),
                        Err(_) => Err(Error::Chunked("invalid trailer")),
                    };
                }
                Decoder::Done => return Ok(Step::End),
            }
        }
    }
}

/// A size line, LF included: `1*HEXDIG [ BWS ";" extensions ] CRLF`.
fn size_line(line: &[u8]) -> Result<u64, Error> {
    let Some(line) = line.strip_suffix(b"\r\n") else {
        return Err(Error::Chunked("size line without CRLF"));
    };
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return Err(Error::Chunked("size line without a size"));
    }
    if digits > 16 {
        return Err(Error::Chunked("chunk size too large"));
    }
    let mut size = 0u64;
    for &b in &line[..digits] {
        // At most 16 hex digits: fits in a u64.
        size = size << 4 | u64::from(hex(b));
    }
    let rest = &line[digits..];
    let ext = rest.trim_ascii_start();
    if !ext.is_empty() && !ext.starts_with(b";") {
        return Err(Error::Chunked("invalid size line"));
    }
    // Extensions are ignored, but only visible characters, spaces and tabs may make them up.
    if !rest
        .iter()
        .all(|&b| b == b'\t' || b == b' ' || (b >= 0x21 && b != 0x7f))
    {
        return Err(Error::Chunked("control character in a size line"));
    }
    Ok(size)
}

fn hex(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    }
}

/// The trailer fields as a header map (their values copied: trailers are rare and small).
fn trailers(fields: &[httparse::Header<'_>]) -> Result<HeaderMap, Error> {
    let mut map = HeaderMap::with_capacity(fields.len());
    for field in fields {
        let name =
            HeaderName::from_bytes(field.name.as_bytes()).map_err(|_| Error::Chunked("trailer"))?;
        let value = HeaderValue::from_maybe_shared(Bytes::copy_from_slice(field.value))
            .map_err(|_| Error::Chunked("trailer"))?;
        map.append(name, value);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes all of `wire`, fed `split` bytes at a time.
    fn decode(wire: &[u8], split: usize) -> Result<(Vec<u8>, Option<HeaderMap>), Error> {
        let mut decoder = Decoder::new();
        let mut buf = BytesMut::new();
        let mut fed = 0;
        let mut body = Vec::new();
        loop {
            match decoder.step(&mut buf)? {
                Step::Data(d) => body.extend_from_slice(&d),
                Step::Trailers(t) => {
                    assert!(matches!(decoder.step(&mut buf)?, Step::End));
                    return Ok((body, Some(t)));
                }
                Step::End => return Ok((body, None)),
                Step::More => {
                    if fed == wire.len() {
                        return Err(Error::BodyCut);
                    }
                    let end = (fed + split).min(wire.len());
                    buf.extend_from_slice(&wire[fed..end]);
                    fed = end;
                }
            }
        }
    }

    #[test]
    fn chunks_decode_however_they_arrive() {
        let wire = b"5\r\nhello\r\n1;name=value\r\n \r\nA\r\n0123456789\r\n0\r\n\r\n";
        for split in [1, 2, 3, 7, wire.len()] {
            let (body, trailers) = decode(wire, split).unwrap();
            assert_eq!(body, b"hello 0123456789", "split {split}");
            assert!(trailers.is_none());
        }
    }

    #[test]
    fn trailers_are_passed_on() {
        let (body, trailers) = decode(b"2\r\nok\r\n0\r\nX-Sum: 1\r\n\r\n", 4).unwrap();
        assert_eq!(body, b"ok");
        assert_eq!(trailers.unwrap()["x-sum"], "1");
    }

    #[test]
    fn nothing_is_left_over_after_the_end() {
        let mut buf = BytesMut::from(&b"0\r\n\r\nHTTP/1.1 200 OK\r\n"[..]);
        let mut decoder = Decoder::new();
        assert!(matches!(decoder.step(&mut buf), Ok(Step::End)));
        assert_eq!(
            &buf[..],
            b"HTTP/1.1 200 OK\r\n",
            "what follows is not the body's"
        );
    }

    #[test]
    fn lenient_framing_is_refused() {
        for bad in [
            &b"5\nhello\r\n0\r\n\r\n"[..],
            b"5\r\nhello\n0\r\n\r\n",
            b"5\r\nhelloXX0\r\n\r\n",
            b"\r\n",
            b"x\r\n",
            b"-5\r\nhello\r\n0\r\n\r\n",
            b"0x5\r\nhello\r\n0\r\n\r\n",
            b"5 5\r\nhello\r\n0\r\n\r\n",
            b"5;a\nb\r\nhello\r\n0\r\n\r\n",
            b"5;a\rb\r\nhello\r\n0\r\n\r\n",
            b"5;a\x00\r\nhello\r\n0\r\n\r\n",
            b"11111111111111111\r\n",
            b"2\r\nok\r\n0\r\nbad trailer\r\n\r\n",
        ] {
            assert!(
                decode(bad, bad.len()).is_err(),
                "{:?} accepted",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn endless_lines_are_cut_off() {
        let mut line = b"5;".to_vec();
        line.resize(MAX_LINE + 10, b'a');
        assert!(matches!(decode(&line, 512), Err(Error::Chunked(_))));
        let mut trailers = b"0\r\n".to_vec();
        while trailers.len() < MAX_TRAILERS + 100 {
            trailers.extend_from_slice(b"X-T: aaaaaaaaaaaaaaaaaaaa\r\n");
        }
        assert!(matches!(decode(&trailers, 1024), Err(Error::Chunked(_))));
    }

    #[test]
    fn the_largest_size_parses() {
        assert_eq!(size_line(b"ffffffffffffffff\r\n").unwrap(), u64::MAX);
        assert_eq!(size_line(b"1A \t;x=\"y z\"\r\n").unwrap(), 26);
    }
}
