//! What every handler shares: the admin's configuration, the store, the follower's report of
//! what the gateway serves, and fresh ids and timestamps. Below the handlers and the router
//! that wires them, so neither imports the other back.

use std::sync::Arc;

use pylon_store::Store;

use crate::console::{Sampler, Sessions};
use crate::error::ApiResult;
use crate::follow::{self, OnChange};

/// How the admin API is set up.
#[derive(Debug, Clone)]
pub struct AdminConfig {
    /// The bearer token every call except `GET /v1/openapi.json` must present.
    pub token: String,
    /// Groups are also served on `<group-id>.<base_domain>`.
    pub base_domain: String,
    /// Functions may be defined (`pylon serve --allow-hosted-functions`).
    pub hosted_functions: bool,
    /// How long a console sign-in lasts.
    pub console_session_ttl: std::time::Duration,
}

/// Shared by every handler.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) store: Store,
    pub(crate) config: Arc<AdminConfig>,
    /// What the change feed's follower has handed to the gateway.
    applied: tokio::sync::watch::Receiver<follow::Applied>,
    /// The data plane, for online debugging (`POST /v1/debug`).
    pub(crate) gateway: Option<Arc<pylon_gateway::Gateway>>,
    /// Signed-in console browsers.
    pub(crate) sessions: Arc<Sessions>,
    /// The traffic counters the console's home page last read, for rates.
    pub(crate) traffic: Arc<Sampler>,
}

impl AppState {
    /// Starts the change feed's follower for this admin API.
    pub(crate) fn new(
        store: Store,
        config: AdminConfig,
        on_change: OnChange,
        gateway: Option<Arc<pylon_gateway::Gateway>>,
    ) -> Self {
        AppState {
            applied: follow::spawn(store.clone(), on_change),
            store,
            sessions: Arc::new(Sessions::new(config.console_session_ttl)),
            traffic: Arc::default(),
            config: Arc::new(config),
            gateway,
        }
    }

    /// Waits until the gateway serves what this call committed (the follower in `follow`
    /// hands it over), so a change is served as soon as the admin call that made it returns.
    pub(crate) async fn changed(&self) -> ApiResult<()> {
        follow::served(&self.store, &self.applied).await
    }
}

/// A fresh resource id: 16 lowercase hex characters, usable as a DNS label.
pub(crate) fn new_id() -> String {
    let mut id = uuid::Uuid::new_v4().simple().to_string();
    id.truncate(16);
    id
}

/// Now, in unix milliseconds: the same clock as the gateway's, which compares grant expiries
/// stored here against it.
pub(crate) use pylon_auth::now_ms;
