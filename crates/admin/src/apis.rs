//! `/v1/groups/{group_id}/apis`: API drafts. Editing a draft never changes traffic; only
//! publishing does (see `deployments`).

use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use pylon_model::{Api, ApiSpec, BackendTarget};
use pylon_store::StoreError;

use crate::backends::check_upstream_reference;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::JsonBody;
use crate::{AppState, new_id, now_ms};

/// The API `api_id`, if it belongs to `group_id` (an API of another group is not found here).
pub(crate) async fn load_api(s: &AppState, group_id: &str, api_id: &str) -> ApiResult<Api> {
    let api = s.store.get_api(api_id).await?;
    if api.group_id != group_id {
        return Err(ApiError::NotFound(format!(
            "api `{api_id}` not found in group `{group_id}`"
        )));
    }
    Ok(api)
}

/// The spec's own rules, plus the references it makes to other resources.
async fn validate(s: &AppState, spec: &ApiSpec) -> ApiResult<()> {
    spec.validate()?;
    match &spec.backend.service {
        BackendTarget::BackendId(id) => match s.store.get_backend(id).await {
            Ok(_) => Ok(()),
            Err(StoreError::NotFound { .. }) => Err(ApiError::invalid(
                "backend.service.backend_id",
                format!("backend service `{id}` does not exist"),
            )),
            Err(e) => Err(e.into()),
        },
        BackendTarget::Inline(def) => {
            check_upstream_reference(&s.store, def, "backend.service.inline.upstream").await?;
            crate::backends::check_hosted_function(
                &s.store,
                s.config.hosted_functions,
                def,
                "backend.service.inline.hosted",
            )
            .await?;
            crate::backends::check_tls(&s.store, def.tls(), "backend.service.inline.tls").await
        }
    }
}

#[utoipa::path(get, path = "/v1/groups/{group_id}/apis", tag = "apis",
    params(("group_id" = String, Path)),
    responses((status = 200, body = Vec<Api>), (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    State(s): State<AppState>,
    Path(group_id): Path<String>,
) -> ApiResult<Json<Vec<Api>>> {
    s.store.get_group(&group_id).await?;
    Ok(Json(s.store.list_apis(&group_id).await?))
}

#[utoipa::path(post, path = "/v1/groups/{group_id}/apis", tag = "apis", request_body = ApiSpec,
    params(("group_id" = String, Path)),
    responses((status = 201, body = Api), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "the name is taken in this group"),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn create(
    State(s): State<AppState>,
    Path(group_id): Path<String>,
    JsonBody(spec): JsonBody<ApiSpec>,
) -> ApiResult<(StatusCode, Json<Api>)> {
    Ok((
        StatusCode::CREATED,
        Json(create_api(&s, group_id, spec).await?),
    ))
}

/// Creates an API draft in `group_id`: `POST .../apis` and the console's wizard.
pub(crate) async fn create_api(s: &AppState, group_id: String, spec: ApiSpec) -> ApiResult<Api> {
    s.store.get_group(&group_id).await?;
    validate(s, &spec).await?;
    let now = now_ms();
    let api = Api {
        id: new_id(),
        group_id,
        spec,
        created_at: now,
        updated_at: now,
    };
    // A draft changes nothing the gateway serves: nothing to wait for.
    s.store.create_api(&api).await?;
    Ok(api)
}

#[utoipa::path(get, path = "/v1/groups/{group_id}/apis/{api_id}", tag = "apis",
    params(("group_id" = String, Path), ("api_id" = String, Path)),
    responses((status = 200, body = Api, description = "the draft"),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    State(s): State<AppState>,
    Path((group_id, api_id)): Path<(String, String)>,
) -> ApiResult<Json<Api>> {
    Ok(Json(load_api(&s, &group_id, &api_id).await?))
}

#[utoipa::path(put, path = "/v1/groups/{group_id}/apis/{api_id}", tag = "apis",
    request_body = ApiSpec,
    params(("group_id" = String, Path), ("api_id" = String, Path)),
    responses((status = 200, body = Api, description = "the new draft; publish to serve it"),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn update(
    State(s): State<AppState>,
    Path((group_id, api_id)): Path<(String, String)>,
    JsonBody(spec): JsonBody<ApiSpec>,
) -> ApiResult<Json<Api>> {
    Ok(Json(update_api(&s, &group_id, &api_id, spec).await?))
}

/// Replaces an API's draft: the REST API's and the console's.
pub(crate) async fn update_api(
    s: &AppState,
    group_id: &str,
    api_id: &str,
    spec: ApiSpec,
) -> ApiResult<Api> {
    let mut api = load_api(s, group_id, api_id).await?;
    validate(s, &spec).await?;
    api.spec = spec;
    api.updated_at = now_ms();
    // The API stays in its group, so only the draft changes: nothing to wait for.
    s.store.update_api(&api).await?;
    Ok(api)
}

#[utoipa::path(delete, path = "/v1/groups/{group_id}/apis/{api_id}", tag = "apis",
    params(("group_id" = String, Path), ("api_id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "still published in an environment")))]
pub(crate) async fn delete(
    State(s): State<AppState>,
    Path((group_id, api_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    load_api(&s, &group_id, &api_id).await?;
    s.store.delete_api(&api_id).await?;
    s.changed().await?;
    Ok(StatusCode::NO_CONTENT)
}
