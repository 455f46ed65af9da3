//! Backend services: typed, named backends with one definition per environment.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::BackendTls;
use crate::error::{ValidationError, check, non_empty_name};
use crate::template::StageTemplate;

/// The type of a backend service, fixed at creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    Http,
    Upstream,
    Mock,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackendSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: BackendKind,
    #[serde(default)]
    pub description: String,
}

impl BackendSpec {
    pub fn validate(&self) -> Result<(), ValidationError> {
        non_empty_name(&self.name, "name", 60)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Backend {
    pub id: String,
    #[serde(flatten)]
    pub spec: BackendSpec,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Where a backend sends requests in one environment (or inline in an API).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum BackendDefinition {
    /// A base URL, `http://host:port/base` or `https://...`; may hold `${stageVariables.x}`.
    Http {
        url: String,
        /// How an `https://` backend is verified (system roots when absent); only for
        /// `https://` URLs.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tls: Option<BackendTls>,
    },
    /// An upstream by id or name (may be `${stageVariables.x}`), reached over plain HTTP,
    /// with an optional base path prefixed to every backend path.
    Upstream {
        upstream: String,
        #[serde(default)]
        path_prefix: String,
    },
    /// A fixed answer.
    Mock {
        #[serde(default = "default_mock_status")]
        status: u16,
        #[serde(default)]
        headers: BTreeMap<String, String>,
        #[serde(default)]
        body: String,
    },
}

fn default_mock_status() -> u16 {
    200
}

impl BackendDefinition {
    pub fn kind(&self) -> BackendKind {
        match self {
            Self::Http { .. } => BackendKind::Http,
            Self::Upstream { .. } => BackendKind::Upstream,
            Self::Mock { .. } => BackendKind::Mock,
        }
    }

    /// The TLS settings of an `http` definition, if it has any.
    pub fn tls(&self) -> Option<&BackendTls> {
        match self {
            Self::Http { tls, .. } => tls.as_ref(),
            _ => None,
        }
    }

    /// `field` prefixes the names in errors (e.g. `backend.service.inline`).
    pub fn validate(&self, field: &str) -> Result<(), ValidationError> {
        match self {
            Self::Http { url, tls } => {
                let f = format!("{field}.url");
                StageTemplate::parse(url, &f)?;
                let lower = url.to_ascii_lowercase();
                let https = lower.starts_with("https://") || lower.starts_with("wss://");
                check(
                    https || lower.starts_with("http://") || lower.starts_with("ws://"),
                    &f,
                    "must start with http://, https://, ws:// or wss://",
                )?;
                if let Some(tls) = tls {
                    let t = format!("{field}.tls");
                    check(https, &t, "TLS settings need an https:// or wss:// URL")?;
                    tls.validate(&t)?;
                }
                let host = url
                    .split_once("://")
                    .map(|(_, r)| r.split(['/', '?']).next().unwrap_or(""))
                    .unwrap_or("");
                check(!host.is_empty(), &f, "must name a host")?;
                check(
                    !url.contains('?') && !url.contains('#'),
                    &f,
                    "must not contain a query or fragment",
                )
            }
            Self::Upstream {
                upstream,
                path_prefix,
            } => {
                let f = format!("{field}.upstream");
                check(
                    !upstream.trim().is_empty(),
                    &f,
                    "must name an upstream by id or name",
                )?;
                StageTemplate::parse(upstream, &f)?;
                check(
                    path_prefix.is_empty() || path_prefix.starts_with('/'),
                    &format!("{field}.path_prefix"),
                    "must be empty or start with `/`",
                )
            }
            Self::Mock {
                status, headers, ..
            } => {
                check(
                    (100..=599).contains(status),
                    &format!("{field}.status"),
                    "must be an HTTP status 100-599",
                )?;
                for name in headers.keys() {
                    let ok = !name.is_empty()
                        && name
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"-_!#$%&'*+.^`|~".contains(&b));
                    check(
                        ok,
                        &format!("{field}.headers.{name}"),
                        "is not a valid header name",
                    )?;
                }
                Ok(())
            }
        }
    }
}

/// A backend's definition in one environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BackendEnvironment {
    pub backend_id: String,
    pub environment: String,
    pub definition: BackendDefinition,
    pub updated_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_are_tagged_by_type() {
        let d: BackendDefinition =
            serde_json::from_str(r#"{"type":"http","url":"http://127.0.0.1:9000/base"}"#).unwrap();
        assert_eq!(d.kind(), BackendKind::Http);
        let m: BackendDefinition = serde_json::from_str(r#"{"type":"mock","body":"hi"}"#).unwrap();
        assert_eq!(
            m,
            BackendDefinition::Mock {
                status: 200,
                headers: BTreeMap::new(),
                body: "hi".into()
            }
        );
    }

    #[test]
    fn http_urls_are_checked() {
        let bad = BackendDefinition::Http {
            url: "ftp://x".into(),
            tls: None,
        };
        assert_eq!(
            bad.validate("definition").unwrap_err().field,
            "definition.url"
        );
        assert!(
            BackendDefinition::Http {
                url: "http://${stageVariables.host}/v1".into(),
                tls: None,
            }
            .validate("d")
            .is_ok()
        );
        assert!(
            BackendDefinition::Http {
                url: "http:///x".into(),
                tls: None,
            }
            .validate("d")
            .is_err()
        );
    }

    #[test]
    fn https_urls_take_tls_settings_and_http_urls_refuse_them() {
        let tls = Some(BackendTls::default());
        for url in [
            "https://api.example.com",
            "HTTPS://x/y",
            "https://${stageVariables.h}",
        ] {
            let def = BackendDefinition::Http {
                url: url.into(),
                tls: tls.clone(),
            };
            assert!(def.validate("definition").is_ok(), "{url}");
        }
        let e = BackendDefinition::Http {
            url: "http://x".into(),
            tls,
        }
        .validate("definition")
        .unwrap_err();
        assert_eq!(e.field, "definition.tls");
    }
}
