//! `/v1/backends`: typed backend services and their per-environment definitions.

use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use pylon_model::template::StageTemplate;
use pylon_model::{
    Backend, BackendDefinition, BackendEnvironment, BackendSpec, BackendTls, ValidationError,
};
use pylon_store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiRef, ApiResult, ErrorBody, NextStep};
use crate::extract::{JsonBody, QueryArgs};
use crate::{AppState, new_id, now_ms};

#[utoipa::path(get, path = "/v1/backends", tag = "backends",
    responses((status = 200, body = Vec<Backend>), (status = 401, body = ErrorBody)))]
pub(crate) async fn list(State(s): State<AppState>) -> ApiResult<Json<Vec<Backend>>> {
    Ok(Json(s.store.list_backends().await?))
}

#[utoipa::path(post, path = "/v1/backends", tag = "backends", request_body = BackendSpec,
    responses((status = 201, body = Backend), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn create(
    State(s): State<AppState>,
    JsonBody(spec): JsonBody<BackendSpec>,
) -> ApiResult<(StatusCode, Json<Backend>)> {
    Ok((StatusCode::CREATED, Json(create_backend(&s, spec).await?)))
}

/// Creates a backend service: the REST API's and the console's.
pub(crate) async fn create_backend(s: &AppState, spec: BackendSpec) -> ApiResult<Backend> {
    spec.validate()?;
    let now = now_ms();
    let backend = Backend {
        id: new_id(),
        spec,
        created_at: now,
        updated_at: now,
    };
    s.store.create_backend(&backend).await?;
    s.changed().await?;
    Ok(backend)
}

#[utoipa::path(get, path = "/v1/backends/{id}", tag = "backends",
    params(("id" = String, Path)),
    responses((status = 200, body = Backend), (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Backend>> {
    Ok(Json(s.store.get_backend(&id).await?))
}

#[utoipa::path(put, path = "/v1/backends/{id}", tag = "backends", request_body = BackendSpec,
    params(("id" = String, Path)),
    responses((status = 200, body = Backend), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "invalid, or an attempt to change the type")))]
pub(crate) async fn update(
    State(s): State<AppState>,
    Path(id): Path<String>,
    JsonBody(spec): JsonBody<BackendSpec>,
) -> ApiResult<Json<Backend>> {
    spec.validate()?;
    let mut backend = s.store.get_backend(&id).await?;
    if spec.kind != backend.spec.kind {
        return Err(ApiError::invalid(
            "type",
            "the type of a backend service is fixed at creation",
        ));
    }
    backend.spec = spec;
    backend.updated_at = now_ms();
    s.store.update_backend(&backend).await?;
    s.changed().await?;
    Ok(Json(backend))
}

#[utoipa::path(delete, path = "/v1/backends/{id}", tag = "backends",
    params(("id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "an API still references it")))]
pub(crate) async fn delete(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.store.get_backend(&id).await?;
    s.store.delete_backend(&id).await?;
    s.changed().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v1/backends/{id}/environments", tag = "backends",
    params(("id" = String, Path)),
    responses((status = 200, body = Vec<BackendEnvironment>), (status = 404, body = ErrorBody)))]
pub(crate) async fn list_definitions(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<BackendEnvironment>>> {
    s.store.get_backend(&id).await?;
    Ok(Json(s.store.list_backend_definitions(&id).await?))
}

#[utoipa::path(get, path = "/v1/backends/{id}/environments/{environment}", tag = "backends",
    params(("id" = String, Path), ("environment" = String, Path)),
    responses((status = 200, body = BackendEnvironment), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_definition(
    State(s): State<AppState>,
    Path((id, environment)): Path<(String, String)>,
) -> ApiResult<Json<BackendEnvironment>> {
    s.store.get_backend(&id).await?;
    let env = s.store.get_environment(&environment).await?;
    Ok(Json(s.store.get_backend_definition(&id, &env.name).await?))
}

#[utoipa::path(put, path = "/v1/backends/{id}/environments/{environment}", tag = "backends",
    request_body = BackendDefinition,
    params(("id" = String, Path), ("environment" = String, Path)),
    responses((status = 200, body = BackendEnvironment), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody,
            description = "invalid, of another type than the backend, or an unknown upstream")))]
pub(crate) async fn put_definition(
    State(s): State<AppState>,
    Path((id, environment)): Path<(String, String)>,
    JsonBody(definition): JsonBody<BackendDefinition>,
) -> ApiResult<Json<BackendEnvironment>> {
    Ok(Json(
        put_backend_definition(&s, &id, &environment, definition).await?,
    ))
}

/// Sets a backend service's definition in one environment: the REST API's and the console's.
pub(crate) async fn put_backend_definition(
    s: &AppState,
    id: &str,
    environment: &str,
    definition: BackendDefinition,
) -> ApiResult<BackendEnvironment> {
    let backend = s.store.get_backend(id).await?;
    let env = s.store.get_environment(environment).await?;
    if definition.kind() != backend.spec.kind {
        return Err(ApiError::invalid(
            "type",
            format!(
                "backend service `{}` is of type `{}`; its definitions must be too",
                backend.spec.name,
                kind_name(&backend.spec)
            ),
        ));
    }
    // The body is the definition itself, so its fields are named from the top.
    definition.validate("definition").map_err(|e| {
        let field = e
            .field
            .strip_prefix("definition.")
            .unwrap_or(&e.field)
            .to_string();
        ValidationError::new(field, e.message)
    })?;
    check_upstream_reference(&s.store, &definition, "upstream").await?;
    check_hosted_function(&s.store, s.config.hosted_functions, &definition, "hosted").await?;
    check_tls(&s.store, definition.tls(), "tls").await?;
    let record = BackendEnvironment {
        backend_id: backend.id,
        environment: env.name,
        definition,
        updated_at: now_ms(),
    };
    s.store.put_backend_definition(&record).await?;
    s.changed().await?;
    Ok(record)
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ConfirmArgs {
    /// Required when the deletion would unpublish APIs.
    #[serde(default)]
    confirm: bool,
}

/// What deleting a backend definition unpublished.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DefinitionDeleted {
    pub unpublished: Vec<ApiRef>,
}

