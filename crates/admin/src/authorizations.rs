//! `/v1/authorizations`: grants that let an app call an API in an environment, optionally until
//! an expiry. Granting the same (app, API, environment) again updates the grant in place.

use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use pylon_model::{Authorization, AuthorizationSpec};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::apis::load_api;
use crate::environments;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{JsonBody, QueryArgs};
use crate::{AppState, new_id, now_ms};

/// An authorization as the API shows it: the stored grant plus whether it has expired at the
/// time of the answer (an expired grant stays listed until revoked, so it can be renewed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuthorizationView {
    #[serde(flatten)]
    pub authorization: Authorization,
    pub expired: bool,
}

impl AuthorizationView {
    fn new(authorization: Authorization, now: i64) -> Self {
        let expired = !authorization.is_valid_at(now);
        Self {
            authorization,
            expired,
        }
    }
}

fn views(list: Vec<Authorization>) -> Vec<AuthorizationView> {
    let now = now_ms();
    list.into_iter()
        .map(|a| AuthorizationView::new(a, now))
        .collect()
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Filter {
    /// Only this app's grants (app id).
    app_id: Option<String>,
    /// Only grants on this API (API id).
    api_id: Option<String>,
    /// Only grants in this environment (any case).
    environment: Option<String>,
}

/// Checks what the spec refers to and fills in what the caller need not know: the app's id
/// when the app was named, the environment's canonical name, and the API's group.
async fn resolve(s: &AppState, mut spec: AuthorizationSpec) -> ApiResult<Authorization> {
    spec.validate()?;
    if let Some(t) = spec.expires_at
        && t <= now_ms()
    {
        return Err(ApiError::invalid(
            "expires_at",
            "lies in the past: a grant that has already expired would never let a call through",
        ));
    }
    let app = s.store.get_app(&spec.app_id).await?;
    let api = s.store.get_api(&spec.api_id).await?;
    let environment = environments::named_in(s, "environment", &spec.environment).await?;
    spec.app_id = app.id;
    spec.environment = environment;
    Ok(Authorization {
        id: new_id(),
        group_id: api.group_id,
        spec,
        created_at: now_ms(),
    })
}

#[utoipa::path(post, path = "/v1/authorizations", tag = "authorizations",
    request_body(content = AuthorizationSpec,
        description = "`app_id` may also be the app's name; `expires_at` is epoch milliseconds"),
    responses(
        (status = 201, body = AuthorizationView, description = "a new grant"),
        (status = 200, body = AuthorizationView,
            description = "the grant existed: same id, new expiry and description"),
        (status = 404, body = ErrorBody, description = "no such app, or no such API"),
        (status = 422, body = ErrorBody,
            description = "unknown environment, or an expiry not in the future")))]
pub(crate) async fn grant(
    State(s): State<AppState>,
    JsonBody(spec): JsonBody<AuthorizationSpec>,
) -> ApiResult<(StatusCode, Json<AuthorizationView>)> {
    let (view, created) = grant_authorization(&s, spec).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view)))
}

/// Lets an app call an API in an environment (a new grant, or the existing one renewed):
/// the REST API's and the console's.
pub(crate) async fn grant_authorization(
    s: &AppState,
    spec: AuthorizationSpec,
) -> ApiResult<(AuthorizationView, bool)> {
    let candidate = resolve(s, spec).await?;
    let (stored, created) = s.store.put_authorization(&candidate).await?;
    s.changed().await?;
    Ok((AuthorizationView::new(stored, now_ms()), created))
}

#[utoipa::path(get, path = "/v1/authorizations", tag = "authorizations", params(Filter),
    responses((status = 200, body = Vec<AuthorizationView>), (status = 400, body = ErrorBody)))]
pub(crate) async fn list(
    State(s): State<AppState>,
    QueryArgs(filter): QueryArgs<Filter>,
) -> ApiResult<Json<Vec<AuthorizationView>>> {
    let environment = filter.environment.map(|e| e.to_ascii_uppercase());
    let list = s
        .store
        .list_authorizations(
            filter.app_id.as_deref(),
            filter.api_id.as_deref(),
            environment.as_deref(),
        )
        .await?;
    Ok(Json(views(list)))
}

#[utoipa::path(get, path = "/v1/apps/{app}/authorizations", tag = "authorizations",
    params(("app" = String, Path, description = "id or name")),
    responses((status = 200, body = Vec<AuthorizationView>), (status = 404, body = ErrorBody)))]
pub(crate) async fn list_for_app(
    State(s): State<AppState>,
    Path(app): Path<String>,
) -> ApiResult<Json<Vec<AuthorizationView>>> {
    let app = s.store.get_app(&app).await?;
    let list = s
        .store
        .list_authorizations(Some(&app.id), None, None)
        .await?;
    Ok(Json(views(list)))
}

#[utoipa::path(get, path = "/v1/groups/{group_id}/apis/{api_id}/authorizations",
    tag = "authorizations",
    params(("group_id" = String, Path), ("api_id" = String, Path)),
    responses((status = 200, body = Vec<AuthorizationView>), (status = 404, body = ErrorBody)))]
pub(crate) async fn list_for_api(
    State(s): State<AppState>,
    Path((group_id, api_id)): Path<(String, String)>,
) -> ApiResult<Json<Vec<AuthorizationView>>> {
    let api = load_api(&s, &group_id, &api_id).await?;
    let list = s
        .store
        .list_authorizations(None, Some(&api.id), None)
        .await?;
    Ok(Json(views(list)))
}

#[utoipa::path(delete, path = "/v1/authorizations/{id}", tag = "authorizations",
    params(("id" = String, Path)),
    responses((status = 204, description = "revoked; the app's calls are refused at once"),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn revoke(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.store.get_authorization(&id).await?;
    s.store.delete_authorization(&id).await?;
    s.changed().await?;
    Ok(StatusCode::NO_CONTENT)
}
