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
            description = "a built-in environment, or APIs are published there")))]
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
    // A domain bound to it would serve nothing: unbind it first, knowingly.
    let groups = s.store.list_groups().await?;
    let bound: Vec<String> = groups
        .iter()
        .flat_map(|g| g.domains.iter().map(move |d| (g, d)))
        .filter(|(_, d)| d.environment.as_deref() == Some(env.name.as_str()))
        .map(|(g, d)| format!("`{}` (group `{}`)", d.name, g.name))
        .collect();
    if !bound.is_empty() {
        return Err(ApiError::Conflict(format!(
            "environment `{}` serves domain {}: unbind it first",
            env.name,
            bound.join(", ")
        )));
    }
    s.store.delete_environment(&env.name).await?;
    s.changed().await?;
    Ok(StatusCode::NO_CONTENT)
}
