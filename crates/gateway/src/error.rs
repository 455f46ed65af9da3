//! `GatewayError`, every way the gateway itself can answer a request, and the one function that
//! turns it into the wire response (status, `X-Ca-*` headers, JSON body; docs/wire-compat.md).

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, Response, StatusCode};

mod auth;
mod aws;
mod function;

use aws::AwsForm;

pub(crate) use auth::AuthError;
pub(crate) use function::{FunctionFailure, clean_error_type};

use crate::request::body::GatewayBody;
use crate::request::headers::{X_CA_ERROR_CODE, X_CA_ERROR_MESSAGE, X_CA_REQUEST_ID};
use crate::request::id::RequestId;

/// An answer the gateway gives instead of the backend's. The `Display` text is for the log and
/// may hold details (which stage variable, which target); the wire only sees [`Self::message`].
#[derive(Debug, thiserror::Error)]
pub(crate) enum GatewayError {
    #[error("no group serves host `{0}`")]
    InvalidDomain(String),
    #[error("unknown environment `{0}` in X-Ca-Stage")]
    InvalidUrl(String),
    #[error("method `{0}` is not routed")]
    InvalidHttpMethod(String),
    /// A stage-path domain's first path segment names no environment.
    #[error("the path's first segment `{0}` names no environment (stage-path domain)")]
    StageNotFound(String),
    /// `HTTP` or `HTTPS`: the transport the API does not list in `request.protocols`.
    #[error("the API is not served over {0} (request.protocols)")]
    ProtocolNotAllowed(&'static str),
    /// With why, when it was worked out (online debugging).
    #[error("no API matches the request{}", .0.as_deref().map(|w| format!(": {w}")).unwrap_or_default())]
    ApiNotFound(Option<String>),
    #[error("the request head is larger than the limit")]
    HeadTooLarge,
    #[error("the request URI is longer than the limit")]
    UriTooLong,
    #[error("the request head could not be parsed")]
    MalformedRequest,
    #[error("refused path: {0}")]
    InvalidPath(std::borrow::Cow<'static, str>),
    #[error("parameter `{name}` {reason}")]
    InvalidParameter { name: String, reason: String },
    #[error("required parameter `{0}` is missing")]
    MissingParameter(String),
    #[error("request body exceeds {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("the client's request body is broken: {0}")]
    RequestBody(String),
    #[error("backend call to {target} failed: {reason}")]
    BackendFailed { target: String, reason: String },
    #[error("service unavailable: {0}")]
    ServiceUnavailable(String),
    #[error("backend {target} did not answer within {timeout_ms} ms")]
    BackendTimeout { target: String, timeout_ms: u64 },
    #[error("internal error: {0}")]
    Internal(String),
    #[error("function {function}: {failure}")]
    Function {
        function: String,
        failure: FunctionFailure,
    },
    #[error("{0}")]
    Auth(AuthError),
    #[error("CORS preflight from origin `{0}`, which the API does not allow")]
    CorsOrigin(String),
    #[error("CORS preflight for method `{0}`, which the API does not allow")]
    CorsMethod(String),
    #[error("client address {0} is refused by the API's IP control policy")]
    IpDenied(std::net::IpAddr),
    #[error("over the {scope:?} limit of the API's throttling policy; retry in {retry_after} s")]
    Throttled {
        scope: ThrottleScope,
        /// Seconds until the full window ends.
        retry_after: u64,
    },
}

/// Which of a throttling policy's limits refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ThrottleScope {
    Api,
    App,
    User,
    Ip,
    /// The app's quota for the calendar period.
    Quota,
}

impl From<AuthError> for GatewayError {
    fn from(e: AuthError) -> Self {
        GatewayError::Auth(e)
    }
}

impl GatewayError {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::InvalidDomain(_)
            | Self::InvalidUrl(_)
            | Self::InvalidHttpMethod(_)
            | Self::ApiNotFound(_)
            | Self::StageNotFound(_)
            | Self::InvalidPath(_)
            | Self::MalformedRequest
            | Self::InvalidParameter { .. }
            | Self::MissingParameter(_)
            | Self::RequestBody(_) => StatusCode::BAD_REQUEST,
            Self::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::HeadTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::UriTooLong => StatusCode::URI_TOO_LONG,
            Self::BackendFailed { .. } => StatusCode::BAD_GATEWAY,
            Self::ServiceUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::BackendTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Function { failure, .. } => failure.status(),
            Self::Auth(e) => e.status(),
            Self::CorsOrigin(_)
            | Self::CorsMethod(_)
            | Self::IpDenied(_)
            | Self::ProtocolNotAllowed(_)
            | Self::Throttled { .. } => StatusCode::FORBIDDEN,
        }
    }

    /// Pylon's own short, stable code: a letter for the phase (D domain/route, P parameter,
    /// A authentication and access, C CORS, T throttling, B backend, S system, R the request's
    /// framing), the status, two letters for the case.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Self::InvalidDomain(_) => "D400ID",
            Self::InvalidUrl(_) => "D400IU",
            Self::InvalidHttpMethod(_) => "D400IM",
            Self::ProtocolNotAllowed(_) => "D403PT",
            Self::ApiNotFound(_) => "D400NF",
            Self::StageNotFound(_) => "D400SN",
            Self::InvalidPath(_) => "D400IP",
            Self::HeadTooLarge => "R431HL",
            Self::UriTooLong => "R414UL",
            Self::MalformedRequest => "R400MR",
            Self::InvalidParameter { .. } => "P400IP",
            Self::MissingParameter(_) => "P400MP",
            Self::BodyTooLarge { .. } => "P413TL",
            Self::RequestBody(_) => "P400RB",
            Self::BackendFailed { .. } => "B502FI",
            Self::ServiceUnavailable(_) => "B503SU",
            Self::BackendTimeout { .. } => "B504TO",
            Self::Internal(_) => "S500IE",
            Self::Function { failure, .. } => failure.code(),
            Self::Auth(e) => e.code(),
            Self::CorsOrigin(_) => "C403OR",
            Self::CorsMethod(_) => "C403ME",
            Self::IpDenied(_) => "A403IP",
            Self::Throttled { scope, .. } => match scope {
                ThrottleScope::Api => "T403AP",
                ThrottleScope::App => "T403AA",
                ThrottleScope::User => "T403US",
                ThrottleScope::Ip => "T403IP",
                ThrottleScope::Quota => "T403QE",
            },
        }
    }

    /// The `X-Ca-Error-Message`: the classic Alibaba text, never internal details.
    pub(crate) fn message(&self) -> String {
        match self {
            Self::InvalidDomain(_) => "Invalid Domain".into(),
            Self::InvalidUrl(_) => "Invalid Url".into(),
            Self::InvalidHttpMethod(_) => "Invalid HttpMethod".into(),
            // Alibaba's words (its code I403PT).
            Self::ProtocolNotAllowed(used) => format!("Invalid protocol {used} unsupported"),
            Self::ApiNotFound(_) => "API Not Found".into(),
            Self::StageNotFound(_) => "Invalid Url".into(),
            Self::InvalidPath(reason) => format!("Invalid Url: {reason}"),
            Self::HeadTooLarge => "Request Header Fields Too Large".into(),
            Self::UriTooLong => "Request URI Too Long".into(),
            Self::MalformedRequest => "Malformed Request".into(),
            Self::InvalidParameter { name, reason } => {
                format!("Invalid Parameter: {name} {reason}")
            }
            Self::MissingParameter(name) => format!("Required Parameter Missing: {name}"),
            Self::BodyTooLarge { .. } => "Request Body Too Large".into(),
            Self::RequestBody(_) => "Invalid Request Body".into(),
            Self::BackendFailed { .. } => "Failed To Invoke Backend Service".into(),
            Self::ServiceUnavailable(_) => "Service Unavailable".into(),
            Self::BackendTimeout { .. } => "Backend timeout".into(),
            Self::Internal(_) => "Internal Error".into(),
            Self::Function { failure, .. } => failure.message(),
            Self::Auth(e) => e.message(),
            Self::CorsOrigin(_) => "CORS Origin Not Allowed".into(),
            Self::CorsMethod(_) => "CORS Method Not Allowed".into(),
            Self::IpDenied(_) => "Access Denied by IP Control".into(),
            Self::Throttled { scope, .. } => match scope {
                ThrottleScope::Api => "Throttled by API Flow Control",
                ThrottleScope::App => "Throttled by APP Flow Control",
                ThrottleScope::User => "Throttled by USER Flow Control",
                ThrottleScope::Ip => "Throttled by IP Flow Control",
                ThrottleScope::Quota => "Quota Exhausted",
            }
            .into(),
        }
    }

    /// AWS's status, message and error type for this error (`api-key` APIs). Refusals AWS
    /// names get its words; the rest keep Pylon's status and message, with the error type of
    /// that status.
    pub(crate) fn aws_form(&self) -> AwsForm {
        let error = self;
        let form = |status, message: String, kind| AwsForm {
            status,
            message,
            kind,
        };
        let forbidden = || {
            form(
                StatusCode::FORBIDDEN,
                "Forbidden".into(),
                Some("ForbiddenException"),
            )
        };
        match error {
            // What AWS answers for a path no resource serves, or a stage it does not have.
            GatewayError::ApiNotFound(_) | GatewayError::InvalidHttpMethod(_) => form(
                StatusCode::FORBIDDEN,
                "Missing Authentication Token".into(),
                Some("MissingAuthenticationTokenException"),
            ),
            GatewayError::StageNotFound(_) | GatewayError::InvalidDomain(_) => forbidden(),
            GatewayError::Throttled {
                scope: ThrottleScope::Quota,
                ..
            } => form(
                StatusCode::TOO_MANY_REQUESTS,
                "Limit Exceeded".into(),
                Some("LimitExceededException"),
            ),
            GatewayError::Throttled { .. } => form(
                StatusCode::TOO_MANY_REQUESTS,
                "Too Many Requests".into(),
                Some("TooManyRequestsException"),
            ),
            GatewayError::Auth(
                AuthError::MissingApiKey
                | AuthError::InvalidApiKey
                | AuthError::Unauthorized { .. },
            ) => forbidden(),
            GatewayError::IpDenied(_) => form(
                StatusCode::FORBIDDEN,
                error.message(),
                Some("AccessDeniedException"),
            ),
            GatewayError::BackendTimeout { .. }
            | GatewayError::Function {
                failure: FunctionFailure::Timeout(_),
                ..
            } => form(
                StatusCode::GATEWAY_TIMEOUT,
                "Endpoint request timed out".into(),
                None,
            ),
            e if e.status().is_server_error() => {
                form(e.status(), "Internal server error".into(), None)
            }
            e => {
                let kind = match e.status() {
                    StatusCode::BAD_REQUEST => Some("BadRequestException"),
                    StatusCode::FORBIDDEN => Some("ForbiddenException"),
                    StatusCode::NOT_FOUND => Some("NotFoundException"),
                    StatusCode::PAYLOAD_TOO_LARGE => Some("RequestTooLargeException"),
                    _ => None,
                };
                form(e.status(), e.message(), kind)
            }
        }
    }

    /// Seconds after which the same request may succeed, for `Retry-After`.
    pub(crate) fn retry_after(&self) -> Option<u64> {
        match self {
            Self::Throttled { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }
}

impl GatewayError {
    /// The header message when the full one holds bytes a header cannot carry.
    fn fallback_message(&self) -> &'static str {
        match self {
            Self::InvalidParameter { .. } => "Invalid Parameter",
            Self::MissingParameter(_) => "Required Parameter Missing",
            Self::Function { .. } => "Function Error",
            Self::Auth(AuthError::InvalidSignature(_)) => "Invalid Signature",
            _ => "Error",
        }
    }
}

