//! Properties of the path rule: any path is handled without a panic; normalising is idempotent
//! and leaves no dot segment; and whatever a client sends, the backend path the gateway builds,
//! resolved the way a lenient backend resolves it (decode everything, `\` as a separator, `;`
//! parameters stripped, dot segments applied), stays inside the API's backend prefix.

use percent_encoding::{percent_decode_str, utf8_percent_encode};
use proptest::prelude::*;
use proptest::test_runner::Config;

use super::*;
use crate::urlencoded::{SEGMENT, SEGMENTS};

fn config() -> Config {
    Config {
        failure_persistence: None,
        ..Config::default()
    }
}

/// Path text that stresses the rule: separators, dots in every spelling, broken and overlong
/// escapes, `;` parameters, backslashes, any Unicode scalar.
fn hostile() -> impl Strategy<Value = String> {
    tail().prop_map(|t| format!("/{t}"))
}

fn tail() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => prop::sample::select(vec![
            "/", "//", ".", "..", "%2e", "%2E", "%2e%2e", ".%2e", "%2f", "%2F", "%5c", "%5C", "\\",
            ";", ";x=1", "..;", "%3b", "%00", "%0a", "%zz", "%", "%4", "%c0%ae", "%c0%af",
            "%e0%80%ae", "%ed%a0%80", "%ff", "%25", "%252e", "%7e", "~", "a", "files", "etc",
        ])
        .prop_map(String::from),
        // Mapped, not filtered: a long run would hit proptest's limit on rejected cases.
        1 => any::<char>()
            .prop_map(|c| if c.is_control() || c == '?' || c == '#' { 'x' } else { c })
            .prop_map(String::from),
        1 => "[a-z0-9]{1,3}",
    ];
    prop::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
}

/// What a lenient backend makes of a path: `None` when it would climb above the root.
fn resolve(path: &str) -> Option<String> {
    let decoded = percent_decode_str(path)
        .decode_utf8_lossy()
        .replace('\\', "/");
    let mut out: Vec<&str> = Vec::new();
    for segment in decoded.split('/') {
        let head = segment.split(';').next().unwrap_or("");
        match head {
            "." => {}
            ".." => {
                out.pop()?;
            }
            _ => out.push(segment),
        }
    }
    Some(out.join("/"))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn normalising_is_idempotent_and_leaves_no_dot_segment(path in hostile()) {
        if let Ok(normal) = normalize_path(&path) {
            let normal = normal.unwrap_or(path);
            prop_assert_eq!(normalize_path(&normal), Ok(None), "not normal: {}", normal);
            for segment in normal.split('/') {
                prop_assert!(dot_kind(segment.as_bytes()) == Dot::None, "{}", normal);
            }
            prop_assert!(std::str::from_utf8(&percent_decode_str(&normal).collect::<Vec<u8>>()).is_ok());
        }
    }

    #[test]
    fn a_greedy_value_never_leaves_the_backend_prefix(
        path in tail().prop_map(|t| format!("/files/{t}")),
        allow in any::<bool>(),
    ) {
        // API `/files/{path+}` with backend path `/static/{path+}`.
        let Ok(normal) = normalize_path(&path) else { return Ok(()) };
        let normal = normal.unwrap_or(path);
        let Some(value) = normal.strip_prefix("/files/") else { return Ok(()) };
        if check_raw(value, allow).is_err() {
            return Ok(());
        }
        let backend = format!("/static/{value}");
        prop_assert!(check_raw(&backend, true).is_ok());
        let resolved = resolve(&backend);
        prop_assert!(
            resolved.as_deref().is_some_and(|r| r.starts_with("/static/")),
            "{} reached {:?}", backend, resolved
        );
    }

    #[test]
    fn the_rest_of_a_prefix_match_never_leaves_the_backend_prefix(
        path in tail().prop_map(|t| format!("/pre{t}")),
    ) {
        // API `^~/pre` with backend path `/prefix/`: the rest of the path is appended.
        let Ok(normal) = normalize_path(&path) else { return Ok(()) };
        let normal = normal.unwrap_or(path);
        let Some(rest) = normal.strip_prefix("/pre") else { return Ok(()) };
        if check_raw(rest, false).is_err() {
            return Ok(());
        }
        let mut backend = String::from("/prefix/");
        crate::pipeline::forward::append_rest(&mut backend, rest);
        let resolved = resolve(&backend);
        prop_assert!(
            resolved.as_deref().is_some_and(|r| r.starts_with("/prefix/")),
            "{} reached {:?}", backend, resolved
        );
    }

    #[test]
    fn a_decoded_value_mapped_into_the_path_never_leaves_the_prefix(
        text in hostile().prop_map(|p| percent_decode_str(&p).decode_utf8_lossy().into_owned()),
        greedy in any::<bool>(),
    ) {
        // A query parameter mapped into `/docs/{name}` (or `{name+}`).
        if check_text(&text).is_err() {
            return Ok(());
        }
        let set = if greedy { SEGMENTS } else { SEGMENT };
        let backend = format!("/docs/{}", utf8_percent_encode(&text, set));
        let resolved = resolve(&backend);
        prop_assert!(
            resolved.as_deref().is_some_and(|r| r.starts_with("/docs/")),
            "{:?} reached {:?}", text, resolved
        );
    }
}
