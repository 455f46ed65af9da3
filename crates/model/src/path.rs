//! API paths and their match class (DESIGN.md, "Path matching"), parsed and checked.

use crate::error::{ValidationError, check};

/// The match class of an API path, parsed from [`RequestConfig::path`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathPattern {
    /// `=/user`
    Exact(String),
    /// `^~/user`
    Prefix(String),
    /// `/user/{id}`, `/files/{proxy+}`: whole-segment parameters; `{name+}` only last.
    Params(String),
    /// `/user`: exact, or any string prefix.
    Plain(String),
    /// `~<regex>`: named groups become path parameters.
    Regex(String),
}

/// Other routers' parameter and wildcard spellings (`/users/:id`, `/files/*`) would be taken
/// as literal text and never match what their author meant, so they are refused with the
/// Pylon spelling instead. A colon inside a segment (`/v1/things:batchGet`) stays literal.
fn check_foreign_spellings(raw: &str, segments: &[&str]) -> Result<(), ValidationError> {
    const F: &str = "request.path";
    for (i, seg) in segments.iter().enumerate() {
        if let Some(name) = seg.strip_prefix(':') {
            let name = if name.is_empty() { "name" } else { name };
            let mut fixed: Vec<String> = segments.iter().map(|s| s.to_string()).collect();
            fixed[i] = format!("{{{name}}}");
            return Err(ValidationError::new(
                F,
                format!(
                    "`{seg}` would be a literal segment: Pylon writes path parameters in braces, \
                     e.g. `/{}`",
                    fixed.join("/")
                ),
            ));
        }
        if seg.contains('*') {
            let before = segments[..i].join("/");
            let prefix = if before.is_empty() {
                "/".to_string()
            } else {
                format!("/{before}/")
            };
            return Err(ValidationError::new(
                F,
                format!(
                    "`*` is not a wildcard in `{raw}`: to match everything under {prefix}, \
                     write `{prefix}{{proxy+}}` (the rest becomes parameter `proxy`) or \
                     `^~{prefix}` (prefix match)"
                ),
            ));
        }
    }
    Ok(())
}

impl PathPattern {
    /// Parses a path being defined now: [`PathPattern::parse`], and refuses spellings that
    /// parse but cannot mean what their author wanted (other routers' `:id` and `*`, a parameter
    /// named twice).
    pub fn parse_definition(raw: &str) -> Result<Self, ValidationError> {
        Self::parse_with(raw, true)
    }

