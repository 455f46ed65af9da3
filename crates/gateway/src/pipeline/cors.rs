//! CORS: preflight `OPTIONS` requests are answered here, before authentication and without the
//! backend; actual responses (the backend's and the gateway's own errors) gain the
//! `Access-Control-*` headers so a browser lets the page read them.

use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use pylon_model::Method;

use crate::compiled::access::CorsPlan;
use crate::context::{RequestContext, Routed};
use crate::error::GatewayError;
use crate::request::body::GatewayBody;
use crate::request::headers::X_CA_REQUEST_ID;

/// The method a preflight announces, if `parts` is one.
pub(crate) fn preflight_method(parts: &Parts) -> Option<Method> {
    if parts.method != http::Method::OPTIONS || !parts.headers.contains_key(ORIGIN) {
        return None;
    }
    let announced = parts.headers.get(ACCESS_CONTROL_REQUEST_METHOD)?;
    Method::from_request(announced.to_str().ok()?.trim())
}

fn origin(parts: &Parts) -> Option<&HeaderValue> {
    parts.headers.get(ORIGIN)
}

/// Answers a preflight: 204 with the policy, or 403 naming what the policy refuses.
pub(crate) fn preflight(routed: &Routed<'_, '_>) -> Result<Response<GatewayBody>, GatewayError> {
    let ctx = &*routed.ctx;
    let Some(origin) = origin(ctx.parts) else {
        return Err(GatewayError::Internal("preflight without an origin".into()));
    };
    let Some(cors) = &routed.plan().cors else {
        return Err(GatewayError::Internal("preflight without a policy".into()));
    };
    let origin_text = origin.to_str().unwrap_or("");
    if !cors.allows_origin(origin_text) {
        return Err(GatewayError::CorsOrigin(origin_text.to_string()));
    }
    let method = ctx
        .parts
        .headers
        .get(ACCESS_CONTROL_REQUEST_METHOD)
        .and_then(|m| m.to_str().ok())
        .unwrap_or("")
        .trim()
        .to_ascii_uppercase();
    if !cors.allows_method(&method) {
        return Err(GatewayError::CorsMethod(method));
    }
    let mut response = Response::new(GatewayBody::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    allow_origin(headers, cors, origin);
    headers.insert(ACCESS_CONTROL_ALLOW_METHODS, cors.allow_methods.clone());
    let requested = ctx.parts.headers.get(ACCESS_CONTROL_REQUEST_HEADERS);
    match (&cors.allow_headers, requested) {
        (Some(listed), _) => {
            headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, listed.clone());
        }
        (None, Some(requested)) => {
            headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, requested.clone());
        }
        (None, None) => {}
    }
    if let Some(age) = &cors.max_age {
        headers.insert(ACCESS_CONTROL_MAX_AGE, age.clone());
    }
    headers.insert(X_CA_REQUEST_ID, ctx.request_id.header_value());
    Ok(response)
}

/// Adds the policy's headers to an actual response when the request's origin is allowed.
pub(crate) fn decorate(ctx: &RequestContext<'_>, response: &mut Response<GatewayBody>) {
    let (Some(route), Some(origin)) = (&ctx.routed, origin(ctx.parts)) else {
        return;
    };
    let Some(cors) = &route.plan.cors else {
        return;
    };
    if route.preflight || !cors.allows_origin(origin.to_str().unwrap_or("")) {
        return;
    }
    let headers = response.headers_mut();
    allow_origin(headers, cors, origin);
    if let Some(expose) = &cors.expose_headers {
        headers.insert(ACCESS_CONTROL_EXPOSE_HEADERS, expose.clone());
    }
}

fn allow_origin(headers: &mut HeaderMap, cors: &CorsPlan, origin: &HeaderValue) {
    if cors.echo_origin() {
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        headers.append(VARY, HeaderValue::from_static("Origin"));
    } else {
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    }
    if cors.credentials {
        headers.insert(
            ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
}
