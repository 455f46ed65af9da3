//! The client-side signer against the Node SDK vectors, and the server side against it.

use super::*;

#[test]
fn client_sign_request_matches_the_node_sdk() {
    // Same request as node_sdk_post_json_with_content_md5, signed by our client.
    let mut h = headers(&[
        ("content-type", "application/json"),
        ("x-ca-stage", "RELEASE"),
    ]);
    let body = br#"{"hello":"world"}"#;
    sign_request(
        &Method::POST,
        "/demo/post",
        None,
        &mut h,
        body,
        KEY,
        SECRET,
        TS,
        NODE_NONCE,
    )
    .unwrap();
    assert_eq!(
        h["x-ca-signature"],
        "sXs9G4pqdCGGcrbHupBnieT8QV++A8PVsqTuXkv9/wg="
    );
    assert_eq!(h["content-md5"], "+8JLzHoXlHWPwTJ/z+va9g==");
    assert_eq!(
        h["x-ca-signature-headers"],
        "x-ca-key,x-ca-nonce,x-ca-stage,x-ca-timestamp"
    );
    assert_eq!(h["x-ca-signature-method"], "HmacSHA256");
    // And the server side accepts what it made.
    assert!(server_accepts(
        Method::POST,
        "/demo/post",
        &h,
        r#"{"hello":"world"}"#,
        h["x-ca-signature"].to_str().unwrap()
    ));

    let mut h = headers(&[
        (
            "content-type",
            "application/x-www-form-urlencoded; charset=UTF-8",
        ),
        ("x-ca-stage", "RELEASE"),
    ]);
    sign_request(
        &Method::POST,
        "/demo/form",
        Some("a=9&c=3"),
        &mut h,
        b"b=2&a=1&d=",
        KEY,
        SECRET,
        TS,
        NODE_NONCE,
    )
    .unwrap();
    assert_eq!(
        h["x-ca-signature"],
        "9Ayr4h+N5OD/eDHH784z1O9/HsrqUSG3Y+GfxRkdYxo="
    );
    assert!(!h.contains_key("content-md5"));

    let mut h = headers(&[("x-ca-stage", "RELEASE")]);
    sign_request(
        &Method::GET,
        "/demo/get",
        Some("b=2&a=1"),
        &mut h,
        b"",
        KEY,
        SECRET,
        TS,
        NODE_NONCE,
    )
    .unwrap();
    assert_eq!(
        h["x-ca-signature"],
        "tYX2tUWglHEPUtigU5FMZmqT8tP13ZknflgLbz/8BkA="
    );
    assert!(!h.contains_key("content-md5"));
}

#[test]
fn client_sign_request_refuses_a_key_that_is_no_header_value() {
    let mut h = HeaderMap::new();
    let r = sign_request(
        &Method::GET,
        "/",
        None,
        &mut h,
        b"",
        "bad\nkey",
        SECRET,
        TS,
        "n",
    );
    assert!(r.is_err());
}

#[test]
fn client_signs_a_mixed_case_form_as_the_server_reads_it() {
    let body = "b=2&a=1";
    let mut h = headers(&[(
        "content-type",
        "Application/X-WWW-Form-Urlencoded; Charset=UTF-8",
    )]);
    sign_request(
        &Method::POST,
        "/demo/form",
        None,
        &mut h,
        body.as_bytes(),
        KEY,
        SECRET,
        TS,
        NODE_NONCE,
    )
    .unwrap();
    // Its parameters are signed, so no Content-MD5: the signer took it for a form.
    assert!(!h.contains_key("content-md5"));
    let signature = h["x-ca-signature"].to_str().unwrap().to_string();
    assert!(server_accepts(
        Method::POST,
        "/demo/form",
        &h,
        body,
        &signature
    ));
}
