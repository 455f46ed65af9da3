//! Longest string-prefix lookup, for `^~/a` (prefix) and plain `/a` (exact, else prefix) APIs.
//!
//! The distinct pattern lengths are kept sorted, longest first, and a lookup probes one hash
//! map with `&path[..len]` per length: its cost depends on the path's length and how many
//! different lengths exist, never on how many APIs share a length. An exact match is simply
//! the longest possible prefix, with an empty rest.

use foldhash::HashMap;
use std::collections::hash_map::Entry;

#[derive(Debug, Default)]
pub(crate) struct PrefixTier {
    by_pattern: HashMap<Box<str>, usize>,
    /// Distinct pattern lengths, longest first.
    lengths: Vec<usize>,
}

impl PrefixTier {
    /// Adds `pattern` for `deployment`; on a duplicate, returns the deployment already there.
    pub(crate) fn insert(&mut self, pattern: &str, deployment: usize) -> Result<(), usize> {
        match self.by_pattern.entry(pattern.into()) {
            Entry::Occupied(slot) => Err(*slot.get()),
            Entry::Vacant(slot) => {
                slot.insert(deployment);
                if let Err(at) = self.lengths.binary_search_by(|l| pattern.len().cmp(l)) {
                    self.lengths.insert(at, pattern.len());
                }
                Ok(())
            }
        }
    }

    /// The deployment whose pattern is the longest prefix of `path`, and the rest of the path.
    pub(crate) fn longest<'p>(&self, path: &'p str) -> Option<(usize, &'p str)> {
        // Skip the lengths longer than the path without probing them.
        let start = self.lengths.partition_point(|&l| l > path.len());
        for &len in &self.lengths[start..] {
            // `get` refuses a cut inside a multi-byte character; patterns are ASCII anyway.
            let (Some(head), Some(rest)) = (path.get(..len), path.get(len..)) else {
                continue;
            };
            if let Some(&deployment) = self.by_pattern.get(head) {
                return Some((deployment, rest));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tier(patterns: &[&str]) -> PrefixTier {
        let mut t = PrefixTier::default();
        for (i, p) in patterns.iter().enumerate() {
            t.insert(p, i).unwrap();
        }
        t
    }

    #[test]
    fn longest_prefix_wins() {
        let t = tier(&["/a", "/a/b", "/a/b/c/d"]);
        assert_eq!(t.longest("/a/b/c"), Some((1, "/c")));
        assert_eq!(t.longest("/a/bc"), Some((1, "c")));
        assert_eq!(t.longest("/a/x"), Some((0, "/x")));
        assert_eq!(t.longest("/a/b/c/d/e"), Some((2, "/e")));
    }

    #[test]
    fn exact_match_has_empty_rest() {
        let t = tier(&["/user", "/"]);
        assert_eq!(t.longest("/user"), Some((0, "")));
        assert_eq!(t.longest("/usertest"), Some((0, "test")));
        assert_eq!(t.longest("/other"), Some((1, "other")));
    }

    #[test]
    fn no_prefix_no_match() {
        let t = tier(&["/user"]);
        assert_eq!(t.longest("/use"), None);
        assert_eq!(t.longest(""), None);
        assert_eq!(t.longest("/üser"), None);
    }

    #[test]
    fn cut_inside_a_character_is_skipped() {
        let t = tier(&["/a", "/aé"]);
        // "/é" is 3 bytes; probing length 3 of "/aé" is fine, length 3 of "/éx" is a cut.
        assert_eq!(t.longest("/éx"), None);
        assert_eq!(t.longest("/aéz"), Some((1, "z")));
    }

    #[test]
    fn duplicate_pattern_names_the_first() {
        let mut t = tier(&["/a"]);
        assert_eq!(t.insert("/a", 7), Err(0));
    }
}
