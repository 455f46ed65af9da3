//! `/v1/groups/{group_id}/stage-variables/{environment}`: a group's variables in one environment.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use pylon_model::{StageVariables, validate_stage_variable_name, validate_stage_variable_value};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::JsonBody;

/// The body of `PUT .../stage-variables/{environment}`: the whole map, replacing the old one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StageVariablesRequest {
    pub variables: BTreeMap<String, String>,
}

#[utoipa::path(get, path = "/v1/groups/{group_id}/stage-variables/{environment}",
    tag = "stage-variables",
    params(("group_id" = String, Path), ("environment" = String, Path)),
    responses((status = 200, body = StageVariables), (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    State(s): State<AppState>,
    Path((group_id, environment)): Path<(String, String)>,
) -> ApiResult<Json<StageVariables>> {
    s.store.get_group(&group_id).await?;
    let env = s.store.get_environment(&environment).await?;
    Ok(Json(
        s.store.get_stage_variables(&group_id, &env.name).await?,
    ))
}

#[utoipa::path(put, path = "/v1/groups/{group_id}/stage-variables/{environment}",
    tag = "stage-variables", request_body = StageVariablesRequest,
    params(("group_id" = String, Path), ("environment" = String, Path)),
    responses((status = 200, body = StageVariables), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn put(
    State(s): State<AppState>,
    Path((group_id, environment)): Path<(String, String)>,
    JsonBody(req): JsonBody<StageVariablesRequest>,
) -> ApiResult<Json<StageVariables>> {
    Ok(Json(
        put_stage_variables(&s, group_id, &environment, req).await?,
    ))
}

/// Replaces a group's stage variables in one environment: the REST API's and the console's.
pub(crate) async fn put_stage_variables(
    s: &AppState,
    group_id: String,
    environment: &str,
    req: StageVariablesRequest,
) -> ApiResult<StageVariables> {
    for (name, value) in &req.variables {
        validate_stage_variable_name(name)?;
        validate_stage_variable_value(name, value)?;
    }
    s.store.get_group(&group_id).await?;
    let env = s.store.get_environment(environment).await?;
    let sv = StageVariables {
        group_id,
        environment: env.name,
        variables: req.variables,
    };
    s.store.put_stage_variables(&sv).await?;
    s.changed().await?;
    Ok(sv)
}
