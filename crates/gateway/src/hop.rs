//! Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection and must not cross the
//! gateway in either direction.

use http::header::{CONNECTION, TE, TRAILER, TRANSFER_ENCODING, UPGRADE};
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::request::headers::ConnectionOptions;
use crate::request::outgoing::OutHeaders;

const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

/// The hop-by-hop names besides `Connection`, each with its bit in `present`'s mask.
const FIXED: [HeaderName; 6] = [
    KEEP_ALIVE,
    PROXY_CONNECTION,
    TE,
    TRAILER,
    TRANSFER_ENCODING,
    UPGRADE,
];
const CONNECTION_BIT: u8 = 1 << 6;

/// Removes the fixed hop-by-hop headers and every header the `Connection` header names.
///
/// Runs twice per proxied request, so it scans the names once and looks nothing up unless the
/// scan found something: a lookup per fixed name, and parsing `Connection`'s list into owned
/// names, cost about 2,000 instructions a call where the scan costs a tenth of that.
pub(crate) fn strip(headers: &mut HeaderMap) {
    let present = headers.keys().fold(0, |mask, name| mask | bit(name));
    if present == 0 {
        return;
    }
    if present & CONNECTION_BIT != 0 {
        strip_connection(headers);
    }
    for (i, name) in FIXED.iter().enumerate() {
        if present & (1 << i) != 0 {
            headers.remove(name);
        }
    }
}

/// Adds to `to` the end-to-end headers of `from` that `keep` accepts: all but the hop-by-hop
/// ones and those `Connection` lists. They are borrowed, not copied.
pub(crate) fn copy_end_to_end<'a>(
    from: &'a HeaderMap,
    to: &mut OutHeaders<'a>,
    keep: impl Fn(&HeaderName) -> bool,
) {
    // The `Connection` values, taken as the copy passes them: a second look-up cost more than
    // the copy of a usual request's headers.
    let (mut connection, mut more) = (None, false);
    for (name, value) in from {
        match bit(name) {
            0 if keep(name) => to.push_client(name, value),
            CONNECTION_BIT => {
                more = connection.is_some();
                connection = Some(value);
            }
            _ => {}
        }
    }
    let mut drop_listed = |value| {
        for name in listed(value) {
            to.remove_named(name);
        }
    };
    if more {
        from.get_all(CONNECTION).iter().for_each(drop_listed);
    } else if let Some(value) = connection
        && ConnectionOptions::of(value.as_bytes()).names
    {
        drop_listed(value);
    }
}

/// Whether `name` is one of the fixed hop-by-hop headers or `Connection`.
pub(crate) fn is_hop_by_hop(name: &HeaderName) -> bool {
    bit(name) != 0
}

/// The name's bit in the mask of hop-by-hop headers present; 0 for any other header.
fn bit(name: &HeaderName) -> u8 {
    match name.as_str() {
        "keep-alive" => 1,
        "proxy-connection" => 1 << 1,
        "te" => 1 << 2,
        "trailer" => 1 << 3,
        "transfer-encoding" => 1 << 4,
        "upgrade" => 1 << 5,
        "connection" => CONNECTION_BIT,
        _ => 0,
    }
}

/// Removes `Connection` and the headers its values name. A single value (the usual
/// `keep-alive` or `close`) is handled without collecting anything.
fn strip_connection(headers: &mut HeaderMap) {
    let mut values = headers.get_all(CONNECTION).iter();
    let first = values.next().cloned();
    let several = values.next().is_some();
    if several {
        let all: Vec<HeaderValue> = headers.get_all(CONNECTION).iter().cloned().collect();
        headers.remove(CONNECTION);
        for value in &all {
            remove_listed(headers, value);
        }
    } else if let Some(value) = first {
        headers.remove(CONNECTION);
        if ConnectionOptions::of(value.as_bytes()).names {
            remove_listed(headers, &value);
        }
    }
}

pub(crate) fn remove_listed(headers: &mut HeaderMap, value: &HeaderValue) {
    for name in listed(value) {
        headers.remove(name);
    }
}

/// The names a `Connection` value lists, but `keep-alive` (a fixed name, removed anyway). A
/// name that is not a valid header name (or not UTF-8) cannot be among the headers.
fn listed(value: &HeaderValue) -> impl Iterator<Item = &str> {
    value
        .as_bytes()
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|token| !token.is_empty() && !token.eq_ignore_ascii_case(b"keep-alive"))
        .filter_map(|token| std::str::from_utf8(token).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_and_connection_listed_ones_are_removed() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("connection", "keep-alive, X-Secret-Hop"),
            ("keep-alive", "timeout=5"),
            ("proxy-connection", "keep-alive"),
            ("te", "trailers"),
            ("trailer", "x-checksum"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("x-secret-hop", "1"),
            ("x-kept", "yes"),
            ("content-type", "text/plain"),
        ] {
            h.append(HeaderName::from_static(k), v.parse().unwrap());
        }
        strip(&mut h);
        let mut left: Vec<_> = h.keys().map(|k| k.as_str().to_string()).collect();
        left.sort();
        assert_eq!(left, ["content-type", "x-kept"]);
    }

    fn map(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        h
    }

    fn names(h: &HeaderMap) -> Vec<String> {
        let mut left: Vec<_> = h.keys().map(|k| k.as_str().to_string()).collect();
        left.sort();
        left
    }

    #[test]
    fn each_fixed_name_has_the_bit_strip_removes_it_by() {
        for (i, name) in FIXED.iter().enumerate() {
            assert_eq!(bit(name), 1 << i, "{name}");
        }
        assert_eq!(bit(&CONNECTION), CONNECTION_BIT);
        assert_eq!(bit(&http::header::HOST), 0);
    }

    #[test]
    fn every_connection_header_line_is_honoured() {
        // A second `Connection` line must not smuggle its listed header past the gateway.
        let mut h = map(&[
            ("connection", "close"),
            ("connection", "X-First ,  X-SECOND"),
            ("x-first", "1"),
            ("x-second", "2"),
            ("x-kept", "yes"),
        ]);
        strip(&mut h);
        assert_eq!(names(&h), ["x-kept"]);
    }

    #[test]
    fn a_single_connection_value_removes_what_it_lists_and_nothing_else() {
        let mut h = map(&[
            ("connection", "Upgrade, x-hop, , not a name"),
            ("upgrade", "websocket"),
            ("x-hop", "1"),
            ("host", "example.com"),
        ]);
        strip(&mut h);
        assert_eq!(names(&h), ["host"]);
    }

    #[test]
    fn a_map_without_hop_headers_is_left_as_it_is() {
        let mut h = map(&[("host", "a"), ("accept", "*/*"), ("x-ca-key", "k")]);
        let before = h.clone();
        strip(&mut h);
        assert_eq!(h, before);
    }

    #[test]
    fn copying_leaves_out_hop_by_hop_headers_listed_ones_and_what_keep_refuses() {
        let from = map(&[
            ("connection", "keep-alive, X-Listed"),
            ("connection", "x-second"),
            ("keep-alive", "timeout=5"),
            ("transfer-encoding", "chunked"),
            ("x-listed", "1"),
            ("x-second", "2"),
            ("x-refused", "3"),
            ("accept", "a"),
            ("accept", "b"),
        ]);
        let mut to = OutHeaders::default();
        copy_end_to_end(&from, &mut to, |name| name != "x-refused");
        let to = to.to_map();
        assert_eq!(names(&to), ["accept"]);
        let accepts: Vec<_> = to.get_all("accept").iter().collect();
        assert_eq!(accepts, ["a", "b"]);
    }
}
