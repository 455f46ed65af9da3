//! Paths with parameters (`/user/{id}`, `/files/{proxy+}`) on matchit 0.9 radix trees.
//!
//! matchit ranks a static segment above a parameter and backtracks, but it refuses a
//! parameter and a catch-all at the same position (`/f/{id}` beside `/f/{proxy+}`), which
//! API gateways allow. So greedy routes live in one tree per depth (number of segments before
//! the greedy one), whole-segment routes in another, and the winners of the trees that match
//! are compared segment by segment from the left: static < parameter < greedy. Lookup cost
//! is one tree walk per distinct greedy depth, independent of the number of APIs.

use std::collections::HashMap;

use crate::error::AddError;

/// Per-segment rank: lower is more specific.
const STATIC: u8 = 0;
const PARAM: u8 = 1;
const GREEDY: u8 = 2;

#[derive(Debug)]
struct ParamRoute {
    deployment: usize,
    /// One rank per segment; compared lexicographically to pick between trees.
    rank: Box<[u8]>,
}

#[derive(Debug, Default)]
pub(crate) struct ParamsTier {
    routes: Vec<ParamRoute>,
    whole: matchit::Router<usize>,
    /// (greedy depth, tree), by depth.
    greedy: Vec<(usize, matchit::Router<usize>)>,
    /// Build-time only: the pattern with parameter names erased, to catch duplicates.
    shapes: HashMap<String, usize>,
    /// Build-time only: matchit route text to route index, to name a matchit conflict.
    inserted: HashMap<String, usize>,
}

impl ParamsTier {
    pub(crate) fn insert(&mut self, pattern: &str, deployment: usize) -> Result<(), AddError> {
        let segments: Vec<&str> = pattern.get(1..).unwrap_or("").split('/').collect();
        let mut rank = Vec::with_capacity(segments.len());
        let mut shape = String::with_capacity(pattern.len());
        let mut route = String::with_capacity(pattern.len() + 1);
        let mut depth = None;
        for (i, seg) in segments.iter().enumerate() {
            shape.push('/');
            route.push('/');
            match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(inner) => match inner.strip_suffix('+') {
                    Some(name) => {
                        rank.push(GREEDY);
                        shape.push_str("{+}");
                        route.push_str(&format!("{{*{name}}}"));
                        depth = Some(i);
                    }
                    None => {
                        rank.push(PARAM);
                        shape.push_str("{}");
                        route.push_str(seg);
                    }
                },
                None => {
                    rank.push(STATIC);
                    shape.push_str(seg);
                    route.push_str(seg);
                }
            }
        }
        let index = self.routes.len();
        if let Some(&existing) = self.shapes.get(&shape) {
            return Err(AddError::Clash {
                existing: self.routes[existing].deployment,
                reason: format!("same path `{shape}` (parameter names aside)"),
            });
        }
        let tree = match depth {
            None => &mut self.whole,
            Some(depth) => {
                let at = match self.greedy.binary_search_by_key(&depth, |(d, _)| *d) {
                    Ok(at) => at,
                    Err(at) => {
                        self.greedy.insert(at, (depth, matchit::Router::new()));
                        at
                    }
                };
                &mut self.greedy[at].1
            }
        };
        tree.insert(route.as_str(), index).map_err(|e| match e {
            matchit::InsertError::Conflict { with } => match self.inserted.get(&with) {
                Some(&other) => AddError::Clash {
                    existing: self.routes[other].deployment,
                    reason: format!("ambiguous paths `{with}` and `{pattern}`"),
                },
                None => AddError::Invalid(format!("`{pattern}` conflicts with `{with}`")),
            },
            other => AddError::Invalid(format!("`{pattern}`: {other}")),
        })?;
        self.shapes.insert(shape, index);
        self.inserted.insert(route, index);
        self.routes.push(ParamRoute {
            deployment,
            rank: rank.into_boxed_slice(),
        });
        Ok(())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// Drops what only the build needed.
    pub(crate) fn finish(&mut self) {
        self.shapes = HashMap::new();
        self.inserted = HashMap::new();
    }

