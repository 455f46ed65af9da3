//! Forward phase: builds the backend request (path, query, headers, body) from the request and
//! the API's plan. The backend's address and Host are added per attempt by `backend`.

use std::borrow::Cow;

use bytes::{Bytes, BytesMut};
use http::header::{
    ACCEPT, ACCEPT_ENCODING, ACCEPT_LANGUAGE, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HOST,
    USER_AGENT,
};
use http::request::Parts;
use http::{HeaderName, HeaderValue};
use percent_encoding::utf8_percent_encode;
use pylon_model::{AuthType, Location, RequestMode, SystemParameterKind};

use crate::compiled::ApiPlan;
use crate::compiled::path::{BackendPath, PathPiece};
use crate::compiled::plan::{BackendPlan, SystemTarget};
use crate::context::{RequestContext, Routed};
use crate::error::GatewayError;
use crate::hop;
use crate::pipeline::normalize;
use crate::request::client::IpText;
use crate::request::headers::{
    CREDENTIAL_HEADERS, KnownHeaders, X_FORWARDED_FOR, X_FORWARDED_HOST, X_FORWARDED_PROTO,
};
use crate::request::outgoing::{OutBody, OutHeaders, Outgoing, RequestBody};
use crate::request::values::Values;
use crate::urlencoded::{self, SEGMENT, SEGMENTS};

const FORM: HeaderValue = HeaderValue::from_static("application/x-www-form-urlencoded");

/// In mapping mode only declared header parameters are forwarded, plus these, which describe
/// the body and what the client accepts back (the body itself still streams through).
static MAPPING_KEPT_HEADERS: [HeaderName; 6] = [
    CONTENT_TYPE,
    CONTENT_LENGTH,
    CONTENT_ENCODING,
    ACCEPT,
    ACCEPT_ENCODING,
    ACCEPT_LANGUAGE,
];

/// Builds the backend request; the client's body moves into it, and its headers are borrowed
/// from the client's request.
pub(crate) fn build<'a>(
    routed: &mut Routed<'_, 'a>,
    backend: &BackendPlan,
    base_path: &str,
) -> Result<Outgoing<'a>, GatewayError> {
    let body = routed.take_body();
    let routed = &*routed;
    let ctx = &*routed.ctx;
    let plan = routed.plan();
    let values = &routed.values;
    let parts = ctx.parts;
    let (route_params, rest) = (routed.route.params.as_slice(), routed.route.rest);

    let mut target = String::with_capacity(base_path.len() + parts.uri.path().len() + 64);
    target.push_str(base_path);
    render_path(&mut target, &backend.path, values, route_params)?;
    append_rest(&mut target, rest);
    if target.is_empty() {
        target.push('/');
    }
    // The values were checked one by one; this holds the whole path to the rule, so no
    // combination of them (or a backend path configured with dot segments) can climb out.
    normalize::check_raw(&target, true)
        .map_err(|e| GatewayError::Internal(format!("backend path `{target}` refused: {}", e.0)))?;
    write_query(&mut target, ctx, plan, backend, values);

    // Room for everything the gateway adds, so that the list never grows.
    let added = 4
        + plan.params.len()
        + plan.constant_headers.len()
        + plan.system.len()
        + ctx.caller.identity_headers.len();
    let mut headers = match plan.mode {
        RequestMode::PassThrough => {
            let mut h = OutHeaders::with_capacity(parts.headers.len() + added);
            let drop_credentials =
                plan.auth.kind != AuthType::None && !plan.auth.forward_credentials;
            hop::copy_end_to_end(&parts.headers, &mut h, |name| {
                name != HOST
                    && !(drop_credentials && CREDENTIAL_HEADERS.contains(name))
                    && !plan.reserved_headers.contains(name)
            });
            h
        }
        RequestMode::Mapping => {
            let mut h = OutHeaders::with_capacity(MAPPING_KEPT_HEADERS.len() + added);
            for name in &MAPPING_KEPT_HEADERS {
                for v in parts.headers.get_all(name) {
                    h.push_client(name, v);
                }
            }
            h
        }
    };
    for (i, p) in plan.params.iter().enumerate() {
        let (Some(name), Some(v)) = (&p.target.header, values.get(i)) else {
            continue;
        };
        if p.is_written(plan.mode, v.from_default) {
            let value = header_value(&v.text).ok_or_else(|| GatewayError::InvalidParameter {
                name: p.name.clone(),
                reason: "cannot be sent in a header".into(),
            })?;
            headers.insert(name.clone(), value);
        }
    }
    for (name, value) in &plan.constant_headers {
        headers.insert(name.clone(), value.clone());
    }
    for s in &plan.system {
        if let SystemTarget::Header(name) = &s.target
            && let Some(value) = header_value(&system_value(s.kind, s.fixed.as_deref(), ctx))
        {
            headers.insert(name.clone(), value);
        }
    }
    for (name, value) in &ctx.caller.identity_headers {
        headers.insert(name.clone(), value.clone());
    }
    // The address this connection came from: `X-Forwarded-For` gains it. (The client's own
    // address, which a trusted proxy may have named, is `ctx.client`.)
    forwarded_headers(
        &mut headers,
        parts,
        &ctx.known,
        ctx.host,
        ctx.secure,
        &ctx.peer.text,
    );

    let body = build_body(plan, values, body, &mut headers);
    Ok(Outgoing {
        method: backend
            .method
            .clone()
            .unwrap_or_else(|| parts.method.clone()),
        path_and_query: target,
        headers,
        body,
    })
}

