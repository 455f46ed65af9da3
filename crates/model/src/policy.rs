//! Policies: named, reusable behaviour (CORS now; throttling and IP control next) bound to an
//! API in an environment.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::CorsConfig;
use crate::error::{ValidationError, check, non_empty_name};

pub const MAX_POLICY_NAME_LEN: usize = 60;

/// What a policy does: its kind and that kind's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", content = "config", rename_all = "kebab-case")]
pub enum PolicyConfig {
    /// Cross-origin resource sharing, as an API's inline `cors` takes it.
    Cors(CorsConfig),
}

impl PolicyConfig {
    /// Every kind, as requests spell it. A new kind is a new variant and a new entry here.
    pub const KINDS: &'static [&'static str] = &["cors"];

    pub fn kind(&self) -> &'static str {
        match self {
            Self::Cors(_) => "cors",
        }
    }

    /// `field` prefixes the names in errors (e.g. `config`).
    pub fn validate(&self, field: &str) -> Result<(), ValidationError> {
        match self {
            Self::Cors(c) => c.validate(field),
        }
    }

    /// Reads a configuration of the named kind. An unknown kind is refused naming the supported
    /// ones, and a configuration that does not fit its kind names `config`: both are the
    /// caller's input, not malformed JSON.
    pub fn parse(kind: &str, config: serde_json::Value) -> Result<Self, ValidationError> {
        check(
            Self::KINDS.contains(&kind),
            "kind",
            format!(
                "unknown policy kind `{kind}`; supported kinds: {}",
                Self::KINDS
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )?;
        let tagged = serde_json::json!({ "kind": kind, "config": config });
        serde_json::from_value(tagged).map_err(|e| {
            ValidationError::new("config", format!("not a valid `{kind}` configuration: {e}"))
        })
    }
}

/// A policy as stored and shown: name, description, kind and configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PolicySpec {
    /// Unique among policies.
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(flatten)]
    pub config: PolicyConfig,
}

impl PolicySpec {
    pub fn validate(&self) -> Result<(), ValidationError> {
        non_empty_name(&self.name, "name", MAX_POLICY_NAME_LEN)?;
        self.config.validate("config")
    }
}

/// A create or update request, read loosely (`kind` as text, `config` as any JSON) so that
/// [`PolicyInput::into_spec`] can refuse an unknown kind with a message naming the kinds.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyInput {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub kind: String,
    #[serde(default)]
    pub config: serde_json::Value,
}

impl PolicyInput {
    /// The typed, validated spec.
    pub fn into_spec(self) -> Result<PolicySpec, ValidationError> {
        let spec = PolicySpec {
            config: PolicyConfig::parse(&self.kind, self.config)?,
            name: self.name,
            description: self.description,
        };
        spec.validate()?;
        Ok(spec)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Policy {
    pub id: String,
    #[serde(flatten)]
    pub spec: PolicySpec,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Where to bind a policy: an API in an environment (any case).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyBindingSpec {
    pub api_id: String,
    pub environment: String,
}

/// A policy applied to an API in an environment. At most one policy of each kind per (API,
/// environment).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PolicyBinding {
    pub policy_id: String,
    pub api_id: String,
    /// Uppercase name.
    pub environment: String,
    pub created_at: i64,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn request(body: serde_json::Value) -> PolicyInput {
        serde_json::from_value(body).unwrap()
    }

    #[test]
    fn every_listed_kind_parses_and_names_itself() {
        for kind in PolicyConfig::KINDS {
            // The smallest configuration each kind accepts.
            let config = match *kind {
                "cors" => json!({ "allow_origins": ["*"] }),
                other => panic!("no sample configuration for `{other}`"),
            };
            assert_eq!(PolicyConfig::parse(kind, config).unwrap().kind(), *kind);
        }
    }

    #[test]
    fn a_policy_reads_and_writes_kind_and_config_beside_its_name() {
        let body = json!({
            "id": "p1", "name": "web", "description": "",
            "kind": "cors", "config": { "allow_origins": ["https://a.example"] },
            "created_at": 1, "updated_at": 2,
        });
        let p: Policy = serde_json::from_value(body).unwrap();
        assert_eq!(p.spec.config.kind(), "cors");
        let back = serde_json::to_value(&p).unwrap();
        assert_eq!(back["kind"], "cors");
        assert_eq!(
            back["config"]["allow_origins"],
            json!(["https://a.example"])
        );
        assert_eq!(serde_json::from_value::<Policy>(back).unwrap(), p);
    }

    #[test]
    fn unknown_kinds_are_refused_naming_the_supported_ones() {
        let err = request(json!({ "name": "x", "kind": "throttle", "config": {} }))
            .into_spec()
            .unwrap_err();
        assert_eq!(err.field, "kind");
        assert!(err.message.contains("`throttle`"), "{err}");
        assert!(err.message.contains("`cors`"), "{err}");
    }

    #[test]
    fn config_errors_name_the_field() {
        let err =
            request(json!({ "name": "x", "kind": "cors", "config": { "allow_origins": [] } }))
                .into_spec()
                .unwrap_err();
        assert_eq!(err.field, "config.allow_origins");
        let err = request(json!({ "name": "x", "kind": "cors", "config": { "origins": ["*"] } }))
            .into_spec()
            .unwrap_err();
        assert_eq!(err.field, "config");
        assert!(err.message.contains("origins"), "{err}");
        let err = request(json!({ "name": "x", "kind": "cors" }))
            .into_spec()
            .unwrap_err();
        assert_eq!(err.field, "config");
        let err =
            request(json!({ "name": " ", "kind": "cors", "config": { "allow_origins": ["*"] } }))
                .into_spec()
                .unwrap_err();
        assert_eq!(err.field, "name");
    }
}
