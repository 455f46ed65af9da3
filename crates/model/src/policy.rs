//! Policies: named, reusable behaviour (CORS, IP access control, throttling) bound to an API
//! in an environment.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::CorsConfig;
use crate::error::{ValidationError, check, non_empty_name};
use crate::ip::parse_ip_range;
use crate::throttle::ThrottleConfig;

pub const MAX_POLICY_NAME_LEN: usize = 60;

/// What a policy does: its kind and that kind's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", content = "config", rename_all = "kebab-case")]
pub enum PolicyConfig {
    /// Cross-origin resource sharing, as an API's inline `cors` takes it.
    Cors(CorsConfig),
    /// Which client addresses may call (an allow list) or may not (a deny list).
    IpControl(IpControlConfig),
    /// Requests per unit of time and quotas per calendar period.
    Throttle(ThrottleConfig),
}

impl PolicyConfig {
    /// Every kind, as requests spell it. A new kind is a new variant and a new entry here.
    pub const KINDS: &'static [&'static str] = &["cors", "ip-control", "throttle"];

    pub fn kind(&self) -> &'static str {
        match self {
            Self::Cors(_) => "cors",
            Self::IpControl(_) => "ip-control",
            Self::Throttle(_) => "throttle",
        }
    }

    /// `field` prefixes the names in errors (e.g. `config`).
    pub fn validate(&self, field: &str) -> Result<(), ValidationError> {
        match self {
            Self::Cors(c) => c.validate(field),
            Self::IpControl(c) => c.validate(field),
            Self::Throttle(c) => c.validate(field),
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

/// Whether an IP control policy lists who may call or who may not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum IpAction {
    /// Only the listed addresses may call; every other address is refused.
    Allow,
    /// The listed addresses are refused; every other address may call.
    Deny,
}

/// Client addresses an API accepts or refuses (Alibaba's IP access control policy).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IpControlConfig {
    pub action: IpAction,
    /// IPv4 or IPv6 addresses and CIDR ranges (`192.0.2.7`, `10.0.0.0/8`, `2001:db8::/32`),
    /// for every caller.
    #[serde(default)]
    pub addresses: Vec<String>,
    /// Addresses for one app only (Alibaba's per-AppId entries): in an allow list, the app may
    /// also call from these; in a deny list, the app may not call from these.
    #[serde(default)]
    pub apps: Vec<AppAddresses>,
}

/// The addresses of one app in an IP control policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppAddresses {
    pub app_id: String,
    pub addresses: Vec<String>,
}

/// Entries at most per list, so a policy stays a list to check per request, not a database.
pub const MAX_IP_ENTRIES: usize = 1000;

impl IpControlConfig {
    pub fn validate(&self, field: &str) -> Result<(), ValidationError> {
        check(
            !self.addresses.is_empty() || !self.apps.is_empty(),
            &format!("{field}.addresses"),
            "list at least one address or range, here or under `apps`",
        )?;
        check_addresses(&self.addresses, &format!("{field}.addresses"))?;
        for (i, app) in self.apps.iter().enumerate() {
            let at = format!("{field}.apps[{i}]");
            check(
                !app.app_id.trim().is_empty(),
                &format!("{at}.app_id"),
                "must name an app",
            )?;
            check(
                !app.addresses.is_empty(),
                &format!("{at}.addresses"),
                "list at least one address or range",
            )?;
            check_addresses(&app.addresses, &format!("{at}.addresses"))?;
        }
        Ok(())
    }
}

fn check_addresses(addresses: &[String], field: &str) -> Result<(), ValidationError> {
    check(
        addresses.len() <= MAX_IP_ENTRIES,
        field,
        format!("at most {MAX_IP_ENTRIES} entries"),
    )?;
    for (i, a) in addresses.iter().enumerate() {
        parse_ip_range(a).map_err(|m| ValidationError::new(format!("{field}[{i}]"), m))?;
    }
    Ok(())
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

    #[test]
    fn ip_control_entries_are_parsed_and_named_when_wrong() {
        let config = |value| PolicyConfig::parse("ip-control", value);
        let ok =
            config(json!({"action": "deny", "addresses": ["10.0.0.0/8", "::1", " 192.0.2.1 "]}))
                .unwrap();
        assert_eq!(ok.kind(), "ip-control");
        ok.validate("config").unwrap();
        for (value, field) in [
            (json!({"action": "allow"}), "config.addresses"),
            (
                json!({"action": "allow", "addresses": ["10.0.0.0/33"]}),
                "config.addresses[0]",
            ),
            (
                json!({"action": "allow", "addresses": ["::1", "nope"]}),
                "config.addresses[1]",
            ),
            (
                json!({"action": "allow", "apps": [{"app_id": " ", "addresses": ["::1"]}]}),
                "config.apps[0].app_id",
            ),
            (
                json!({"action": "allow", "apps": [{"app_id": "a", "addresses": ["1.2.3"]}]}),
                "config.apps[0].addresses[0]",
            ),
        ] {
            let err = config(value).unwrap().validate("config").unwrap_err();
            assert_eq!(err.field, field);
        }
        assert_eq!(
            config(json!({"action": "maybe", "addresses": []}))
                .unwrap_err()
                .field,
            "config"
        );
    }

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
                "ip-control" => json!({ "action": "allow", "addresses": ["::1"] }),
                "throttle" => json!({ "unit": "second", "api_limit": 1 }),
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
        let err = request(json!({ "name": "x", "kind": "throttling", "config": {} }))
            .into_spec()
            .unwrap_err();
        assert_eq!(err.field, "kind");
        assert!(err.message.contains("`throttling`"), "{err}");
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
