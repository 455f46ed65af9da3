//! The one admin error type, and the one place it becomes an HTTP response.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use pylon_model::ValidationError;
use pylon_store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An API named in an error or a result (e.g. the APIs a deletion would unpublish).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ApiRef {
    pub id: String,
    pub name: String,
}

/// The JSON body of every error the admin API returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// Stable machine-readable code, e.g. `ValidationFailed`, `NotFound`, `Conflict`.
    pub code: String,
    pub message: String,
    /// The offending input field (validation errors only), e.g. `request.path`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The APIs an operation would affect (`ConfirmationRequired` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apis: Option<Vec<ApiRef>>,
    /// The call that fixes the problem, when there is one, for clients to name in their own
    /// terms (the CLI shows its command instead of `request`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_step: Option<NextStep>,
}

/// What to do next about a refusal. `request` is the REST call exactly as `message` writes it,
/// so a client can replace that text with its own way of making the call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum NextStep {
    /// Define (or redefine) a backend service in an environment.
    DefineBackend {
        request: String,
        backend_id: String,
        backend_name: String,
        /// `http`, `upstream` or `mock`.
        backend_type: String,
        environment: String,
    },
    /// Repeat the same call, confirmed.
    Confirm { request: String },
}

impl NextStep {
    pub fn request(&self) -> &str {
        match self {
            Self::DefineBackend { request, .. } | Self::Confirm { request } => request,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed JSON, wrong types, bad query string.
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("a valid `Authorization: Bearer <token>` header is required")]
    Unauthorized,
    #[error(transparent)]
    Validation(#[from] ValidationError),
    #[error("{0}")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(String),
    /// A destructive change that affects published APIs, asked for without `?confirm=true`.
    #[error("{message}")]
    ConfirmationRequired { message: String, apis: Vec<ApiRef> },
    /// The change was committed, but the gateway refused the resulting configuration.
    #[error("the change was saved but the gateway could not apply it: {0}")]
    Apply(String),
    /// A store failure; the detail goes to the log, not to the caller.
    #[error("internal error: {0}")]
    Internal(String),
    /// Any of the above, with the call that fixes it.
    #[error("{error}")]
    WithNextStep {
        error: Box<ApiError>,
        next: Box<NextStep>,
    },
}

pub type ApiResult<T> = Result<T, ApiError>;

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { .. } => ApiError::NotFound(e.to_string()),
            StoreError::Conflict(m) => ApiError::Conflict(m),
            StoreError::Database(_) | StoreError::Corrupt(_) | StoreError::Secret(_) => {
                ApiError::Internal(e.to_string())
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::MissingJsonContentType(_) => {
                ApiError::UnsupportedMediaType(r.body_text())
            }
            _ => ApiError::BadRequest(r.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::BadRequest(r.body_text())
    }
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) | Self::ConfirmationRequired { .. } => StatusCode::CONFLICT,
            Self::Apply(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::WithNextStep { error, .. } => error.status(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "BadRequest",
            Self::UnsupportedMediaType(_) => "UnsupportedMediaType",
            Self::Unauthorized => "Unauthorized",
            Self::Validation(_) => "ValidationFailed",
            Self::NotFound(_) => "NotFound",
            Self::MethodNotAllowed => "MethodNotAllowed",
            Self::Conflict(_) => "Conflict",
            Self::ConfirmationRequired { .. } => "ConfirmationRequired",
            Self::Apply(_) => "ApplyFailed",
            Self::Internal(_) => "InternalError",
            Self::WithNextStep { error, .. } => error.code(),
        }
    }

    /// A validation error for `field` (shorthand for handlers' own checks).
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Validation(ValidationError::new(field, message))
    }

    /// This error, with the call that fixes it. The message must spell `next.request`.
    pub fn with_next_step(self, next: NextStep) -> Self {
        debug_assert!(
            self.to_string().contains(next.request()),
            "the message names the request"
        );
        ApiError::WithNextStep {
            error: Box::new(self),
            next: Box::new(next),
        }
    }

    pub fn body(&self) -> ErrorBody {
        if let Self::WithNextStep { error, next } = self {
            return ErrorBody {
                next_step: Some(next.as_ref().clone()),
                ..error.body()
            };
        }
        let (message, field, apis) = match self {
            Self::Validation(v) => (v.message.clone(), Some(v.field.clone()), None),
            Self::ConfirmationRequired { message, apis } => {
                (message.clone(), None, Some(apis.clone()))
            }
            // Database details may reveal internals; the log has them.
            Self::Internal(_) => ("internal error; see the server log".to_string(), None, None),
            other => (other.to_string(), None, None),
        };
        ErrorBody {
            code: self.code().to_string(),
            message,
            field,
            apis,
            next_step: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let inner = match &self {
            Self::WithNextStep { error, .. } => error.as_ref(),
            other => other,
        };
        match inner {
            Self::Internal(detail) => tracing::error!(error = %detail, "admin request failed"),
            Self::Apply(detail) => tracing::error!(error = %detail, "gateway refused a change"),
            _ => {}
        }
        let mut response = (self.status(), Json(self.body())).into_response();
        if matches!(inner, Self::Unauthorized) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_errors_carry_the_field() {
        let e = ApiError::invalid("request.path", "must start with `/`");
        assert_eq!(e.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body = e.body();
        assert_eq!(body.code, "ValidationFailed");
        assert_eq!(body.field.as_deref(), Some("request.path"));
    }

    #[test]
    fn next_steps_keep_the_error_and_name_the_request() {
        let e = ApiError::Conflict("x; repeat with ?confirm=true".into()).with_next_step(
            NextStep::Confirm {
                request: "?confirm=true".into(),
            },
        );
        assert_eq!(e.status(), StatusCode::CONFLICT);
        let body = serde_json::to_value(e.body()).unwrap();
        assert_eq!(body["code"], "Conflict");
        assert_eq!(body["message"], "x; repeat with ?confirm=true");
        assert_eq!(body["next_step"]["action"], "confirm");
        assert_eq!(body["next_step"]["request"], "?confirm=true");
    }

    #[test]
    fn internal_errors_hide_their_detail() {
        let e = ApiError::Internal("disk I/O error at /secret/path".into());
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!e.body().message.contains("/secret/path"));
    }

    #[test]
    fn store_errors_map_to_statuses() {
        let nf = StoreError::NotFound {
            kind: "group",
            id: "x".into(),
        };
        assert_eq!(ApiError::from(nf).status(), StatusCode::NOT_FOUND);
        let c = StoreError::Conflict("taken".into());
        assert_eq!(ApiError::from(c).status(), StatusCode::CONFLICT);
    }
}
