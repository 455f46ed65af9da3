//! How an API authenticates its callers (`none`, `app`, `key-pair`, `jwt`, `api-key`) and its
//! CORS policy:
//! both are part of the API definition and take effect on publish.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ValidationError, check};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AuthType {
    /// Anyone may call.
    #[default]
    None,
    /// Alibaba APP signature (AppKey/AppSecret), and AppCode if `app_code` allows it.
    App,
    /// Tencent key-pair HMAC (`Authorization: hmac id=...`); the id is an AppKey.
    KeyPair,
    /// OAuth 2.0 bearer JWT, checked against `jwt`.
    Jwt,
    /// AWS API keys: an app's AppCode sent as `x-api-key`; errors take AWS's form.
    ApiKey,
}

/// Where an `app` API accepts an AppCode (Alibaba "simple authentication").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AppCodeMode {
    /// Signatures only.
    #[default]
    Off,
    /// `Authorization: APPCODE <code>`.
    Header,
    /// The header, or the `AppCode` query parameter.
    HeaderAndQuery,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    #[serde(rename = "type")]
    pub auth_type: AuthType,
    /// `app` only.
    pub app_code: AppCodeMode,
    /// Pass the client's credentials (`Authorization`, `X-Ca-Key`, `X-Ca-Signature*`, the
    /// AppCode or JWT query parameter) on to the backend. Off: the backend never sees them.
    pub forward_credentials: bool,
    /// Required when `type` is `jwt`.
    pub jwt: Option<JwtConfig>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum JwtAlgorithm {
    RS256,
    ES256,
    HS256,
}

/// A verification key written into the API: a PEM public key (RS256, ES256) or a shared
/// secret (HS256).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JwtKey {
    /// Matched against the token's `kid`; a key without one matches any token of its algorithm.
    #[serde(default)]
    pub kid: Option<String>,
    pub algorithm: JwtAlgorithm,
    #[serde(default)]
    pub pem: Option<String>,
    #[serde(default)]
    pub secret: Option<String>,
}

/// A claim sent to the backend as a header (strings as they are, other JSON as JSON text).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimHeader {
    pub claim: String,
    pub header: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    /// Algorithms accepted; a token naming any other is refused.
    #[serde(default = "default_jwt_algorithms")]
    pub algorithms: Vec<JwtAlgorithm>,
    #[serde(default)]
    pub keys: Vec<JwtKey>,
    /// A JWK Set URL (http or https), fetched at publish, cached, and fetched again (at most
    /// once per 10 s) when a token names an unknown `kid`.
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// Required `iss` when set.
    #[serde(default)]
    pub issuer: Option<String>,
    /// When not empty, the token's `aud` must contain one of these.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Clock skew allowed on `exp` and `nbf`.
    #[serde(default = "default_leeway")]
    pub leeway_seconds: u64,
    /// Also read the token from this query parameter (besides `Authorization: Bearer`).
    #[serde(default)]
    pub token_query: Option<String>,
    #[serde(default)]
    pub claims_to_headers: Vec<ClaimHeader>,
}

fn default_jwt_algorithms() -> Vec<JwtAlgorithm> {
    vec![JwtAlgorithm::RS256, JwtAlgorithm::ES256]
}

fn default_leeway() -> u64 {
    30
}

/// Cross-origin resource sharing. Preflight `OPTIONS` requests are answered by the gateway,
/// without authentication and without calling the backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorsConfig {
    /// Origins allowed, exactly (`https://app.example.com`) or `*`.
    pub allow_origins: Vec<String>,
    /// Empty: the API's own method.
    #[serde(default)]
    pub allow_methods: Vec<String>,
    /// Request headers a browser may send; `*` allows any.
    #[serde(default)]
    pub allow_headers: Vec<String>,
    #[serde(default)]
    pub expose_headers: Vec<String>,
    #[serde(default)]
    pub allow_credentials: bool,
    #[serde(default)]
    pub max_age_seconds: Option<u64>,
}

impl AuthConfig {
    pub fn validate(&self, field: &str) -> Result<(), ValidationError> {
        check(
            self.app_code == AppCodeMode::Off || self.auth_type == AuthType::App,
            &format!("{field}.app_code"),
            "AppCode is only accepted by `app` authentication",
        )?;
        match (&self.auth_type, &self.jwt) {
            (AuthType::Jwt, None) => Err(ValidationError::new(
                format!("{field}.jwt"),
                "`jwt` authentication needs a `jwt` section",
            )),
            (AuthType::Jwt, Some(jwt)) => jwt.validate(&format!("{field}.jwt")),
            (_, Some(_)) => Err(ValidationError::new(
                format!("{field}.jwt"),
                "only `jwt` authentication takes a `jwt` section",
            )),
            _ => Ok(()),
        }
    }
}