    /// The most specific route matching `path`, with its parameters (raw values; a greedy
    /// parameter holds the rest of the path without its leading `/`).
    pub(crate) fn find<'r, 'p>(
        &'r self,
        path: &'p str,
    ) -> Option<(usize, Vec<(&'r str, &'p str)>)> {
        let mut best: Option<(usize, matchit::Params<'r, 'p>)> = None;
        if let Ok(m) = self.whole.at(path) {
            best = Some((*m.value, m.params));
        }
        if !self.greedy.is_empty() {
            // A greedy route of depth d needs at least d + 1 segments.
            let segments = path.bytes().filter(|&b| b == b'/').count();
            for (depth, tree) in &self.greedy {
                if *depth >= segments {
                    break;
                }
                if let Ok(m) = tree.at(path) {
                    let better = match &best {
                        None => true,
                        Some((b, _)) => self.routes[*m.value].rank < self.routes[*b].rank,
                    };
                    if better {
                        best = Some((*m.value, m.params));
                    }
                }
            }
        }
        best.map(|(route, params)| (self.routes[route].deployment, params.iter().collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tier(patterns: &[&str]) -> ParamsTier {
        let mut t = ParamsTier::default();
        for (i, p) in patterns.iter().enumerate() {
            t.insert(p, i).unwrap();
        }
        t.finish();
        t
    }

    fn find<'r, 'p>(t: &'r ParamsTier, path: &'p str) -> Option<(usize, Vec<(&'r str, &'p str)>)> {
        t.find(path)
    }

    #[test]
    fn params_are_extracted_raw() {
        let t = tier(&["/user/{id}/books/{book-id}"]);
        assert_eq!(
            find(&t, "/user/a%20b/books/7"),
            Some((0, vec![("id", "a%20b"), ("book-id", "7")]))
        );
        assert_eq!(find(&t, "/user/1/books"), None);
        assert_eq!(find(&t, "/user//books/7"), None);
    }

    #[test]
    fn static_beats_param_beats_greedy() {
        let t = tier(&["/f/{proxy+}", "/f/{id}", "/f/new"]);
        assert_eq!(find(&t, "/f/new"), Some((2, vec![])));
        assert_eq!(find(&t, "/f/7"), Some((1, vec![("id", "7")])));
        assert_eq!(find(&t, "/f/7/x"), Some((0, vec![("proxy", "7/x")])));
    }

    #[test]
    fn comparison_runs_segment_by_segment_from_the_left() {
        // `/a/b/...` has a static second segment, so it beats `/a/{x}/c` on `/a/b/c`.
        let t = tier(&["/a/{x}/c", "/a/b/{rest+}"]);
        assert_eq!(find(&t, "/a/b/c"), Some((1, vec![("rest", "c")])));
        assert_eq!(find(&t, "/a/z/c"), Some((0, vec![("x", "z")])));
        // Deeper greedy beats shallower greedy when the earlier segments tie.
        let t = tier(&["/{proxy+}", "/{x}/{proxy+}", "/api/{proxy+}"]);
        assert_eq!(find(&t, "/api/v1"), Some((2, vec![("proxy", "v1")])));
        assert_eq!(
            find(&t, "/web/v1"),
            Some((1, vec![("x", "web"), ("proxy", "v1")]))
        );
        assert_eq!(find(&t, "/web"), Some((0, vec![("proxy", "web")])));
    }

    #[test]
    fn greedy_needs_at_least_one_segment() {
        let t = tier(&["/files/{proxy+}"]);
        assert_eq!(find(&t, "/files"), None);
        assert_eq!(find(&t, "/files/"), None);
        assert_eq!(find(&t, "/files/a"), Some((0, vec![("proxy", "a")])));
        assert_eq!(find(&t, "/files/a/b/"), Some((0, vec![("proxy", "a/b/")])));
    }

    #[test]
    fn backtracks_from_a_static_dead_end() {
        let t = tier(&["/a/b/c", "/a/{x}/d"]);
        assert_eq!(find(&t, "/a/b/d"), Some((1, vec![("x", "b")])));
        assert_eq!(find(&t, "/a/b/c"), Some((0, vec![])));
    }

    #[test]
    fn same_shape_is_a_clash_naming_the_first() {
        let mut t = ParamsTier::default();
        t.insert("/u/{id}", 0).unwrap();
        match t.insert("/u/{name}", 5) {
            Err(AddError::Clash { existing, reason }) => {
                assert_eq!(existing, 0);
                assert!(reason.contains("/u/{}"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
}
