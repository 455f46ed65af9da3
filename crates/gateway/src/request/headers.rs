//! The header names the gateway itself reads or writes on every kind of request, shared by the
//! phases, the error responses and the mock backend; and the fields both HTTP/1 codecs read off
//! the wire (names, values, framing).

use std::cell::RefCell;

use bytes::Bytes;
use http::header::{CONNECTION, HOST, UPGRADE};
use http::{HeaderMap, HeaderName, HeaderValue};
use pylon_auth::alibaba::{self, X_CA_STAGE};

pub(crate) const X_CA_REQUEST_ID: HeaderName = HeaderName::from_static("x-ca-request-id");
pub(crate) const X_CA_ERROR_MESSAGE: HeaderName = HeaderName::from_static("x-ca-error-message");
pub(crate) const X_CA_ERROR_CODE: HeaderName = HeaderName::from_static("x-ca-error-code");

/// Headers that carry a client's credentials; not forwarded unless the API says so.
pub(crate) static CREDENTIAL_HEADERS: [HeaderName; 9] = [
    http::header::AUTHORIZATION,
    alibaba::X_CA_KEY,
    alibaba::X_CA_SIGNATURE,
    alibaba::X_CA_SIGNATURE_HEADERS,
    alibaba::X_CA_SIGNATURE_METHOD,
    alibaba::X_CA_TIMESTAMP,
    alibaba::X_CA_NONCE,
    HeaderName::from_static("x-date"),
    X_API_KEY,
];

/// An AWS API key (`api-key` APIs).
pub(crate) const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");

pub(crate) const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub(crate) const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub(crate) const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Field names a worker has read recently, as sent, with their `HeaderName`: a direct-mapped
/// cache keyed by a name's length and three of its bytes. `HeaderName::from_bytes` matches a
/// name against every standard one and copies any other into an allocation of its own; a
/// client or backend sends the same few names request after request.
const NAME_SLOTS: usize = 128;
/// Longer names are parsed each time, so the cache stays small.
const MAX_CACHED_NAME: usize = 64;

type NameSlot = Option<(Box<[u8]>, HeaderName)>;

/// Besides the credential headers, names outside the standard list that requests and
/// responses carry often. Read off the wire, each of these becomes its static name: a copy of
/// any other such name shares one counted allocation, and every request that clones and drops
/// it pays an atomic increment and decrement; a static name is copied with no count. (Standard
/// names have no allocation.)
static KNOWN_NAMES: [HeaderName; 9] = [
    X_CA_STAGE,
    alibaba::CONTENT_MD5,
    X_CA_REQUEST_ID,
    X_FORWARDED_FOR,
    X_FORWARDED_PROTO,
    X_FORWARDED_HOST,
    HeaderName::from_static("x-real-ip"),
    HeaderName::from_static("x-request-id"),
    HeaderName::from_static("traceparent"),
];

thread_local! {
    static NAMES: RefCell<[NameSlot; NAME_SLOTS]> = const { RefCell::new([const { None }; NAME_SLOTS]) };
}

/// A field name read off the wire, or `None` when it is not a valid name.
pub(crate) fn field_name(raw: &[u8]) -> Option<HeaderName> {
    let (Some(&first), Some(&last)) = (raw.first(), raw.last()) else {
        return None;
    };
    let middle = raw[raw.len() / 2];
    let slot =
        (raw.len() * 31 + usize::from(first) * 7 + usize::from(middle) * 3 + usize::from(last))
            % NAME_SLOTS;
    NAMES.with(|names| {
        let mut names = names.borrow_mut();
        if let Some((seen, name)) = &names[slot]
            && **seen == *raw
        {
            return Some(name.clone());
        }
        let name = HeaderName::from_bytes(raw).ok()?;
        let name = CREDENTIAL_HEADERS
            .iter()
            .chain(&KNOWN_NAMES)
            .find(|known| **known == name)
            .cloned()
            .unwrap_or(name);
        if raw.len() <= MAX_CACHED_NAME {
            names[slot] = Some((raw.into(), name.clone()));
        }
        Some(name)
    })
}

/// A `Content-Length` number: plain digits, at most 19 of them (it fits a u64).
pub(crate) fn content_length(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 19 || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    text.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// What a `Connection` value lists: its two options, and whether it names any header too.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConnectionOptions {
    pub(crate) close: bool,
    pub(crate) keep_alive: bool,
    /// Anything but `close` and `keep-alive`: the names of hop-by-hop headers.
    pub(crate) names: bool,
}

impl ConnectionOptions {
    /// One pass over the comma-separated items, in any case. Every request and response
    /// carries a `Connection`; asking the value one question at a time cost 100 to 200
    /// instructions a question.
    pub(crate) fn of(value: &[u8]) -> Self {
        // The usual values, told by comparing words rather than a byte at a time.
        if is_keep_alive(value) {
            return ConnectionOptions {
                keep_alive: true,
                ..Default::default()
            };
        }
        if is_close(value) {
            return ConnectionOptions {
                close: true,
                ..Default::default()
            };
        }
        let mut options = ConnectionOptions::default();
        for item in value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
            if is_close(item) {
                options.close = true;
            } else if is_keep_alive(item) {
                options.keep_alive = true;
            } else if !item.is_empty() {
                options.names = true;
            }
        }
        options
    }
}