fn header_value(text: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(text)
        .or_else(|_| HeaderValue::from_bytes(text.as_bytes()))
        .ok()
}

/// Writes the backend path template, filling each slot from its parameter (or the matched
/// path parameter of the same name), percent-encoded unless it came raw from the path (and
/// was then checked by the route phase). A decoded value is refused when it would make a dot
/// segment.
pub(crate) fn render_path(
    out: &mut String,
    path: &BackendPath,
    values: &Values<'_>,
    route_params: &[(&str, &str)],
) -> Result<(), GatewayError> {
    if let Some(literal) = path.as_literal() {
        out.push_str(literal);
        return Ok(());
    }
    for piece in &path.pieces {
        match piece {
            PathPiece::Literal(s) => out.push_str(s),
            PathPiece::Param {
                name,
                greedy,
                source,
            } => match source.and_then(|i| values.get(i)) {
                Some(v) => match v.raw_path {
                    Some(raw) => out.push_str(raw),
                    None => {
                        normalize::check_text(&v.text).map_err(|e| {
                            GatewayError::InvalidPath(format!("parameter `{name}`: {}", e.0).into())
                        })?;
                        let set = if *greedy { SEGMENTS } else { SEGMENT };
                        out.extend(utf8_percent_encode(&v.text, set));
                    }
                },
                None => {
                    if let Some((_, raw)) = route_params.iter().find(|(n, _)| n == name) {
                        out.push_str(raw);
                    }
                }
            },
        }
    }
    Ok(())
}

/// Appends the unmatched rest of a prefix match without doubling a `/`.
pub(crate) fn append_rest(out: &mut String, rest: &str) {
    if rest.is_empty() {
        return;
    }
    match (out.ends_with('/'), rest.strip_prefix('/')) {
        (true, Some(stripped)) => out.push_str(stripped),
        _ => out.push_str(rest),
    }
}

fn write_query(
    out: &mut String,
    ctx: &RequestContext<'_>,
    plan: &ApiPlan,
    backend: &BackendPlan,
    values: &Values<'_>,
) {
    let mut query = String::new();
    if let Some(fixed) = &backend.path.query {
        urlencoded::append_encoded(&mut query, fixed);
    }
    if plan.mode == RequestMode::PassThrough
        && let Some(q) = ctx.parts.uri.query()
    {
        urlencoded::append_without(&mut query, q, &plan.reserved_query);
    }
    for (i, p) in plan.params.iter().enumerate() {
        if p.target.location != Location::Query {
            continue;
        }
        if let Some(v) = values.get(i)
            && p.is_written(plan.mode, v.from_default)
        {
            urlencoded::append_pair(&mut query, &p.target.name, &v.text);
        }
    }
    urlencoded::append_encoded(&mut query, &plan.constant_query);
    for s in &plan.system {
        if let SystemTarget::Query(name) = &s.target {
            let value = system_value(s.kind, s.fixed.as_deref(), ctx);
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(name);
            query.push('=');
            query.extend(utf8_percent_encode(&value, urlencoded::COMPONENT));
        }
    }
    if !query.is_empty() {
        out.push('?');
        out.push_str(&query);
    }
}

fn system_value<'x>(
    kind: SystemParameterKind,
    fixed: Option<&'x str>,
    ctx: &'x RequestContext<'_>,
) -> Cow<'x, str> {
    if let Some(f) = fixed {
        return Cow::Borrowed(f);
    }
    Cow::Borrowed(match kind {
        SystemParameterKind::ClientIp => {
            return Cow::Owned(IpText::new(ctx.client).as_str().to_owned());
        }
        SystemParameterKind::RequestId => ctx.request_id.as_str(),
        SystemParameterKind::Domain => ctx.host,
        SystemParameterKind::UserAgent => ctx
            .parts
            .headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or(""),
        SystemParameterKind::AppId => ctx.app_id().unwrap_or(""),
        SystemParameterKind::Stage | SystemParameterKind::ApiId | SystemParameterKind::ApiName => {
            ""
        }
    })
}