#[utoipa::path(delete, path = "/v1/backends/{id}/environments/{environment}", tag = "backends",
    params(("id" = String, Path), ("environment" = String, Path), ConfirmArgs),
    responses((status = 200, body = DefinitionDeleted), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody,
            description = "APIs published in the environment use it; repeat with `?confirm=true` to unpublish them")))]
pub(crate) async fn delete_definition(
    State(s): State<AppState>,
    Path((id, environment)): Path<(String, String)>,
    QueryArgs(args): QueryArgs<ConfirmArgs>,
) -> ApiResult<Json<DefinitionDeleted>> {
    Ok(Json(
        delete_backend_definition(&s, &id, &environment, args.confirm).await?,
    ))
}

/// Removes a backend service's definition in one environment, unpublishing the APIs that use
/// it there; refused (`ConfirmationRequired`, naming them) unless `confirm`. The REST API's
/// and the console's.
pub(crate) async fn delete_backend_definition(
    s: &AppState,
    id: &str,
    environment: &str,
    confirm: bool,
) -> ApiResult<DefinitionDeleted> {
    let backend = s.store.get_backend(id).await?;
    let env = s.store.get_environment(environment).await?;
    s.store.get_backend_definition(id, &env.name).await?;
    let affected: Vec<ApiRef> = s
        .store
        .apis_served_by_backend(&backend.id, &env.name)
        .await?
        .into_iter()
        .map(|(id, name)| ApiRef { id, name })
        .collect();
    if !affected.is_empty() && !confirm {
        let names: Vec<&str> = affected.iter().map(|a| a.name.as_str()).collect();
        let request = "?confirm=true".to_string();
        return Err(ApiError::ConfirmationRequired {
            message: format!(
                "deleting the {} definition of backend service `{}` unpublishes {} API(s) there: {}; repeat with {request}",
                env.name,
                backend.spec.name,
                affected.len(),
                names.join(", ")
            ),
            apis: affected,
        }
        .with_next_step(NextStep::Confirm { request }));
    }
    let ids: Vec<String> = affected.iter().map(|a| a.id.clone()).collect();
    s.store
        .delete_backend_definition(&backend.id, &env.name, &ids)
        .await?;
    s.changed().await?;
    Ok(DefinitionDeleted {
        unpublished: affected,
    })
}

pub(crate) fn kind_name(spec: &BackendSpec) -> String {
    serde_json::to_value(spec.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// TLS settings must load as the gateway will load them: a CA bundle of certificates it can
/// trust, a client certificate that exists. `field` names the settings (`tls`, `backend.tls`).
pub(crate) async fn check_tls(
    store: &Store,
    tls: Option<&BackendTls>,
    field: &str,
) -> ApiResult<()> {
    let Some(tls) = tls else {
        return Ok(());
    };
    if let Some(bundle) = &tls.ca_bundle {
        pylon_gateway::check_ca_bundle(bundle)
            .map_err(|e| ApiError::invalid(format!("{field}.ca_bundle"), e))?;
    }
    if let Some(name) = &tls.client_certificate {
        match store.get_certificate(name).await {
            Ok(_) => {}
            Err(StoreError::NotFound { .. }) => {
                return Err(ApiError::invalid(
                    format!("{field}.client_certificate"),
                    format!(
                        "certificate `{name}` does not exist (upload it with `pylon certificate add`)"
                    ),
                ));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// A function definition run by Pylon (`hosted`) needs hosting on, and a function of that name
/// unless the name is only known per environment.
pub(crate) async fn check_hosted_function(
    store: &Store,
    hosting: bool,
    definition: &BackendDefinition,
    field: &str,
) -> ApiResult<()> {
    let BackendDefinition::Function {
        hosted: Some(name), ..
    } = definition
    else {
        return Ok(());
    };
    if !hosting {
        return Err(ApiError::invalid(
            field,
            "hosting functions is off: start `pylon serve --allow-hosted-functions` to run \
             functions, or call the function at a `url`",
        ));
    }
    if !StageTemplate::parse(name, field)?.is_literal() {
        return Ok(());
    }
    match store.get_function(name).await {
        Ok(_) => Ok(()),
        Err(StoreError::NotFound { .. }) => Err(ApiError::invalid(
            field,
            format!("function `{name}` does not exist (create it with `pylon function create`)"),
        )),
        Err(e) => Err(e.into()),
    }
}

/// An `upstream` definition must name an existing upstream, unless the name is only known per
/// environment (`${stageVariables.x}`), which the gateway resolves when it serves.
pub(crate) async fn check_upstream_reference(
    store: &Store,
    definition: &BackendDefinition,
    field: &str,
) -> ApiResult<()> {
    let upstream = match definition {
        BackendDefinition::Upstream { upstream, .. } => upstream,
        BackendDefinition::Function {
            upstream: Some(upstream),
            ..
        } => upstream,
        _ => return Ok(()),
    };
    let literal = StageTemplate::parse(upstream, field)?.is_literal();
    if !literal {
        return Ok(());
    }
    match store.get_upstream(upstream).await {
        Ok(_) => Ok(()),
        Err(StoreError::NotFound { .. }) => Err(ApiError::invalid(
            field,
            format!("upstream `{upstream}` does not exist"),
        )),
        Err(e) => Err(e.into()),
    }
}
