//! `/v1/environments`: the built-in RELEASE, PRE and TEST, and custom environments.

use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use pylon_model::{BUILTIN_ENVIRONMENTS, Environment, EnvironmentSpec, normalize_environment};

use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::JsonBody;

/// The stored name of the environment a request names in `field` (any case); 422 naming the
/// field when there is none.
pub(crate) async fn named_in(s: &AppState, field: &str, name: &str) -> ApiResult<String> {
    match s.store.get_environment(name).await {
        Ok(env) => Ok(env.name),
        Err(pylon_store::StoreError::NotFound { .. }) => Err(ApiError::invalid(
            field,
            format!("environment `{name}` does not exist"),
        )),
        Err(e) => Err(e.into()),
    }
}

#[utoipa::path(get, path = "/v1/environments", tag = "environments",
    responses((status = 200, body = Vec<Environment>), (status = 401, body = ErrorBody)))]
pub(crate) async fn list(State(s): State<AppState>) -> ApiResult<Json<Vec<Environment>>> {
    Ok(Json(s.store.list_environments().await?))
}

#[utoipa::path(post, path = "/v1/environments", tag = "environments",
    request_body = EnvironmentSpec,
    responses((status = 201, body = Environment), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn create(
    State(s): State<AppState>,
    JsonBody(spec): JsonBody<EnvironmentSpec>,
) -> ApiResult<(StatusCode, Json<Environment>)> {
    let env = Environment {
        name: normalize_environment(&spec.name)?,
        description: spec.description,
        builtin: false,
    };
    s.store.create_environment(&env).await?;
    s.changed().await?;
    Ok((StatusCode::CREATED, Json(env)))
}

#[utoipa::path(delete, path = "/v1/environments/{name}", tag = "environments",
    params(("name" = String, Path, description = "case-insensitive")),
    responses((status = 204, description = "deleted"), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody,
            description = "a built-in environment, a domain is bound to it, or APIs are \
                published there")))]
pub(crate) async fn delete(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    let env = s.store.get_environment(&name).await?;
    if env.builtin || BUILTIN_ENVIRONMENTS.contains(&env.name.as_str()) {
        return Err(ApiError::Conflict(format!(
            "`{}` is a built-in environment and cannot be deleted",
            env.name
        )));
    }
    // Bound domains and published APIs are refused by the store, in its transaction.
    s.store.delete_environment(&env.name).await?;
    s.changed().await?;
    Ok(StatusCode::NO_CONTENT)
}
