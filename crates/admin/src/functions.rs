//! `/v1/functions`: functions Pylon runs itself (hosted `function` backends). Hosting runs
//! commands on the gateway's machine, so these calls are refused unless `pylon serve` was
//! started with `--allow-hosted-functions`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use pylon_model::{Function, FunctionSpec};

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::JsonBody;
use crate::{AppState, new_id, now_ms};

/// Refuses definitions when the serving process may not run them.
fn hosting_allowed(s: &AppState) -> ApiResult<()> {
    if s.config.hosted_functions {
        Ok(())
    } else {
        Err(ApiError::Conflict(
            "hosting functions is off: Pylon runs no commands unless it is started with \
             `pylon serve --allow-hosted-functions`"
                .into(),
        ))
    }
}

fn view(id: String, spec: FunctionSpec, created_at: i64, updated_at: i64) -> Function {
    Function {
        id,
        name: spec.name,
        description: spec.description,
        command: spec.command,
        working_dir: spec.working_dir,
        environment: spec.environment,
        secrets: spec.secrets.into_keys().collect(),
        handler: spec.handler,
        timeout_ms: spec.timeout_ms,
        max_concurrency: spec.max_concurrency,
        memory_mb: spec.memory_mb,
        created_at,
        updated_at,
    }
}

#[utoipa::path(get, path = "/v1/functions", tag = "functions",
    responses((status = 200, body = Vec<Function>), (status = 401, body = ErrorBody)))]
pub(crate) async fn list(State(s): State<AppState>) -> ApiResult<Json<Vec<Function>>> {
    Ok(Json(s.store.list_functions().await?))
}

#[utoipa::path(post, path = "/v1/functions", tag = "functions", request_body = FunctionSpec,
    responses((status = 201, body = Function),
        (status = 409, body = ErrorBody, description = "name taken, or hosting is off"),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn create(
    State(s): State<AppState>,
    JsonBody(spec): JsonBody<FunctionSpec>,
) -> ApiResult<(StatusCode, Json<Function>)> {
    hosting_allowed(&s)?;
    spec.validate()?;
    let now = now_ms();
    let secrets = spec.secrets.clone();
    let function = view(new_id(), spec, now, now);
    s.store.create_function(&function, &secrets).await?;
    s.changed().await?;
    Ok((StatusCode::CREATED, Json(function)))
}

#[utoipa::path(get, path = "/v1/functions/{id}", tag = "functions",
    params(("id" = String, Path, description = "id or name")),
    responses((status = 200, body = Function), (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Function>> {
    Ok(Json(s.store.get_function(&id).await?))
}

/// Replaces the function. Without a `secrets` field the sealed secrets are kept; with one
/// (even `{}`) they are replaced.
#[utoipa::path(put, path = "/v1/functions/{id}", tag = "functions", request_body = FunctionSpec,
    params(("id" = String, Path, description = "id or name")),
    responses((status = 200, body = Function), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn update(
    State(s): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> ApiResult<Json<Function>> {
    hosting_allowed(&s)?;
    let secrets_given = body.get("secrets").is_some();
    let spec: FunctionSpec =
        serde_json::from_value(body).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    spec.validate()?;
    let old = s.store.get_function(&id).await?;
    let secrets: Option<BTreeMap<String, String>> = secrets_given.then(|| spec.secrets.clone());
    let function = view(old.id, spec, old.created_at, now_ms());
    s.store.update_function(&function, secrets.as_ref()).await?;
    s.changed().await?;
    Ok(Json(s.store.get_function(&function.id).await?))
}

#[utoipa::path(delete, path = "/v1/functions/{id}", tag = "functions",
    params(("id" = String, Path, description = "id or name")),
    responses((status = 204, description = "deleted"), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "a backend still runs it")))]
pub(crate) async fn delete(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let function = s.store.get_function(&id).await?;
    s.store.delete_function(&function.id).await?;
    s.changed().await?;
    Ok(StatusCode::NO_CONTENT)
}