    /// Parses a path as the router reads it. Looser than [`PathPattern::parse_definition`] so
    /// that what was published before a rule existed keeps being served.
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        Self::parse_with(raw, false)
    }

    fn parse_with(raw: &str, definition: bool) -> Result<Self, ValidationError> {
        const F: &str = "request.path";
        if let Some(re) = raw.strip_prefix('~') {
            let compiled = regex::Regex::new(re)
                .map_err(|e| ValidationError::new(F, format!("invalid regular expression: {e}")))?;
            drop(compiled);
            return Ok(Self::Regex(re.to_string()));
        }
        let (path, make): (&str, fn(String) -> Self) = if let Some(p) = raw.strip_prefix("^~") {
            (p, Self::Prefix)
        } else if let Some(p) = raw.strip_prefix('=') {
            (p, Self::Exact)
        } else {
            (raw, Self::Plain)
        };
        check(
            path.starts_with('/'),
            F,
            "must start with `/` (after an optional `=`, `^~` or `~`)",
        )?;
        check(path.len() <= 1024, F, "must be at most 1024 characters")?;
        check(
            path.bytes()
                .all(|b| b.is_ascii_graphic() && b != b'?' && b != b'#'),
            F,
            "must be printable ASCII without spaces, `?` or `#`",
        )?;
        let segments: Vec<&str> = path[1..].split('/').collect();
        if definition {
            check_foreign_spellings(raw, &segments)?;
        }
        let mut has_params = false;
        let mut names = std::collections::HashSet::new();
        for (i, seg) in segments.iter().enumerate() {
            if !(seg.contains('{') || seg.contains('}')) {
                continue;
            }
            has_params = true;
            let inner = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}'));
            let Some(inner) = inner else {
                return Err(ValidationError::new(
                    F,
                    format!("`{seg}`: a parameter must be a whole segment, `{{name}}`"),
                ));
            };
            let (name, greedy) = match inner.strip_suffix('+') {
                Some(n) => (n, true),
                None => (inner, false),
            };
            check(
                !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
                F,
                format!("`{seg}`: parameter names are letters, digits, `_` or `-`"),
            )?;
            check(
                !greedy || i + 1 == segments.len(),
                F,
                format!("`{seg}`: a greedy parameter must be the last segment"),
            )?;
            // Both values would land in one parameter map; the second would silently win.
            check(
                names.insert(name) || !definition,
                F,
                format!("parameter `{{{name}}}` appears twice; give each one its own name"),
            )?;
        }
        if has_params {
            check(
                matches!(make(String::new()), Self::Plain(_)),
                F,
                "`=` and `^~` paths cannot hold parameters",
            )?;
            return Ok(Self::Params(path.to_string()));
        }
        Ok(make(path.to_string()))
    }

    /// Names of the path parameters this pattern can produce.
    pub fn param_names(&self) -> Vec<String> {
        match self {
            Self::Params(p) => p
                .split('/')
                .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .map(|s| s.trim_end_matches('+').to_string())
                .collect(),
            Self::Regex(r) => regex::Regex::new(r)
                .map(|re| re.capture_names().flatten().map(str::to_string).collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_classes_are_parsed() {
        assert_eq!(
            PathPattern::parse("=/user").unwrap(),
            PathPattern::Exact("/user".into())
        );
        assert_eq!(
            PathPattern::parse("^~/user").unwrap(),
            PathPattern::Prefix("/user".into())
        );
        assert_eq!(
            PathPattern::parse("/user/{id}").unwrap(),
            PathPattern::Params("/user/{id}".into())
        );
        assert_eq!(
            PathPattern::parse("/user").unwrap(),
            PathPattern::Plain("/user".into())
        );
        assert_eq!(
            PathPattern::parse("~^/u/[0-9]+$").unwrap(),
            PathPattern::Regex("^/u/[0-9]+$".into())
        );
    }

    #[test]
    fn bad_paths_name_the_problem() {
        assert!(PathPattern::parse("user").is_err());
        assert!(
            PathPattern::parse("/files/{proxy+}/x")
                .unwrap_err()
                .message
                .contains("last")
        );
        assert!(
            PathPattern::parse("/u/a{id}")
                .unwrap_err()
                .message
                .contains("whole segment")
        );
        assert!(PathPattern::parse("=/u/{id}").is_err());
        assert!(PathPattern::parse("~(").is_err());
    }

    #[test]
    fn other_routers_spellings_are_refused_with_the_pylon_one() {
        let e = PathPattern::parse_definition("/users/:id").unwrap_err();
        assert_eq!(e.field, "request.path");
        assert!(e.message.contains("`/users/{id}`"), "{}", e.message);
        let e = PathPattern::parse_definition("/users/:id/orders/:oid").unwrap_err();
        assert!(
            e.message.contains("`/users/{id}/orders/:oid`"),
            "{}",
            e.message
        );
        let e = PathPattern::parse_definition("/files/*").unwrap_err();
        assert!(e.message.contains("`/files/{proxy+}`"), "{}", e.message);
        assert!(e.message.contains("`^~/files/`"), "{}", e.message);
        let e = PathPattern::parse_definition("^~/files/*").unwrap_err();
        assert!(e.message.contains("`/files/{proxy+}`"), "{}", e.message);
        let e = PathPattern::parse_definition("/*").unwrap_err();
        assert!(e.message.contains("`/{proxy+}`"), "{}", e.message);
        assert!(PathPattern::parse_definition("/a/b*c").is_err());
        // A colon inside a segment is ordinary text (Google-style custom methods).
        assert_eq!(
            PathPattern::parse_definition("/v1/things:batchGet").unwrap(),
            PathPattern::Plain("/v1/things:batchGet".into())
        );
        // Regular expressions have their own syntax.
        assert!(PathPattern::parse("~^/files/.*$").is_ok());
    }

    #[test]
    fn published_paths_stay_readable() {
        assert_eq!(
            PathPattern::parse("/users/:id").unwrap(),
            PathPattern::Plain("/users/:id".into())
        );
        assert!(PathPattern::parse("/a/{id}/{id}").is_ok());
    }

    #[test]
    fn parameter_names_are_unique() {
        let e = PathPattern::parse_definition("/a/{id}/{id}").unwrap_err();
        assert!(e.message.contains("`{id}` appears twice"), "{}", e.message);
        assert!(PathPattern::parse_definition("/a/{id}/b/{id+}").is_err());
        assert!(PathPattern::parse_definition("/a/{id}/{id2}").is_ok());
    }

    #[test]
    fn param_names_come_from_the_pattern() {
        assert_eq!(
            PathPattern::parse("/a/{id}/{rest+}").unwrap().param_names(),
            vec!["id", "rest"]
        );
        assert_eq!(
            PathPattern::parse("~^/u/(?P<uid>[0-9]+)$")
                .unwrap()
                .param_names(),
            vec!["uid"]
        );
    }
}