/// `X-Forwarded-For` gains the client's address; `-Proto` and `-Host` say what it asked for
/// (`secure`: over TLS).
pub(crate) fn forwarded_headers(
    headers: &mut OutHeaders<'_>,
    parts: &Parts,
    known: &KnownHeaders<'_>,
    host: &str,
    secure: bool,
    peer: &HeaderValue,
) {
    let mut chain = String::new();
    let earlier = known
        .forwarded_for
        .then(|| parts.headers.get_all(&X_FORWARDED_FOR));
    for v in earlier.iter().flatten() {
        if let Ok(s) = v.to_str() {
            if !chain.is_empty() {
                chain.push_str(", ");
            }
            chain.push_str(s.trim());
        }
    }
    if chain.is_empty() {
        headers.insert(X_FORWARDED_FOR, peer.clone());
    } else {
        chain.push_str(", ");
        chain.push_str(peer.to_str().unwrap_or_default());
        if let Ok(v) = HeaderValue::from_str(&chain) {
            headers.insert(X_FORWARDED_FOR, v);
        }
    }
    let proto = if secure { "https" } else { "http" };
    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static(proto));
    // The client's own `Host` value when that is where `host` came from: a shared copy.
    let forwarded_host = known
        .host
        .filter(|h| h.as_bytes() == host.as_bytes())
        .cloned()
        .or_else(|| HeaderValue::from_str(host).ok());
    if let Some(h) = forwarded_host {
        headers.insert(X_FORWARDED_HOST, h);
    }
}

/// The form pairs the gateway writes: mapped parameters and constants.
fn form_additions(plan: &ApiPlan, values: &Values<'_>) -> String {
    let mut form = String::new();
    for (i, p) in plan.params.iter().enumerate() {
        if p.target.location != Location::Form {
            continue;
        }
        if let Some(v) = values.get(i)
            && p.is_written(plan.mode, v.from_default)
        {
            urlencoded::append_pair(&mut form, &p.target.name, &v.text);
        }
    }
    urlencoded::append_encoded(&mut form, &plan.constant_form);
    form
}

fn build_body(
    plan: &ApiPlan,
    values: &Values<'_>,
    body: RequestBody,
    headers: &mut OutHeaders<'_>,
) -> OutBody {
    let additions = if plan.writes_form {
        form_additions(plan, values)
    } else {
        String::new()
    };
    let new_form = |bytes: Bytes, headers: &mut OutHeaders<'_>| {
        headers.remove(&CONTENT_LENGTH);
        headers.insert(CONTENT_TYPE, FORM);
        OutBody::Bytes(bytes)
    };
    match (plan.mode, body) {
        (RequestMode::PassThrough, RequestBody::Buffered { bytes, is_form }) => {
            if additions.is_empty() || !is_form {
                // Like a streamed body, a body that is not a form travels untouched.
                return if bytes.is_empty() && additions.is_empty() {
                    OutBody::Empty
                } else if bytes.is_empty() {
                    new_form(Bytes::from(additions), headers)
                } else {
                    OutBody::Bytes(bytes)
                };
            }
            let mut joined = BytesMut::with_capacity(bytes.len() + 1 + additions.len());
            joined.extend_from_slice(&bytes);
            if !bytes.is_empty() {
                joined.extend_from_slice(b"&");
            }
            joined.extend_from_slice(additions.as_bytes());
            new_form(joined.freeze(), headers)
        }
        (RequestMode::PassThrough, RequestBody::Stream(incoming)) => {
            if http_body::Body::is_end_stream(&incoming) {
                if additions.is_empty() {
                    OutBody::Empty
                } else {
                    new_form(Bytes::from(additions), headers)
                }
            } else {
                // A body that is not a form streams through untouched.
                OutBody::from(incoming)
            }
        }
        (RequestMode::Mapping, body) => {
            if plan.writes_form {
                return new_form(Bytes::from(additions), headers);
            }
            match body {
                // Its parameters were read; only declared ones travel on, and none go to a form.
                RequestBody::Buffered { is_form: true, .. } => {
                    headers.remove(&CONTENT_LENGTH);
                    headers.remove(&CONTENT_TYPE);
                    OutBody::Empty
                }
                RequestBody::Buffered { bytes, .. } if bytes.is_empty() => OutBody::Empty,
                RequestBody::Buffered { bytes, .. } => OutBody::Bytes(bytes),
                RequestBody::Stream(incoming) if http_body::Body::is_end_stream(&incoming) => {
                    OutBody::Empty
                }
                RequestBody::Stream(incoming) => OutBody::from(incoming),
            }
        }
    }
}

#[cfg(test)]
mod tests;
