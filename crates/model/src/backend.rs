//! Backend services: typed, named backends with one definition per environment.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ValidationError, check, non_empty_name};
use crate::function::{FunctionPlace, validate_function_backend};
use crate::template::StageTemplate;
use crate::{BackendTls, FunctionFormat, PayloadVersion};

/// The type of a backend service, fixed at creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    Http,
    Upstream,
    Mock,
    Function,
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
    /// A function called with a cloud's event format: at a `url`, behind an `upstream`, or
    /// `hosted` by Pylon (exactly one of the three).
    Function {
        format: FunctionFormat,
        /// On: the function answers `{statusCode, headers, body, isBase64Encoded}` and that
        /// becomes the HTTP response. Off: its JSON is the response body.
        #[serde(default = "yes")]
        response_integration: bool,
        /// The function endpoint's base URL (may hold `${stageVariables.x}`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
        /// An upstream (id, name or `${stageVariables.x}`) whose targets serve the function.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        upstream: Option<String>,
        /// A function Pylon runs (`/v1/functions`), by name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hosted: Option<String>,
        /// The function's name at the endpoint: the Lambda Invoke API path's name (default
        /// `function`), Function Compute's `x-fc-function-name`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// How an `https://` endpoint is verified.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tls: Option<BackendTls>,
        /// How long the function may take, in place of the API's backend timeout.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout_ms: Option<u64>,
        /// aws-lambda only: the proxy event's version, `1.0` (default) or `2.0`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payload_version: Option<PayloadVersion>,
    },
}

fn default_mock_status() -> u16 {
    200
}

fn yes() -> bool {
    true
}

impl BackendDefinition {
    pub fn kind(&self) -> BackendKind {
        match self {
            Self::Http { .. } => BackendKind::Http,
            Self::Upstream { .. } => BackendKind::Upstream,
            Self::Mock { .. } => BackendKind::Mock,
            Self::Function { .. } => BackendKind::Function,
        }
    }

    /// The TLS settings of an `http` or `function` definition, if it has any.
    pub fn tls(&self) -> Option<&BackendTls> {
        match self {
            Self::Http { tls, .. } | Self::Function { tls, .. } => tls.as_ref(),
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
            Self::Function {
                format,
                url,
                upstream,
                hosted,
                name,
                tls,
                timeout_ms,
                payload_version,
                ..
            } => validate_function_backend(
                field,
                *format,
                FunctionPlace {
                    url: url.as_deref(),
                    upstream: upstream.as_deref(),
                    hosted: hosted.as_deref(),
                },
                name.as_deref(),
                tls.as_ref(),
                *timeout_ms,
                *payload_version,
            ),
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
    fn function_definitions_need_one_place() {
        let d: BackendDefinition = serde_json::from_str(
            r#"{"type":"function","format":"tencent-scf","url":"http://127.0.0.1:9000/event"}"#,
        )
        .unwrap();
        assert_eq!(d.kind(), BackendKind::Function);
        assert!(d.validate("definition").is_ok());
        let both: BackendDefinition = serde_json::from_str(
            r#"{"type":"function","format":"aws-lambda","url":"http://h","hosted":"echo"}"#,
        )
        .unwrap();
        assert_eq!(both.validate("definition").unwrap_err().field, "definition");
        let v2: BackendDefinition = serde_json::from_str(
            r#"{"type":"function","format":"aliyun-fc","hosted":"echo","payload_version":"2.0"}"#,
        )
        .unwrap();
        assert_eq!(
            v2.validate("definition").unwrap_err().field,
            "definition.payload_version"
        );
        assert!(
            serde_json::from_str::<BackendDefinition>(
                r#"{"type":"function","format":"gcp","url":"http://h"}"#
            )
            .is_err()
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