#[derive(serde::Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: &'a str,
    request_id: &'a str,
}

/// Whose form an error takes: AWS's for the APIs AWS clients call (`api-key`), Alibaba's for
/// every other API and for requests no API matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Alibaba,
    Aws,
}

impl Dialect {
    pub(crate) fn of(auth: pylon_model::AuthType) -> Dialect {
        match auth {
            pylon_model::AuthType::ApiKey => Dialect::Aws,
            _ => Dialect::Alibaba,
        }
    }
}

/// An error in the routed API's dialect.
pub(crate) fn render_in(
    dialect: Dialect,
    error: &GatewayError,
    request_id: &RequestId,
) -> Response<GatewayBody> {
    match dialect {
        Dialect::Alibaba => render(error, request_id),
        Dialect::Aws => aws::render(
            error.aws_form(),
            error.code(),
            error.retry_after(),
            request_id,
        ),
    }
}

/// The one place a `GatewayError` becomes a response, so every error looks the same.
pub(crate) fn render(error: &GatewayError, request_id: &RequestId) -> Response<GatewayBody> {
    let message = error.message();
    let code = error.code();
    let body = serde_json::to_vec(&ErrorBody {
        code,
        message: &message,
        request_id: request_id.as_str(),
    })
    .unwrap_or_default();
    let mut response = Response::new(GatewayBody::full(Bytes::from(body)));
    *response.status_mut() = error.status();
    let headers = response.headers_mut();
    headers.insert(X_CA_REQUEST_ID, request_id.header_value());
    // Parameter names come from the request and may hold bytes a header cannot carry.
    // The string to sign holds request values: non-ASCII text goes as raw UTF-8 bytes.
    let message_value = HeaderValue::from_str(&message)
        .or_else(|_| HeaderValue::from_bytes(message.as_bytes()))
        .unwrap_or_else(|_| HeaderValue::from_static(error.fallback_message()));
    headers.insert(X_CA_ERROR_MESSAGE, message_value);
    headers.insert(X_CA_ERROR_CODE, HeaderValue::from_static(code));
    if let Some(seconds) = error.retry_after() {
        headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    headers.remove(CONTENT_LENGTH);
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn rendered(error: GatewayError) -> (Response<GatewayBody>, serde_json::Value, RequestId) {
        let id = RequestId::generate();
        let response = render(&error, &id);
        let (parts, body) = response.into_parts();
        let bytes = futures_block(body.collect()).unwrap().to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        (Response::from_parts(parts, GatewayBody::empty()), json, id)
    }

    fn futures_block<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn invalid_domain_renders_headers_and_json() {
        let (response, json, id) = rendered(GatewayError::InvalidDomain("x.example".into()));
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let h = response.headers();
        assert_eq!(h[X_CA_ERROR_MESSAGE], "Invalid Domain");
        assert_eq!(h[X_CA_ERROR_CODE], "D400ID");
        assert_eq!(h[X_CA_REQUEST_ID], id.as_str());
        assert_eq!(h[CONTENT_TYPE], "application/json; charset=utf-8");
        assert_eq!(json["code"], "D400ID");
        assert_eq!(json["message"], "Invalid Domain");
        assert_eq!(json["request_id"], id.as_str());
    }

    #[test]
    fn parameter_errors_name_the_parameter() {
        let (response, json, _) = rendered(GatewayError::InvalidParameter {
            name: "id".into(),
            reason: "must be an integer".into(),
        });
        assert_eq!(
            response.headers()[X_CA_ERROR_MESSAGE],
            "Invalid Parameter: id must be an integer"
        );
        assert_eq!(json["message"], "Invalid Parameter: id must be an integer");
        let (response, _, _) = rendered(GatewayError::MissingParameter("id".into()));
        assert_eq!(
            response.headers()[X_CA_ERROR_MESSAGE],
            "Required Parameter Missing: id"
        );
    }

    #[test]
    fn internal_details_stay_out_of_the_response() {
        let (response, json, _) = rendered(GatewayError::Internal(
            "stage variable `secret_host` is not set".into(),
        ));
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(response.headers()[X_CA_ERROR_MESSAGE], "Internal Error");
        assert!(!json.to_string().contains("secret_host"));
    }

    #[test]
    fn statuses_follow_the_wire_table() {
        let cases = [
            (GatewayError::InvalidUrl("X".into()), 400, "Invalid Url"),
            (GatewayError::ApiNotFound(None), 400, "API Not Found"),
            (
                GatewayError::InvalidHttpMethod("TRACE".into()),
                400,
                "Invalid HttpMethod",
            ),
            (
                GatewayError::BackendFailed {
                    target: "t".into(),
                    reason: "refused".into(),
                },
                502,
                "Failed To Invoke Backend Service",
            ),
            (
                GatewayError::ServiceUnavailable("u".into()),
                503,
                "Service Unavailable",
            ),
            (
                GatewayError::BackendTimeout {
                    target: "t".into(),
                    timeout_ms: 5,
                },
                504,
                "Backend timeout",
            ),
            (
                GatewayError::BodyTooLarge { limit: 1 },
                413,
                "Request Body Too Large",
            ),
            (
                GatewayError::ProtocolNotAllowed("HTTP"),
                403,
                "Invalid protocol HTTP unsupported",
            ),
        ];
        for (error, status, message) in cases {
            assert_eq!(error.status().as_u16(), status, "{error}");
            assert_eq!(error.message(), message);
        }
    }

    #[test]
    fn a_message_a_header_cannot_carry_is_replaced() {
        let (response, json, _) = rendered(GatewayError::InvalidParameter {
            name: "bad\nname".into(),
            reason: "must be an integer".into(),
        });
        assert_eq!(response.headers()[X_CA_ERROR_MESSAGE], "Invalid Parameter");
        assert_eq!(
            json["message"],
            "Invalid Parameter: bad\nname must be an integer"
        );
    }

    // AWS's form (`api-key` APIs).
    use aws::{X_AMZN_ERROR_TYPE, X_AMZN_REQUEST_ID};

    fn rendered_aws(error: GatewayError) -> (StatusCode, http::HeaderMap, serde_json::Value) {
        let response = render_in(Dialect::Aws, &error, &RequestId::generate());
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
        let (status, headers, body) = rendered_aws(GatewayError::Throttled {
            scope: ThrottleScope::App,
            retry_after: 7,
        });
        assert_eq!(status, 429);
        assert_eq!(body, serde_json::json!({"message": "Too Many Requests"}));
        assert_eq!(headers[X_AMZN_ERROR_TYPE], "TooManyRequestsException");
        assert_eq!(headers[RETRY_AFTER], "7");
        assert_eq!(headers[X_CA_ERROR_CODE], "T403AA");
        assert_eq!(headers[X_AMZN_REQUEST_ID], headers[X_CA_REQUEST_ID]);
        let (status, headers, body) = rendered_aws(GatewayError::Throttled {
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
            let (status, headers, body) = rendered_aws(GatewayError::Auth(e));
            assert_eq!(status, 403);
            assert_eq!(body["message"], "Forbidden");
            assert_eq!(headers[X_AMZN_ERROR_TYPE], "ForbiddenException");
        }
        let (status, headers, body) = rendered_aws(GatewayError::Internal("secret detail".into()));
        assert_eq!(status, 500);
        assert_eq!(body["message"], "Internal server error");
        assert!(headers.get(X_AMZN_ERROR_TYPE).is_none());
    }
}
