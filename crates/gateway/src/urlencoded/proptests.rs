//! Properties of the query and form helpers: any input is handled without a panic; what
//! `append_pair` writes, `pairs` and `find` read back exactly; `append_without` drops exactly
//! the named pairs and keeps the others as they came.

use percent_encoding::percent_decode_str;
use proptest::prelude::*;
use proptest::test_runner::Config;

use super::*;

/// Proptest's defaults (`PROPTEST_CASES` and the other variables apply) without regression
/// files: a failure would otherwise write `proptest-regressions/` into the source tree.
fn config() -> Config {
    Config {
        failure_persistence: None,
        ..Config::default()
    }
}

/// Text that stresses decoding and splitting: separators, `+`, broken and valid escapes
/// (some of bytes that are not UTF-8), any Unicode scalar.
fn messy() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => any::<char>().prop_map(String::from),
        2 => "[a-zA-Z0-9]{1,4}",
        2 => prop::sample::select(vec![
            "&", "=", "+", "&&", "==", "%", "%2", "%zz", "%%", "%00", "%C0%AF", "%E4%B8", "%FF",
            "%ED%A0%80", "%2e%2e", "%2F", "..", "/",
        ])
        .prop_map(String::from),
        1 => "%[0-9a-fA-F]{2}",
    ];
    prop::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

/// Decoded pairs: any text, empty keys and values, repeated keys.
fn pairs_strategy() -> impl Strategy<Value = Vec<(String, String)>> {
    let text = prop_oneof![2 => "[a-c]{0,2}", 3 => any::<String>(), 1 => messy()];
    prop::collection::vec((text.clone(), text), 0..10)
}

fn owned<'a>(it: impl Iterator<Item = (Cow<'a, str>, Cow<'a, str>)>) -> Vec<(String, String)> {
    it.map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

proptest! {
    #![proptest_config(config())]

    /// Any query or form body: decoding, splitting, finding and filtering return.
    #[test]
    fn hostile_input_never_panics(input in messy(), name in messy(), dropped in prop::collection::vec(messy(), 0..3)) {
        let _ = decode(&input);
        let _ = owned(pairs(&input));
        let _ = find(&input, &name);
        let mut out = String::new();
        append_without(&mut out, &input, &dropped);
        append_encoded(&mut out, &input);
    }

    /// `decode` inverts the encoding `append_pair` uses, for any text.
    #[test]
    fn decode_inverts_component_encoding(s in any::<String>()) {
        let encoded: String = utf8_percent_encode(&s, COMPONENT).collect();
        prop_assert!(encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)));
        prop_assert_eq!(decode(&encoded), s.as_str());
    }

    /// Path segment encodings: a `{name}` value can never add a `/`, `?` or `#`, a greedy
    /// `{name+}` value never a `?` or `#`; percent-decoding gives the value back.
    #[test]
    fn segment_encodings_round_trip(s in prop_oneof![any::<String>(), messy()]) {
        let one: String = utf8_percent_encode(&s, SEGMENT).collect();
        prop_assert!(!one.contains(['/', '?', '#']), "{one}");
        prop_assert_eq!(percent_decode_str(&one).decode_utf8().unwrap(), s.as_str());
        let many: String = utf8_percent_encode(&s, SEGMENTS).collect();
        prop_assert!(!many.contains(['?', '#']), "{many}");
        prop_assert_eq!(percent_decode_str(&many).decode_utf8().unwrap(), s.as_str());
    }

    /// What `append_pair` writes, `pairs` reads back pair for pair (empty keys and values,
    /// repeats and any text included), and `find` gives each key's first value.
    #[test]
    fn append_pair_then_pairs_round_trips(list in pairs_strategy(), prefix in prop::option::of("[a-z]{1,3}=[a-z]{0,3}")) {
        let mut q = prefix.clone().unwrap_or_default();
        for (k, v) in &list {
            append_pair(&mut q, k, v);
        }
        let mut want = Vec::new();
        if let Some(p) = &prefix {
            let (k, v) = p.split_once('=').unwrap();
            want.push((k.to_string(), v.to_string()));
        }
        want.extend(list.iter().cloned());
        prop_assert_eq!(owned(pairs(&q)), want.clone());
        for (k, _) in &want {
            let first = want.iter().find(|(k2, _)| k2 == k).map(|(_, v)| v.as_str());
            let found = find(&q, k);
            prop_assert_eq!(found.as_deref(), first);
        }
    }

    /// `append_without` keeps exactly the pairs whose decoded key is not dropped, each as it
    /// came (byte for byte), in order, after what `out` held.
    #[test]
    fn append_without_drops_exactly_the_named_keys(
        input in prop_oneof![messy(), pairs_strategy().prop_map(|l| {
            let mut q = String::new();
            for (k, v) in &l { append_pair(&mut q, k, v); }
            q
        })],
        dropped in prop::collection::vec(prop_oneof!["[a-c]{0,2}", messy()], 0..3),
        start in prop::option::of("[a-z]{1,3}=1"),
    ) {
        let mut out = start.clone().unwrap_or_default();
        append_without(&mut out, &input, &dropped);
        let start = start.unwrap_or_default();
        prop_assert!(out.starts_with(&start));
        let rest = &out[start.len()..];
        // One `&` joins what was added to what `out` held, if both are there.
        let added = if start.is_empty() { rest } else { rest.strip_prefix('&').unwrap_or(rest) };
        prop_assert!(start.is_empty() || rest.is_empty() || rest.starts_with('&'));
        if dropped.is_empty() {
            prop_assert_eq!(added, input.as_str());
        } else {
            let kept: Vec<&str> = input
                .split('&')
                .filter(|p| !p.is_empty())
                .filter(|p| {
                    let key = p.split_once('=').map_or(*p, |(k, _)| k);
                    !dropped.iter().any(|d| *d == decode(key))
                })
                .collect();
            prop_assert_eq!(added, kept.join("&"));
            for (k, _) in pairs(added) {
                prop_assert!(!dropped.iter().any(|d| *d == k));
            }
        }
    }
}
