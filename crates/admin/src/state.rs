//! What every handler shares: the admin's configuration, the store, the hook that hands a
//! committed change to the gateway, and fresh ids and timestamps. Below the handlers and the
//! router that wires them, so neither imports the other back.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use pylon_model::Snapshot;
use pylon_store::Store;

use crate::error::{ApiError, ApiResult};

/// How the admin API is set up.
#[derive(Debug, Clone)]
pub struct AdminConfig {
    /// The bearer token every call except `GET /v1/openapi.json` must present.
    pub token: String,
    /// Groups are also served on `<group-id>.<base_domain>`.
    pub base_domain: String,
}

/// Called after every committed change with the freshly loaded snapshot; the binary wires it to
/// `Gateway::apply`.
pub type OnChange = Arc<dyn Fn(&Snapshot) -> Result<(), String> + Send + Sync>;

/// Shared by every handler.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) store: Store,
    pub(crate) config: Arc<AdminConfig>,
    on_change: OnChange,
    /// The data plane, for online debugging (`POST /v1/debug`).
    pub(crate) gateway: Option<Arc<pylon_gateway::Gateway>>,
}

impl AppState {
    pub(crate) fn new(
        store: Store,
        config: AdminConfig,
        on_change: OnChange,
        gateway: Option<Arc<pylon_gateway::Gateway>>,
    ) -> Self {
        AppState {
            store,
            config: Arc::new(config),
            on_change,
            gateway,
        }
    }

    /// Hands the committed state to the gateway, so a change is served as soon as the admin call
    /// that made it returns.
    pub(crate) async fn changed(&self) -> ApiResult<()> {
        let snapshot = self.store.load_snapshot().await?;
        (self.on_change)(&snapshot).map_err(ApiError::Apply)
    }
}

/// A fresh resource id: 16 lowercase hex characters, usable as a DNS label.
pub(crate) fn new_id() -> String {
    let mut id = uuid::Uuid::new_v4().simple().to_string();
    id.truncate(16);
    id
}

/// Now, in unix milliseconds.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