/// Setting bit 5 of an ASCII letter lowercases it, and only a letter's two cases become that
/// lowercase letter: so a word of letters is compared without case by one OR and one
/// comparison. Bytes that are not letters are left out of the mask.
fn is_close(item: &[u8]) -> bool {
    let Ok(word) = <[u8; 5]>::try_from(item) else {
        return false;
    };
    let [c, l, o, s, e] = word;
    let word = u64::from_le_bytes([c, l, o, s, e, 0, 0, 0]);
    word | u64::from_le_bytes([0x20, 0x20, 0x20, 0x20, 0x20, 0, 0, 0])
        == u64::from_le_bytes(*b"close\0\0\0")
}

fn is_keep_alive(item: &[u8]) -> bool {
    let Ok([k, e, e2, p, dash, a, l, i, v, e3]) = <[u8; 10]>::try_from(item) else {
        return false;
    };
    let head = u64::from_le_bytes([k, e, e2, p, dash, a, l, i]);
    // The '-' is compared exactly: a carriage return with bit 5 set would pass for it.
    head | u64::from_le_bytes([0x20, 0x20, 0x20, 0x20, 0, 0x20, 0x20, 0x20])
        == u64::from_le_bytes(*b"keep-ali")
        && u16::from_le_bytes([v, e3]) | 0x2020 == u16::from_le_bytes(*b"ve")
}

/// Whether a `Transfer-Encoding` value's last coding, the one that frames the body, is
/// `chunked`.
pub(crate) fn ends_chunked(value: &[u8]) -> bool {
    value
        .rsplit(|&b| b == b',')
        .next()
        .is_some_and(|coding| coding.trim_ascii().eq_ignore_ascii_case(b"chunked"))
}

/// Where a field's name and value lie in a head read off the wire: offset and length of each
/// (a head is far smaller than 4 GiB). Both codecs note these while the parser borrows the
/// buffer, then slice the head's shared bytes.
pub(crate) type FieldSpan = (u32, u32, u32, u32);

/// A field value read off the wire, sharing the head's bytes. `http`'s checked constructor
/// tests byte by byte with an early exit; the plain case (visible ASCII, space, tab) is told by
/// one pass without branches, which the compiler runs many bytes at a time. Anything else
/// (obs-text, or bytes no value may hold) takes the checked path.
pub(crate) fn field_value(bytes: Bytes) -> Option<HeaderValue> {
    let plain = bytes.iter().fold(true, |plain, &b| {
        plain & ((0x20..0x7f).contains(&b) | (b == b'\t'))
    });
    if plain {
        // SAFETY: every byte is a tab or 0x20..=0x7E: ASCII, so valid UTF-8 (all that
        // `from_maybe_shared_unchecked` requires), and within what a checked `HeaderValue` holds
        // (the test `plain_bytes_make_the_same_value_as_the_checked_path`).
        Some(unsafe { HeaderValue::from_maybe_shared_unchecked(bytes) })
    } else {
        HeaderValue::from_maybe_shared(bytes).ok()
    }
}

/// The request headers the phases read by name, found in one pass over the client's map when
/// the request's context is made, as nginx's `headers_in` has them: a look-up in the map costs
/// 100 to 200 instructions, and every request made five.
#[derive(Default, Clone, Copy)]
pub(crate) struct KnownHeaders<'a> {
    /// The first `Host`.
    pub(crate) host: Option<&'a HeaderValue>,
    /// The first `Upgrade`.
    pub(crate) upgrade: Option<&'a HeaderValue>,
    /// The first `X-Ca-Stage`.
    pub(crate) stage: Option<&'a HeaderValue>,
    /// Whether any `X-Forwarded-For` came.
    pub(crate) forwarded_for: bool,
}

impl<'a> KnownHeaders<'a> {
    pub(crate) fn of(headers: &'a HeaderMap) -> Self {
        let mut known = Self::default();
        // A name's values come together, first to last: the first kept is the one a look-up
        // would find.
        for (name, value) in headers {
            if *name == HOST {
                known.host.get_or_insert(value);
            } else if *name == UPGRADE {
                known.upgrade.get_or_insert(value);
            } else if *name == X_CA_STAGE {
                known.stage.get_or_insert(value);
            } else if *name == X_FORWARDED_FOR {
                known.forwarded_for = true;
            }
        }
        known
    }
}

