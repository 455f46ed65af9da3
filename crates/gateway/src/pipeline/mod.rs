//! The request path as fixed phases in order (route, validate, authenticate, authorize, limit,
//! forward, respond, log), each in its own module over one `RequestContext`.

pub(crate) mod authenticate;
pub(crate) mod authorize;
pub(crate) mod forward;
pub(crate) mod limit;
pub(crate) mod log;
pub(crate) mod respond;
pub(crate) mod route;
pub(crate) mod validate;

use std::net::SocketAddr;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{Request, Response};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use crate::backend::{self, http::HttpClient};
use crate::body::GatewayBody;
use crate::compiled::Compiled;
use crate::compiled::target::{TargetPlan, Unservable};
use crate::context::RequestContext;
use crate::error::{self, GatewayError};
use forward::RequestBody;

/// Form bodies are read into memory to extract parameters; larger ones are refused (413).
pub(crate) const MAX_FORM_BODY: usize = 8 * 1024 * 1024;

/// Serves one request on `compiled`, which the caller loaded once: a publish during the call
/// does not change what this request sees.
pub(crate) async fn handle(
    compiled: &Compiled,
    client: &HttpClient,
    request: Request<Incoming>,
    peer: SocketAddr,
) -> Response<GatewayBody> {
    let (parts, body) = request.into_parts();
    let mut ctx = RequestContext::new(compiled, &parts, peer);
    let (response, failure) = match run(&mut ctx, client, body).await {
        Ok(response) => (response, None),
        Err(e) => (error::render(&e, &ctx.request_id), Some(e)),
    };
    log::log(&ctx, response.status(), failure.as_ref());
    response
}

async fn run(
    ctx: &mut RequestContext<'_>,
    client: &HttpClient,
    body: Incoming,
) -> Result<Response<GatewayBody>, GatewayError> {
    route::route(ctx)?;
    let Some(plan) = ctx.route.as_ref().map(|r| r.plan) else {
        return Err(GatewayError::ApiNotFound);
    };
    let body = read_form(ctx, plan.reads_form || plan.writes_form, body).await?;
    // A cheap handle on the form bytes, so the values can borrow it while `body` moves on.
    let form_bytes: Option<Bytes> = match &body {
        RequestBody::Form(bytes) => Some(bytes.clone()),
        RequestBody::Stream(_) => None,
    };
    let form_text = form_bytes
        .as_deref()
        .map(std::str::from_utf8)
        .transpose()
        .map_err(|_| GatewayError::RequestBody("form body is not UTF-8".into()))?;
    let values = validate::validate(ctx, form_text)?;
    authenticate::authenticate(ctx)?;
    authorize::authorize(ctx)?;
    limit::limit(ctx)?;

    let backend = plan.backend.as_ref().map_err(|why| match why {
        Unservable::Internal(m) => GatewayError::Internal(m.clone()),
        Unservable::Unavailable(m) => GatewayError::ServiceUnavailable(m.clone()),
    })?;
    let base_path = match &backend.target {
        TargetPlan::Mock(mock) => return Ok(mock.respond(ctx.request_id.header_value())),
        TargetPlan::Http { base_path, .. } | TargetPlan::Upstream { base_path, .. } => base_path,
    };
    let outgoing = forward::build(ctx, plan, backend, base_path, &values, body)?;
    let response = backend::call(client, backend, plan.sets_host, outgoing).await?;
    Ok(respond::respond(ctx, response))
}

/// Reads a form-encoded body when the API reads or writes form parameters; any other body is
/// left to stream.
async fn read_form(
    ctx: &RequestContext<'_>,
    wanted: bool,
    body: Incoming,
) -> Result<RequestBody, GatewayError> {
    let is_form = ctx
        .parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.get(..33)
                .is_some_and(|p| p.eq_ignore_ascii_case("application/x-www-form-urlencoded"))
        });
    if !wanted || !is_form {
        return Ok(RequestBody::Stream(body));
    }
    match Limited::new(body, MAX_FORM_BODY).collect().await {
        Ok(collected) => Ok(RequestBody::Form(collected.to_bytes())),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(GatewayError::BodyTooLarge {
            limit: MAX_FORM_BODY,
        }),
        Err(e) => Err(GatewayError::RequestBody(e.to_string())),
    }
}
