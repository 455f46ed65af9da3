//! Protocol phase: an API is served only over the transports it lists (`request.protocols`).
//! A plain-HTTP call to an HTTPS-only API is refused, or redirected to the HTTPS listener when
//! the API asks for that; a TLS call to an HTTP-only API is refused. A WebSocket upgrade needs
//! `WS` (plain) or `WSS` (over TLS).

use http::header::LOCATION;
use http::{HeaderValue, Response, StatusCode};

use crate::compiled::plan::ApiPlan;
use crate::context::RequestContext;
use crate::error::GatewayError;
use crate::request::body::GatewayBody;
use crate::request::headers::X_CA_REQUEST_ID;

/// `Ok(None)`: go on; `Ok(Some(_))`: answer with this redirect.
pub(crate) fn check(
    ctx: &RequestContext<'_>,
    plan: &ApiPlan,
) -> Result<Option<Response<GatewayBody>>, GatewayError> {
    let allowed = plan.protocols;
    if ctx.websocket {
        return match (ctx.secure, allowed.wss, allowed.ws) {
            (true, true, _) | (false, _, true) => Ok(None),
            (true, false, _) => Err(GatewayError::ProtocolNotAllowed("WSS")),
            (false, _, false) => Err(GatewayError::ProtocolNotAllowed("WS")),
        };
    }
    if ctx.secure {
        return match allowed.https {
            true => Ok(None),
            false => Err(GatewayError::ProtocolNotAllowed("HTTPS")),
        };
    }
    if allowed.http {
        return Ok(None);
    }
    match (allowed.https_redirect, ctx.https_port) {
        (true, Some(port)) => Ok(redirect(ctx, port)),
        _ => Err(GatewayError::ProtocolNotAllowed("HTTP")),
    }
}

/// `308` to the same host, path and query over HTTPS (the method and body are kept on the
/// second try, unlike `301`). `None` when the Host cannot make a URL.
fn redirect(ctx: &RequestContext<'_>, port: u16) -> Option<Response<GatewayBody>> {
    let host = host_name(ctx.host)?;
    let mut location = String::with_capacity(host.len() + ctx.client_path.len() + 16);
    location.push_str("https://");
    location.push_str(host);
    if port != 443 {
        location.push(':');
        location.push_str(itoa::Buffer::new().format(port));
    }
    location.push_str(ctx.client_path);
    if let Some(query) = ctx.parts.uri.query() {
        location.push('?');
        location.push_str(query);
    }
    let location = HeaderValue::from_str(&location).ok()?;
    let mut response = Response::new(GatewayBody::empty());
    *response.status_mut() = StatusCode::PERMANENT_REDIRECT;
    response.headers_mut().insert(LOCATION, location);
    response
        .headers_mut()
        .insert(X_CA_REQUEST_ID, ctx.request_id.header_value());
    Some(response)
}

/// The host of a Host value, without its port: `a.example.com`, `[::1]`.
fn host_name(host: &str) -> Option<&str> {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if !port.contains(']') && port.bytes().all(|b| b.is_ascii_digit()) => {
            name
        }
        _ => host,
    };
    let plausible = !name.is_empty()
        && name.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'[' | b']' | b':')
        });
    plausible.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::host_name;

    #[test]
    fn the_port_is_dropped_and_odd_hosts_make_no_url() {
        assert_eq!(host_name("a.example.com:8080"), Some("a.example.com"));
        assert_eq!(host_name("a.example.com"), Some("a.example.com"));
        assert_eq!(host_name("[::1]:8080"), Some("[::1]"));
        assert_eq!(host_name("[::1]"), Some("[::1]"));
        assert_eq!(host_name("evil.com/x"), None);
        assert_eq!(host_name("a b"), None);
        assert_eq!(host_name(":80"), None);
    }
}
