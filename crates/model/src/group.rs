//! Groups: they own APIs and the domains those APIs are served on.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ValidationError, check, non_empty_name};

/// What a user writes to create or update a group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
}

impl GroupSpec {
    pub fn validate(&self) -> Result<(), ValidationError> {
        non_empty_name(&self.name, "name", 60)
    }
}

/// A custom domain bound to a group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Domain {
    /// Host name, lowercase, without port (e.g. `api.example.com`).
    pub name: String,
    /// The one environment this domain serves (Alibaba's `BindStageName`), whatever
    /// `X-Ca-Stage` says: how clients that cannot send that header, such as AppCode clients,
    /// reach TEST or PRE. Absent: every environment, chosen by `X-Ca-Stage` (RELEASE without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// The certificate (by name) the HTTPS listener presents for this domain, chosen over any
    /// other certificate that lists the name. Absent: whichever certificate lists it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    /// Take the environment from the path's first segment, and strip it: AWS's
    /// `/<ENVIRONMENT>/...` or Tencent's `/release|/prepub|/test/...`. Not with `environment`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage_path: Option<StagePath>,
    /// The shape of the gateway's own errors on this domain.
    #[serde(default, skip_serializing_if = "ErrorFormat::is_default")]
    pub error_format: ErrorFormat,
}

/// How a domain in stage-path mode reads the environment from the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StagePath {
    /// `/<stage>/...`: the environment's name, matched case-sensitively as AWS matches stages.
    Aws,
    /// `/release`, `/prepub`, `/test` for RELEASE, PRE and TEST.
    Tencent,
}

impl StagePath {
    /// The environment a first path segment names, in this style's words.
    pub fn environment(self, segment: &str) -> Option<&str> {
        match self {
            StagePath::Aws => Some(segment),
            StagePath::Tencent => match segment {
                "release" => Some("RELEASE"),
                "prepub" => Some("PRE"),
                "test" => Some("TEST"),
                _ => None,
            },
        }
    }
}

/// Alibaba's `X-Ca-Error-*` headers and JSON body, or AWS's `{"message"}` with
/// `x-amzn-ErrorType`, for clients of that cloud.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ErrorFormat {
    #[default]
    Alibaba,
    Aws,
}

impl ErrorFormat {
    fn is_default(&self) -> bool {
        *self == ErrorFormat::Alibaba
    }
}

/// A stored group. `id` is lowercase hex, so `<id>.<base-domain>` is a valid host name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Group {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub domains: Vec<Domain>,
    /// Unix milliseconds.
    pub created_at: i64,
    pub updated_at: i64,
}

impl Group {
    /// The default subdomain `<group-id>.<base-domain>`, meant for debugging.
    pub fn default_domain(&self, base_domain: &str) -> String {
        format!(
            "{}.{}",
            self.id,
            base_domain.trim_start_matches('.').to_ascii_lowercase()
        )
    }
}

/// Lowercases a host name, strips a trailing dot, and checks it is a plausible DNS name.
pub fn normalize_domain(raw: &str) -> Result<String, ValidationError> {
    let name = raw.trim().trim_end_matches('.').to_ascii_lowercase();
    check(
        !name.is_empty() && name.len() <= 253,
        "name",
        "must be a host name of 1 to 253 characters",
    )?;
    for label in name.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'*')
            && !label.starts_with('-')
            && !label.ends_with('-');
        check(
            ok,
            "name",
            format!("`{raw}` is not a valid host name (no port, no scheme)"),
        )?;
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_is_lowercased_and_checked() {
        assert_eq!(
            normalize_domain("Api.Example.COM.").unwrap(),
            "api.example.com"
        );
        assert!(normalize_domain("api.example.com:8080").is_err());
        assert!(normalize_domain("http://x").is_err());
        assert!(normalize_domain("").is_err());
    }
}
