//! `/v1/policies`: named policies (CORS now) and their bindings to an API in an environment;
//! `/v1/apis/{api_id}/policies`: what is bound to one API. Bindings are served as stored, so
//! binding, unbinding or editing a bound policy takes effect without a republish.

use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use pylon_model::{Policy, PolicyBinding, PolicyBindingSpec, PolicyInput, PolicySpec};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::environments;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{JsonBody, QueryArgs};
use crate::{AppState, new_id, now_ms};

/// A binding of an API as `GET /v1/apis/{api_id}/policies` lists it: with the policy's name and
/// kind, so a caller need not look each policy up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BoundPolicy {
    #[serde(flatten)]
    pub binding: PolicyBinding,
    pub policy_name: String,
    pub kind: String,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct EnvironmentFilter {
    /// Only bindings in this environment (any case).
    environment: Option<String>,
}

#[utoipa::path(get, path = "/v1/policies", tag = "policies",
    responses((status = 200, body = Vec<Policy>), (status = 401, body = ErrorBody)))]
pub(crate) async fn list(State(s): State<AppState>) -> ApiResult<Json<Vec<Policy>>> {
    Ok(Json(s.store.list_policies().await?))
}

#[utoipa::path(post, path = "/v1/policies", tag = "policies",
    request_body(content = PolicySpec,
        description = "`kind` names the policy kind (`cors`); `config` is that kind's configuration"),
    responses((status = 201, body = Policy), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "the name is taken"),
        (status = 422, body = ErrorBody,
            description = "an unknown kind, or a configuration that does not fit it")))]
pub(crate) async fn create(
    State(s): State<AppState>,
    JsonBody(request): JsonBody<PolicyInput>,
) -> ApiResult<(StatusCode, Json<Policy>)> {
    let spec = request.into_spec()?;
    let now = now_ms();
    let policy = Policy {
        id: new_id(),
        spec,
        created_at: now,
        updated_at: now,
    };
    s.store.create_policy(&policy).await?;
    s.changed().await?;
    Ok((StatusCode::CREATED, Json(policy)))
}

#[utoipa::path(get, path = "/v1/policies/{id}", tag = "policies",
    params(("id" = String, Path, description = "id or name")),
    responses((status = 200, body = Policy), (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Policy>> {
    Ok(Json(s.store.get_policy(&id).await?))
}

#[utoipa::path(put, path = "/v1/policies/{id}", tag = "policies", request_body = PolicySpec,
    params(("id" = String, Path, description = "id or name")),
    responses((status = 200, body = Policy), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "the name is taken"),
        (status = 422, body = ErrorBody,
            description = "invalid, or an attempt to change the kind")))]
pub(crate) async fn update(
    State(s): State<AppState>,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<PolicyInput>,
) -> ApiResult<Json<Policy>> {
    let spec = request.into_spec()?;
    let mut policy = s.store.get_policy(&id).await?;
    if spec.config.kind() != policy.spec.config.kind() {
        return Err(ApiError::invalid(
            "kind",
            format!(
                "policy `{}` is a `{}` policy; the kind of a policy is fixed at creation",
                policy.spec.name,
                policy.spec.config.kind()
            ),
        ));
    }
    policy.spec = spec;
    policy.updated_at = now_ms();
    s.store.update_policy(&policy).await?;
    s.changed().await?;
    Ok(Json(policy))
}

#[utoipa::path(delete, path = "/v1/policies/{id}", tag = "policies",
    params(("id" = String, Path, description = "id or name")),
    responses((status = 204, description = "deleted"), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "the policy is bound; unbind it first")))]
pub(crate) async fn delete(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let policy = s.store.get_policy(&id).await?;
    s.store.delete_policy(&policy.id).await?;
    s.changed().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v1/policies/{id}/bindings", tag = "policies",
    params(("id" = String, Path, description = "id or name")),
    responses((status = 200, body = Vec<PolicyBinding>), (status = 404, body = ErrorBody)))]
pub(crate) async fn list_bindings(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<PolicyBinding>>> {
    let policy = s.store.get_policy(&id).await?;
    Ok(Json(s.store.list_policy_bindings(&policy.id).await?))
}

#[utoipa::path(post, path = "/v1/policies/{id}/bindings", tag = "policies",
    request_body = PolicyBindingSpec,
    params(("id" = String, Path, description = "id or name")),
    responses((status = 201, body = PolicyBinding, description = "bound; served at once"),
        (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "no such policy, or no such API"),
        (status = 409, body = ErrorBody,
            description = "already bound there, or another policy of the same kind is"),
        (status = 422, body = ErrorBody, description = "unknown environment")))]
pub(crate) async fn bind(
    State(s): State<AppState>,
    Path(id): Path<String>,
    JsonBody(spec): JsonBody<PolicyBindingSpec>,
) -> ApiResult<(StatusCode, Json<PolicyBinding>)> {
    let policy = s.store.get_policy(&id).await?;
    // Named here for a 422 on the field, as other references to an environment are; the store
    // checks the API and the environment again in its transaction.
    let environment = environments::named_in(&s, "environment", &spec.environment).await?;
    let binding = PolicyBinding {
        policy_id: policy.id,
        api_id: spec.api_id,
        environment,
        created_at: now_ms(),
    };
    let stored = s.store.bind_policy(&binding).await?;
    s.changed().await?;
    Ok((StatusCode::CREATED, Json(stored)))
}

#[utoipa::path(delete, path = "/v1/policies/{id}/bindings/{api_id}/{environment}",
    tag = "policies",
    params(("id" = String, Path, description = "id or name"), ("api_id" = String, Path),
        ("environment" = String, Path, description = "case-insensitive")),
    responses((status = 204, description = "unbound; no longer served"),
        (status = 404, body = ErrorBody, description = "no such policy, or not bound there")))]
pub(crate) async fn unbind(
    State(s): State<AppState>,
    Path((id, api_id, environment)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let policy = s.store.get_policy(&id).await?;
    s.store
        .unbind_policy(&policy.id, &api_id, &environment)
        .await?;
    s.changed().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v1/apis/{api_id}/policies", tag = "policies",
    params(("api_id" = String, Path), EnvironmentFilter),
    responses((status = 200, body = Vec<BoundPolicy>), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "no such API"),
        (status = 422, body = ErrorBody, description = "unknown environment")))]
pub(crate) async fn list_for_api(
    State(s): State<AppState>,
    Path(api_id): Path<String>,
    QueryArgs(filter): QueryArgs<EnvironmentFilter>,
) -> ApiResult<Json<Vec<BoundPolicy>>> {
    let api = s.store.get_api(&api_id).await?;
    let environment = match &filter.environment {
        Some(name) => Some(environments::named_in(&s, "environment", name).await?),
        None => None,
    };
    let bound = s
        .store
        .list_api_policies(&api.id, environment.as_deref())
        .await?
        .into_iter()
        .map(|(binding, policy)| BoundPolicy {
            binding,
            kind: policy.spec.config.kind().to_string(),
            policy_name: policy.spec.name,
        })
        .collect();
    Ok(Json(bound))
}
