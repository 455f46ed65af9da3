//! `/v1/certificates`: TLS certificates the HTTPS listener presents, picked by SNI. The chain
//! and key are checked on upload with the listener's own loader; the key is sealed at rest and
//! never returned.

use axum::Json;
use axum::extract::{Path, State};
use http::StatusCode;
use pylon_model::{Certificate, CertificateSpec};

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::JsonBody;
use crate::{AppState, new_id, now_ms};

#[utoipa::path(get, path = "/v1/certificates", tag = "certificates",
    responses((status = 200, body = Vec<Certificate>), (status = 401, body = ErrorBody)))]
pub(crate) async fn list(State(s): State<AppState>) -> ApiResult<Json<Vec<Certificate>>> {
    Ok(Json(s.store.list_certificates().await?))
}

#[utoipa::path(post, path = "/v1/certificates", tag = "certificates",
    request_body = CertificateSpec,
    responses((status = 201, body = Certificate),
        (status = 409, body = ErrorBody, description = "name taken, or another default"),
        (status = 422, body = ErrorBody,
            description = "the chain or key cannot be served: unparsable, mismatched, expired, no names")))]
pub(crate) async fn create(
    State(s): State<AppState>,
    JsonBody(spec): JsonBody<CertificateSpec>,
) -> ApiResult<(StatusCode, Json<Certificate>)> {
    let now = now_ms();
    let certificate = inspected(new_id(), &spec, now, now)?;
    s.store
        .create_certificate(&certificate, &spec.private_key)
        .await?;
    s.changed().await?;
    Ok((StatusCode::CREATED, Json(certificate)))
}

#[utoipa::path(get, path = "/v1/certificates/{id}", tag = "certificates",
    params(("id" = String, Path, description = "id or name")),
    responses((status = 200, body = Certificate), (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Certificate>> {
    Ok(Json(s.store.get_certificate(&id).await?))
}

/// Replaces chain and key at once (a renewal); new handshakes get the new one, connections
/// already open keep theirs.
#[utoipa::path(put, path = "/v1/certificates/{id}", tag = "certificates",
    request_body = CertificateSpec,
    params(("id" = String, Path, description = "id or name")),
    responses((status = 200, body = Certificate), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody,
            description = "name taken, another default, or a bound domain the new chain does not list"),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn update(
    State(s): State<AppState>,
    Path(id): Path<String>,
    JsonBody(spec): JsonBody<CertificateSpec>,
) -> ApiResult<Json<Certificate>> {
    let old = s.store.get_certificate(&id).await?;
    // Strictly later, so the data plane sees a new version even within one millisecond.
    let now = now_ms().max(old.updated_at + 1);
    let certificate = inspected(old.id, &spec, old.created_at, now)?;
    s.store
        .replace_certificate(&certificate, &spec.private_key)
        .await?;
    s.changed().await?;
    Ok(Json(certificate))
}

#[utoipa::path(delete, path = "/v1/certificates/{id}", tag = "certificates",
    params(("id" = String, Path, description = "id or name")),
    responses((status = 204, description = "deleted"), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "a domain is bound to it")))]
pub(crate) async fn delete(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let certificate = s.store.get_certificate(&id).await?;
    s.store.delete_certificate(&certificate.id).await?;
    s.changed().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The stored record of `spec`, once the gateway's loader accepts its chain and key.
fn inspected(
    id: String,
    spec: &CertificateSpec,
    created_at: i64,
    now: i64,
) -> Result<Certificate, ApiError> {
    spec.validate()?;
    let info = pylon_gateway::inspect_certificate(&spec.certificate, &spec.private_key, now)
        .map_err(|e| ApiError::invalid(e.field(), e.to_string()))?;
    Ok(Certificate {
        id,
        name: spec.name.trim().to_string(),
        description: spec.description.clone(),
        certificate: spec.certificate.clone(),
        domains: info.names,
        subject: info.subject,
        issuer: info.issuer,
        key_type: info.key_type.to_string(),
        not_before: info.not_before,
        expires_at: info.not_after,
        default: spec.default,
        created_at,
        updated_at: now,
    })
}
