//! Pylon's control plane: the `/v1` admin REST API (bearer-token auth, JSON in and out), the
//! publish workflow that keeps the data plane consistent, and the OpenAPI document describing it.

mod apis;
mod apps;
mod auth;
mod authorizations;
mod backends;
mod debug;
mod deployments;
mod domains;
mod environments;
mod error;
mod extract;
mod follow;
mod groups;
mod openapi;
mod routes;
mod stage_variables;
mod upstreams;

use std::sync::Arc;

use axum::middleware;
use pylon_model::Snapshot;
use pylon_store::Store;

pub use error::{ApiError, ApiRef, ErrorBody, NextStep};
pub use openapi::openapi;

use crate::error::ApiResult;

/// How the admin API is set up.
#[derive(Debug, Clone)]
pub struct AdminConfig {
    /// The bearer token every call except `GET /v1/openapi.json` must present.
    pub token: String,
    /// Groups are also served on `<group-id>.<base_domain>`.
    pub base_domain: String,
}

/// Called with the freshly loaded snapshot when what the gateway serves has changed (once for a
/// burst of changes); the binary wires it to `Gateway::apply`.
pub type OnChange = Arc<dyn Fn(&Snapshot) -> Result<(), String> + Send + Sync>;

/// Shared by every handler.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) store: Store,
    pub(crate) config: Arc<AdminConfig>,
    /// What the change feed's follower has handed to the gateway.
    applied: tokio::sync::watch::Receiver<follow::Applied>,
    /// The data plane, for online debugging (`POST /v1/debug`).
    pub(crate) gateway: Option<Arc<pylon_gateway::Gateway>>,
}

impl AppState {
    /// Waits until the gateway serves what this call committed (the follower in `follow`
    /// hands it over), so a change is served as soon as the admin call that made it returns.
    pub(crate) async fn changed(&self) -> ApiResult<()> {
        follow::served(&self.store, &self.applied).await
    }
}

/// The admin API, routes under `/v1`. Every route but `GET /v1/openapi.json` requires the token.
pub fn router(store: Store, config: AdminConfig, on_change: OnChange) -> axum::Router {
    build(store, config, on_change, None)
}

/// As [`router`], with online debugging (`POST /v1/debug`) running requests through `gateway`.
pub fn router_with_gateway(
    store: Store,
    config: AdminConfig,
    on_change: OnChange,
    gateway: Arc<pylon_gateway::Gateway>,
) -> axum::Router {
    build(store, config, on_change, Some(gateway))
}

fn build(
    store: Store,
    config: AdminConfig,
    on_change: OnChange,
    gateway: Option<Arc<pylon_gateway::Gateway>>,
) -> axum::Router {
    let state = AppState {
        applied: follow::spawn(store.clone(), on_change),
        store,
        config: Arc::new(config),
        gateway,
    };
    let protected = routes::table()
        .into_router()
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ));
    protected
        .route(openapi::PATH, axum::routing::get(openapi::serve))
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .with_state(state)
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
