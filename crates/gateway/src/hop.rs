//! Hop-by-hop headers (RFC 9110 §7.6.1): they describe one connection and must not cross the
//! gateway in either direction.

use http::header::CONNECTION;
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::request::headers::ConnectionOptions;
use crate::request::outgoing::OutHeaders;
use crate::response::Fields;

const CONNECTION_BIT: u8 = 1 << 6;

/// Removes the fixed hop-by-hop headers and every header the `Connection` header names.
///
/// Runs on every response, so it scans the names once and does nothing more unless the scan
/// found something: a response from Pylon's own client has had them left out already.
pub(crate) fn strip(fields: &mut Fields) {
    let present = fields.iter().fold(0, |mask, (name, _)| mask | bit(name));
    if present == 0 {
        return;
    }
    if present & CONNECTION_BIT != 0 {
        // Every `Connection` line counts: a second one must not smuggle what it lists past.
        let naming: Vec<HeaderValue> = fields
            .get_all(&CONNECTION)
            .filter(|value| ConnectionOptions::of(value.as_bytes()).names)
            .cloned()
            .collect();
        for value in &naming {
            remove_listed(fields, value);
        }
    }
    fields.retain(|name| bit(name) == 0);
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

/// Removes the fields a `Connection` value names.
pub(crate) fn remove_listed(fields: &mut Fields, value: &HeaderValue) {
    for name in listed(value) {
        fields.remove_named(name);
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
    use http::header::{TE, TRAILER, TRANSFER_ENCODING, UPGRADE};

    const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
    const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

    /// The hop-by-hop names besides `Connection`, each with its bit in a mask of those present.
    const FIXED: [HeaderName; 6] = [
        KEEP_ALIVE,
        PROXY_CONNECTION,
        TE,
        TRAILER,
        TRANSFER_ENCODING,
        UPGRADE,
    ];

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
        let mut h = Fields::from(h);
        strip(&mut h);
        assert_eq!(names(&h.into_map()), ["content-type", "x-kept"]);
    }

    fn map(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        h
    }

    fn fields(pairs: &[(&'static str, &'static str)]) -> Fields {
        let mut f = Fields::default();
        for (k, v) in pairs {
            f.append(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        f
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
        let mut h = fields(&[
            ("connection", "close"),
            ("connection", "X-First ,  X-SECOND"),
            ("x-first", "1"),
            ("x-second", "2"),
            ("x-kept", "yes"),
        ]);
        strip(&mut h);
        assert_eq!(names(&h.into_map()), ["x-kept"]);
    }

    #[test]
    fn a_single_connection_value_removes_what_it_lists_and_nothing_else() {
        let mut h = fields(&[
            ("connection", "Upgrade, x-hop, , not a name"),
            ("upgrade", "websocket"),
            ("x-hop", "1"),
            ("host", "example.com"),
        ]);
        strip(&mut h);
        assert_eq!(names(&h.into_map()), ["host"]);
    }

    #[test]
    fn fields_without_hop_headers_are_left_as_they_are() {
        let mut h = fields(&[("host", "a"), ("accept", "*/*"), ("x-ca-key", "k")]);
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
