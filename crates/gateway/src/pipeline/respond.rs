//! Respond phase: the backend's response goes back as it came, streamed, minus hop-by-hop
//! headers, plus `X-Ca-Request-Id`.

use crate::context::RequestContext;
use crate::hop;
use crate::request::headers::X_CA_REQUEST_ID;
use crate::response::Answer;

pub(crate) fn respond(ctx: &RequestContext<'_>, mut response: Answer) -> Answer {
    hop::strip(&mut response.headers);
    response
        .headers
        .insert(X_CA_REQUEST_ID, ctx.request_id.header_value());
    response
}
