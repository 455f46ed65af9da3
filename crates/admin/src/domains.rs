//! `/v1/groups/{group_id}/domains`: the custom domains a group is served on.

use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use pylon_model::{Domain, ErrorFormat, StagePath, normalize_domain};
use pylon_store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::environments;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::JsonBody;
use crate::{AppState, now_ms};

/// The body of `POST /v1/groups/{group_id}/domains`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DomainRequest {
    /// A host name, e.g. `api.example.com`; stored lowercase, without a trailing dot.
    pub name: String,
    /// Serve only this environment on the domain, whatever `X-Ca-Stage` says (for clients
    /// that cannot send it). Absent: every environment, chosen by `X-Ca-Stage`.
    #[serde(default)]
    pub environment: Option<String>,
    /// The certificate (by name) the HTTPS listener presents for this domain, over any other
    /// that lists it; it must be valid for the domain. Absent: whichever certificate lists it.
    #[serde(default)]
    pub certificate: Option<String>,
    /// Take the environment from the path's first segment and strip it: `aws`
    /// (`/<ENVIRONMENT>/...`, case-sensitive) or `tencent` (`/release`, `/prepub`, `/test`).
    /// Not with `environment`.
    #[serde(default)]
    pub stage_path: Option<StagePath>,
    /// `aws`: the gateway's own errors as AWS clients expect them (`{"message"}`,
    /// `x-amzn-ErrorType`). Default `alibaba`.
    #[serde(default)]
    pub error_format: ErrorFormat,
}

#[utoipa::path(get, path = "/v1/groups/{group_id}/domains", tag = "groups",
    params(("group_id" = String, Path)),
    responses((status = 200, body = Vec<Domain>), (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    State(s): State<AppState>,
    Path(group_id): Path<String>,
) -> ApiResult<Json<Vec<Domain>>> {
    Ok(Json(s.store.get_group(&group_id).await?.domains))
}

#[utoipa::path(post, path = "/v1/groups/{group_id}/domains", tag = "groups",
    request_body = DomainRequest, params(("group_id" = String, Path)),
    responses((status = 201, body = Domain), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "a group already has this domain"),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn create(
    State(s): State<AppState>,
    Path(group_id): Path<String>,
    JsonBody(req): JsonBody<DomainRequest>,
) -> ApiResult<(StatusCode, Json<Domain>)> {
    Ok((
        StatusCode::CREATED,
        Json(bind_domain(&s, &group_id, req).await?),
    ))
}

/// Binds a custom domain to a group: the REST API's and the console's.
pub(crate) async fn bind_domain(
    s: &AppState,
    group_id: &str,
    req: DomainRequest,
) -> ApiResult<Domain> {
    let name = normalize_domain(&req.name)?;
    let base = s
        .config
        .base_domain
        .trim_start_matches('.')
        .to_ascii_lowercase();
    // Names under the base domain are the groups' default domains; a custom one there would
    // shadow or be shadowed by one of them.
    if !base.is_empty() && (name == base || name.ends_with(&format!(".{base}"))) {
        return Err(ApiError::invalid(
            "name",
            format!(
                "`{name}` is under the base domain `{base}`, which Pylon reserves for default domains"
            ),
        ));
    }
    let environment = match req.environment.as_deref().map(str::trim) {
        None => None,
        Some(env) => Some(environments::named_in(s, "environment", env).await?),
    };
    let group = s.store.get_group(group_id).await?;
    if let Some(owner) = s.store.group_by_domain(&name).await? {
        let whose = if owner.id == group.id {
            "this group".to_string()
        } else {
            format!("group `{}` ({})", owner.name, owner.id)
        };
        return Err(ApiError::Conflict(format!(
            "domain `{name}` is already bound to {whose}"
        )));
    }
    let certificate = match req.certificate.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(c) => match s.store.get_certificate(c).await {
            Ok(found) => Some(found.name),
            Err(StoreError::NotFound { .. }) => {
                return Err(ApiError::invalid(
                    "certificate",
                    format!(
                        "certificate `{c}` does not exist (upload it with `pylon certificate add`)"
                    ),
                ));
            }
            Err(e) => return Err(e.into()),
        },
    };
    if req.stage_path.is_some() && environment.is_some() {
        return Err(ApiError::invalid(
            "stage_path",
            "a domain bound to one environment cannot also take it from the path; \
             set either `environment` or `stage_path`",
        ));
    }
    let domain = Domain {
        name,
        environment,
        certificate,
        stage_path: req.stage_path,
        error_format: req.error_format,
    };
    // Added to the group as stored now, not to the copy read above, so a concurrent edit of
    // the group is kept; the store checks, in its transaction, that the domain is free (the
    // router keys hosts by the same normalised name, exact or `*.` wildcard, so that is every
    // clash it could find) and that its environment exists.
    let added = domain.clone();
    s.store
        .modify_group(&group.id, |g| {
            g.domains.push(added);
            g.updated_at = now_ms();
            Ok(())
        })
        .await?;
    s.changed().await?;
    Ok(domain)
}

#[utoipa::path(delete, path = "/v1/groups/{group_id}/domains/{domain}", tag = "groups",
    params(("group_id" = String, Path), ("domain" = String, Path)),
    responses((status = 204, description = "unbound"), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete(
    State(s): State<AppState>,
    Path((group_id, domain)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let name = normalize_domain(&domain)?;
    let not_bound = || format!("domain `{name}` is not bound to group `{group_id}`");
    let result = s
        .store
        .modify_group(&group_id, |g| {
            let before = g.domains.len();
            g.domains.retain(|d| d.name != name);
            if g.domains.len() == before {
                // Turned into the message above once out of the store.
                return Err(StoreError::NotFound {
                    kind: "domain",
                    id: name.clone(),
                });
            }
            g.updated_at = now_ms();
            Ok(())
        })
        .await;
    match result {
        Err(StoreError::NotFound { kind: "domain", .. }) => {
            return Err(ApiError::NotFound(not_bound()));
        }
        other => other?,
    };
    s.changed().await?;
    Ok(StatusCode::NO_CONTENT)
}
