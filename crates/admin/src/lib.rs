//! Pylon's control plane: the `/v1` admin REST API (bearer-token auth, JSON in and out), the
//! publish workflow that keeps the data plane consistent, the OpenAPI document describing it,
//! and the web console at `/console` over the same service functions.

mod apis;
mod apps;
mod auth;
mod authorizations;
mod backends;
mod certificates;
mod console;
mod debug;
mod deployments;
mod domains;
mod environments;
mod error;
mod extract;
mod follow;
mod functions;
mod groups;
mod openapi;
mod policies;
mod routes;
mod stage_variables;
mod state;
mod upstreams;

use std::sync::Arc;

use axum::middleware;
use pylon_store::Store;

pub use console::DEFAULT_SESSION_TTL;
pub use error::{ApiError, ApiRef, ErrorBody, NextStep};
pub use follow::OnChange;
pub use openapi::openapi;
pub use policies::BoundPolicy;
pub use state::AdminConfig;

// Every handler takes these from the crate root; they live in `state`, below the handlers.
pub(crate) use state::{AppState, new_id, now_ms};

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
    let state = AppState::new(store, config, on_change, gateway);
    let protected = routes::table()
        .into_router()
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ));
    protected
        .merge(console::routes())
        .route(openapi::PATH, axum::routing::get(openapi::serve))
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .with_state(state)
}
