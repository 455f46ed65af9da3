//! Apps (callers with AppKey/AppSecret pairs and AppCodes) and the authorizations that let an
//! app call an API in an environment.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ValidationError, check, non_empty_name};

pub const MAX_APP_NAME_LEN: usize = 60;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
}

impl AppSpec {
    pub fn validate(&self) -> Result<(), ValidationError> {
        non_empty_name(&self.name, "name", MAX_APP_NAME_LEN)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct App {
    pub id: String,
    #[serde(flatten)]
    pub spec: AppSpec,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One AppKey and its AppSecret. The secret is `None` wherever it is not explicitly asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AppKey {
    pub app_id: String,
    pub app_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_secret: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AppCode {
    pub app_id: String,
    pub code: String,
    pub created_at: i64,
}

/// A grant: `app_id` may call `api_id` in `environment`, until `expires_at` (epoch ms) if set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorizationSpec {
    pub app_id: String,
    pub api_id: String,
    pub environment: String,
    #[serde(default)]
    pub expires_at: Option<i64>,
    #[serde(default)]
    pub description: String,
}

impl AuthorizationSpec {
    pub fn validate(&self) -> Result<(), ValidationError> {
        check(!self.app_id.is_empty(), "app_id", "must not be empty")?;
        check(!self.api_id.is_empty(), "api_id", "must not be empty")?;
        check(
            !self.environment.is_empty(),
            "environment",
            "must not be empty",
        )?;
        if let Some(t) = self.expires_at {
            check(t > 0, "expires_at", "must be epoch milliseconds")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Authorization {
    pub id: String,
    /// The API's group (filled in by the admin from the API).
    pub group_id: String,
    #[serde(flatten)]
    pub spec: AuthorizationSpec,
    pub created_at: i64,
}

impl Authorization {
    /// Whether the grant is in force at `now_ms`.
    pub fn is_valid_at(&self, now_ms: i64) -> bool {
        self.spec.expires_at.is_none_or(|t| now_ms < t)
    }
}

/// An app as the data plane needs it: its credentials in the clear (the store decrypts them
/// when it loads a snapshot). Never logged: `Debug` hides the secrets.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct AppCredentials {
    pub app_id: String,
    pub name: String,
    /// (AppKey, AppSecret).
    pub keys: Vec<(String, String)>,
    pub codes: Vec<String>,
}

impl std::fmt::Debug for AppCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppCredentials")
            .field("app_id", &self.app_id)
            .field("name", &self.name)
            .field(
                "keys",
                &self.keys.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("codes", &self.codes.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_debug_hides_secrets() {
        let c = AppCredentials {
            app_id: "a".into(),
            name: "n".into(),
            keys: vec![("key1".into(), "very-secret".into())],
            codes: vec!["code-secret".into()],
        };
        let text = format!("{c:?}");
        assert!(text.contains("key1"));
        assert!(!text.contains("very-secret"));
        assert!(!text.contains("code-secret"));
    }

    #[test]
    fn expiry_is_exclusive() {
        let spec: AuthorizationSpec = serde_json::from_str(
            r#"{"app_id":"a","api_id":"b","environment":"RELEASE","expires_at":1000}"#,
        )
        .unwrap();
        let a = Authorization {
            id: "x".into(),
            group_id: "g".into(),
            spec,
            created_at: 0,
        };
        assert!(a.is_valid_at(999));
        assert!(!a.is_valid_at(1000));
    }
}
