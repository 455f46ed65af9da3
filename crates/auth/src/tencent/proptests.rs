//! Properties of the Tencent key-pair scheme: any `Authorization` or date a client sends
//! is handled without a panic; what the client side signs verifies; a change to a signed
//! header or to the signature is refused; the fields parse the same in any order and spacing.

use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;

use super::*;
use crate::strategies::{config, header_map, header_value, other_than, random_case};

const NOW: i64 = 1_700_000_000_000;

fn algorithm() -> impl Strategy<Value = Algorithm> {
    prop::sample::select(vec![
        Algorithm::Sha1,
        Algorithm::Sha256,
        Algorithm::Sha384,
        Algorithm::Sha512,
    ])
}

/// An `Authorization` value made of the pieces its parser splits on, the keys it looks for,
/// and anything else.
fn hostile_authorization() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        prop::sample::select(vec![
            "id",
            "username",
            "algorithm",
            "headers",
            "signature",
            "=",
            "\"",
            ",",
            " ",
            ", ",
            "=\"",
            "\",",
            "hmac-sha256",
            "x-date",
            "date",
            "source",
            "\t",
        ])
        .prop_map(String::from),
        "[ -~]{1,6}",
        any::<char>().prop_map(String::from),
    ];
    (
        prop::sample::select(vec!["hmac ", "HMAC ", "  hmac  ", "hmac", "Hmac\t", ""]),
        prop::collection::vec(piece, 0..30),
    )
        .prop_map(|(scheme, pieces)| format!("{scheme}{}", pieces.concat()))
}

/// Date texts: HTTP dates near and far (year 0 to 9999), other date formats, garbage.
fn date_text() -> impl Strategy<Value = String> {
    prop_oneof![
        (0i64..=LAST_HTTP_DATE_MS).prop_map(|ms| {
            httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_millis(ms.unsigned_abs()))
        }),
        Just("Fri, 31 Dec 9999 23:59:59 GMT".to_string()),
        Just("Sat, 01 Jan 0000 00:00:00 GMT".to_string()),
        Just("Sunday, 06-Nov-94 08:49:37 GMT".to_string()),
        Just("Sun Nov  6 08:49:37 1994".to_string()),
        "[A-Za-z]{3}, [0-9]{2} [A-Za-z]{3} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT",
        "[ -~]{0,40}",
    ]
}

