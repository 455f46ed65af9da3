//! `/v1/groups`: create, read, update and delete groups.

use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use pylon_model::{Group, GroupSpec};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::JsonBody;
use crate::{AppState, new_id, now_ms};

/// A group as the API shows it: the stored record plus its default domain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GroupView {
    #[serde(flatten)]
    pub group: Group,
    /// `<group-id>.<base-domain>`, for debugging.
    pub default_domain: String,
}

impl GroupView {
    pub(crate) fn new(group: Group, base_domain: &str) -> Self {
        let default_domain = group.default_domain(base_domain);
        Self {
            group,
            default_domain,
        }
    }
}

#[utoipa::path(get, path = "/v1/groups", tag = "groups",
    responses((status = 200, body = Vec<GroupView>), (status = 401, body = ErrorBody)))]
pub(crate) async fn list(State(s): State<AppState>) -> ApiResult<Json<Vec<GroupView>>> {
    let groups = s.store.list_groups().await?;
    Ok(Json(
        groups
            .into_iter()
            .map(|g| GroupView::new(g, &s.config.base_domain))
            .collect(),
    ))
}

#[utoipa::path(post, path = "/v1/groups", tag = "groups", request_body = GroupSpec,
    responses((status = 201, body = GroupView), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn create(
    State(s): State<AppState>,
    JsonBody(spec): JsonBody<GroupSpec>,
) -> ApiResult<(StatusCode, Json<GroupView>)> {
    Ok((StatusCode::CREATED, Json(create_group(&s, spec).await?)))
}

/// Creates a group: what `POST /v1/groups` and the console's form both do.
pub(crate) async fn create_group(s: &AppState, spec: GroupSpec) -> ApiResult<GroupView> {
    spec.validate()?;
    let now = now_ms();
    let group = Group {
        id: new_id(),
        name: spec.name,
        description: spec.description,
        domains: Vec::new(),
        created_at: now,
        updated_at: now,
    };
    s.store.create_group(&group).await?;
    s.changed().await?;
    Ok(GroupView::new(group, &s.config.base_domain))
}

#[utoipa::path(get, path = "/v1/groups/{group_id}", tag = "groups",
    params(("group_id" = String, Path)),
    responses((status = 200, body = GroupView), (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    State(s): State<AppState>,
    Path(group_id): Path<String>,
) -> ApiResult<Json<GroupView>> {
    let group = s.store.get_group(&group_id).await?;
    Ok(Json(GroupView::new(group, &s.config.base_domain)))
}

#[utoipa::path(put, path = "/v1/groups/{group_id}", tag = "groups", request_body = GroupSpec,
    params(("group_id" = String, Path)),
    responses((status = 200, body = GroupView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn update(
    State(s): State<AppState>,
    Path(group_id): Path<String>,
    JsonBody(spec): JsonBody<GroupSpec>,
) -> ApiResult<Json<GroupView>> {
    spec.validate()?;
    // Edited in the store's transaction: a domain bound meanwhile is kept.
    let group = s
        .store
        .modify_group(&group_id, |group| {
            group.name = spec.name;
            group.description = spec.description;
            group.updated_at = now_ms();
            Ok(())
        })
        .await?;
    s.changed().await?;
    Ok(Json(GroupView::new(group, &s.config.base_domain)))
}

#[utoipa::path(delete, path = "/v1/groups/{group_id}", tag = "groups",
    params(("group_id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "the group still holds APIs")))]
pub(crate) async fn delete(
    State(s): State<AppState>,
    Path(group_id): Path<String>,
) -> ApiResult<StatusCode> {
    s.store.get_group(&group_id).await?;
    s.store.delete_group(&group_id).await?;
    s.changed().await?;
    Ok(StatusCode::NO_CONTENT)
}
