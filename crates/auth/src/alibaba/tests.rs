//! Test vectors: the `node_*` headers were produced by the official Node SDK (npm
//! `aliyun-api-gateway` 1.1.6) and the `python_*` ones by the official Python demo (PyPI
//! `aliyun-api-gateway-sign` 1.0.4), both run with a fixed clock and nonce and the transport
//! stubbed out; `java_style_*` was computed with Python's `hmac` from a string to sign
//! written out by hand.

use http::{HeaderMap, HeaderName, HeaderValue, Method};

use super::*;

const KEY: &str = "203753452";
const SECRET: &str = "b9f0e7a3c1d24e5f8a6b7c8d9e0f1a2b";
const TS: i64 = 1_700_000_000_000;
const NODE_NONCE: &str = "5a6b1a14-3f8e-4a0c-9a7e-0c2f8d2b9e11";
const PY_NONCE: &str = "c8a9f3e2-6d1b-4c7a-8e5f-2b3c4d5e6f70";

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

fn node_headers(extra: &[(&str, &str)]) -> HeaderMap {
    let ts = TS.to_string();
    let pairs = vec![
        ("x-ca-timestamp", ts.as_str()),
        ("x-ca-key", KEY),
        ("x-ca-nonce", NODE_NONCE),
        ("x-ca-stage", "RELEASE"),
        ("accept", "application/json"),
        (
            "x-ca-signature-headers",
            "x-ca-key,x-ca-nonce,x-ca-stage,x-ca-timestamp",
        ),
    ];
    let mut h = headers(&pairs);
    // Extra entries are added, or replace a default (the signature-headers list).
    for (k, v) in extra {
        h.insert(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

fn python_headers(content_type: &str, extra: &[(&str, &str)]) -> HeaderMap {
    let ts = TS.to_string();
    let mut pairs = vec![
        ("X-Ca-Timestamp", ts.as_str()),
        ("X-Ca-Key", KEY),
        ("X-Ca-Nonce", PY_NONCE),
        ("Content-Type", content_type),
        ("Accept", "application/json"),
        (
            "X-Ca-Signature-Headers",
            "X-Ca-Key,X-Ca-Nonce,X-Ca-Timestamp",
        ),
    ];
    pairs.extend_from_slice(extra);
    headers(&pairs)
}

/// Runs the server side over a request and says whether `signature` verifies.
fn server_accepts(
    method: Method,
    target: &str,
    h: &HeaderMap,
    body: &str,
    signature: &str,
) -> bool {
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    let mut h = h.clone();
    h.insert(X_CA_SIGNATURE, HeaderValue::from_str(signature).unwrap());
    let c = credentials(&h).unwrap().unwrap();
    assert_eq!(c.key, KEY);
    check_timestamp(c.timestamp, TS + 1000).unwrap();
    let form = is_form(&h).then_some(body);
    let sts = string_to_sign(&method, path, query, form, &h, &c.signed_headers);
    if let Some(md5) = h.get("content-md5") {
        assert_eq!(md5.to_str().unwrap(), content_md5(body.as_bytes()));
    }
    verify(&SigningKey::new(SECRET.as_bytes()), &c, &sts)
}

#[test]
fn node_sdk_get_with_unsorted_query() {
    let h = node_headers(&[]);
    let sig = "tYX2tUWglHEPUtigU5FMZmqT8tP13ZknflgLbz/8BkA=";
    assert!(server_accepts(
        Method::GET,
        "/demo/get?b=2&a=1",
        &h,
        "",
        sig
    ));
    let mut signed = h.clone();
    signed.insert(X_CA_SIGNATURE, HeaderValue::from_static(sig));
    let c = credentials(&signed).unwrap().unwrap();
    let sts = string_to_sign(
        &Method::GET,
        "/demo/get",
        Some("b=2&a=1"),
        None,
        &h,
        &c.signed_headers,
    );
    assert_eq!(
        sts,
        "GET\napplication/json\n\n\n\nx-ca-key:203753452\nx-ca-nonce:5a6b1a14-3f8e-4a0c-9a7e-0c2f8d2b9e11\n\
         x-ca-stage:RELEASE\nx-ca-timestamp:1700000000000\n/demo/get?a=1&b=2"
    );
    assert_eq!(
        sign(SECRET.as_bytes(), SignatureMethod::HmacSha256, &sts),
        sig
    );
    // One bit off the secret and it fails.
    assert!(!verify(
        &SigningKey::new(b"b9f0e7a3c1d24e5f8a6b7c8d9e0f1a2c"),
        &c,
        &sts
    ));
}

#[test]
fn node_sdk_query_is_decoded_with_plus_as_space() {
    // The SDK sent `c=x+y` raw and signed `c=x y`; `e=` is signed as a bare `e`.
    let h = node_headers(&[]);
    let sig = "3pCQUH+pmod7OW7LeN76MBe0DdRNQJGVCZyBysXJZKo=";
    let target = "/demo/q?c=x+y&q=%E4%B8%AD%E6%96%87&e=&z=a%26b";
    assert!(server_accepts(Method::GET, target, &h, "", sig));
    // The same parameters encoded another way sign the same.
    let other = "/demo/q?z=a%26b&e&c=x%20y&q=%e4%b8%ad%e6%96%87";
    assert!(server_accepts(Method::GET, other, &h, "", sig));
    let sts = string_to_sign(
        &Method::GET,
        "/demo/q",
        Some("c=x+y&q=%E4%B8%AD%E6%96%87&e=&z=a%26b"),
        None,
        &h,
        &[],
    );
    assert!(sts.ends_with("/demo/q?c=x y&e&q=中文&z=a&b"), "{sts}");
}

#[test]
fn node_sdk_post_json_with_content_md5() {
    let h = node_headers(&[
        ("content-type", "application/json"),
        ("content-md5", "+8JLzHoXlHWPwTJ/z+va9g=="),
    ]);
    let sig = "sXs9G4pqdCGGcrbHupBnieT8QV++A8PVsqTuXkv9/wg=";
    assert!(server_accepts(
        Method::POST,
        "/demo/post",
        &h,
        r#"{"hello":"world"}"#,
        sig
    ));
}

#[test]
fn node_sdk_post_empty_body() {
    let h = node_headers(&[
        ("content-type", "application/octet-stream"),
        ("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg=="),
    ]);
    let sig = "DwJlZA+pAUZo8rjhQTYCstLR4ITNeRrKLV0EYu05hFA=";
    assert!(server_accepts(Method::POST, "/demo/raw", &h, "", sig));
    assert_eq!(content_md5(b""), "1B2M2Y8AsgTpgAmY7PhCfg==");
}

#[test]
fn node_sdk_form_value_wins_over_query_and_empty_is_bare() {
    let h = node_headers(&[(
        "content-type",
        "application/x-www-form-urlencoded; charset=UTF-8",
    )]);
    let sig = "9Ayr4h+N5OD/eDHH784z1O9/HsrqUSG3Y+GfxRkdYxo=";
    assert!(server_accepts(
        Method::POST,
        "/demo/form?a=9&c=3",
        &h,
        "b=2&a=1&d=",
        sig
    ));
    let sts = string_to_sign(
        &Method::POST,
        "/demo/form",
        Some("a=9&c=3"),
        Some("b=2&a=1&d="),
        &h,
        &[],
    );
    assert!(sts.ends_with("\n/demo/form?a=1&b=2&c=3&d"), "{sts}");
    // Without the body (not a form request), only the query counts.
    let sts = string_to_sign(&Method::POST, "/demo/form", Some("a=9&c=3"), None, &h, &[]);
    assert!(sts.ends_with("\n/demo/form?a=9&c=3"), "{sts}");
}

#[test]
fn node_sdk_signed_custom_and_empty_headers() {
    let h = node_headers(&[
        ("x-custom", "Val"),
        ("x-empty", ""),
        (
            "x-ca-signature-headers",
            "x-ca-key,x-ca-nonce,x-ca-stage,x-ca-timestamp,x-custom,x-empty",
        ),
    ]);
    let sig = "QF/M4gftrDNzoDZLpyn+xvWPoPu7Ekdga+c1m6e4Wm8=";
    assert!(server_accepts(Method::GET, "/demo/h", &h, "", sig));
}

#[test]
fn python_demo_mixed_case_names() {
    let h = python_headers("application/json", &[]);
    let sig = "rzqFBVhIcKZnC4CqYOlhr3jeQFca2xd6orWo0Y+B+io=";
    assert!(server_accepts(
        Method::GET,
        "/demo/get?b=2&a=1",
        &h,
        "",
        sig
    ));
}

#[test]
fn python_demo_form() {
    let h = python_headers("application/x-www-form-urlencoded", &[]);
    let sig = "e+itQLjHOKmf9acYMSTOeqjT4d5pyFMfRPmfd0cp0iE=";
    assert!(server_accepts(
        Method::POST,
        "/demo/form?a=9&c=3",
        &h,
        "b=2&a=1&d=",
        sig
    ));
}

#[test]
fn python_demo_stream_with_content_md5() {
    let h = python_headers(
        "application/octet-stream",
        &[("Content-MD5", "L/QwoD6p/YOGrFgSaVNpnw==")],
    );
    let sig = "Zdpz0C8lxoM7ArbITQr130+fWHHzOKkPWJ2E0AkXszg=";
    assert!(server_accepts(
        Method::POST,
        "/demo/stream",
        &h,
        "hello pylon",
        sig
    ));
}

#[test]
fn python_demo_repeated_key_takes_the_first_value() {
    let h = python_headers("application/json", &[]);
    let sig = "SVuBsJFGV7whwp1CKGIjtJLduhZvadi/+Slvrp/KyW8=";
    assert!(server_accepts(
        Method::GET,
        "/demo/rep?k=1&k=2&j=",
        &h,
        "",
        sig
    ));
}

fn java_style() -> HeaderMap {
    headers(&[
        ("Accept", "*/*"),
        ("Content-Type", "application/json; charset=utf-8"),
        ("Content-MD5", "u2y1xo30ZSlByvZSo2by2A=="),
        ("Date", "Tue, 14 Nov 2023 22:13:20 GMT"),
        ("X-Ca-Key", KEY),
        ("X-Ca-Timestamp", "1700000000000"),
        ("X-Ca-Nonce", "n-1"),
        ("X-Ca-Signature-Method", "HmacSHA1"),
        ("x-custom-b", "B"),
        ("X-Custom-a", "A"),
        (
            "X-Ca-Signature-Headers",
            "X-Ca-Timestamp,x-custom-b, X-Ca-Key,Content-Type,X-Custom-a,X-Ca-Signature-Method,x-ca-nonce,X-Absent,X-Ca-Key",
        ),
    ])
}

const JAVA_STS: &str = "POST\n*/*\nu2y1xo30ZSlByvZSo2by2A==\napplication/json; charset=utf-8\n\
Tue, 14 Nov 2023 22:13:20 GMT\nX-Absent:\nX-Ca-Key:203753452\nX-Ca-Signature-Method:HmacSHA1\n\
X-Ca-Timestamp:1700000000000\nX-Custom-a:A\nx-ca-nonce:n-1\nx-custom-b:B\n/demo/java?a&b=2";

#[test]
fn java_style_unsorted_mixed_case_list_hmac_sha1_and_date() {
    let h = java_style();
    let sig = "dflXqiWduPWJumN5m7VHapZWUWg=";
    assert!(server_accepts(
        Method::POST,
        "/demo/java?b=2&a",
        &h,
        r#"{"a":1}"#,
        sig
    ));
    let mut h2 = h.clone();
    h2.insert(X_CA_SIGNATURE, HeaderValue::from_static("x"));
    let c = credentials(&h2).unwrap().unwrap();
    assert_eq!(c.method, SignatureMethod::HmacSha1);
    let sts = string_to_sign(
        &Method::POST,
        "/demo/java",
        Some("b=2&a"),
        None,
        &h,
        &c.signed_headers,
    );
    assert_eq!(sts, JAVA_STS);
    assert_eq!(
        sign(SECRET.as_bytes(), SignatureMethod::HmacSha1, &sts),
        sig
    );
    assert_eq!(
        sign(SECRET.as_bytes(), SignatureMethod::HmacSha256, &sts),
        "YRK5a5oz1ENZj7j90OJsfKc7hBkoGKNyk8A/FZv75jQ="
    );
}

#[test]
fn lowercase_method_is_signed_upper() {
    let h = java_style();
    let m = Method::from_bytes(b"post").unwrap();
    let sts = string_to_sign(&m, "/demo/java", Some("b=2&a"), None, &h, &["X-Absent"]);
    assert!(sts.starts_with("POST\n"));
}

#[test]
fn credentials_errors() {
    assert_eq!(credentials(&HeaderMap::new()), Ok(None));
    let at_most: Vec<String> = (0..MAX_SIGNED_HEADERS).map(|i| format!("x-{i}")).collect();
    let listed = at_most.join(",");
    let h = headers(&[
        ("X-Ca-Key", KEY),
        ("X-Ca-Signature", "s"),
        ("X-Ca-Signature-Headers", listed.as_str()),
    ]);
    assert_eq!(
        credentials(&h).unwrap().unwrap().signed_headers.len(),
        MAX_SIGNED_HEADERS
    );
    let listed = format!("{listed},one-more");
    let h = headers(&[
        ("X-Ca-Key", KEY),
        ("X-Ca-Signature", "s"),
        ("X-Ca-Signature-Headers", listed.as_str()),
    ]);
    assert_eq!(credentials(&h), Err(AlibabaError::TooManySignedHeaders));
    let h = headers(&[("X-Ca-Signature", "abc")]);
    assert_eq!(credentials(&h), Err(AlibabaError::MissingKey));
    let h = headers(&[("X-Ca-Key", KEY)]);
    assert_eq!(credentials(&h), Err(AlibabaError::EmptySignature));
    let h = headers(&[("X-Ca-Key", KEY), ("X-Ca-Signature", "")]);
    assert_eq!(credentials(&h), Err(AlibabaError::EmptySignature));
    let h = headers(&[
        ("X-Ca-Key", KEY),
        ("X-Ca-Signature", "s"),
        ("X-Ca-Signature-Method", "HmacMD5"),
    ]);
    assert_eq!(credentials(&h), Err(AlibabaError::InvalidSignatureMethod));
    let h = headers(&[
        ("X-Ca-Key", KEY),
        ("X-Ca-Signature", "s"),
        ("X-Ca-Timestamp", "2023-11-14"),
    ]);
    assert_eq!(credentials(&h), Err(AlibabaError::InvalidTimestamp));
    let h = headers(&[
        ("X-Ca-Key", KEY),
        ("X-Ca-Signature", "s"),
        ("X-Ca-Signature-Method", "hmacsha1"),
    ]);
    let c = credentials(&h).unwrap().unwrap();
    assert_eq!(c.method, SignatureMethod::HmacSha1);
    assert_eq!((c.timestamp, c.nonce), (None, None));
    assert_eq!(AlibabaError::EmptySignature.to_string(), "Empty Signature");
}

#[test]
fn timestamp_window_both_ways() {
    let window = crate::CLOCK_WINDOW_MS;
    assert_eq!(check_timestamp(None, TS), Ok(()));
    assert_eq!(check_timestamp(Some(TS - window), TS), Ok(()));
    assert_eq!(check_timestamp(Some(TS + window), TS), Ok(()));
    assert_eq!(
        check_timestamp(Some(TS - window - 1), TS),
        Err(AlibabaError::TimestampExpired)
    );
    assert_eq!(
        check_timestamp(Some(TS + window + 1), TS),
        Err(AlibabaError::TimestampExpired)
    );
    assert_eq!(
        check_timestamp(Some(i64::MIN), TS),
        Err(AlibabaError::TimestampExpired)
    );
}

#[test]
fn bad_base64_signature_does_not_verify() {
    let h = node_headers(&[]);
    assert!(!server_accepts(
        Method::GET,
        "/demo/get?b=2&a=1",
        &h,
        "",
        "not base64!"
    ));
}

#[test]
fn signature_of_the_wrong_length_does_not_verify() {
    let key = SigningKey::new(SECRET.as_bytes());
    let sts = "GET\n\n\n\n\n/x";
    let good = sign(SECRET.as_bytes(), SignatureMethod::HmacSha256, sts);
    let check = |signature: &str, method| {
        let c = Credentials {
            key: KEY,
            signature,
            method,
            signed_headers: Vec::new(),
            timestamp: None,
            nonce: None,
        };
        verify(&key, &c, sts)
    };
    assert!(check(&good, SignatureMethod::HmacSha256));
    // Truncated, doubled (64 bytes: more than the decode buffer), and a SHA-1 length.
    assert!(!check(&good[..20], SignatureMethod::HmacSha256));
    assert!(!check(
        &format!("{good}{good}"),
        SignatureMethod::HmacSha256
    ));
    assert!(!check(
        &BASE64.encode([0u8; 20]),
        SignatureMethod::HmacSha256
    ));
    assert!(!check(&good, SignatureMethod::HmacSha1));
    let sha1 = sign(SECRET.as_bytes(), SignatureMethod::HmacSha1, sts);
    assert!(check(&sha1, SignatureMethod::HmacSha1));
}

#[test]
fn credentials_take_each_header_s_first_value() {
    let mut h = headers(&[
        ("X-Ca-Key", KEY),
        ("x-ca-signature", "c2ln"),
        ("X-Ca-Timestamp", "1700000000000"),
        ("x-ca-nonce", "n1"),
        ("x-ca-signature-headers", "x-ca-key,X-Ca-Timestamp"),
        ("x-ca-signature-method", "HmacSHA1"),
        ("x-ca-stage", "TEST"),
    ]);
    h.append("x-ca-timestamp", HeaderValue::from_static("1"));
    h.append("x-ca-nonce", HeaderValue::from_static("n2"));
    h.append("x-ca-key", HeaderValue::from_static("other"));
    let c = credentials(&h).unwrap().unwrap();
    assert_eq!(
        (c.key, c.signature, c.method, c.timestamp, c.nonce),
        (KEY, "c2ln", SignatureMethod::HmacSha1, Some(TS), Some("n1"))
    );
    assert_eq!(c.signed_headers, ["x-ca-key", "X-Ca-Timestamp"]);
}

#[test]
fn signing_key_debug_does_not_show_the_secret() {
    let shown = format!("{:?}", SigningKey::new(SECRET.as_bytes()));
    assert_eq!(shown, "SigningKey(..)");
}

#[test]
fn invalid_signature_message_replaces_newlines() {
    assert_eq!(
        invalid_signature_message("GET\n\n/a?b=\u{1}"),
        "Invalid Signature, Server StringToSign:`GET##/a?b=?`"
    );
}

#[test]
fn listed_name_that_is_no_header_name_signs_empty() {
    let h = java_style();
    let sts = string_to_sign(&Method::GET, "/", None, None, &h, &["X Bad:Name", "é"]);
    assert!(sts.ends_with("\nX Bad:Name:\né:\n/"), "{sts}");
}

#[test]
fn form_content_type_ignores_case_and_parameters() {
    let form = |ct: &str| is_form(&headers(&[("content-type", ct)]));
    for yes in [
        "application/x-www-form-urlencoded",
        "Application/X-WWW-Form-Urlencoded",
        "APPLICATION/X-WWW-FORM-URLENCODED; charset=UTF-8",
        "application/x-www-form-urlencoded;charset=utf-8",
        "application/x-www-form-urlencoded ; charset=UTF-8",
    ] {
        assert!(form(yes), "{yes}");
    }
    for no in [
        "application/x-www-form-urlencodedx",
        "application/json",
        "multipart/form-data; boundary=x",
        "x-www-form-urlencoded",
        "",
    ] {
        assert!(!form(no), "{no}");
    }
    assert!(!is_form(&HeaderMap::new()));
}

mod client;
