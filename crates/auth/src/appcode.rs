//! Alibaba AppCode ("simple authentication"): the code from `Authorization: APPCODE <code>`
//! or, where the API allows it, from the `AppCode` query parameter.

use std::borrow::Cow;

use http::{HeaderMap, header::AUTHORIZATION};
use percent_encoding::percent_decode_str;

/// The spellings of the query parameter Alibaba's gateway accepts.
pub const QUERY_NAMES: [&str; 5] = ["AppCode", "appcode", "appCode", "APPCODE", "APPCode"];

/// The AppCode from `Authorization: APPCODE <code>` (scheme in any case, extra spaces
/// tolerated), or, when `query_allowed`, from the first query parameter named one of
/// [`QUERY_NAMES`] (URL-decoded). `None` when absent or empty.
pub fn extract<'a>(
    headers: &'a HeaderMap,
    query: Option<&'a str>,
    query_allowed: bool,
) -> Option<Cow<'a, str>> {
    for v in headers.get_all(AUTHORIZATION) {
        let Ok(v) = v.to_str() else { continue };
        let v = v.trim_start();
        if let Some((scheme, code)) = v.split_once(' ')
            && scheme.eq_ignore_ascii_case("APPCODE")
        {
            let code = code.trim();
            if !code.is_empty() {
                return Some(Cow::Borrowed(code));
            }
        }
    }
    if !query_allowed {
        return None;
    }
    query?
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| QUERY_NAMES.contains(k))
        .map(|(_, v)| decode(v))
        .filter(|v| !v.is_empty())
}

fn decode(s: &str) -> Cow<'_, str> {
    if s.contains('+') {
        Cow::Owned(
            percent_decode_str(&s.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned(),
        )
    } else {
        percent_decode_str(s).decode_utf8_lossy()
    }
}

#[cfg(test)]
mod proptests;

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn auth(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn header_form_in_any_case() {
        let h = auth("APPCODE 0123abcd");
        assert_eq!(extract(&h, None, false).as_deref(), Some("0123abcd"));
        let h = auth("appcode   0123abcd ");
        assert_eq!(extract(&h, None, false).as_deref(), Some("0123abcd"));
    }

    #[test]
    fn other_schemes_and_empty_codes_are_not_appcodes() {
        assert_eq!(extract(&auth("Bearer x.y.z"), None, true), None);
        assert_eq!(extract(&auth("APPCODE "), None, true), None);
        assert_eq!(extract(&auth("APPCODEx"), None, true), None);
    }

    #[test]
    fn query_only_when_allowed() {
        let h = HeaderMap::new();
        assert_eq!(extract(&h, Some("a=1&AppCode=abc"), false), None);
        assert_eq!(
            extract(&h, Some("a=1&AppCode=abc"), true).as_deref(),
            Some("abc")
        );
        for name in QUERY_NAMES {
            let q = format!("{name}=c%2Bd");
            assert_eq!(extract(&h, Some(&q), true).as_deref(), Some("c+d"));
        }
        assert_eq!(extract(&h, Some("APPcode=abc"), true), None);
        assert_eq!(extract(&h, Some("AppCode="), true), None);
    }

    #[test]
    fn header_wins_over_query() {
        let h = auth("APPCODE fromheader");
        assert_eq!(
            extract(&h, Some("AppCode=fromquery"), true).as_deref(),
            Some("fromheader")
        );
    }
}
