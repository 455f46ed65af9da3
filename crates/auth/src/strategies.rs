//! Input generators and the proptest settings the crate's property tests (`proptests`
//! modules) share: the shapes a hostile client can put in headers, paths, queries and forms.

use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;
use proptest::test_runner::Config;

/// Proptest's defaults (so `PROPTEST_CASES` and the other `PROPTEST_*` variables still apply),
/// minus the regression files: by default a failure writes `proptest-regressions/` beside the
/// source, which would land in the tree unasked. A failure prints its minimal input; a real
/// bug gets a plain unit test with it.
pub fn config() -> Config {
    Config {
        failure_persistence: None,
        ..Config::default()
    }
}

/// Text that stresses URL decoding and pair splitting: separators, `+`, broken and valid
/// `%` escapes (including escapes of bytes that are not UTF-8), and any Unicode scalar.
pub fn messy() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => any::<char>().prop_map(String::from),
        2 => "[a-zA-Z0-9]{1,4}",
        1 => prop::sample::select(vec!["&", "=", "+", "&&", "==", "%", "%2", "%zz", "%%", "?", "#", " ", "/", ",", ";"]).prop_map(String::from),
        1 => "%[0-9a-fA-F]{2}",
        1 => prop::sample::select(vec!["%00", "%C0%AF", "%E4%B8", "%FF", "%ED%A0%80", "\u{FFFD}", "\u{0}", "\u{202E}", "\u{FEFF}"]).prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

/// A header value as `http` allows it: any byte but controls (tab excepted) and DEL,
/// including the obs-text bytes 0x80..=0xFF that need not be UTF-8.
pub fn header_value() -> impl Strategy<Value = HeaderValue> {
    let byte = prop_oneof![
        6 => 0x20u8..0x7f,
        1 => Just(b'\t'),
        2 => 0x80u8..=0xff,
    ];
    prop::collection::vec(byte, 0..40)
        .prop_map(|b| HeaderValue::from_bytes(&b).unwrap_or_else(|_| HeaderValue::from_static("")))
}

/// Visible ASCII and spaces: a header value whose every byte change shows in the text.
pub fn ascii_value() -> impl Strategy<Value = String> {
    "[ -~]{0,40}"
}

/// Names the schemes read, in any case, and arbitrary tokens.
pub fn header_name() -> impl Strategy<Value = HeaderName> {
    let known = prop::sample::select(vec![
        "x-ca-key",
        "x-ca-signature",
        "x-ca-signature-method",
        "x-ca-signature-headers",
        "x-ca-timestamp",
        "x-ca-nonce",
        "x-ca-stage",
        "authorization",
        "accept",
        "content-type",
        "content-md5",
        "date",
        "x-date",
        "source",
    ]);
    prop_oneof![
        3 => (known, any::<u64>()).prop_map(|(n, bits)| random_case(n, bits)),
        1 => "[a-zA-Z0-9!#$%&'*+.^_`|~-]{1,24}",
    ]
    .prop_map(|n| HeaderName::from_bytes(n.as_bytes()).expect("a token is a header name"))
}

/// A request's headers: repeated names and values of every kind.
pub fn header_map() -> impl Strategy<Value = HeaderMap> {
    prop::collection::vec((header_name(), header_value()), 0..24).prop_map(|pairs| {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.append(n, v);
        }
        h
    })
}

/// `name` with the letters whose bit in `bits` is set turned upper case.
pub fn random_case(name: &str, bits: u64) -> String {
    name.chars()
        .enumerate()
        .map(|(i, c)| {
            if bits >> (i % 64) & 1 == 1 {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

/// Visible ASCII: what a tamper may put in a header value or path.
pub const VISIBLE: &[u8] = b"!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~";
/// Base64 digits and padding.
pub const BASE64_DIGITS: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";

/// A member of `alphabet` other than `original`, picked by `pick`. Picking this way rather
/// than discarding the cases that drew the same byte keeps long runs from hitting proptest's
/// limit on discarded cases.
pub fn other_than(original: u8, alphabet: &[u8], pick: usize) -> u8 {
    match alphabet.iter().position(|&b| b == original) {
        Some(i) => alphabet[(i + 1 + pick % (alphabet.len() - 1)) % alphabet.len()],
        None => alphabet[pick % alphabet.len()],
    }
}

/// `s` with the byte at `at` (a position chosen modulo the length, moved to the nearest
/// ASCII alphanumeric byte) replaced by another alphanumeric byte; `None` when `s` has none.
/// Alphanumerics never start or end a `%` escape's meaning, a separator or a `+`, so the
/// change is a change of content, not of structure.
pub fn tamper_alnum(s: &str, at: usize, with: u8) -> Option<String> {
    let bytes = s.as_bytes();
    let candidates: Vec<usize> = (0..bytes.len())
        .filter(|&i| bytes[i].is_ascii_alphanumeric() && !in_escape(bytes, i))
        .collect();
    let &i = candidates.get(at % candidates.len().max(1))?;
    let alnum = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut replacement = alnum[usize::from(with) % alnum.len()];
    if replacement == bytes[i] {
        replacement = alnum[(usize::from(with) + 1) % alnum.len()];
    }
    let mut out = bytes.to_vec();
    out[i] = replacement;
    String::from_utf8(out).ok()
}

/// Whether byte `i` is one of the two hex digits of a `%XX` escape.
fn in_escape(bytes: &[u8], i: usize) -> bool {
    let escape_at = |p: usize| {
        bytes.get(p) == Some(&b'%')
            && bytes.get(p + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(p + 2).is_some_and(u8::is_ascii_hexdigit)
    };
    (i >= 1 && escape_at(i - 1)) || (i >= 2 && escape_at(i - 2))
}
