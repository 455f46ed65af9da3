//! Normalize phase: the request path as routing and backends see it, and the values a client
//! controls that end up in a backend path. The rule (docs/paths.md):
//!
//! 1. Before routing the path is normalised per RFC 3986 (section 6.2.2): every `%XX` must be
//!    two hex digits, escapes of unreserved characters are decoded (`%2e` is `.`, `%7E` is
//!    `~`) and the others uppercased, and `.` and `..` segments are removed. Refused with a
//!    400: malformed escapes (`%zz`, `%4`), escaped NUL and control characters, bytes that do
//!    not decode to UTF-8 (overlong forms such as `%c0%ae`, surrogates, `%ff`), a `..` that
//!    climbs above the root, and Tomcat-style dot segments with parameters (`..;x`).
//! 2. After routing, every client value written into the backend path (a `{param}` or
//!    `{proxy+}` value, the unmatched rest of a prefix match, a parameter mapped into the path)
//!    may not hold a dot segment once decoded, with `/` and `\` both taken as separators, and
//!    may not hold an encoded slash (`%2F`, `%5C`) or a backslash unless the API sets
//!    `request.allow_encoded_slashes`. Dot segments are never allowed: with them the value
//!    could climb out of the API's backend path on any backend that decodes and normalises.

use std::borrow::Cow;

use http::Uri;
use http::uri::PathAndQuery;
use percent_encoding::percent_decode;

/// Why a path or value was refused; becomes `Invalid Url: <reason>` on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathError(pub(crate) Cow<'static, str>);

impl PathError {
    fn fixed(reason: &'static str) -> Self {
        PathError(Cow::Borrowed(reason))
    }
}

/// The normalised form of `uri`, or `None` when it already is normal (the common case, found
/// by one scan without allocating).
pub(crate) fn normalize_uri(uri: &Uri) -> Result<Option<Uri>, PathError> {
    let path = uri.path();
    let Some(normal) = normalize_path(path)? else {
        return Ok(None);
    };
    let mut text = normal;
    if let Some(query) = uri.query() {
        text.push('?');
        text.push_str(query);
    }
    let pq = PathAndQuery::try_from(text)
        .map_err(|_| PathError::fixed("the normalised path is not a valid URI path"))?;
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(pq);
    Uri::from_parts(parts)
        .map(Some)
        .map_err(|_| PathError::fixed("the normalised path is not a valid URI path"))
}

/// RFC 3986 normalisation of an origin-form path; `None` when `path` is already normal.
pub(crate) fn normalize_path(path: &str) -> Result<Option<String>, PathError> {
    if !path.starts_with('/') {
        // `*` (OPTIONS *): nothing to route or forward.
        return Ok(None);
    }
    if !needs_work(path.as_bytes()) {
        return Ok(None);
    }
    let mut segments: Vec<String> = Vec::new();
    let mut trailing_slash = false;
    for raw in path[1..].split('/') {
        let segment = normalize_segment(raw)?;
        trailing_slash = false;
        match dot_kind(segment.as_bytes()) {
            Dot::None => segments.push(segment),
            Dot::Current => trailing_slash = true,
            Dot::Parent => {
                if segments.pop().is_none() {
                    return Err(PathError::fixed("a `..` segment climbs above the root"));
                }
                trailing_slash = true;
            }
            Dot::WithParameters => {
                return Err(PathError::fixed(
                    "a dot segment with parameters (`..;`) is not allowed",
                ));
            }
        }
    }
    let mut out = String::with_capacity(path.len());
    for segment in &segments {
        out.push('/');
        out.push_str(segment);
    }
    if trailing_slash || out.is_empty() {
        out.push('/');
    }
    Ok((out != path).then_some(out))
}

/// Whether the path holds an escape or something that may be a dot segment.
fn needs_work(path: &[u8]) -> bool {
    path.contains(&b'%') || path.windows(2).any(|w| w[0] == b'/' && w[1] == b'.')
}

