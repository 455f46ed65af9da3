//! The request on its way through: the client's body as the early phases leave it, and the
//! backend request the forward phase builds and a backend sends.

use std::borrow::Cow;

use crate::request::inbound::ClientBody;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};

/// The client's body as the earlier phases left it.
pub(crate) enum RequestBody {
    Stream(ClientBody),
    /// A body read into memory: a form whose parameters are read or signed, a body whose
    /// Content-MD5 is checked, or a body given whole (online debugging).
    Buffered {
        bytes: Bytes,
        is_form: bool,
    },
}

pub(crate) enum OutBody {
    Empty,
    Bytes(Bytes),
    Stream(ClientBody),
}

impl From<ClientBody> for OutBody {
    /// A body that came whole goes on as bytes (and so through Pylon's own client).
    fn from(body: ClientBody) -> Self {
        match body {
            ClientBody::Whole(Some(bytes)) => OutBody::Bytes(bytes),
            ClientBody::Whole(None) => OutBody::Empty,
            stream => OutBody::Stream(stream),
        }
    }
}

/// The backend request, minus the backend's address and Host.
pub(crate) struct Outgoing<'a> {
    pub(crate) method: http::Method,
    pub(crate) path_and_query: String,
    pub(crate) headers: OutHeaders<'a>,
    pub(crate) body: OutBody,
}

/// The backend request's headers: the client's that travel on, borrowed from its request, and
/// the gateway's own, in one list.
///
/// Nothing is copied into a map of its own: Pylon's own client writes these straight into the
/// request head, and only the paths that need a `HeaderMap` (hyper's client, function events,
/// traces) build one with `to_map`. Copying the client's headers into a second map cost about
/// 1,500 instructions a request, and dropping it a few hundred more.
#[derive(Default)]
pub(crate) struct OutHeaders<'a> {
    fields: Vec<(Cow<'a, HeaderName>, Cow<'a, HeaderValue>)>,
}

impl<'a> OutHeaders<'a> {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            fields: Vec::with_capacity(capacity),
        }
    }

    /// Adds one of the client's fields, after any of the same name.
    pub(crate) fn push_client(&mut self, name: &'a HeaderName, value: &'a HeaderValue) {
        self.fields
            .push((Cow::Borrowed(name), Cow::Borrowed(value)));
    }

    /// Adds a field after any of the same name.
    pub(crate) fn append(&mut self, name: HeaderName, value: HeaderValue) {
        self.fields.push((Cow::Owned(name), Cow::Owned(value)));
    }

    /// Sets `name` to `value` alone, in place of whatever it had.
    pub(crate) fn insert(&mut self, name: HeaderName, value: HeaderValue) {
        self.remove(&name);
        self.append(name, value);
    }

    pub(crate) fn remove(&mut self, name: &HeaderName) {
        self.fields.retain(|(n, _)| **n != *name);
    }

    /// Removes every field whose name is `name`, compared without case.
    pub(crate) fn remove_named(&mut self, name: &str) {
        self.fields.retain(|(n, _)| *n.as_ref() != *name);
    }

    pub(crate) fn contains(&self, name: &HeaderName) -> bool {
        self.fields.iter().any(|(n, _)| **n == *name)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        self.fields.iter().map(|(n, v)| (n.as_ref(), v.as_ref()))
    }

    /// The fields as a `HeaderMap`, for the paths that take one.
    pub(crate) fn to_map(&self) -> HeaderMap {
        let mut map = HeaderMap::with_capacity(self.fields.len());
        for (name, value) in self.iter() {
            map.append(name.clone(), value.clone());
        }
        map
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(h: &OutHeaders<'_>) -> Vec<String> {
        h.iter()
            .map(|(n, v)| format!("{n}={}", v.to_str().unwrap_or("?")))
            .collect()
    }

    #[test]
    fn insert_replaces_every_value_of_the_name_and_append_keeps_them() {
        let accept = HeaderName::from_static("accept");
        let (a, b) = (HeaderValue::from_static("a"), HeaderValue::from_static("b"));
        let mut h = OutHeaders::with_capacity(4);
        h.push_client(&accept, &a);
        h.push_client(&accept, &b);
        h.append(
            HeaderName::from_static("x-own"),
            HeaderValue::from_static("1"),
        );
        assert_eq!(names(&h), ["accept=a", "accept=b", "x-own=1"]);

        h.insert(accept.clone(), HeaderValue::from_static("c"));
        assert_eq!(names(&h), ["x-own=1", "accept=c"]);
        h.remove_named("X-OWN");
        assert_eq!(names(&h), ["accept=c"]);
        assert!(h.contains(&accept));
        h.remove(&accept);
        assert!(!h.contains(&accept) && h.iter().next().is_none());
    }

    #[test]
    fn the_map_keeps_every_value_in_order() {
        let name = HeaderName::from_static("x-forwarded-for");
        let (a, b) = (HeaderValue::from_static("1"), HeaderValue::from_static("2"));
        let mut h = OutHeaders::default();
        h.push_client(&name, &a);
        h.append(name.clone(), b.clone());
        let map = h.to_map();
        let values: Vec<_> = map.get_all(&name).iter().collect();
        assert_eq!(values, [&a, &b]);
    }
}
