//! AWS's form of a gateway error, for APIs whose callers are AWS clients (`api-key`): the
//! status and message of API Gateway's response types, `{"message": ...}`, and the
//! `x-amzn-RequestId` / `x-amzn-ErrorType` headers an AWS SDK reads (docs/wire-compat.md).
//! Pylon's own `X-Ca-Request-Id` and `X-Ca-Error-Code` stay beside them.

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderName, HeaderValue, Response, StatusCode};

use super::{AuthError, GatewayError, ThrottleScope};
use crate::request::body::GatewayBody;
use crate::request::headers::{X_CA_ERROR_CODE, X_CA_REQUEST_ID};
use crate::request::id::RequestId;

const X_AMZN_REQUEST_ID: HeaderName = HeaderName::from_static("x-amzn-requestid");
const X_AMZN_ERROR_TYPE: HeaderName = HeaderName::from_static("x-amzn-errortype");

/// AWS's status, message and error type for `error`. Refusals AWS names get its words; the
/// rest keep Pylon's status and message, with the error type of that status.
fn aws_form(error: &GatewayError) -> (StatusCode, String, Option<&'static str>) {
    let forbidden = || {
        (
            StatusCode::FORBIDDEN,
            "Forbidden".to_string(),
            Some("ForbiddenException"),
        )
    };
    match error {
        GatewayError::Throttled {
            scope: ThrottleScope::Quota,
            ..
        } => (
            StatusCode::TOO_MANY_REQUESTS,
            "Limit Exceeded".into(),
            Some("LimitExceededException"),
        ),
        GatewayError::Throttled { .. } => (
            StatusCode::TOO_MANY_REQUESTS,
            "Too Many Requests".into(),
            Some("TooManyRequestsException"),
        ),
        GatewayError::Auth(
            AuthError::MissingApiKey | AuthError::InvalidApiKey | AuthError::Unauthorized { .. },
        ) => forbidden(),
        GatewayError::IpDenied(_) => (
            StatusCode::FORBIDDEN,
            error.message(),
            Some("AccessDeniedException"),
        ),
        GatewayError::BackendTimeout { .. } => (
            StatusCode::GATEWAY_TIMEOUT,
            "Endpoint request timed out".into(),
            None,
        ),
        e if e.status().is_server_error() => (e.status(), "Internal server error".into(), None),
        e => {
            let kind = match e.status() {
                StatusCode::BAD_REQUEST => Some("BadRequestException"),
                StatusCode::FORBIDDEN => Some("ForbiddenException"),
                StatusCode::NOT_FOUND => Some("NotFoundException"),
                StatusCode::PAYLOAD_TOO_LARGE => Some("RequestTooLargeException"),
                _ => None,
            };
            (e.status(), e.message(), kind)
        }
    }
}

#[derive(serde::Serialize)]
struct AwsBody<'a> {
    message: &'a str,
}

pub(crate) fn render(error: &GatewayError, request_id: &RequestId) -> Response<GatewayBody> {
    let (status, message, kind) = aws_form(error);
    let body = serde_json::to_vec(&AwsBody { message: &message }).unwrap_or_default();
    let mut response = Response::new(GatewayBody::full(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(X_AMZN_REQUEST_ID, request_id.header_value());
    headers.insert(X_CA_REQUEST_ID, request_id.header_value());
    if let Some(kind) = kind {
        headers.insert(X_AMZN_ERROR_TYPE, HeaderValue::from_static(kind));
    }
    headers.insert(X_CA_ERROR_CODE, HeaderValue::from_static(error.code()));
    if let Some(seconds) = error.retry_after() {
        headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.remove(CONTENT_LENGTH);
    response
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    fn rendered(error: GatewayError) -> (StatusCode, http::HeaderMap, serde_json::Value) {
        let response = render(&error, &RequestId::generate());
        let (parts, body) = response.into_parts();
        let bytes = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(body.collect())
            .unwrap()
            .to_bytes();
        (
            parts.status,
            parts.headers,
            serde_json::from_slice(&bytes).unwrap(),
        )
    }

    #[test]
    fn throttles_and_quotas_are_429s_an_aws_sdk_retries() {
        let (status, headers, body) = rendered(GatewayError::Throttled {
            scope: ThrottleScope::App,
            retry_after: 7,
        });
        assert_eq!(status, 429);
        assert_eq!(body, serde_json::json!({"message": "Too Many Requests"}));
        assert_eq!(headers[X_AMZN_ERROR_TYPE], "TooManyRequestsException");
        assert_eq!(headers[RETRY_AFTER], "7");
        assert_eq!(headers[X_CA_ERROR_CODE], "T403AA");
        assert_eq!(headers[X_AMZN_REQUEST_ID], headers[X_CA_REQUEST_ID]);
        let (status, headers, body) = rendered(GatewayError::Throttled {
            scope: ThrottleScope::Quota,
            retry_after: 60,
        });
        assert_eq!(status, 429);
        assert_eq!(body["message"], "Limit Exceeded");
        assert_eq!(headers[X_AMZN_ERROR_TYPE], "LimitExceededException");
    }

    #[test]
    fn key_refusals_are_forbidden_and_failures_say_nothing_inside() {
        for e in [AuthError::MissingApiKey, AuthError::InvalidApiKey] {
            let (status, headers, body) = rendered(GatewayError::Auth(e));
            assert_eq!(status, 403);
            assert_eq!(body["message"], "Forbidden");
            assert_eq!(headers[X_AMZN_ERROR_TYPE], "ForbiddenException");
        }
        let (status, headers, body) = rendered(GatewayError::Internal("secret detail".into()));
        assert_eq!(status, 500);
        assert_eq!(body["message"], "Internal server error");
        assert!(headers.get(X_AMZN_ERROR_TYPE).is_none());
    }
}
