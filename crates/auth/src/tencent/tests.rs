//! Vectors: signatures computed with Python's `hmac`, and one request made by PyPI
//! `tencentcloud-apigateway-authorization` 0.1.0 (signs `Date`, not `X-Date`) with a fixed clock.

use http::{HeaderMap, HeaderName, HeaderValue};

use super::*;

const SECRET: &[u8] = b"tc-secret-0123456789";
const NOW: i64 = 1_700_000_000_000;
const DATE_TEXT: &str = "Tue, 14 Nov 2023 22:13:20 GMT";
const SIGNING: &str = "x-date: Tue, 14 Nov 2023 22:13:20 GMT\nsource: pylon-test";

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

fn request(algorithm: &str, signature: &str) -> HeaderMap {
    let auth = format!(
        r#"hmac id="AKIDpylon", algorithm="{algorithm}", headers="x-date source", signature="{signature}""#
    );
    headers(&[
        ("X-Date", DATE_TEXT),
        ("Source", "pylon-test"),
        ("Authorization", &auth),
    ])
}

#[test]
fn vectors_for_every_algorithm() {
    for (name, sig) in [
        ("hmac-sha1", "jnZuLYChPlSjtQ4tzvf2LTot0qw="),
        (
            "hmac-sha256",
            "yQcEzM0eoqWhyTksmQXNx/CAMSeEErCAXV4T2E6uhM8=",
        ),
        (
            "hmac-sha384",
            "WIZwnyYS7itZA5chYxq1c0vSNII+bugKx2xhhCj5mYZ6Z7zHZ5P9HyJKuT2PB/7U",
        ),
        (
            "hmac-sha512",
            "INn+29+BbD2iTH0SAuDBPwuy6Q2x9lNTR9M/mj/1qggz4T0bfYIII9NgkMXmltOnDDRjVXxPop5e56dTLNtyRQ==",
        ),
    ] {
        let h = request(name, sig);
        let auth = parse_authorization(&h).unwrap();
        assert_eq!(auth.id, "AKIDpylon");
        assert_eq!(auth.algorithm.as_str(), name);
        check_date(&h, NOW + 5000).unwrap();
        let s = signing_string(&h, &auth.headers).unwrap();
        assert_eq!(s, SIGNING);
        assert_eq!(sign(SECRET, auth.algorithm, &s), sig);
        assert!(verify(SECRET, &auth, &s), "{name}");
        assert!(!verify(b"other", &auth, &s), "{name}");
    }
}

#[test]
fn third_party_python_client_signing_date() {
    let h = headers(&[
        ("Source", "pylon-test"),
        ("Date", DATE_TEXT),
        (
            "Authorization",
            r#"hmac id="AKIDpylon", algorithm="hmac-sha1", headers="source date", signature="QIYq5Ug/h9mpSLyqLhkte0m6wEA=""#,
        ),
    ]);
    let auth = parse_authorization(&h).unwrap();
    check_date(&h, NOW).unwrap();
    let s = signing_string(&h, &auth.headers).unwrap();
    assert_eq!(s, format!("source: pylon-test\ndate: {DATE_TEXT}"));
    assert!(verify(b"tc-secret-0123456789", &auth, &s));
}

#[test]
fn authorization_fields_in_any_order_and_spacing() {
    for value in [
        r#"hmac signature="c2ln",headers="X-Date  Source",algorithm="HMAC-SHA256",id="k""#,
        r#"HMAC   id = "k" , algorithm=hmac-sha256, headers="x-date source", signature="c2ln""#,
        r#"hmac id="k", id="ignored", algorithm="hmac-sha256", headers="x-date source", signature="c2ln", extra="x""#,
    ] {
        let h = headers(&[("Authorization", value)]);
        let auth = parse_authorization(&h).unwrap_or_else(|e| panic!("{value}: {e}"));
        assert_eq!(auth.id, "k", "{value}");
        assert_eq!(auth.signature, "c2ln", "{value}");
        assert_eq!(auth.algorithm, Algorithm::Sha256, "{value}");
        assert_eq!(
            auth.headers
                .iter()
                .map(|n| n.to_ascii_lowercase())
                .collect::<Vec<_>>(),
            ["x-date", "source"],
            "{value}"
        );
    }
}

