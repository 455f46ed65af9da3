//! Properties of AppCode extraction: any headers and query are handled without a panic; a
//! code sent in either documented form comes back exactly; never an empty code.

use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderValue};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use proptest::prelude::*;

use super::*;
use crate::strategies::{config, header_map, messy, random_case};

/// `Authorization` values around the `APPCODE` scheme: spacing, case, other schemes, junk.
fn hostile_authorization() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec![
            "APPCODE", "appcode", "AppCode", "APPCODEX", "Bearer", "", " ",
        ]),
        prop::sample::select(vec!["", " ", "  ", "\t", " \t "]),
        "[ -~]{0,20}",
    )
        .prop_map(|(scheme, gap, rest)| format!("{scheme}{gap}{rest}"))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn hostile_requests_never_panic(
        headers in header_map(),
        authorizations in prop::collection::vec(hostile_authorization(), 0..3),
        query in prop::option::of(messy()),
        query_allowed in any::<bool>(),
    ) {
        let mut h = headers;
        for a in &authorizations {
            h.append(AUTHORIZATION, HeaderValue::from_str(a).unwrap());
        }
        if let Some(code) = extract(&h, query.as_deref(), query_allowed) {
            prop_assert!(!code.is_empty());
        }
        if !h.contains_key(AUTHORIZATION) && !query_allowed {
            prop_assert_eq!(extract(&h, query.as_deref(), query_allowed), None);
        }
    }

    /// `Authorization: APPCODE <code>`, scheme in any case, any spacing: the code, trimmed.
    #[test]
    fn header_code_comes_back(
        code in "[!-~]([ -~]{0,30}[!-~])?",
        bits in any::<u64>(),
        lead in "[ ]{0,2}",
        gap in "[ ]{1,3}",
        tail in "[ ]{0,2}",
        query in prop::option::of(messy()),
    ) {
        let mut h = HeaderMap::new();
        let value = format!("{lead}{}{gap}{code}{tail}", random_case("appcode", bits));
        h.insert(AUTHORIZATION, HeaderValue::from_str(&value).unwrap());
        // The header wins over any query.
        let got = extract(&h, query.as_deref(), true);
        prop_assert_eq!(got.as_deref(), Some(code.as_str()));
    }

    /// `AppCode=<code>` (any accepted spelling) among other parameters, however encoded: the
    /// code decoded, when the API allows the query, and nothing when it does not.
    #[test]
    fn query_code_comes_back(
        code in "\\PC{1,20}",
        name in prop::sample::select(QUERY_NAMES.to_vec()),
        before in prop::collection::vec(("[a-z]{1,6}", "\\PC{0,6}"), 0..4),
        after in prop::collection::vec(("[a-zA-Z]{1,8}", "\\PC{0,6}"), 0..4),
        plus in any::<bool>(),
    ) {
        let enc = |s: &str| {
            let e: String = utf8_percent_encode(s, NON_ALPHANUMERIC).collect();
            if plus { e.replace("%20", "+") } else { e }
        };
        let mut parts: Vec<String> = before.iter().map(|(k, v)| format!("{k}={}", enc(v))).collect();
        parts.push(format!("{name}={}", enc(&code)));
        parts.extend(after.iter().map(|(k, v)| format!("{k}={}", enc(v))));
        let query = parts.join("&");
        let h = HeaderMap::new();
        let got = extract(&h, Some(&query), true);
        prop_assert_eq!(got.as_deref(), Some(code.as_str()));
        prop_assert_eq!(extract(&h, Some(&query), false), None);
    }
}
