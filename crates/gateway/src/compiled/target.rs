//! Resolving a deployment's backend for its environment: the backend service definition (or the
//! inline one), stage variables substituted, HTTP URLs split, upstreams looked up by id or name.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::sync::Arc;

use http::HeaderValue;
use http::uri::Authority;
use pylon_model::BackendDefinition;
use pylon_model::template::StageTemplate;

use crate::backend::mock::MockPlan;
use crate::backend::upstream::UpstreamPlan;

/// Why an API cannot be served; decided at publish time, answered per request.
#[derive(Debug, Clone)]
pub(crate) enum Unservable {
    /// A configuration problem (500); the text goes to the log only.
    Internal(String),
    /// The target does not exist (503).
    Unavailable(String),
}

#[derive(Debug)]
pub(crate) enum TargetPlan {
    Http {
        /// The URL as configured after substitution, for logs.
        label: String,
        authority: Authority,
        /// The URL's path, without a trailing `/`.
        base_path: String,
        host: HeaderValue,
    },
    Upstream {
        upstream: Arc<UpstreamPlan>,
        base_path: String,
    },
    Mock(MockPlan),
}

/// What resolution needs from the snapshot, indexed once per full compile and kept for the
/// groups compiled after a change.
#[derive(Default)]
pub(crate) struct Resolver {
    /// By name and by id.
    pub(crate) upstreams: HashMap<String, Arc<UpstreamPlan>>,
    /// Upstreams that do not compile, by name and by id, with why.
    pub(crate) broken_upstreams: HashMap<String, String>,
}

/// Substitutes `${stageVariables.x}`; a missing variable makes the API unservable, named.
pub(crate) fn render_template(
    raw: &str,
    vars: &BTreeMap<String, String>,
    what: &str,
) -> Result<String, Unservable> {
    let template =
        StageTemplate::parse(raw, what).map_err(|e| Unservable::Internal(e.to_string()))?;
    template.render(vars).map_err(|name| {
        Unservable::Internal(format!(
            "{what} needs stage variable `{name}`, which is not set in this environment"
        ))
    })
}

impl Resolver {
    pub(crate) fn resolve(
        &self,
        definition: &BackendDefinition,
        vars: &BTreeMap<String, String>,
    ) -> Result<TargetPlan, Unservable> {
        match definition {
            BackendDefinition::Http { url } => {
                let url = render_template(url, vars, "backend URL")?;
                parse_http_url(&url)
            }
            BackendDefinition::Upstream {
                upstream,
                path_prefix,
            } => {
                let reference = render_template(upstream, vars, "upstream reference")?;
                let reference = reference.trim();
                if let Some(why) = self.broken_upstreams.get(reference) {
                    return Err(Unservable::Internal(why.clone()));
                }
                let plan = self.upstreams.get(reference).cloned().ok_or_else(|| {
                    Unservable::Unavailable(format!("upstream `{reference}` does not exist"))
                })?;
                Ok(TargetPlan::Upstream {
                    upstream: plan,
                    base_path: path_prefix.trim_end_matches('/').to_string(),
                })
            }
            BackendDefinition::Mock {
                status,
                headers,
                body,
            } => MockPlan::compile(*status, headers, body)
                .map(TargetPlan::Mock)
                .map_err(Unservable::Internal),
        }
    }
}

/// Splits `http://host:port/base` into the authority and the base path.
pub(crate) fn parse_http_url(url: &str) -> Result<TargetPlan, Unservable> {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let rest = if lower.starts_with("http://") {
        &url[7..]
    } else if lower.starts_with("https://") {
        return Err(Unservable::Internal(format!(
            "backend URL `{url}`: https backends are not supported yet"
        )));
    } else {
        return Err(Unservable::Internal(format!(
            "backend URL `{url}` must start with http://"
        )));
    };
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let authority = Authority::from_str(authority)
        .map_err(|_| Unservable::Internal(format!("backend URL `{url}` has no valid host")))?;
    let host = HeaderValue::from_str(authority.as_str())
        .map_err(|_| Unservable::Internal(format!("backend URL `{url}` has no valid host")))?;
    let base_path = path.split(['?', '#']).next().unwrap_or("");
    Ok(TargetPlan::Http {
        label: url.to_string(),
        authority,
        base_path: base_path.trim_end_matches('/').to_string(),
        host,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_urls_split_into_authority_and_base_path() {
        match parse_http_url("HTTP://127.0.0.1:8080/base/").unwrap() {
            TargetPlan::Http {
                authority,
                base_path,
                host,
                ..
            } => {
                assert_eq!(authority.as_str(), "127.0.0.1:8080");
                assert_eq!(base_path, "/base");
                assert_eq!(host, "127.0.0.1:8080");
            }
            other => panic!("{other:?}"),
        }
        match parse_http_url("http://backend.internal").unwrap() {
            TargetPlan::Http { base_path, .. } => assert_eq!(base_path, ""),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unsupported_urls_are_internal_errors() {
        assert!(matches!(
            parse_http_url("https://x"),
            Err(Unservable::Internal(m)) if m.contains("https")
        ));
        assert!(parse_http_url("ftp://x").is_err());
        assert!(parse_http_url("http://bad host/").is_err());
    }

    #[test]
    fn stage_variables_are_substituted_and_missing_ones_named() {
        let resolver = Resolver {
            upstreams: HashMap::new(),
            broken_upstreams: HashMap::new(),
        };
        let vars = BTreeMap::from([("host".to_string(), "10.0.0.1:81".to_string())]);
        let def = BackendDefinition::Http {
            url: "http://${stageVariables.host}/v1".into(),
        };
        match resolver.resolve(&def, &vars).unwrap() {
            TargetPlan::Http { authority, .. } => assert_eq!(authority.as_str(), "10.0.0.1:81"),
            other => panic!("{other:?}"),
        }
        match resolver.resolve(&def, &BTreeMap::new()) {
            Err(Unservable::Internal(m)) => assert!(m.contains("`host`")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_unknown_upstream_is_unavailable() {
        let resolver = Resolver {
            upstreams: HashMap::new(),
            broken_upstreams: HashMap::new(),
        };
        let def = BackendDefinition::Upstream {
            upstream: "nope".into(),
            path_prefix: String::new(),
        };
        assert!(matches!(
            resolver.resolve(&def, &BTreeMap::new()),
            Err(Unservable::Unavailable(_))
        ));
    }
}
