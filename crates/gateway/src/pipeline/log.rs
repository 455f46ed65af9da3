//! Log phase: one access line per request, success or error, and the debug trace's summary of
//! the finished request.

use http::StatusCode;

use crate::context::{RequestContext, Route};
use crate::error::GatewayError;
use crate::trace::{CallerTrace, ErrorTrace, RouteTrace, Trace};

/// Values a client controls (the path, the Host in an error) are recorded as strings, which the
/// log writes quoted and escaped: no request can forge a field or a line of the log.
pub(crate) fn log(ctx: &RequestContext<'_>, status: StatusCode, error: Option<&GatewayError>) {
    let duration_us = ctx.start.elapsed().as_micros() as u64;
    let router = &ctx.compiled.router;
    let (group, env, api) = match &ctx.routed {
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

/// What the debug trace shows of the route, recorded when it is found.
pub(crate) fn route_trace(ctx: &RequestContext<'_>, r: &Route<'_>) -> RouteTrace {
    let router = &ctx.compiled.router;
    RouteTrace {
        host: ctx.host.to_string(),
        group_id: router.group_id(r.group).to_string(),
        environment: router.environment_name(r.env).to_string(),
        environment_from: r.env_from.as_str().into(),
        api_id: r.plan.api_id.clone(),
        api_name: r.plan.api_name.clone(),
        api_method: r.plan.request_method.clone(),
        api_path: r.plan.request_path.clone(),
        path_parameters: r
            .params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        preflight: r.preflight,
    }
}

/// Fills the debug trace with what only the finished context knows. It lives here, beside the
/// access log, rather than in `trace`, so that `trace` (which the context holds) never imports
/// the context back.
pub(crate) fn finish_trace(
    trace: &mut Trace,
    ctx: &RequestContext<'_>,
    error: Option<&GatewayError>,
) {
    if let Some(r) = &ctx.routed {
        trace.out.caller = Some(CallerTrace {
            scheme: format!("{:?}", r.plan.auth.kind).to_ascii_lowercase(),
            app_id: ctx.app_id().map(str::to_string),
            identity_headers: ctx
                .caller
                .identity_headers
                .iter()
                .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
                .collect(),
        });
    }
    trace.out.error = error.map(|e| ErrorTrace {
        status: e.status().as_u16(),
        code: e.code().to_string(),
        message: e.message(),
        detail: e.to_string(),
    });
    trace.out.total_us = u64::try_from(ctx.start.elapsed().as_micros()).unwrap_or(u64::MAX);
}
