//! The backend path template: stage variables already substituted at publish time, split into
//! literal pieces and `{param}` / `{param+}` slots bound to the parameter that fills them.

use pylon_model::Location;

use super::params::ParamPlan;

#[derive(Debug, PartialEq)]
pub(crate) enum PathPiece {
    Literal(String),
    Param {
        name: String,
        /// `{name+}`: the value may span segments, so `/` is not escaped.
        greedy: bool,
        /// The declared parameter whose backend target is this slot; when `None` the request
        /// path parameter of the same name fills it.
        source: Option<usize>,
    },
}

#[derive(Debug, PartialEq)]
pub(crate) struct BackendPath {
    pub(crate) pieces: Vec<PathPiece>,
    /// A query a stage variable put into the backend path (`/a?x=1`), forwarded first.
    pub(crate) query: Option<String>,
}

impl BackendPath {
    /// `rendered` is the backend path with its stage variables substituted.
    pub(crate) fn parse(rendered: &str, params: &[ParamPlan]) -> Self {
        let (path, query) = match rendered.split_once('?') {
            Some((p, q)) => (p, Some(q.to_string()).filter(|q| !q.is_empty())),
            None => (rendered, None),
        };
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut rest = path;
        while let Some(open) = rest.find('{') {
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else {
                break;
            };
            literal.push_str(&rest[..open]);
            let inner = &after[..close];
            let (name, greedy) = match inner.strip_suffix('+') {
                Some(n) => (n, true),
                None => (inner, false),
            };
            if !literal.is_empty() {
                pieces.push(PathPiece::Literal(std::mem::take(&mut literal)));
            }
            let source = params
                .iter()
                .position(|p| p.target.location == Location::Path && p.target.name == name);
            pieces.push(PathPiece::Param {
                name: name.to_string(),
                greedy,
                source,
            });
            rest = &after[close + 1..];
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            pieces.push(PathPiece::Literal(literal));
        }
        Self { pieces, query }
    }

    /// The path when it holds no slots (the common case), to copy without rendering.
    pub(crate) fn as_literal(&self) -> Option<&str> {
        match self.pieces.as_slice() {
            [] => Some(""),
            [PathPiece::Literal(s)] => Some(s),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compiled::params::plans;

    #[test]
    fn slots_bind_to_the_parameter_that_targets_them() {
        let params = plans(
            r#"[{"name":"q","location":"query","backend_name":"uid","backend_location":"path"},
                {"name":"id","location":"path"}]"#,
        );
        let path = BackendPath::parse("/v1/{uid}/x/{id}/{proxy+}", &params);
        assert_eq!(
            path.pieces,
            vec![
                PathPiece::Literal("/v1/".into()),
                PathPiece::Param {
                    name: "uid".into(),
                    greedy: false,
                    source: Some(0)
                },
                PathPiece::Literal("/x/".into()),
                PathPiece::Param {
                    name: "id".into(),
                    greedy: false,
                    source: Some(1)
                },
                PathPiece::Literal("/".into()),
                PathPiece::Param {
                    name: "proxy".into(),
                    greedy: true,
                    source: None
                },
            ]
        );
        assert_eq!(path.as_literal(), None);
    }

    #[test]
    fn a_query_from_a_stage_variable_is_split_off() {
        let path = BackendPath::parse("/a/b?x=1", &[]);
        assert_eq!(path.as_literal(), Some("/a/b"));
        assert_eq!(path.query.as_deref(), Some("x=1"));
    }

    #[test]
    fn an_unclosed_brace_is_literal() {
        let path = BackendPath::parse("/a/{b", &[]);
        assert_eq!(path.as_literal(), Some("/a/{b"));
    }
}
