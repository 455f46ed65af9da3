//! `/v1/upstreams`: named private targets that backend services reach.

use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use pylon_model::{Upstream, UpstreamSpec};

use crate::error::{ApiResult, ErrorBody};
use crate::extract::JsonBody;
use crate::{AppState, new_id, now_ms};

#[utoipa::path(get, path = "/v1/upstreams", tag = "upstreams",
    responses((status = 200, body = Vec<Upstream>), (status = 401, body = ErrorBody)))]
pub(crate) async fn list(State(s): State<AppState>) -> ApiResult<Json<Vec<Upstream>>> {
    Ok(Json(s.store.list_upstreams().await?))
}

#[utoipa::path(post, path = "/v1/upstreams", tag = "upstreams", request_body = UpstreamSpec,
    responses((status = 201, body = Upstream), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn create(
    State(s): State<AppState>,
    JsonBody(spec): JsonBody<UpstreamSpec>,
) -> ApiResult<(StatusCode, Json<Upstream>)> {
    Ok((StatusCode::CREATED, Json(create_upstream(&s, spec).await?)))
}

/// Creates an upstream: the REST API's and the console's.
pub(crate) async fn create_upstream(s: &AppState, spec: UpstreamSpec) -> ApiResult<Upstream> {
    spec.validate()?;
    crate::backends::check_tls(&s.store, spec.tls.as_ref(), "tls").await?;
    let now = now_ms();
    let upstream = Upstream {
        id: new_id(),
        spec,
        created_at: now,
        updated_at: now,
    };
    s.store.create_upstream(&upstream).await?;
    s.changed().await?;
    Ok(upstream)
}

#[utoipa::path(get, path = "/v1/upstreams/{id}", tag = "upstreams",
    params(("id" = String, Path, description = "id or name")),
    responses((status = 200, body = Upstream), (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Upstream>> {
    Ok(Json(s.store.get_upstream(&id).await?))
}

#[utoipa::path(put, path = "/v1/upstreams/{id}", tag = "upstreams", request_body = UpstreamSpec,
    params(("id" = String, Path, description = "id or name")),
    responses((status = 200, body = Upstream), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn update(
    State(s): State<AppState>,
    Path(id): Path<String>,
    JsonBody(spec): JsonBody<UpstreamSpec>,
) -> ApiResult<Json<Upstream>> {
    Ok(Json(update_upstream(&s, &id, spec).await?))
}

/// Replaces an upstream's definition: the REST API's and the console's.
pub(crate) async fn update_upstream(
    s: &AppState,
    id: &str,
    spec: UpstreamSpec,
) -> ApiResult<Upstream> {
    spec.validate()?;
    crate::backends::check_tls(&s.store, spec.tls.as_ref(), "tls").await?;
    let mut upstream = s.store.get_upstream(id).await?;
    upstream.spec = spec;
    upstream.updated_at = now_ms();
    s.store.update_upstream(&upstream).await?;
    s.changed().await?;
    Ok(upstream)
}

#[utoipa::path(delete, path = "/v1/upstreams/{id}", tag = "upstreams",
    params(("id" = String, Path, description = "id or name")),
    responses((status = 204, description = "deleted"), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "a backend definition still uses it")))]
pub(crate) async fn delete(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let upstream = s.store.get_upstream(&id).await?;
    s.store.delete_upstream(&upstream.id).await?;
    s.changed().await?;
    Ok(StatusCode::NO_CONTENT)
}
