//! Respond phase: the backend's response goes back as it came, streamed, minus hop-by-hop
//! headers, plus `X-Ca-Request-Id`.

use http::{Response, Version};

use crate::context::RequestContext;
use crate::hop;
use crate::request::body::GatewayBody;
use crate::request::headers::X_CA_REQUEST_ID;

pub(crate) fn respond(
    ctx: &RequestContext<'_>,
    response: Response<GatewayBody>,
) -> Response<GatewayBody> {
    let (mut parts, body) = response.into_parts();
    hop::strip(&mut parts.headers);
    parts
        .headers
        .insert(X_CA_REQUEST_ID, ctx.request_id.header_value());
    // The client's connection decides its own version.
    parts.version = Version::default();
    Response::from_parts(parts, body)
}