impl JwtConfig {
    fn validate(&self, field: &str) -> Result<(), ValidationError> {
        check(
            !self.algorithms.is_empty(),
            &format!("{field}.algorithms"),
            "at least one algorithm is required",
        )?;
        check(
            !self.keys.is_empty() || self.jwks_url.is_some(),
            field,
            "give `keys`, a `jwks_url`, or both",
        )?;
        for (i, k) in self.keys.iter().enumerate() {
            let f = format!("{field}.keys[{i}]");
            match k.algorithm {
                JwtAlgorithm::HS256 => check(
                    k.secret.as_deref().is_some_and(|s| !s.is_empty()) && k.pem.is_none(),
                    &f,
                    "an HS256 key takes a non-empty `secret` and no `pem`",
                )?,
                _ => check(
                    k.pem.as_deref().is_some_and(|p| p.contains("-----BEGIN"))
                        && k.secret.is_none(),
                    &f,
                    "an RS256 or ES256 key takes a PEM public key in `pem` and no `secret`",
                )?,
            }
        }
        if let Some(url) = &self.jwks_url {
            check(
                url.starts_with("http://") || url.starts_with("https://"),
                &format!("{field}.jwks_url"),
                "must be an http:// or https:// URL",
            )?;
        }
        if let Some(q) = &self.token_query {
            check(
                !q.is_empty(),
                &format!("{field}.token_query"),
                "must not be empty",
            )?;
        }
        for (i, c) in self.claims_to_headers.iter().enumerate() {
            let f = format!("{field}.claims_to_headers[{i}]");
            check(
                !c.claim.is_empty(),
                &format!("{f}.claim"),
                "must not be empty",
            )?;
            check(
                !c.header.is_empty()
                    && c.header
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                &format!("{f}.header"),
                "must be a header name (letters, digits, `-`, `_`)",
            )?;
        }
        Ok(())
    }
}

impl CorsConfig {
    pub fn validate(&self, field: &str) -> Result<(), ValidationError> {
        check(
            !self.allow_origins.is_empty(),
            &format!("{field}.allow_origins"),
            "at least one origin (or `*`) is required",
        )?;
        check(
            !(self.allow_credentials && self.allow_origins.iter().any(|o| o == "*")),
            &format!("{field}.allow_credentials"),
            "browsers refuse credentials with origin `*`: list the origins",
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_defaults_to_none() {
        let a: AuthConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(a.auth_type, AuthType::None);
        assert_eq!(a.app_code, AppCodeMode::Off);
        a.validate("auth").unwrap();
    }

    #[test]
    fn jwt_needs_keys_and_pem_or_secret() {
        let a: AuthConfig = serde_json::from_str(r#"{"type":"jwt","jwt":{}}"#).unwrap();
        assert_eq!(a.validate("auth").unwrap_err().field, "auth.jwt");
        let a: AuthConfig = serde_json::from_str(
            r#"{"type":"jwt","jwt":{"algorithms":["HS256"],"keys":[{"algorithm":"HS256"}]}}"#,
        )
        .unwrap();
        assert_eq!(a.validate("auth").unwrap_err().field, "auth.jwt.keys[0]");
        let a: AuthConfig = serde_json::from_str(
            r#"{"type":"jwt","jwt":{"algorithms":["HS256"],"keys":[{"algorithm":"HS256","secret":"s"}],
                "claims_to_headers":[{"claim":"sub","header":"X-User"}]}}"#,
        )
        .unwrap();
        a.validate("auth").unwrap();
    }

    #[test]
    fn app_code_only_for_app_auth() {
        let a: AuthConfig =
            serde_json::from_str(r#"{"type":"key-pair","app_code":"header"}"#).unwrap();
        assert_eq!(a.validate("auth").unwrap_err().field, "auth.app_code");
        let a: AuthConfig =
            serde_json::from_str(r#"{"type":"app","app_code":"header-and-query"}"#).unwrap();
        a.validate("auth").unwrap();
    }

    #[test]
    fn cors_refuses_credentials_with_any_origin() {
        let c: CorsConfig =
            serde_json::from_str(r#"{"allow_origins":["*"],"allow_credentials":true}"#).unwrap();
        assert_eq!(
            c.validate("cors").unwrap_err().field,
            "cors.allow_credentials"
        );
    }
}
