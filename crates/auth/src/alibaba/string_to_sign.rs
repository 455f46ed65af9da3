//! The Alibaba string to sign, exactly as wire-compat.md gives it and as the official clients
//! build it (verified against npm `aliyun-api-gateway` 1.1.6 and PyPI
//! `aliyun-api-gateway-sign` 1.0.4, see the tests).

use std::borrow::Cow;

use http::header::{ACCEPT, CONTENT_TYPE, DATE};
use http::{HeaderMap, HeaderValue, Method, header};
use percent_encoding::percent_decode_str;

use super::headers::CONTENT_MD5;

const FORM: &str = "application/x-www-form-urlencoded";

/// Headers that have their own line in the string to sign, or are the signature itself, and
/// are therefore never part of the `Headers` block even when listed.
const NOT_IN_HEADERS_BLOCK: [&str; 6] = [
    "x-ca-signature",
    "x-ca-signature-headers",
    "accept",
    "content-md5",
    "content-type",
    "date",
];

/// Whether the request's `Content-Type` makes its body count as parameters. The one rule for
/// both sides, so that the gateway and a client signing with [`super::sign_request`] never
/// disagree on what was signed: the media type in any letter case (RFC 9110 makes it
/// case-insensitive), with or without parameters such as `; charset=UTF-8`.
pub fn is_form(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).is_some_and(|v| {
        let media_type = v
            .as_bytes()
            .split(|&b| b == b';')
            .next()
            .unwrap_or_default();
        media_type
            .trim_ascii()
            .eq_ignore_ascii_case(FORM.as_bytes())
    })
}

/// A header's value as the client sent it, "" when absent. Bytes that are not UTF-8 (never sent
/// by the official clients) are replaced rather than refused: the signature then just mismatches.
fn text(value: Option<&HeaderValue>) -> Cow<'_, str> {
    // Visible ASCII, as values nearly always are, is checked faster than UTF-8.
    value.map_or(Cow::Borrowed(""), |v| match v.to_str() {
        Ok(ascii) => Cow::Borrowed(ascii),
        Err(_) => String::from_utf8_lossy(v.as_bytes()),
    })
}

/// `query`: the raw query string (no `?`); `form`: the raw body, given only when
/// [`is_form`] (the caller has the body; this function cannot know whether it was read).
///
/// Choices where the clients leave room, each pinned by a test:
/// - `signed_headers` are sorted by the names as sent, byte order (the Java demo's TreeMap);
///   exact duplicates count once; names are compared with the exclusion list ignoring case.
/// - A listed header absent from the request is signed as `name:` (empty value), like a
///   header sent empty: the client that listed it signed whatever it had, usually nothing.
/// - Parameter keys and values are URL-decoded with `+` as a space: the Node SDK signs
///   `querystring.parse` output (which does that) and the Java demo sends `URLEncoder`
///   output (which writes spaces as `+`). Keys are sorted by the decoded bytes.
pub fn string_to_sign(
    method: &Method,
    path: &str,
    query: Option<&str>,
    form: Option<&str>,
    headers: &HeaderMap,
    signed_headers: &[&str],
) -> String {
    let mut out = String::with_capacity(256);
    out.extend(method.as_str().chars().map(|c| c.to_ascii_uppercase()));
    out.push('\n');
    for name in [ACCEPT, CONTENT_MD5, CONTENT_TYPE, DATE] {
        out.push_str(&text(headers.get(name)));
        out.push('\n');
    }

    let mut names: Vec<&str> = signed_headers
        .iter()
        .map(|n| n.trim())
        .filter(|n| {
            !n.is_empty()
                && !NOT_IN_HEADERS_BLOCK
                    .iter()
                    .any(|x| x.eq_ignore_ascii_case(n))
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        out.push_str(name);
        out.push(':');
        // A scan beats a hashed lookup here: a name given as text would be parsed and hashed
        // first, and a request has a dozen headers or so.
        let found = headers
            .iter()
            .find(|(n, _)| n.as_str().eq_ignore_ascii_case(name));
        out.push_str(&text(found.map(|(_, v)| v)));
        out.push('\n');
    }

    out.push_str(path);
    let mut params: Vec<(Cow<str>, Cow<str>)> = Vec::new();
    // Form first: the dedup below keeps the first of equal keys, so a form value wins over
    // the same query key, and within one source the first value wins.
    for source in [form, query].into_iter().flatten() {
        params.extend(parse_pairs(source));
    }
    if !params.is_empty() {
        params.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        params.dedup_by(|later, first| later.0 == first.0);
        out.push('?');
        for (i, (k, v)) in params.iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            out.push_str(k);
            if !v.is_empty() {
                out.push('=');
                out.push_str(v);
            }
        }
    }
    out
}

/// `a=1&b&c=x+y` -> (a, 1), (b, ""), (c, "x y"); empty pieces (`a=1&&b`) are skipped, as
/// Node's `querystring.parse` does.
fn parse_pairs(s: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    s.split('&').filter(|p| !p.is_empty()).map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        (decode(k), decode(v))
    })
}

fn decode(s: &str) -> Cow<'_, str> {
    if s.contains('+') {
        let spaced = s.replace('+', " ");
        Cow::Owned(percent_decode_str(&spaced).decode_utf8_lossy().into_owned())
    } else {
        percent_decode_str(s).decode_utf8_lossy()
    }
}
