//! APIs: the request definition a client calls, the backend it reaches, and how the two map.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::{AuthConfig, CorsConfig};
use crate::backend::BackendDefinition;
use crate::error::{ValidationError, check, non_empty_name};
use crate::path::PathPattern;
use crate::template::StageTemplate;

pub const MAX_API_NAME_LEN: usize = 60;
pub use crate::limits::{DEFAULT_TIMEOUT_MS, MAX_TIMEOUT_MS};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
    Patch,
    Head,
    Options,
    /// Accepts every method.
    Any,
}

impl Method {
    pub const CONCRETE: [Method; 7] = [
        Method::Get,
        Method::Post,
        Method::Put,
        Method::Delete,
        Method::Patch,
        Method::Head,
        Method::Options,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Delete => "DELETE",
            Self::Patch => "PATCH",
            Self::Head => "HEAD",
            Self::Options => "OPTIONS",
            Self::Any => "ANY",
        }
    }

    /// The method of an incoming request; `None` for methods Pylon does not route.
    pub fn from_request(method: &str) -> Option<Self> {
        Some(match method {
            "GET" => Self::Get,
            "POST" => Self::Post,
            "PUT" => Self::Put,
            "DELETE" => Self::Delete,
            "PATCH" => Self::Patch,
            "HEAD" => Self::Head,
            "OPTIONS" => Self::Options,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Protocol {
    Http,
    Https,
    /// WebSocket upgrades over plain HTTP/1.1.
    Ws,
    /// WebSocket upgrades over TLS.
    Wss,
}

/// Limits of an API's WebSocket connections (protocols `WS`/`WSS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebSocketConfig {
    /// A connection with no frame either way for this long is closed.
    #[serde(default = "default_ws_idle_ms")]
    pub idle_timeout_ms: u64,
    /// Open connections at most, per environment; past it an upgrade gets `503`.
    #[serde(default = "default_ws_max")]
    pub max_connections: u32,
}

pub const DEFAULT_WS_IDLE_MS: u64 = 10 * 60 * 1000;
pub const MAX_WS_IDLE_MS: u64 = 2 * 60 * 60 * 1000;

fn default_ws_idle_ms() -> u64 {
    DEFAULT_WS_IDLE_MS
}

fn default_ws_max() -> u32 {
    10_000
}

impl Default for WebSocketConfig {
    fn default() -> Self {
        WebSocketConfig {
            idle_timeout_ms: DEFAULT_WS_IDLE_MS,
            max_connections: default_ws_max(),
        }
    }
}

impl WebSocketConfig {
    fn is_default(&self) -> bool {
        *self == WebSocketConfig::default()
    }
}

/// Pass-through forwards the request as it came (parameters are only validated);
/// mapping builds the backend request from the declared parameters alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequestMode {
    #[default]
    PassThrough,
    Mapping,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Location {
    Path,
    Query,
    Header,
    Form,
    Body,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    #[default]
    String,
    Int,
    Long,
    Float,
    Double,
    Boolean,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Constraints {
    pub min_length: Option<usize>,
    pub max_length: Option<usize>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// When not empty, the value must be one of these.
    pub enum_values: Vec<String>,
    /// A regular expression the whole value must match.
    pub pattern: Option<String>,
}

/// A request parameter: where it is, what it must look like, and (in mapping mode)
/// where it goes in the backend request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Parameter {
    pub name: String,
    pub location: Location,
    #[serde(default, rename = "type")]
    pub param_type: ParamType,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub constraints: Constraints,
    #[serde(default)]
    pub example: Option<String>,
    #[serde(default)]
    pub description: String,
    /// Name in the backend request; defaults to `name`.
    #[serde(default)]
    pub backend_name: Option<String>,
    /// Location in the backend request; defaults to `location`.
    #[serde(default)]
    pub backend_location: Option<Location>,
}

/// A fixed value always sent to the backend (e.g. a `Host` header).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConstantParameter {
    pub name: String,
    pub location: Location,
    pub value: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SystemParameterKind {
    ClientIp,
    RequestId,
    Domain,
    Stage,
    ApiId,
    ApiName,
    UserAgent,
    /// The authenticated app's id (empty when the API's auth is `none`).
    AppId,
}

/// A value the gateway knows about the call, sent to the backend under `name`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SystemParameter {
    pub kind: SystemParameterKind,
    pub name: String,
    #[serde(default = "header_location")]
    pub location: Location,
}

fn header_location() -> Location {
    Location::Header
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestConfig {
    #[serde(default = "default_protocols")]
    pub protocols: Vec<Protocol>,
    pub method: Method,
    /// The path and its match class: `=/user` exact, `^~/user` prefix, `/user/{id}` or
    /// `/files/{proxy+}` parameters, `/user` exact-or-prefix, `~^/u/[0-9]+$` regular expression.
    pub path: String,
    /// Orders regular-expression APIs: lower first, then creation order.
    #[serde(default)]
    pub regex_priority: i32,
    #[serde(default)]
    pub mode: RequestMode,
    /// Lets `%2F`, `%5C` and `\` through in path parameter values and the rest of a prefix
    /// match, for backends that take encoded slashes as data. Dot segments stay refused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_encoded_slashes: bool,
    /// For an HTTPS-only API: a call over plain HTTP is answered with a `308` redirect to the
    /// same URL over `https://` instead of the refusal `Invalid protocol HTTP unsupported`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub https_redirect: bool,
    /// For WebSocket APIs: idle timeout and the cap on open connections.
    #[serde(default, skip_serializing_if = "WebSocketConfig::is_default")]
    pub websocket: WebSocketConfig,
}

fn default_protocols() -> Vec<Protocol> {
    vec![Protocol::Http, Protocol::Https]
}

/// A backend service by reference, or a definition written into the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", try_from = "BackendTargetFields")]
pub enum BackendTarget {
    /// `{"backend_id": "..."}`: the backend service's definition for the environment served.
    BackendId(String),
    /// `{"inline": {"type": "http", ...}}`.
    Inline(BackendDefinition),
}

/// How a [`BackendTarget`] is read: a map with one of two keys, the same JSON as the enum
/// writes. Read as a struct rather than as an externally tagged enum because YAML readers
/// (yaml_serde) take enum variants only as `!tags`, and the CLI checks API files as YAML.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BackendTargetFields {
    #[serde(default)]
    backend_id: Option<String>,
    #[serde(default)]
    inline: Option<BackendDefinition>,
}

impl TryFrom<BackendTargetFields> for BackendTarget {
    type Error = &'static str;

    fn try_from(fields: BackendTargetFields) -> Result<Self, Self::Error> {
        match (fields.backend_id, fields.inline) {
            (Some(id), None) => Ok(Self::BackendId(id)),
            (None, Some(definition)) => Ok(Self::Inline(definition)),
            _ => Err(
                "give exactly one of `backend_id` (a backend service) or `inline` \
                 (a definition written here)",
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackendConfig {
    pub service: BackendTarget,
    /// Backend path with `{param}` and `${stageVariables.x}`; for prefix-matched APIs the
    /// unmatched rest of the request path is appended. Unused by function backends, whose
    /// event carries the request's own path.
    #[serde(default)]
    pub path: String,
    /// Backend method; the request's method when absent.
    #[serde(default)]
    pub method: Option<Method>,
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
}

fn default_timeout() -> u64 {
    DEFAULT_TIMEOUT_MS
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorCodeDoc {
    pub code: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub description: String,
}

/// Documentation of the response, for people and generated SDKs; not enforced.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ResponseDoc {
    pub content_type: Option<String>,
    pub success_example: Option<String>,
    pub failure_example: Option<String>,
    pub error_codes: Vec<ErrorCodeDoc>,
}

/// What a user writes to define an API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub request: RequestConfig,
    #[serde(default)]
    pub parameters: Vec<Parameter>,
    pub backend: BackendConfig,
    #[serde(default)]
    pub constant_parameters: Vec<ConstantParameter>,
    #[serde(default)]
    pub system_parameters: Vec<SystemParameter>,
    #[serde(default)]
    pub auth: AuthConfig,
    #[serde(default)]
    pub cors: Option<CorsConfig>,
    #[serde(default)]
    pub response: ResponseDoc,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Api {
    pub id: String,
    pub group_id: String,
    #[serde(flatten)]
    pub spec: ApiSpec,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ApiSpec {
    pub fn validate(&self) -> Result<(), ValidationError> {
        non_empty_name(&self.name, "name", MAX_API_NAME_LEN)?;
        check(
            !self.request.protocols.is_empty(),
            "request.protocols",
            "at least one protocol is required",
        )?;
        let ws = &self.request.websocket;
        check(
            (1000..=MAX_WS_IDLE_MS).contains(&ws.idle_timeout_ms),
            "request.websocket.idle_timeout_ms",
            format!("must be 1000 to {MAX_WS_IDLE_MS} (2 hours)"),
        )?;
        check(
            ws.max_connections >= 1,
            "request.websocket.max_connections",
            "must be at least 1",
        )?;
        let websocket = self
            .request
            .protocols
            .iter()
            .any(|p| matches!(p, Protocol::Ws | Protocol::Wss));
        check(
            !websocket
                || !matches!(
                    self.backend.service,
                    BackendTarget::Inline(BackendDefinition::Mock { .. })
                ),
            "request.protocols",
            "a mock backend cannot carry WebSocket connections; use an http (ws://, wss://) or upstream backend",
        )?;
        check(
            !self.request.https_redirect || self.request.protocols == [Protocol::Https],
            "request.https_redirect",
            "redirects to HTTPS only for an HTTPS-only API (`protocols: [HTTPS]`)",
        )?;
        let pattern = PathPattern::parse_definition(&self.request.path)?;
        let path_params = pattern.param_names();

        let mut seen = std::collections::HashSet::new();
        for (i, p) in self.parameters.iter().enumerate() {
            let f = format!("parameters[{i}]");
            check(
                !p.name.is_empty() && p.name.len() <= 128,
                &format!("{f}.name"),
                "must be 1 to 128 characters",
            )?;
            check(
                seen.insert((p.location, p.name.to_ascii_lowercase())),
                &format!("{f}.name"),
                format!("`{}` is declared twice in {:?}", p.name, p.location),
            )?;
            if p.location == Location::Path {
                check(
                    path_params.contains(&p.name),
                    &format!("{f}.name"),
                    format!(
                        "path parameter `{}` does not appear in request.path",
                        p.name
                    ),
                )?;
            }
            if let Some(pattern) = &p.constraints.pattern {
                regex::Regex::new(pattern).map_err(|e| {
                    ValidationError::new(
                        format!("{f}.constraints.pattern"),
                        format!("invalid regular expression: {e}"),
                    )
                })?;
            }
            if let (Some(min), Some(max)) = (p.constraints.min, p.constraints.max) {
                check(
                    min <= max,
                    &format!("{f}.constraints"),
                    "min must not exceed max",
                )?;
            }
            if let Some(name) = &p.backend_name {
                check(
                    !name.is_empty(),
                    &format!("{f}.backend_name"),
                    "must not be empty",
                )?;
            }
            if p.backend_location == Some(Location::Path)
                || (p.backend_location.is_none() && p.location == Location::Path)
            {
                let target = p.backend_name.as_deref().unwrap_or(&p.name);
                check(
                    self.backend.path.contains(&format!("{{{target}}}"))
                        || self.backend.path.contains(&format!("{{{target}+}}")),
                    &format!("{f}.backend_name"),
                    format!("backend path has no `{{{target}}}` for this path parameter"),
                )?;
            }
        }
        for (i, c) in self.constant_parameters.iter().enumerate() {
            let f = format!("constant_parameters[{i}]");
            check(
                !c.name.is_empty(),
                &format!("{f}.name"),
                "must not be empty",
            )?;
            check(
                matches!(
                    c.location,
                    Location::Header | Location::Query | Location::Form
                ),
                &format!("{f}.location"),
                "constant parameters go in a header, the query or the form",
            )?;
        }
        for (i, s) in self.system_parameters.iter().enumerate() {
            let f = format!("system_parameters[{i}]");
            check(
                !s.name.is_empty(),
                &format!("{f}.name"),
                "must not be empty",
            )?;
            check(
                matches!(s.location, Location::Header | Location::Query),
                &format!("{f}.location"),
                "system parameters go in a header or the query",
            )?;
        }

        let b = &self.backend;
        // Empty only where it is unused: a function's event carries the request's path.
        let function = matches!(
            b.service,
            BackendTarget::Inline(BackendDefinition::Function { .. })
        );
        check(
            b.path.starts_with('/') || (b.path.is_empty() && function),
            "backend.path",
            "must start with `/`",
        )?;
        StageTemplate::parse(&b.path, "backend.path")?;
        check(
            (1..=MAX_TIMEOUT_MS).contains(&b.timeout_ms),
            "backend.timeout_ms",
            format!("must be between 1 and {MAX_TIMEOUT_MS} (30 minutes)"),
        )?;
        if let BackendTarget::Inline(def) = &b.service {
            def.validate("backend.service.inline")?;
        }
        self.auth.validate("auth")?;
        if let Some(cors) = &self.cors {
            cors.validate("cors")?;
        }
        if let BackendTarget::BackendId(id) = &b.service {
            check(
                !id.is_empty(),
                "backend.service.backend_id",
                "must not be empty",
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> ApiSpec {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn api_spec_parses_and_validates() {
        let s = spec(
            r#"{"name":"get-user","request":{"method":"GET","path":"/users/{id}"},
                "parameters":[{"name":"id","location":"path","type":"int","required":true}],
                "backend":{"service":{"backend_id":"b1"},"path":"/v1/users/{id}"}}"#,
        );
        s.validate().unwrap();
        assert_eq!(s.backend.timeout_ms, DEFAULT_TIMEOUT_MS);
        assert_eq!(s.request.mode, RequestMode::PassThrough);
    }

    #[test]
    fn backend_targets_read_the_same_from_json_and_yaml() {
        let json: BackendTarget = serde_json::from_str(r#"{"backend_id":"b1"}"#).unwrap();
        assert_eq!(json, BackendTarget::BackendId("b1".into()));
        assert_eq!(
            serde_json::to_string(&json).unwrap(),
            r#"{"backend_id":"b1"}"#
        );
        let yaml: BackendTarget =
            yaml_serde::from_str("inline:\n  type: http\n  url: http://10.0.0.1\n").unwrap();
        assert_eq!(
            yaml,
            BackendTarget::Inline(BackendDefinition::Http {
                url: "http://10.0.0.1".into(),
                tls: None,
            })
        );
        assert!(serde_json::from_str::<BackendTarget>("{}").is_err());
        assert!(
            serde_json::from_str::<BackendTarget>(r#"{"backend_id":"b","inline":{"type":"mock"}}"#)
                .is_err()
        );
        assert!(serde_json::from_str::<BackendTarget>(r#"{"backend":"b"}"#).is_err());
    }

    #[test]
    fn api_spec_errors_name_the_field() {
        let mut s = spec(
            r#"{"name":"x","request":{"method":"ANY","path":"/a"},
                "backend":{"service":{"inline":{"type":"http","url":"http://127.0.0.1:1"}},"path":"/"}}"#,
        );
        s.validate().unwrap();
        s.name = "n".repeat(61);
        assert_eq!(s.validate().unwrap_err().field, "name");
        s.name = "ok".into();
        s.backend.timeout_ms = MAX_TIMEOUT_MS + 1;
        assert_eq!(s.validate().unwrap_err().field, "backend.timeout_ms");
        s.backend.timeout_ms = 1000;
        s.parameters
            .push(serde_json::from_str(r#"{"name":"id","location":"path"}"#).unwrap());
        assert_eq!(s.validate().unwrap_err().field, "parameters[0].name");
    }
}
