use super::*;

fn normal(path: &str) -> Result<String, PathError> {
    normalize_path(path).map(|n| n.unwrap_or_else(|| path.to_string()))
}

#[test]
fn normal_paths_are_left_alone_without_allocating() {
    for path in [
        "/",
        "/a/b",
        "/a/b/",
        "/a.b/c..d/.e",
        "/%E4%BD%A0",
        "/a%2Fb",
        "/你好",
        "*",
    ] {
        assert_eq!(normalize_path(path), Ok(None), "{path}");
    }
}

#[test]
fn dot_segments_are_removed_per_rfc_3986() {
    assert_eq!(normal("/a/./b").unwrap(), "/a/b");
    assert_eq!(normal("/a/b/../c").unwrap(), "/a/c");
    assert_eq!(normal("/a/b/..").unwrap(), "/a/");
    assert_eq!(normal("/a/b/.").unwrap(), "/a/b/");
    assert_eq!(normal("/a/..").unwrap(), "/");
    assert_eq!(normal("/./").unwrap(), "/");
    assert_eq!(normal("/a/%2e%2E/b").unwrap(), "/b");
    assert_eq!(normal("/a/.%2e/b").unwrap(), "/b");
    assert_eq!(normal("/a/%2e/b").unwrap(), "/a/b");
}

#[test]
fn unreserved_escapes_are_decoded_and_the_rest_uppercased() {
    assert_eq!(normal("/%7Euser/%41").unwrap(), "/~user/A");
    assert_eq!(normal("/a%2fb/%e4%bd%a0").unwrap(), "/a%2Fb/%E4%BD%A0");
}

#[test]
fn climbing_above_the_root_is_refused() {
    for path in [
        "/..",
        "/../x",
        "/a/../../x",
        "/%2e%2e/x",
        "/a/%2E%2E/%2e%2e/etc/passwd",
    ] {
        assert!(normalize_path(path).is_err(), "{path}");
    }
}

#[test]
fn malformed_escapes_are_refused() {
    for path in ["/a%zz", "/a%4", "/a%", "/%g0", "/a%%41"] {
        let err = normalize_path(path).unwrap_err();
        assert!(err.0.contains("percent-encoding"), "{path}: {err:?}");
    }
}

#[test]
fn control_characters_and_bad_utf8_are_refused() {
    for path in ["/a%00b", "/%0d%0aSet-Cookie:x", "/%7f", "/%1b[31m"] {
        let err = normalize_path(path).unwrap_err();
        assert!(err.0.contains("control"), "{path}: {err:?}");
    }
    // Overlong `/` and `.`, a lone continuation byte, a surrogate, and 0xFF.
    for path in ["/%c0%af", "/%c0%ae%c0%ae/x", "/%80", "/%ed%a0%80", "/%ff"] {
        let err = normalize_path(path).unwrap_err();
        assert!(err.0.contains("UTF-8"), "{path}: {err:?}");
    }
}

#[test]
fn dot_segments_with_parameters_are_refused() {
    for path in ["/a/..;/b", "/a/.;x/b", "/a/..;jsessionid=1/b"] {
        assert!(normalize_path(path).is_err(), "{path}");
    }
    assert_eq!(normalize_path("/a/..x;y"), Ok(None));
}

#[test]
fn the_query_is_kept_as_it_came() {
    let uri: Uri = "/a/./b%7e?x=%2e%2e&y=/../".parse().unwrap();
    let normal = normalize_uri(&uri).unwrap().unwrap();
    assert_eq!(normal.path(), "/a/b~");
    assert_eq!(normal.query(), Some("x=%2e%2e&y=/../"));
    let absolute: Uri = "http://h.example/a/../b".parse().unwrap();
    assert_eq!(
        normalize_uri(&absolute).unwrap().unwrap().to_string(),
        "http://h.example/b"
    );
}

#[test]
fn raw_values_may_not_carry_encoded_slashes_or_dot_segments() {
    assert!(check_raw("a%20b", false).is_ok());
    assert!(check_raw("a/b/c", false).is_ok());
    assert!(check_raw("..x", false).is_ok());
    for value in ["..%2F..%2Fetc", "a%2fb", "a%5Cb", "a\\b", "%2E%2E%2F"] {
        assert!(check_raw(value, false).is_err(), "{value}");
    }
    // Allowed slashes still may not build a dot segment.
    assert!(check_raw("a%2Fb", true).is_ok());
    for value in [
        "..%2Fetc",
        "a%2F..",
        "..%5C",
        "%2e%2e%5cwin",
        "x%2F.%2Fy",
        "..;%2Fa",
    ] {
        assert!(check_raw(value, true).is_err(), "{value}");
    }
}

#[test]
fn decoded_values_may_not_be_dot_segments() {
    assert!(check_text("report.pdf").is_ok());
    for value in [
        "..",
        ".",
        "../x",
        "a/../../b",
        "..\\x",
        "a/.",
        "..;x",
        "a\0b",
    ] {
        assert!(check_text(value).is_err(), "{value:?}");
    }
}
