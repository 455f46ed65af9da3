//! Regular-expression APIs (`~^/u/(?P<id>[0-9]+)$`): one `RegexSet` per tier finds every
//! pattern that matches in one pass; the lowest index wins, and only the winner's own regex
//! runs again to extract its named groups as path parameters.

use std::collections::HashMap;

use regex::{Regex, RegexSet};

use crate::error::AddError;

/// What orders regular-expression APIs: priority, then API creation, then snapshot order.
#[derive(Debug)]
pub(crate) struct RegexRoute {
    pub(crate) priority: i32,
    pub(crate) created_at: i64,
    pub(crate) deployment: usize,
    pub(crate) pattern: String,
}

#[derive(Debug, Default)]
pub(crate) struct RegexBuilder {
    routes: Vec<RegexRoute>,
    seen: HashMap<String, usize>,
}

impl RegexBuilder {
    pub(crate) fn insert(&mut self, route: RegexRoute) -> Result<(), AddError> {
        if let Some(&existing) = self.seen.get(&route.pattern) {
            return Err(AddError::Clash {
                existing,
                reason: format!("same regular expression `{}`", route.pattern),
            });
        }
        self.seen.insert(route.pattern.clone(), route.deployment);
        self.routes.push(route);
        Ok(())
    }

    pub(crate) fn build(mut self) -> Result<RegexTier, String> {
        self.routes
            .sort_by_key(|r| (r.priority, r.created_at, r.deployment));
        let set =
            RegexSet::new(self.routes.iter().map(|r| &r.pattern)).map_err(|e| e.to_string())?;
        let regexes = self
            .routes
            .iter()
            .map(|r| Regex::new(&r.pattern).map_err(|e| format!("`{}`: {e}", r.pattern)))
            .collect::<Result<Vec<_>, _>>()?;
        let deployments = self.routes.iter().map(|r| r.deployment).collect();
        Ok(RegexTier {
            set,
            regexes,
            deployments,
        })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }
}

#[derive(Debug)]
pub(crate) struct RegexTier {
    set: RegexSet,
    /// Same order as the set's patterns.
    regexes: Vec<Regex>,
    deployments: Vec<usize>,
}

impl RegexTier {
    /// The first (by priority, then creation) matching API and its named groups.
    pub(crate) fn find<'r, 'p>(
        &'r self,
        path: &'p str,
    ) -> Option<(usize, Vec<(&'r str, &'p str)>)> {
        // `is_match` may stop at the first match and skips the per-pattern result vector;
        // most requests reaching this tier match nothing.
        if !self.set.is_match(path) {
            return None;
        }
        let winner = self.set.matches(path).iter().next()?;
        let regex = self.regexes.get(winner)?;
        let mut params = Vec::new();
        // Only the winner pays for capture extraction; a pattern without names skips it.
        if regex.capture_names().flatten().next().is_some()
            && let Some(caps) = regex.captures(path)
        {
            for (i, name) in regex.capture_names().enumerate() {
                if let (Some(name), Some(value)) = (name, caps.get(i)) {
                    params.push((name, value.as_str()));
                }
            }
        }
        Some((*self.deployments.get(winner)?, params))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tier(routes: &[(i32, i64, &str)]) -> RegexTier {
        let mut b = RegexBuilder::default();
        for (i, (priority, created_at, pattern)) in routes.iter().enumerate() {
            b.insert(RegexRoute {
                priority: *priority,
                created_at: *created_at,
                deployment: i,
                pattern: (*pattern).to_string(),
            })
            .unwrap();
        }
        b.build().unwrap()
    }

    #[test]
    fn lower_priority_wins_then_older() {
        let t = tier(&[(5, 1, "^/u/"), (1, 9, "^/u/[0-9]+$"), (1, 3, "^/u/.*$")]);
        assert_eq!(t.find("/u/12").map(|m| m.0), Some(2));
        assert_eq!(t.find("/u/ab").map(|m| m.0), Some(2));
        let t = tier(&[(0, 5, "^/a"), (0, 5, "^/a/b")]);
        // Same priority and creation time: snapshot order.
        assert_eq!(t.find("/a/b").map(|m| m.0), Some(0));
    }

    #[test]
    fn named_groups_become_params() {
        let t = tier(&[(0, 0, r"^/u/(?P<uid>[0-9]+)(/(?P<tab>\w+))?$")]);
        assert_eq!(
            t.find("/u/42/posts"),
            Some((0, vec![("uid", "42"), ("tab", "posts")]))
        );
        assert_eq!(t.find("/u/42"), Some((0, vec![("uid", "42")])));
        assert_eq!(t.find("/u/x"), None);
    }

    #[test]
    fn same_expression_twice_is_a_clash() {
        let mut b = RegexBuilder::default();
        let route = |deployment| RegexRoute {
            priority: 0,
            created_at: 0,
            deployment,
            pattern: "^/a$".into(),
        };
        b.insert(route(3)).unwrap();
        assert!(matches!(
            b.insert(route(4)),
            Err(AddError::Clash { existing: 3, .. })
        ));
    }
}
