//! The web console at `/console`: server-rendered pages (askama templates compiled into the
//! binary) with htmx, embedded, for partial updates. Every change goes through the same service
//! functions and validation as the REST API, so the two cannot drift. Signed in with the admin
//! token on a form; a session cookie after that, a CSRF token in every form, and a strict
//! Content-Security-Policy (no inline script or style).

mod apis;
mod apps;
mod backends;
mod certificates;
mod debug;
mod deletes;
mod diff;
mod environments;
mod frame;
mod pages;
mod resources;
mod session;
mod traffic;
mod upstreams;
mod wizard;

use std::time::Duration;

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::HeaderValue;
use http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};

pub(crate) use self::session::Sessions;
pub(crate) use self::traffic::Sampler;
use crate::AppState;

/// How long a console session lasts when `pylon serve` is not told otherwise.
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(8 * 60 * 60);

/// Scripts and styles from the console's own assets only; no inline code, no frames.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const HTMX: &str = include_str!("../../assets/vendor/htmx/htmx-2.0.11.min.js");
const CSS: &str = include_str!("../../assets/console.css");

/// The console's routes, served by the admin listener beside `/v1`.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(pages::home))
        .route("/console/login", get(pages::login_page).post(pages::login))
        .route("/console/logout", post(pages::logout))
        .route(
            "/console/groups",
            get(pages::groups).post(pages::create_group),
        )
        .route("/console/groups/{id}", get(pages::group))
        .route("/console/groups/{id}/delete", post(deletes::group))
        .route(
            "/console/groups/{id}/domains/{domain}/delete",
            post(deletes::domain),
        )
        .route("/console/groups/{id}/domains", post(pages::bind_domain))
        .route(
            "/console/groups/{id}/stage-variables/{env}",
            post(pages::save_stage_variables),
        )
        .route(
            "/console/groups/{id}/apis/new",
            get(apis::new_api).post(apis::wizard_step),
        )
        .route("/console/groups/{id}/apis/{api}", get(apis::api))
        .route("/console/groups/{id}/apis/{api}/delete", post(deletes::api))
        .route(
            "/console/groups/{id}/apis/{api}/edit",
            get(apis::edit_api).post(apis::edit_step),
        )
        .route(
            "/console/groups/{id}/apis/{api}/publish",
            post(apis::publish),
        )
        .route(
            "/console/groups/{id}/apis/{api}/unpublish",
            post(apis::unpublish),
        )
        .route(
            "/console/groups/{id}/apis/{api}/rollback",
            post(apis::rollback),
        )
        .route(
            "/console/groups/{id}/apis/{api}/authorize",
            post(apis::authorize),
        )
        .route(
            "/console/groups/{id}/apis/{api}/draft",
            post(apis::save_draft),
        )
        .route(
            "/console/groups/{id}/apis/{api}/debug",
            get(debug::form).post(debug::send),
        )
        .route(
            "/console/upstreams",
            get(upstreams::upstreams).post(upstreams::create),
        )
        .route(
            "/console/upstreams/{id}",
            get(upstreams::upstream).post(upstreams::update),
        )
        .route("/console/upstreams/{id}/json", post(upstreams::update_json))
        .route("/console/upstreams/{id}/delete", post(deletes::upstream))
        .route(
            "/console/backends",
            get(backends::backends).post(backends::create),
        )
        .route("/console/backends/{id}", get(backends::backend))
        .route("/console/backends/{id}/delete", post(deletes::backend))
        .route(
            "/console/backends/{id}/environments/{env}",
            post(backends::save),
        )
        .route(
            "/console/backends/{id}/environments/{env}/delete",
            post(backends::delete),
        )
        .route(
            "/console/policies",
            get(resources::policies).post(resources::create_policy),
        )
        .route(
            "/console/policies/{id}",
            get(resources::policy).post(resources::update_policy),
        )
        .route(
            "/console/policies/{id}/delete",
            post(resources::delete_policy),
        )
        .route(
            "/console/policies/{id}/bindings",
            post(resources::bind_policy),
        )
        .route(
            "/console/policies/{id}/bindings/{api}/{env}/delete",
            post(resources::unbind_policy),
        )
        .route(
            "/console/functions",
            get(resources::functions).post(resources::create_function),
        )
        .route(
            "/console/functions/{id}",
            get(resources::function).post(resources::update_function),
        )
        .route(
            "/console/functions/{id}/delete",
            post(resources::delete_function),
        )
        .route(
            "/console/certificates",
            get(certificates::certificates).post(certificates::create),
        )
        .route(
            "/console/certificates/{id}",
            get(certificates::certificate).post(certificates::replace),
        )
        .route(
            "/console/certificates/{id}/delete",
            post(certificates::delete),
        )
        .route(
            "/console/environments",
            get(environments::environments).post(environments::create),
        )
        .route(
            "/console/environments/{name}/delete",
            post(environments::delete),
        )
        .route("/console/apps", get(apps::apps).post(apps::create))
        .route("/console/apps/{id}", get(apps::app))
        .route("/console/apps/{id}/delete", post(deletes::app))
        .route(
            "/console/apps/{id}/authorizations/{grant}/revoke",
            post(deletes::authorization),
        )
        .route("/console/apps/{id}/keys", post(apps::add_key))
        .route(
            "/console/apps/{id}/keys/{key}/secret",
            post(apps::reveal_secret),
        )
        .route(
            "/console/apps/{id}/keys/{key}/delete",
            post(apps::delete_key),
        )
        .route("/console/apps/{id}/codes", post(apps::add_code))
        .route("/console/assets/htmx.min.js", get(htmx))
        .route("/console/assets/console.css", get(css))
        .layer(axum::middleware::map_response(secure_headers))
}

async fn htmx() -> Response {
    asset(HTMX, "text/javascript; charset=utf-8")
}

async fn css() -> Response {
    asset(CSS, "text/css; charset=utf-8")
}

/// An embedded asset; it changes only with the binary.
fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        body,
    )
        .into_response()
}

/// What every console response carries; pages are never cached (they show secrets' names, and
/// a signed-out browser must not show them from its cache).
async fn secure_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if !h.contains_key(CACHE_CONTROL) {
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