/// Decodes escapes of unreserved characters, uppercases the others, and checks that the
/// segment decodes to UTF-8 without control characters.
fn normalize_segment(raw: &str) -> Result<String, PathError> {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut decoded = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            // Runs between escapes are copied whole: `raw` is a str, and `%` is ASCII.
            let end = bytes[i..]
                .iter()
                .position(|&b| b == b'%')
                .map_or(bytes.len(), |n| i + n);
            out.push_str(&raw[i..end]);
            decoded.extend_from_slice(&bytes[i..end]);
            i = end;
            continue;
        }
        let (Some(hi), Some(lo)) = (
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) else {
            return Err(PathError::fixed(
                "invalid percent-encoding (`%` must be followed by two hex digits)",
            ));
        };
        let value = hi << 4 | lo;
        if value < 0x20 || value == 0x7f {
            return Err(PathError::fixed(
                "an encoded NUL or control character is not allowed",
            ));
        }
        if is_unreserved(value) {
            out.push(char::from(value));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(value >> 4)]));
            out.push(char::from(HEX[usize::from(value & 0xf)]));
        }
        decoded.push(value);
        i += 3;
    }
    if std::str::from_utf8(&decoded).is_err() {
        return Err(PathError::fixed(
            "the path does not decode to UTF-8 (malformed or overlong encoding)",
        ));
    }
    Ok(out)
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

#[derive(Debug, PartialEq, Eq)]
enum Dot {
    None,
    Current,
    Parent,
    /// `.;x` or `..;x`: Tomcat and some Java frameworks strip `;` parameters and then resolve.
    WithParameters,
}

fn dot_kind(segment: &[u8]) -> Dot {
    match segment {
        b"." => Dot::Current,
        b".." => Dot::Parent,
        _ => {
            let head = segment
                .iter()
                .position(|&b| b == b';')
                .map_or(segment, |end| &segment[..end]);
            if head.len() < segment.len() && (head == b"." || head == b"..") {
                Dot::WithParameters
            } else {
                Dot::None
            }
        }
    }
}

/// Checks a raw (still percent-encoded) client value before it is written into a backend
/// path: a path parameter, a `{proxy+}` value, or the rest of a prefix match.
pub(crate) fn check_raw(raw: &str, allow_encoded_slashes: bool) -> Result<(), PathError> {
    if raw.is_empty() {
        return Ok(());
    }
    if !allow_encoded_slashes && has_encoded_slash(raw.as_bytes()) {
        return Err(PathError::fixed(
            "an encoded slash (`%2F`, `%5C` or `\\`) is not allowed in a path value",
        ));
    }
    let decoded: Cow<'_, [u8]> = percent_decode(raw.as_bytes()).into();
    check_decoded(&decoded)
}

/// Checks a decoded client value (a query, header or form parameter) that is written into a
/// backend path.
pub(crate) fn check_text(text: &str) -> Result<(), PathError> {
    check_decoded(text.as_bytes())
}

fn check_decoded(decoded: &[u8]) -> Result<(), PathError> {
    let dotted = decoded
        .split(|&b| b == b'/' || b == b'\\')
        .any(|segment| dot_kind(segment) != Dot::None);
    if dotted {
        return Err(PathError::fixed(
            "a dot segment (`.` or `..`) is not allowed in a path value",
        ));
    }
    if decoded.contains(&0) {
        return Err(PathError::fixed("an encoded NUL is not allowed"));
    }
    Ok(())
}

fn has_encoded_slash(raw: &[u8]) -> bool {
    raw.contains(&b'\\')
        || raw.windows(3).any(|w| {
            w[0] == b'%'
                && ((w[1] == b'2' && w[2].eq_ignore_ascii_case(&b'f'))
                    || (w[1] == b'5' && w[2].eq_ignore_ascii_case(&b'c')))
        })
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
