//! A response's header fields as a list: what Pylon's own backend client reads into and the
//! listener writes out. It imports nothing of the gateway's, so the backend client, which the
//! response's body type sits above, can use it.

use http::{HeaderMap, HeaderName, HeaderValue};

/// A response's header fields, in the order they are written, repeats kept. Names compare
/// as `HeaderName`s do: without case.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Fields {
    list: Vec<(HeaderName, HeaderValue)>,
}

impl Fields {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Fields {
            list: Vec::with_capacity(capacity),
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        self.list.iter().map(|(n, v)| (n, v))
    }

    /// The first value of `name`.
    #[cfg(test)]
    pub(crate) fn get(&self, name: &HeaderName) -> Option<&HeaderValue> {
        self.list.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    pub(crate) fn get_all<'a>(
        &'a self,
        name: &'a HeaderName,
    ) -> impl Iterator<Item = &'a HeaderValue> + 'a {
        self.list
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// Adds a field after any of the same name.
    pub(crate) fn append(&mut self, name: HeaderName, value: HeaderValue) {
        self.list.push((name, value));
    }

    /// Sets `name` to `value` alone: the first field of that name takes the value where it
    /// stands, and any later ones go.
    pub(crate) fn insert(&mut self, name: HeaderName, value: HeaderValue) {
        match self.list.iter().position(|(n, _)| *n == name) {
            Some(at) => {
                self.list[at].1 = value;
                let later = at + 1;
                if self.list[later..].iter().any(|(n, _)| *n == name) {
                    let mut index = 0;
                    self.list.retain(|(n, _)| {
                        index += 1;
                        index <= later || *n != name
                    });
                }
            }
            None => self.list.push((name, value)),
        }
    }

    pub(crate) fn remove(&mut self, name: &HeaderName) {
        self.list.retain(|(n, _)| n != name);
    }

    /// Removes every field whose name is `name`, compared without case.
    pub(crate) fn remove_named(&mut self, name: &str) {
        self.list.retain(|(n, _)| n != name);
    }

    /// Keeps the fields `keep` accepts.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&HeaderName) -> bool) {
        self.list.retain(|(n, _)| keep(n));
    }

    /// Adds `map`'s fields as `HeaderMap::extend` would: each name's values replace the ones
    /// of that name already here.
    pub(crate) fn extend(&mut self, map: HeaderMap) {
        for (name, value, first) in named(map) {
            if first {
                self.insert(name, value);
            } else {
                self.append(name, value);
            }
        }
    }

    pub(crate) fn into_map(self) -> HeaderMap {
        let mut map = HeaderMap::with_capacity(self.list.len());
        for (name, value) in self.list {
            map.append(name, value);
        }
        map
    }

    /// A copy as a `HeaderMap`, for what reads one (online debugging).
    pub(crate) fn to_map(&self) -> HeaderMap {
        self.clone().into_map()
    }
}

impl From<HeaderMap> for Fields {
    fn from(map: HeaderMap) -> Self {
        let mut fields = Fields::with_capacity(map.len());
        for (name, value, _) in named(map) {
            fields.append(name, value);
        }
        fields
    }
}

/// A map's fields in its order, each with its name (`HeaderMap` names only a name's first
/// value), and whether it is the first of its name.
fn named(map: HeaderMap) -> impl Iterator<Item = (HeaderName, HeaderValue, bool)> {
    let mut last: Option<HeaderName> = None;
    map.into_iter().filter_map(move |(name, value)| {
        let first = name.is_some();
        if let Some(name) = name {
            last = Some(name);
        }
        last.clone().map(|name| (name, value, first))
    })
}
