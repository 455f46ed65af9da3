//! Log phase: one access line per request, success or error.

use http::StatusCode;

use crate::context::RequestContext;
use crate::error::GatewayError;

/// Values a client controls (the path, the Host in an error) are recorded as strings, which the
/// log writes quoted and escaped: no request can forge a field or a line of the log.
pub(crate) fn log(ctx: &RequestContext<'_>, status: StatusCode, error: Option<&GatewayError>) {
    let duration_us = ctx.start.elapsed().as_micros() as u64;
    let router = &ctx.compiled.router;
    let (group, env, api) = match &ctx.route {
        Some(r) => (
            router.group_id(r.group),
            router.environment_name(r.env),
            r.plan.api_name.as_str(),
        ),
        None => ("-", "-", "-"),
    };
    let request_id = ctx.request_id.as_str();
    let method = ctx.parts.method.as_str();
    let path = ctx.parts.uri.path();
    let status = status.as_u16();
    match error {
        // Server-side failures carry the detail (which target, which stage variable) that the
        // client is not shown.
        Some(e) if status >= 500 => tracing::warn!(
            target: "pylon::access",
            request_id, group, env, api, method, path, status, duration_us, error = e.to_string(),
            "request failed"
        ),
        Some(e) => tracing::info!(
            target: "pylon::access",
            request_id, group, env, api, method, path, status, duration_us, error = e.to_string(),
            "request rejected"
        ),
        None => tracing::info!(
            target: "pylon::access",
            request_id, group, env, api, method, path, status, duration_us,
            "request"
        ),
    }
}
