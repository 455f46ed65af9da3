//! The publish workflow: publish a draft to an environment as a new version, unpublish, roll back,
//! and list the history. Nothing is committed that the data plane could not serve.

use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use pylon_model::template::StageTemplate;
use pylon_model::{
    Api, BackendDefinition, BackendTarget, Deployment, PublishRequest, ValidationError,
};
use pylon_router::{GroupRoutes, RouteSpec};
use pylon_store::{ServedRoute, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::apis::load_api;
use crate::backends::kind_name;
use crate::error::{ApiError, ApiResult, ErrorBody, NextStep};
use crate::extract::{JsonBody, QueryArgs};
use crate::{AppState, new_id, now_ms};

/// The body of `POST .../unpublish`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnpublishRequest {
    pub environment: String,
}

/// The body of `POST .../rollback`: make an earlier version the active one again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    pub environment: String,
    pub version: u32,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct HistoryArgs {
    /// Only this environment's history.
    environment: Option<String>,
}

/// A deployment of `api` must reach a backend in `environment`: a referenced backend service
/// needs a definition there, and the definition (inline or referenced) must be one the gateway
/// can call, stage variables substituted. Checked again here, not only when written, so that a
/// draft or definition stored before a rule existed is refused now rather than failing per call.
async fn check_backend_defined(s: &AppState, api: &Api, environment: &str) -> ApiResult<()> {
    let id = match &api.spec.backend.service {
        BackendTarget::Inline(definition) => {
            let field = "backend.service.inline";
            definition.validate(field)?;
            return check_rendered_url(s, api, environment, definition, field).await;
        }
        BackendTarget::BackendId(id) => id,
    };
    let backend = match s.store.get_backend(id).await {
        Ok(b) => b,
        Err(StoreError::NotFound { .. }) => {
            return Err(ApiError::Conflict(format!(
                "API `{}` uses backend service `{id}`, which no longer exists",
                api.spec.name
            )));
        }
        Err(e) => return Err(e.into()),
    };
    let request = format!("PUT /v1/backends/{id}/environments/{environment}");
    let next = NextStep::DefineBackend {
        request: request.clone(),
        backend_id: id.clone(),
        backend_name: backend.spec.name.clone(),
        backend_type: kind_name(&backend.spec),
        environment: environment.to_string(),
    };
    let record = match s.store.get_backend_definition(id, environment).await {
        Ok(record) => record,
        Err(StoreError::NotFound { .. }) => {
            return Err(ApiError::Conflict(format!(
                "backend service `{}` ({id}) has no definition in environment {environment}; \
                 define it with {request} first",
                backend.spec.name
            ))
            .with_next_step(next));
        }
        Err(e) => return Err(e.into()),
    };
    let field = "url";
    let checked = match record.definition.validate("definition") {
        Ok(()) => check_rendered_url(s, api, environment, &record.definition, field).await,
        Err(e) => Err(e.into()),
    };
    checked.map_err(|e| {
        let problem = match e {
            ApiError::Validation(v) => v.message,
            other => return other,
        };
        // The publish body names no backend field; the API's reference to the service is what
        // cannot be served.
        ApiError::invalid(
            "backend.service",
            format!(
                "backend service `{}` ({id}) in environment {environment}: {problem}; \
                 redefine it with {request} first",
                backend.spec.name
            ),
        )
        .with_next_step(next)
    })
}

/// An http definition whose URL holds stage variables is checked again with the group's values
/// in `environment`, when they are all set (a missing one is reported by the gateway, which
/// serves the API once it is set).
async fn check_rendered_url(
    s: &AppState,
    api: &Api,
    environment: &str,
    definition: &BackendDefinition,
    field: &str,
) -> ApiResult<()> {
    let BackendDefinition::Http { url, tls } = definition else {
        return Ok(());
    };
    let template = StageTemplate::parse(url, field)?;
    if template.is_literal() {
        return Ok(());
    }
    let vars = s
        .store
        .get_stage_variables(&api.group_id, environment)
        .await?;
    let Ok(rendered) = template.render(&vars.variables) else {
        return Ok(());
    };
    BackendDefinition::Http {
        url: rendered.clone(),
        tls: tls.clone(),
    }
    .validate(field)
    .map_err(|e| {
        ValidationError::new(
            e.field,
            format!(
                "`{url}` is `{rendered}` with the stage variables of {environment}: {}",
                e.message
            ),
        )
        .into()
    })
}

/// The routing rule a publish or rollback is checked against inside the store's transaction:
/// what `group` would serve in `environment` afterwards must compile, so a conflicting route is
/// refused before it is committed rather than by the gateway after. Routes clash only within
/// one group and environment, so only those deployments are compiled: the cost of a publish
/// does not grow with the other groups.
async fn route_rule(
    s: &AppState,
    group_id: &str,
    environment: &str,
) -> ApiResult<impl Fn(&[ServedRoute]) -> Result<(), String> + Sync + use<>> {
    let group_id = s.store.get_group(group_id).await?.id;
    let environments =
        pylon_router::Environments::new(&[s.store.get_environment(environment).await?]);
    Ok(move |served: &[ServedRoute]| {
        let routes = served.iter().map(|r| RouteSpec {
            environment: &r.environment,
            name: &r.name,
            method: r.method,
            path: &r.path,
            regex_priority: r.regex_priority,
            created_at: r.created_at,
        });
        GroupRoutes::from_specs(&group_id, &environments, routes.enumerate())
            .map(drop)
            .map_err(|e| e.to_string())
    })
}