#[test]
fn authorization_errors() {
    let err = |v: &str| parse_authorization(&headers(&[("Authorization", v)])).unwrap_err();
    assert_eq!(
        parse_authorization(&HeaderMap::new()),
        Err(TencentError::MissingIdOrSignature)
    );
    assert_eq!(err("Bearer abc"), TencentError::MissingIdOrSignature);
    assert_eq!(
        err(r#"hmac algorithm="hmac-sha1", headers="date", signature="x""#),
        TencentError::MissingIdOrSignature
    );
    assert_eq!(
        err(r#"hmac id="k", algorithm="hmac-sha1", headers="date", signature="""#),
        TencentError::MissingIdOrSignature
    );
    assert_eq!(
        err(r#"hmac id="k", algorithm="hmac-md5", headers="date", signature="x""#),
        TencentError::UnsupportedAlgorithm
    );
    assert_eq!(
        err(r#"hmac id="k", headers="date", signature="x""#),
        TencentError::UnsupportedAlgorithm
    );
    assert_eq!(
        err(r#"hmac id="k", algorithm="hmac-sha1", signature="x""#),
        TencentError::MissingIdOrSignature
    );
    assert_eq!(
        err(r#"hmac id="k", algorithm="hmac-sha1", headers="source", signature="x""#),
        TencentError::MissingDate
    );
    assert_eq!(err(r#"hmac garbage"#), TencentError::MissingIdOrSignature);
    assert_eq!(
        err(r#"hmac id="k, algorithm="hmac-sha1""#),
        TencentError::MissingIdOrSignature
    );
}

#[test]
fn date_checks() {
    let h = headers(&[
        ("X-Date", DATE_TEXT),
        ("Date", "Mon, 01 Jan 2001 00:00:00 GMT"),
    ]);
    check_date(&h, NOW).unwrap();
    let h = headers(&[("Date", DATE_TEXT)]);
    check_date(&h, NOW + CLOCK_WINDOW_MS).unwrap();
    check_date(&h, NOW - CLOCK_WINDOW_MS).unwrap();
    assert_eq!(
        check_date(&h, NOW + CLOCK_WINDOW_MS + 1000),
        Err(TencentError::DateOutOfWindow)
    );
    assert_eq!(
        check_date(&HeaderMap::new(), NOW),
        Err(TencentError::MissingDate)
    );
    let h = headers(&[("X-Date", "yesterday")]);
    assert_eq!(check_date(&h, NOW), Err(TencentError::MissingDate));
}

#[test]
fn missing_signed_header_is_none() {
    let h = headers(&[("X-Date", DATE_TEXT)]);
    assert_eq!(signing_string(&h, &["x-date", "source"]), None);
    assert_eq!(signing_string(&h, &["request-line"]), None);
}

#[test]
fn client_sign_request_round_trip() {
    let mut h = headers(&[("Source", "pylon-test")]);
    sign_request(
        &mut h,
        "AKIDpylon",
        "tc-secret-0123456789",
        Algorithm::Sha256,
        NOW,
    )
    .unwrap();
    assert_eq!(h["x-date"], DATE_TEXT);
    assert_eq!(
        h["authorization"],
        r#"hmac id="AKIDpylon", algorithm="hmac-sha256", headers="x-date source", signature="yQcEzM0eoqWhyTksmQXNx/CAMSeEErCAXV4T2E6uhM8=""#
    );
    let auth = parse_authorization(&h).unwrap();
    check_date(&h, NOW).unwrap();
    assert!(verify(
        SECRET,
        &auth,
        &signing_string(&h, &auth.headers).unwrap()
    ));

    let mut h = HeaderMap::new();
    sign_request(&mut h, "k", "s", Algorithm::Sha1, NOW).unwrap();
    assert_eq!(h["source"], "pylon");
}

#[test]
fn client_sign_request_with_a_clock_past_year_9999_does_not_panic() {
    // Found by tencent::proptests::client_signing_never_panics: httpdate panicked.
    let mut h = HeaderMap::new();
    sign_request(&mut h, "k", "s", Algorithm::Sha1, 253_402_300_800_000).unwrap();
    assert_eq!(h["x-date"], "Fri, 31 Dec 9999 23:59:59 GMT");
    sign_request(&mut h, "k", "s", Algorithm::Sha1, i64::MAX).unwrap();
    assert_eq!(h["x-date"], "Fri, 31 Dec 9999 23:59:59 GMT");
    sign_request(&mut h, "k", "s", Algorithm::Sha1, i64::MIN).unwrap();
    assert_eq!(h["x-date"], "Thu, 01 Jan 1970 00:00:00 GMT");
}