proptest! {
    #![proptest_config(config())]

    /// Any `Authorization`, date and header set: parsing, the date check, the signing string
    /// and verification return, and what parses obeys the documented rules.
    #[test]
    fn hostile_requests_never_panic(
        headers in header_map(),
        authorization in hostile_authorization(),
        date in prop::option::of(date_text()),
        x_date in prop::option::of(date_text()),
        now in any::<i64>(),
        secret in prop::collection::vec(any::<u8>(), 0..80),
    ) {
        let mut h = headers;
        if let Ok(v) = HeaderValue::from_str(&authorization) {
            h.insert(AUTHORIZATION, v);
        }
        for (name, value) in [(DATE.as_str(), date), (X_DATE, x_date)] {
            if let Some(v) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
                h.insert(name, v);
            }
        }
        let _ = check_date(&h, now);
        if let Ok(auth) = parse_authorization(&h) {
            prop_assert!(!auth.id.is_empty() && !auth.signature.is_empty());
            prop_assert!(auth.headers.iter().any(|n| n.eq_ignore_ascii_case("date") || n.eq_ignore_ascii_case(X_DATE)));
            if let Some(s) = signing_string(&h, &auth.headers) {
                let _ = verify(&secret, &auth, &s);
            }
        }
    }

    /// What `sign_request` signs verifies, for any id that fits in a quoted value, any secret,
    /// algorithm and `Source`, at any time an HTTP date can express.
    #[test]
    fn client_signature_verifies_on_the_server(
        id in "[!#-~][ !#-~]{0,20}",
        secret in any::<String>(),
        algorithm in algorithm(),
        source in prop::option::of(header_value()),
        now in 0i64..=LAST_HTTP_DATE_MS,
    ) {
        let mut h = HeaderMap::new();
        if let Some(s) = source {
            h.insert(SOURCE, s);
        }
        sign_request(&mut h, &id, &secret, algorithm, now).unwrap();
        let auth = parse_authorization(&h).unwrap();
        prop_assert_eq!(auth.id, id.as_str());
        prop_assert_eq!(auth.algorithm, algorithm);
        prop_assert_eq!(check_date(&h, now), Ok(()));
        let s = signing_string(&h, &auth.headers).unwrap();
        prop_assert!(verify(secret.as_bytes(), &auth, &s));
        prop_assert!(!verify(b"another secret", &auth, &s) || secret == "another secret");
    }

    /// The client side never panics, whatever clock it is given.
    #[test]
    fn client_signing_never_panics(now in any::<i64>(), algorithm in algorithm()) {
        let mut h = HeaderMap::new();
        let _ = sign_request(&mut h, "id", "secret", algorithm, now);
    }

    /// A changed byte in a signed header (`X-Date` or `Source`) or in the signature: refused.
    #[test]
    fn tampered_request_is_refused(
        source in "[!-~][ -~]{0,20}",
        algorithm in algorithm(),
        which in 0usize..3,
        at in any::<usize>(),
        pick in any::<usize>(),
    ) {
        let mut h = HeaderMap::new();
        h.insert(SOURCE, HeaderValue::from_str(&source).unwrap());
        sign_request(&mut h, "AKIDpylon", "secret", algorithm, NOW).unwrap();
        let name = [X_DATE, SOURCE, "authorization"][which];
        let mut bytes = h[name].as_bytes().to_vec();
        let range = if which == 2 {
            // Only the signature's characters: `signature="..."` ends the value.
            let start = bytes.windows(11).position(|w| w == b"signature=\"").unwrap() + 11;
            start..bytes.len() - 1
        } else {
            0..bytes.len()
        };
        let i = range.start + at % range.len();
        bytes[i] = other_than(bytes[i], b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= ,:", pick);
        h.insert(name, HeaderValue::from_bytes(&bytes).unwrap());
        let accepted = check_date(&h, NOW).is_ok()
            && parse_authorization(&h).is_ok_and(|auth| {
                signing_string(&h, &auth.headers)
                    .is_some_and(|s| verify(b"secret", &auth, &s))
            });
        prop_assert!(!accepted, "{h:?}");
    }

    /// The four fields parse the same in any order, with or without quotes and spaces, with
    /// unknown fields among them and keys in any case.
    #[test]
    fn fields_parse_the_same_in_any_order_and_spacing(
        id in "[A-Za-z0-9_-]{1,16}",
        algorithm in algorithm(),
        names in prop::collection::vec("[a-z][a-z0-9-]{0,8}", 0..4),
        signature in "[A-Za-z0-9+/]{4,40}={0,2}",
        order in Just(vec![0usize, 1, 2, 3, 4]).prop_shuffle(),
        quoted in any::<[bool; 5]>(),
        seps in prop::collection::vec(prop::sample::select(vec![",", ", ", " ,", " , ", ",,", ",\t"]), 5),
        key_case in any::<[u64; 5]>(),
        spaced in any::<bool>(),
    ) {
        let mut names = names;
        names.insert(0, "x-date".to_string());
        let list = names.join(" ");
        let fields = [
            ("id", id.clone()),
            ("algorithm", algorithm.as_str().to_string()),
            ("headers", list),
            ("signature", signature.clone()),
            ("extension", "ignored".to_string()),
        ];
        let eq = if spaced { " = " } else { "=" };
        let mut value = "hmac ".to_string();
        for (n, &i) in order.iter().enumerate() {
            let (key, v) = &fields[i];
            // A value with a space in it (the header list) must be quoted.
            let v = if quoted[i] || v.contains(' ') { format!("\"{v}\"") } else { v.clone() };
            if n > 0 {
                value += seps[n];
            }
            value += &format!("{}{eq}{v}", random_case(key, key_case[i]));
        }
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_str(&value).unwrap());
        let auth = parse_authorization(&h).map_err(|e| TestCaseError::fail(format!("{value}: {e}")))?;
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        prop_assert_eq!(auth, KeyPairAuth { id: &id, algorithm, headers: names, signature: &signature });
    }

    /// Header names in `headers=` are found in any case and written lower case; a name that is
    /// absent (or no header name at all) makes the whole string `None`.
    #[test]
    fn signing_string_ignores_name_case(
        pairs in prop::collection::vec(("[a-z][a-z0-9-]{0,8}", "[ -~]{0,12}"), 1..6),
        bits in any::<u64>(),
        extra in prop::option::of(prop_oneof!["[a-z]{1,8}", "[ -~]{1,8}"]),
    ) {
        let mut h = HeaderMap::new();
        for (n, v) in &pairs {
            h.insert(HeaderName::from_bytes(n.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        let lower: Vec<&str> = pairs.iter().map(|(n, _)| n.as_str()).collect();
        let mixed: Vec<String> = lower.iter().map(|n| random_case(n, bits)).collect();
        let mixed: Vec<&str> = mixed.iter().map(String::as_str).collect();
        let want: Vec<String> = lower
            .iter()
            .map(|n| format!("{n}: {}", String::from_utf8_lossy(h[*n].as_bytes())))
            .collect();
        prop_assert_eq!(signing_string(&h, &mixed), Some(want.join("\n")));
        if let Some(extra) = extra {
            let present = HeaderName::from_bytes(extra.as_bytes()).is_ok_and(|n| h.contains_key(n));
            let mut with_extra = mixed.clone();
            with_extra.push(&extra);
            prop_assert_eq!(signing_string(&h, &with_extra).is_some(), present);
        }
    }
}