#[utoipa::path(post, path = "/v1/groups/{group_id}/apis/{api_id}/publish", tag = "deployments",
    request_body = PublishRequest,
    params(("group_id" = String, Path), ("api_id" = String, Path)),
    responses((status = 201, body = Deployment, description = "the new, active version"),
        (status = 404, body = ErrorBody, description = "unknown API or environment"),
        (status = 409, body = ErrorBody,
            description = "the backend is not defined there, or the routes conflict")))]
pub(crate) async fn publish(
    State(s): State<AppState>,
    Path((group_id, api_id)): Path<(String, String)>,
    JsonBody(req): JsonBody<PublishRequest>,
) -> ApiResult<(StatusCode, Json<Deployment>)> {
    let deployment = publish_api(&s, &group_id, &api_id, &req).await?;
    Ok((StatusCode::CREATED, Json(deployment)))
}

/// Publishes the API's draft to an environment: the REST API's and the console's.
pub(crate) async fn publish_api(
    s: &AppState,
    group_id: &str,
    api_id: &str,
    req: &PublishRequest,
) -> ApiResult<Deployment> {
    let api = load_api(s, group_id, api_id).await?;
    let env = s.store.get_environment(&req.environment).await?;
    check_backend_defined(s, &api, &env.name).await?;
    let rule = route_rule(s, &api.group_id, &env.name).await?;
    let deployment = s
        .store
        .publish_checked(&api, &env.name, &req.note, &new_id(), now_ms(), &rule)
        .await?;
    s.changed().await?;
    Ok(deployment)
}

#[utoipa::path(post, path = "/v1/groups/{group_id}/apis/{api_id}/unpublish",
    tag = "deployments", request_body = UnpublishRequest,
    params(("group_id" = String, Path), ("api_id" = String, Path)),
    responses((status = 204, description = "no longer served there"),
        (status = 404, body = ErrorBody, description = "not published in that environment")))]
pub(crate) async fn unpublish(
    State(s): State<AppState>,
    Path((group_id, api_id)): Path<(String, String)>,
    JsonBody(req): JsonBody<UnpublishRequest>,
) -> ApiResult<StatusCode> {
    unpublish_api(&s, &group_id, &api_id, &req.environment).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Stops serving the API in an environment: the REST API's and the console's.
pub(crate) async fn unpublish_api(
    s: &AppState,
    group_id: &str,
    api_id: &str,
    environment: &str,
) -> ApiResult<()> {
    let api = load_api(s, group_id, api_id).await?;
    let env = s.store.get_environment(environment).await?;
    s.store.unpublish(&api.id, &env.name).await?;
    s.changed().await
}

#[utoipa::path(post, path = "/v1/groups/{group_id}/apis/{api_id}/rollback",
    tag = "deployments", request_body = RollbackRequest,
    params(("group_id" = String, Path), ("api_id" = String, Path)),
    responses((status = 200, body = Deployment, description = "the now-active version"),
        (status = 404, body = ErrorBody, description = "unknown environment or version"),
        (status = 409, body = ErrorBody)))]
pub(crate) async fn rollback(
    State(s): State<AppState>,
    Path((group_id, api_id)): Path<(String, String)>,
    JsonBody(req): JsonBody<RollbackRequest>,
) -> ApiResult<Json<Deployment>> {
    Ok(Json(rollback_api(&s, &group_id, &api_id, &req).await?))
}

/// Serves an earlier published version again: the REST API's and the console's.
pub(crate) async fn rollback_api(
    s: &AppState,
    group_id: &str,
    api_id: &str,
    req: &RollbackRequest,
) -> ApiResult<Deployment> {
    let api = load_api(s, group_id, api_id).await?;
    let env = s.store.get_environment(&req.environment).await?;
    let history = s.store.list_deployments(&api.id, Some(&env.name)).await?;
    let target = history
        .into_iter()
        .find(|d| d.version == req.version)
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "API `{}` has no version {} in environment {}",
                api.spec.name, req.version, env.name
            ))
        })?;
    check_backend_defined(s, &target.api, &env.name).await?;
    let rule = route_rule(s, &target.group_id, &env.name).await?;
    let deployment = s
        .store
        .activate_checked(&api.id, &env.name, req.version, &rule)
        .await?;
    s.changed().await?;
    Ok(deployment)
}

#[utoipa::path(get, path = "/v1/groups/{group_id}/apis/{api_id}/deployments",
    tag = "deployments",
    params(("group_id" = String, Path), ("api_id" = String, Path), HistoryArgs),
    responses((status = 200, body = Vec<Deployment>, description = "newest first"),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    State(s): State<AppState>,
    Path((group_id, api_id)): Path<(String, String)>,
    QueryArgs(args): QueryArgs<HistoryArgs>,
) -> ApiResult<Json<Vec<Deployment>>> {
    let api = load_api(&s, &group_id, &api_id).await?;
    let env = match &args.environment {
        Some(name) => Some(s.store.get_environment(name).await?.name),
        None => None,
    };
    Ok(Json(
        s.store.list_deployments(&api.id, env.as_deref()).await?,
    ))
}

#[utoipa::path(get, path = "/v1/groups/{group_id}/deployments", tag = "deployments",
    params(("group_id" = String, Path)),
    responses((status = 200, body = Vec<Deployment>,
            description = "what the group serves: the active version of each API in each \
                           environment, by API creation then environment"),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn list_active_in_group(
    State(s): State<AppState>,
    Path(group_id): Path<String>,
) -> ApiResult<Json<Vec<Deployment>>> {
    s.store.get_group(&group_id).await?;
    Ok(Json(s.store.active_deployments_in_group(&group_id).await?))
}
