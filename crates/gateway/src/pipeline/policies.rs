//! Policies phase: the API's policies, highest priority first, may answer the request
//! themselves (a CORS preflight) or refuse it (an address, a throttle), and decorate whatever
//! response goes back.

use http::Response;

use crate::context::{RequestContext, RouteSummary, Routed};
use crate::error::GatewayError;
use crate::observe::observer::Observer;
use crate::request::body::GatewayBody;
use crate::response::Answer;

/// Runs the policies' request hooks; `Some` is the answer one of them gave.
pub(crate) fn on_request(
    routed: &mut Routed<'_, '_>,
) -> Result<Option<Response<GatewayBody>>, GatewayError> {
    let policies = &routed.plan().policies;
    if policies.is_empty() {
        return Ok(None);
    }
    let summary = routed.route.summary();
    // Each policy's decision is worked out only for someone who reads it (online debugging).
    let mut decisions = routed.ctx.observers.wants_detail().then(Vec::new);
    let mut headers = std::mem::take(&mut routed.ctx.policy_headers);
    let result = policies.on_request(
        &routed.ctx.policy_request(&summary),
        &mut headers,
        decisions.as_mut(),
    );
    routed.ctx.policy_headers = headers;
    if let Some(decisions) = decisions {
        routed.ctx.observers.policies(&decisions);
    }
    result
}

/// A preflight, which the route phase found only for an API whose policies answer one.
pub(crate) fn preflight(
    routed: &mut Routed<'_, '_>,
) -> Result<Response<GatewayBody>, GatewayError> {
    on_request(routed)?
        .ok_or_else(|| GatewayError::Internal("no policy answered a preflight".into()))
}

/// Runs the policies' response hooks on any response of a routed request, errors included,
/// after adding what their request hooks asked for.
pub(crate) fn on_response(ctx: &mut RequestContext<'_>, response: &mut Answer) {
    let Some(route): Option<RouteSummary<'_>> = ctx.routed else {
        return;
    };
    if !ctx.policy_headers.is_empty() {
        response
            .headers
            .extend(std::mem::take(&mut ctx.policy_headers));
    }
    let policies = &route.plan.policies;
    if policies.is_empty() {
        return;
    }
    policies.on_response(&ctx.policy_request(&route), &mut response.headers);
}