/// An HTTP/1.1 `GET` asking to become a WebSocket: `Upgrade: websocket` with `upgrade` among
/// the `Connection` options (RFC 6455 section 4.1), in any letter case.
pub(crate) fn asks_for_websocket(parts: &http::request::Parts, known: &KnownHeaders<'_>) -> bool {
    let Some(upgrade) = known.upgrade else {
        return false;
    };
    parts.method == http::Method::GET
        && parts.version == http::Version::HTTP_11
        && upgrade
            .as_bytes()
            .split(|b| *b == b',')
            .any(|p| p.trim_ascii().eq_ignore_ascii_case(b"websocket"))
        && parts
            .headers
            .get_all(CONNECTION)
            .iter()
            .flat_map(|v| v.as_bytes().split(|b| *b == b','))
            .any(|o| o.trim_ascii().eq_ignore_ascii_case(b"upgrade"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names_are_their_statics() {
        for known in CREDENTIAL_HEADERS.iter().chain(&KNOWN_NAMES) {
            let upper = known.as_str().to_ascii_uppercase();
            for _ in 0..2 {
                let read = field_name(upper.as_bytes()).expect("a valid name");
                assert_eq!(&read, known);
                assert_eq!(
                    read.as_str().as_ptr(),
                    known.as_str().as_ptr(),
                    "{known} was copied, not taken from the static"
                );
            }
        }
    }

    #[test]
    fn cached_names_are_the_names_a_parse_gives() {
        let names: Vec<Vec<u8>> = [
            &b"Host"[..],
            b"host",
            b"HOST",
            b"X-Ca-Signature",
            b"X-Ca-Timestamp",
            b"x-ca-signature",
            b"Content-Length",
            b"X-Custom-1",
            b"X-Custom-2",
            b"Bad Name",
            b"",
            b"\xff",
        ]
        .iter()
        .map(|n| n.to_vec())
        .chain((0..300).map(|i| format!("x-many-{i}").into_bytes()))
        .chain(std::iter::once(vec![b'a'; 100]))
        .collect();
        // Twice over, so that the second pass reads what the first one left (or replaced).
        for _ in 0..2 {
            for raw in &names {
                assert_eq!(
                    field_name(raw),
                    HeaderName::from_bytes(raw).ok(),
                    "{:?}",
                    String::from_utf8_lossy(raw)
                );
            }
        }
    }

    #[test]
    fn connection_options_are_read_in_any_case_and_spacing() {
        let of = |v: &str| {
            let o = ConnectionOptions::of(v.as_bytes());
            (o.close, o.keep_alive, o.names)
        };
        assert_eq!(of(""), (false, false, false));
        assert_eq!(of("close"), (true, false, false));
        assert_eq!(of("Keep-Alive"), (false, true, false));
        assert_eq!(of(" CLOSE ,\tkeep-alive "), (true, true, false));
        assert_eq!(of(",,close,,"), (true, false, false));
        assert_eq!(of("keep-alive, X-Secret"), (false, true, true));
        assert_eq!(of("upgrade"), (false, false, true));
        // Near misses are names, not options.
        assert_eq!(of("closed"), (false, false, true));
        assert_eq!(of("keep alive"), (false, false, true));
        assert_eq!(of("clos"), (false, false, true));
        assert_eq!(of("keep\ralive"), (false, false, true));
    }

    #[test]
    fn words_compared_without_case_match_the_byte_by_byte_comparison() {
        // Every byte value at every position of both words, against `eq_ignore_ascii_case`.
        for (word, check) in [
            (&b"close"[..], is_close as fn(&[u8]) -> bool),
            (&b"keep-alive"[..], is_keep_alive),
        ] {
            for at in 0..word.len() {
                for b in 0..=255u8 {
                    let mut item = word.to_vec();
                    item[at] = b;
                    assert_eq!(check(&item), item.eq_ignore_ascii_case(word), "{item:?}");
                }
            }
            assert!(check(&word.to_ascii_uppercase()));
            assert!(!check(&word[1..]));
        }
    }

    #[test]
    fn plain_bytes_make_the_same_value_as_the_checked_path() {
        for b in 0..=255u8 {
            let one = Bytes::from(vec![b'a', b, b'z']);
            let checked = HeaderValue::from_bytes(&one).ok();
            assert_eq!(field_value(one), checked, "byte {b:#04x}");
        }
        let long = Bytes::from("Mozilla/5.0 (X11; Linux x86_64)\tgzip, br; q=0.9 ~!".repeat(5));
        assert_eq!(field_value(long.clone()).unwrap().as_bytes(), &long[..]);
        assert!(field_value(Bytes::from_static(b"a\r\nInjected: yes")).is_none());
        assert!(
            field_value(Bytes::from_static(b"caf\xc3\xa9")).is_some(),
            "obs-text"
        );
    }

    #[test]
    fn the_known_headers_are_the_values_a_look_up_finds() {
        let mut map = HeaderMap::new();
        for (name, value) in [
            ("accept", "*/*"),
            ("x-ca-stage", "TEST"),
            ("host", "a.example"),
            ("x-ca-stage", "RELEASE"),
            ("upgrade", "websocket"),
            ("x-forwarded-for", "192.0.2.1"),
        ] {
            map.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        let known = KnownHeaders::of(&map);
        assert_eq!(known.host, map.get(HOST));
        assert_eq!(known.upgrade, map.get(UPGRADE));
        assert_eq!(known.stage.map(HeaderValue::as_bytes), Some(&b"TEST"[..]));
        assert!(known.forwarded_for);

        let empty = HeaderMap::new();
        let none = KnownHeaders::of(&empty);
        assert!(none.host.is_none() && none.upgrade.is_none() && none.stage.is_none());
        assert!(!none.forwarded_for);
    }
}
