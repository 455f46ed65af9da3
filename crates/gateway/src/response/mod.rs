//! The response on its way back to the client: what the backend (or the gateway) answered, as
//! the respond phase, the policies and the observers see it and the listener writes it.
//!
//! Its header fields are a list, not an `http::HeaderMap`: Pylon's own backend client fills it
//! as it reads the backend's head, the phases add a few fields of their own, and the listener
//! writes it out in order. A response carries a handful of fields and is looked up by name a
//! few times at most, so a hash map's inserts, lookups and drop cost more than they save
//! (about 1,700 instructions a proxied request, `bench/README.md`, step 4). Paths that need an
//! `http::Response` (hyper's server and client, an upgrade, a function's endpoint) convert at
//! their edge.

mod fields;

use http::{Extensions, StatusCode};

use crate::request::body::GatewayBody;
pub(crate) use fields::Fields;

/// A response: status, header fields, body, and the extensions hyper keeps an upgrade in.
/// The body is the gateway's, but for what Pylon's backend client hands back.
#[derive(Debug)]
pub(crate) struct Answer<B = GatewayBody> {
    pub(crate) status: StatusCode,
    pub(crate) headers: Fields,
    pub(crate) extensions: Extensions,
    pub(crate) body: B,
}

impl<B> Answer<B> {
    pub(crate) fn new(status: StatusCode, headers: Fields, body: B) -> Self {
        Answer {
            status,
            headers,
            extensions: Extensions::new(),
            body,
        }
    }

    pub(crate) fn map_body<C>(self, f: impl FnOnce(B) -> C) -> Answer<C> {
        Answer {
            status: self.status,
            headers: self.headers,
            extensions: self.extensions,
            body: f(self.body),
        }
    }

    /// The response as `http` has it, for hyper's server and the upgrade path.
    pub(crate) fn into_http(self) -> http::Response<B> {
        let mut response = http::Response::new(self.body);
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers.into_map();
        *response.extensions_mut() = self.extensions;
        response
    }
}

impl<B> From<http::Response<B>> for Answer<B> {
    fn from(response: http::Response<B>) -> Self {
        let (parts, body) = response.into_parts();
        Answer {
            status: parts.status,
            headers: Fields::from(parts.headers),
            extensions: parts.extensions,
            body,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::{CONTENT_TYPE, VARY};
    use http::{HeaderMap, HeaderName, HeaderValue};

    fn shown(fields: &Fields) -> Vec<String> {
        fields
            .iter()
            .map(|(n, v)| format!("{n}={}", v.to_str().unwrap_or("?")))
            .collect()
    }

    fn v(s: &'static str) -> HeaderValue {
        HeaderValue::from_static(s)
    }

    #[test]
    fn insert_replaces_the_name_in_place_and_append_adds() {
        let mut f = Fields::default();
        f.append(VARY, v("Accept"));
        f.append(CONTENT_TYPE, v("text/plain"));
        f.append(VARY, v("Cookie"));
        f.append(VARY, v("Origin"));
        assert_eq!(f.get_all(&VARY).count(), 3);
        f.insert(VARY, v("*"));
        assert_eq!(shown(&f), ["vary=*", "content-type=text/plain"]);
        f.insert(HeaderName::from_static("x-new"), v("1"));
        assert_eq!(shown(&f), ["vary=*", "content-type=text/plain", "x-new=1"]);
        assert!(f.get(&CONTENT_TYPE).is_some());
        f.remove(&CONTENT_TYPE);
        f.remove_named("X-NEW");
        assert_eq!(shown(&f), ["vary=*"]);
        assert_eq!(f.get(&VARY), Some(&v("*")));
        assert_eq!(f.get(&CONTENT_TYPE), None);
    }

    #[test]
    fn extend_follows_header_map_extend() {
        let mut base = HeaderMap::new();
        base.append(VARY, v("Accept"));
        base.append(CONTENT_TYPE, v("text/plain"));
        let mut added = HeaderMap::new();
        added.append(VARY, v("Origin"));
        added.append(VARY, v("Cookie"));
        added.append(HeaderName::from_static("x-limit"), v("10"));

        let mut fields = Fields::from(base.clone());
        fields.extend(added.clone());
        base.extend(added);
        assert_eq!(fields.clone().into_map(), base);
        assert_eq!(
            shown(&fields),
            [
                "vary=Origin",
                "content-type=text/plain",
                "vary=Cookie",
                "x-limit=10"
            ]
        );
    }

    #[test]
    fn an_answer_stays_a_few_words() {
        // It is moved out of every phase on its way to the client: a stream's state (a
        // connection, hyper's body) belongs behind a box, not inline (bench/README.md, step 7).
        assert!(
            std::mem::size_of::<Answer>() <= 96,
            "{}",
            std::mem::size_of::<Answer>()
        );
    }

    #[test]
    fn conversions_keep_every_value_and_the_extensions() {
        let mut response = http::Response::new(GatewayBody::empty());
        *response.status_mut() = StatusCode::CREATED;
        let h = response.headers_mut();
        h.append(VARY, v("a"));
        h.append(VARY, v("b"));
        h.append(CONTENT_TYPE, v("c"));
        response.extensions_mut().insert(7u8);
        let answer = Answer::from(response);
        assert_eq!(answer.status, StatusCode::CREATED);
        assert_eq!(
            shown(&answer.headers),
            ["vary=a", "vary=b", "content-type=c"]
        );
        let back = answer.into_http();
        assert_eq!(back.extensions().get::<u8>(), Some(&7));
        assert_eq!(back.headers().get_all(VARY).iter().count(), 2);
        assert_eq!(back.headers().len(), 3);
    }
}
