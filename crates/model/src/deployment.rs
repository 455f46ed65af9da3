//! Deployments: numbered, immutable copies of an API's definition published to an environment.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::Api;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    pub environment: String,
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Deployment {
    pub id: String,
    pub api_id: String,
    pub group_id: String,
    pub environment: String,
    /// 1, 2, 3, ... per API and environment.
    pub version: u32,
    pub note: String,
    /// The API's definition as it was when published.
    pub api: Api,
    pub created_at: i64,
    /// Whether this version is what the environment serves now.
    #[serde(default)]
    pub active: bool,
}
