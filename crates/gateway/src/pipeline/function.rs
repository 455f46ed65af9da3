//! Function phase, in place of the backend call for function backends: the backend request
//! the forward phase built becomes the event of the function's format, with what the gateway
//! knows of the call (route, environment, caller); the answer becomes the response.

use std::borrow::Cow;
use std::time::Duration;

use bytes::Bytes;

use crate::backend::client::HttpClient;
use crate::backend::function::event::{self, EventInput};
use crate::backend::function::{FunctionTarget, MAX_PAYLOAD};
use crate::context::{Routed, now_ms};
use crate::error::GatewayError;
use crate::observe::observer::{FunctionCall, Observer};
use crate::pipeline::body::read_whole;
use crate::request::outgoing::{OutBody, Outgoing};
use crate::response::Answer;
use crate::urlencoded;

/// Calls the function; `timeout` is the API's backend timeout, which the function backend's
/// own replaces.
pub(crate) async fn call(
    routed: &mut Routed<'_, '_>,
    target: &FunctionTarget,
    timeout: Duration,
    client: &HttpClient,
    out: Outgoing<'_>,
) -> Result<Answer, GatewayError> {
    let body = read_body(out.body).await?;
    // The event lists the headers by name: a map of them is built for it.
    let headers = out.headers.to_map();
    let event = {
        let ctx = &*routed.ctx;
        let plan = routed.plan();
        let query = out
            .path_and_query
            .split_once('?')
            .map(|(_, q)| q)
            .unwrap_or("");
        let input = EventInput {
            method: ctx.parts.method.as_str(),
            path: ctx.parts.uri.path(),
            resource: &plan.request_path,
            query,
            headers: &headers,
            body: &body,
            path_params: routed
                .route
                .params
                .iter()
                .map(|(name, raw)| (*name, urlencoded::decode(raw)))
                .collect::<Vec<(&str, Cow<'_, str>)>>(),
            environment: &plan.environment,
            stage_variables: &target.stage_variables,
            app_id: ctx.app_id(),
            user: ctx.caller.user.as_deref(),
            client_ip: ctx.client,
            request_id: ctx.request_id.as_str(),
            api_id: &plan.api_id,
            group_id: ctx.compiled.router.group_id(routed.route.group),
            host: ctx.host,
            time_ms: u64::try_from(now_ms()).unwrap_or(0),
        };
        Bytes::from(event::encode(target.format, target.version, &input))
    };
    let ctx = &mut *routed.ctx;
    let timeout = target.timeout.unwrap_or(timeout);
    let invocation = target
        .invoke(client, event.clone(), timeout, ctx.request_id.as_str())
        .await;
    ctx.observers.function_call(&FunctionCall {
        target,
        event: &event,
        answer: invocation.answer.as_deref(),
        cold_start: invocation.cold_start,
        took: invocation.took,
        failure: invocation.response.as_ref().err(),
    });
    invocation.response.map(Answer::from)
}

/// The body the event carries, whole, up to the payload limit.
async fn read_body(body: OutBody) -> Result<Bytes, GatewayError> {
    match body {
        OutBody::Empty => Ok(Bytes::new()),
        OutBody::Bytes(b) if b.len() > MAX_PAYLOAD => {
            Err(GatewayError::BodyTooLarge { limit: MAX_PAYLOAD })
        }
        OutBody::Bytes(b) => Ok(b),
        OutBody::Stream(incoming) => read_whole(incoming, MAX_PAYLOAD).await,
    }
}
