//! AWS's form of a gateway error, for APIs whose callers are AWS clients (`api-key`):
//! `{"message": ...}` with the `x-amzn-RequestId` / `x-amzn-ErrorType` headers an AWS SDK
//! reads (docs/wire-compat.md). Pylon's own `X-Ca-Request-Id` and `X-Ca-Error-Code` stay
//! beside them. Which status and words each error gets is `GatewayError::aws_form`.

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderName, HeaderValue, Response, StatusCode};

use crate::request::body::GatewayBody;
use crate::request::headers::{X_CA_ERROR_CODE, X_CA_REQUEST_ID};
use crate::request::id::RequestId;

pub(crate) const X_AMZN_REQUEST_ID: HeaderName = HeaderName::from_static("x-amzn-requestid");
pub(crate) const X_AMZN_ERROR_TYPE: HeaderName = HeaderName::from_static("x-amzn-errortype");

#[derive(serde::Serialize)]
struct AwsBody<'a> {
    message: &'a str,
}

/// An error as AWS says it: its status, its message and its `x-amzn-ErrorType`, if any.
pub(crate) struct AwsForm {
    pub(crate) status: StatusCode,
    pub(crate) message: String,
    pub(crate) kind: Option<&'static str>,
}

/// `code` is Pylon's error code; `retry_after`, seconds for `Retry-After`.
pub(crate) fn render(
    form: AwsForm,
    code: &'static str,
    retry_after: Option<u64>,
    request_id: &RequestId,
) -> Response<GatewayBody> {
    let AwsForm {
        status,
        message,
        kind,
    } = form;
    let body = serde_json::to_vec(&AwsBody { message: &message }).unwrap_or_default();
    let mut response = Response::new(GatewayBody::full(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(X_AMZN_REQUEST_ID, request_id.header_value());
    headers.insert(X_CA_REQUEST_ID, request_id.header_value());
    if let Some(kind) = kind {
        headers.insert(X_AMZN_ERROR_TYPE, HeaderValue::from_static(kind));
    }
    headers.insert(X_CA_ERROR_CODE, HeaderValue::from_static(code));
    if let Some(seconds) = retry_after {
        headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.remove(CONTENT_LENGTH);
    response
}
