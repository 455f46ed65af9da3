//! `application/x-www-form-urlencoded` and percent-encoding helpers shared by the query, the form
//! body and the backend path; borrowing whenever nothing needs decoding.

use std::borrow::Cow;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// Everything but RFC 3986 unreserved characters: safe inside a query key or value.
pub(crate) const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Characters a path segment may carry unescaped (RFC 3986 `pchar`).
pub(crate) const SEGMENT: &AsciiSet = &COMPONENT
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@');

/// As [`SEGMENT`], but `/` stays: for greedy `{name+}` values that span segments.
pub(crate) const SEGMENTS: &AsciiSet = &SEGMENT.remove(b'/');

/// Decodes one form or query component: `+` is a space, then percent-decoding (lossy UTF-8).
pub(crate) fn decode(raw: &str) -> Cow<'_, str> {
    if raw.contains('+') {
        let spaced = raw.replace('+', " ");
        Cow::Owned(percent_decode_str(&spaced).decode_utf8_lossy().into_owned())
    } else {
        percent_decode_str(raw).decode_utf8_lossy()
    }
}

/// The `key=value` pairs of a query string or form body, decoded; a bare key has an empty value.
pub(crate) fn pairs(input: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    input.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(k), decode(v))
    })
}

/// The first value of `name` in a query string or form body.
pub(crate) fn find<'a>(input: &'a str, name: &str) -> Option<Cow<'a, str>> {
    pairs(input).find(|(k, _)| k == name).map(|(_, v)| v)
}

/// Appends `key=value` (both encoded) to a query string or form body being built.
pub(crate) fn append_pair(out: &mut String, key: &str, value: &str) {
    if !out.is_empty() {
        out.push('&');
    }
    out.extend(utf8_percent_encode(key, COMPONENT));
    out.push('=');
    out.extend(utf8_percent_encode(value, COMPONENT));
}

/// Appends an already encoded `a=1&b=2` fragment.
pub(crate) fn append_encoded(out: &mut String, encoded: &str) {
    if encoded.is_empty() {
        return;
    }
    if !out.is_empty() {
        out.push('&');
    }
    out.push_str(encoded);
}

/// Appends the pairs of an encoded query whose decoded key is not in `dropped`, as they came.
pub(crate) fn append_without(out: &mut String, encoded: &str, dropped: &[String]) {
    if dropped.is_empty() {
        append_encoded(out, encoded);
        return;
    }
    for pair in encoded.split('&').filter(|p| !p.is_empty()) {
        let key = pair.split_once('=').map_or(pair, |(k, _)| k);
        if !dropped.iter().any(|d| *d == decode(key)) {
            append_encoded(out, pair);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_without_drops_named_pairs_only() {
        let mut out = String::new();
        let dropped = ["AppCode".to_string(), "access token".to_string()];
        append_without(
            &mut out,
            "a=1&AppCode=x&access+token=t&b=2&AppCodeX=3",
            &dropped,
        );
        assert_eq!(out, "a=1&b=2&AppCodeX=3");
    }

    #[test]
    fn pairs_decode_plus_and_percent() {
        let got: Vec<_> = pairs("a=1&b=x+y%21&&c&d=%E4%BD%A0")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y!".into()),
                ("c".into(), "".into()),
                ("d".into(), "你".into())
            ]
        );
    }

    #[test]
    fn find_takes_the_first_value() {
        assert_eq!(find("a=1&a=2", "a").unwrap(), "1");
        assert!(find("a=1", "b").is_none());
    }

    #[test]
    fn append_pair_encodes_both_sides() {
        let mut q = String::from("x=1");
        append_pair(&mut q, "a b", "c&d=é");
        assert_eq!(q, "x=1&a%20b=c%26d%3D%C3%A9");
        append_encoded(&mut q, "");
        append_encoded(&mut q, "z=2");
        assert_eq!(q, "x=1&a%20b=c%26d%3D%C3%A9&z=2");
    }

    #[test]
    fn segment_sets_keep_path_characters() {
        let one: String = utf8_percent_encode("a/b c:d", SEGMENT).collect();
        assert_eq!(one, "a%2Fb%20c:d");
        let many: String = utf8_percent_encode("a/b c", SEGMENTS).collect();
        assert_eq!(many, "a/b%20c");
    }
}

#[cfg(test)]
mod proptests;
