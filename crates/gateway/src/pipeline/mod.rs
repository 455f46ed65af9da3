//! The request path as fixed phases in order (route, read body, validate, authenticate,
//! authorize, policies, forward, backend, respond), each in its own module: the route phase over
//! the `RequestContext`, the later ones over the typed `Routed` context. Observers hear of each
//! phase from the `phase!` macro and of the end from `finish`.

pub(crate) mod authenticate;
pub(crate) mod authorize;
pub(crate) mod body;
pub(crate) mod forward;
pub(crate) mod function;
pub(crate) mod jwt;
pub(crate) mod normalize;
pub(crate) mod policies;
pub(crate) mod protocol;
pub(crate) mod respond;
pub(crate) mod route;
pub(crate) mod stage;
pub(crate) mod validate;
pub(crate) mod websocket;

use bytes::Bytes;

use pylon_model::AuthType;

use self::body::read_whole;
use crate::backend::client::HttpClient;
use crate::backend::resolve::Unservable;
use crate::clock;
use crate::compiled::Compiled;
use crate::context::{RequestContext, Routed};
use crate::error::{self, Dialect, GatewayError};
use crate::observe::log::sink::AccessLogSink;
use crate::observe::observer::{Finished, FinishedRoute, Observer};
use crate::observe::otel::{TRACEPARENT, Telemetry};
use crate::request::client::{Peer, client_address};
use crate::request::inbound::ClientBody;
use crate::request::outgoing::RequestBody;
use crate::response::Answer;
use pylon_auth::alibaba::{self, CONTENT_MD5};

/// Bodies read into memory (forms, signed bodies) are refused (413) past this size.
pub(crate) const MAX_BUFFERED_BODY: usize = 8 * 1024 * 1024;

/// What the gateway around the pipeline holds for every request.
pub(crate) struct Edge<'e> {
    /// Peers whose forwarding headers name the client's address.
    pub(crate) trusted_proxies: &'e [ipnet::IpNet],
    /// Where sampled requests' spans go.
    pub(crate) telemetry: Option<&'e Telemetry>,
    pub(crate) access_log: &'e AccessLogSink,
    /// The HTTPS listener's port, where plain-HTTP calls to HTTPS-only APIs are redirected.
    pub(crate) https_port: Option<u16>,
}

/// Serves one request on `compiled`, which the caller loaded once: a publish during the call
/// does not change what this request sees. `secure`: the request came over TLS.
pub(crate) async fn handle(
    compiled: &Compiled,
    client: &HttpClient,
    parts: &mut http::request::Parts,
    body: ClientBody,
    peer: &Peer,
    secure: bool,
    edge: &Edge<'_>,
) -> Answer {
    let extensions = std::mem::take(&mut parts.extensions);
    let (arrival, normalized) = normalize_request(compiled, parts);
    let parts = &*parts;
    let mut ctx = RequestContext::new(
        compiled,
        parts,
        extensions,
        peer,
        arrival.client_path.as_deref(),
        edge.access_log,
    );
    arrival.settle(&mut ctx);
    ctx.body_len = http_body::Body::size_hint(&body).exact();
    ctx.secure = secure;
    ctx.https_port = edge.https_port;
    if !edge.trusted_proxies.is_empty() {
        ctx.client = client_address(ctx.peer.addr, &parts.headers, edge.trusted_proxies);
    }
    if let Some(telemetry) = edge.telemetry {
        ctx.observers.otel = telemetry.begin(&parts.headers);
    }
    let result = match normalized {
        Ok(()) => run(&mut ctx, client, Inbound::Stream(body)).await,
        Err(e) => Err(e),
    };
    finish(&mut ctx, result)
}

/// What the phases before the context found: the path as the client sent it, when they
/// changed it (signatures are computed over what the client sent), and the stage a
/// stage-path domain read from it.
pub(crate) struct Arrival {
    pub(crate) client_path: Option<String>,
    pub(crate) stage: stage::PathStage,
}

/// The normalise and stage-path phases, which run before the context exists because they
/// rewrite the URI every later phase reads.
pub(crate) fn normalize_request(
    compiled: &Compiled,
    parts: &mut http::request::Parts,
) -> (Arrival, Result<(), GatewayError>) {
    let client_path = match normalize::normalize_uri(&parts.uri) {
        Ok(None) => None,
        Ok(Some(uri)) => {
            let original = std::mem::replace(&mut parts.uri, uri);
            Some(original.path().to_string())
        }
        Err(e) => {
            let arrival = Arrival {
                client_path: None,
                stage: stage::PathStage::default(),
            };
            return (arrival, Err(GatewayError::InvalidPath(e.0)));
        }
    };
    let (mut stage, staged) = stage::take(&compiled.router, parts);
    let client_path = client_path.or_else(|| stage.full_path.take());
    (Arrival { client_path, stage }, staged)
}

impl Arrival {
    /// Hands what the early phases found to the context.
    pub(crate) fn settle(&self, ctx: &mut RequestContext<'_>) {
        ctx.path_env = self.stage.env;
        ctx.aws_errors = self.stage.aws_errors;
    }
}

/// The request body as it reaches the pipeline.
pub(crate) enum Inbound {
    Stream(ClientBody),
    /// Already in memory (online debugging).
    Bytes(Bytes),
}

/// Renders an error, lets the policies decorate whatever goes back, and tells the observers how the
/// request ended.
pub(crate) fn finish(ctx: &mut RequestContext<'_>, result: Result<Answer, GatewayError>) -> Answer {
    let (mut response, failure) = match result {
        Ok(response) => (response, None),
        Err(e) => {
            let dialect = match ctx.routed {
                _ if ctx.aws_errors => Dialect::Aws,
                Some(r) => Dialect::of(r.plan.auth.kind),
                None => Dialect::Alibaba,
            };
            (
                error::render_in(dialect, &e, &ctx.request_id).into(),
                Some(e),
            )
        }
    };
    policies::on_response(ctx, &mut response);
    let router = &ctx.compiled.router;
    let finished = Finished {
        request_id: &ctx.request_id,
        method: &ctx.parts.method,
        path: ctx.parts.uri.path(),
        status: response.status,
        error: failure.as_ref(),
        // Fresh: a request answered within one poll took more than nothing.
        took: clock::fresh().saturating_duration_since(ctx.start),
        route: ctx.routed.map(|r| FinishedRoute {
            group: router.group_id(r.group),
            environment: router.environment_name(r.env),
            plan: r.plan,
        }),
        app_id: ctx.app_id(),
        identity_headers: &ctx.caller.identity_headers,
        host: ctx.host,
        client: ctx.client,
        bytes_in: ctx.body_len,
        bytes_out: http_body::Body::size_hint(&response.body).exact(),
    };
    ctx.observers.done(&finished);
    let plan = ctx.routed.map(|r| r.plan);
    ctx.observers.metrics.count_body(plan, response)
}

/// Runs a phase; the one place observers hear of phases. The clock is read only when an
/// observer times them.
/// `phase!(observers, "name" if timed, call)` times it only when `timed`.
macro_rules! phase {
    ($observers:expr, $name:literal, $call:expr) => {
        phase!($observers, $name if true, $call)
    };
    ($observers:expr, $name:literal if $timed:expr, $call:expr) => {{
        let started = ($timed && $observers.times_phases()).then(std::time::Instant::now);
        let result = $call;
        if let Some(started) = started {
            $observers.phase($name, started.elapsed(), result.as_ref().err());
        }
        result?
    }};
}

pub(crate) async fn run(
    ctx: &mut RequestContext<'_>,
    client: &HttpClient,
    inbound: Inbound,
) -> Result<Answer, GatewayError> {
    let route = phase!(ctx.observers, "route", route::route(ctx));
    ctx.observers.routed(&route.info(ctx.compiled, ctx.host));
    if let Some(redirect) = phase!(ctx.observers, "protocol", protocol::check(ctx, route.plan)) {
        return Ok(redirect.into());
    }
    let body = match inbound {
        Inbound::Stream(body) => RequestBody::Stream(body),
        Inbound::Bytes(bytes) => RequestBody::Buffered {
            bytes,
            is_form: alibaba::is_form(&ctx.parts.headers),
        },
    };
    // The buffered body, kept here so that the values can borrow it while the body moves on.
    let buffered;
    let mut routed = Routed::new(ctx, route, body);
    if routed.route.preflight {
        return Ok(phase!(
            routed.ctx.observers,
            "cors",
            policies::preflight(&mut routed)
        )
        .into());
    }
    phase!(
        routed.ctx.observers,
        "read body",
        read_body(&mut routed).await
    );
    let is_form;
    (buffered, is_form) = match &routed.body {
        RequestBody::Buffered { bytes, is_form } => (Some(bytes.clone()), *is_form),
        RequestBody::Stream(_) => (None, false),
    };
    let form_text = match &buffered {
        Some(bytes) if is_form => Some(
            std::str::from_utf8(bytes)
                .map_err(|_| GatewayError::RequestBody("form body is not UTF-8".into()))?,
        ),
        _ => None,
    };
    routed.values = phase!(
        routed.ctx.observers,
        "validate",
        validate::validate(&routed, form_text)
    );
    let plan = routed.plan();
    routed.ctx.observers.parameters(plan, &routed.values);
    let view = authenticate::BodyView {
        bytes: buffered.as_deref(),
        form: form_text,
    };
    phase!(
        routed.ctx.observers,
        "authenticate",
        authenticate::authenticate(&mut routed, view).await
    );
    phase!(
        routed.ctx.observers,
        "authorize",
        authorize::authorize(&routed)
    );
    if let Some(answer) = phase!(
        routed.ctx.observers,
        "limit",
        policies::on_request(&mut routed)
    ) {
        return Ok(answer.into());
    }

    let backend = plan.backend.as_ref().map_err(|why| match why {
        Unservable::Internal(m) => GatewayError::Internal(m.clone()),
        Unservable::Unavailable(m) => GatewayError::ServiceUnavailable(m.clone()),
    })?;
    let mut outgoing = match backend.target.base_path() {
        Some(base_path) => Some(phase!(
            routed.ctx.observers,
            "forward",
            forward::build(&mut routed, backend, base_path)
        )),
        None => None,
    };
    if let crate::backend::Target::Function(function) = &backend.target
        && let Some(out) = outgoing.take()
    {
        if routed.ctx.websocket {
            return Err(GatewayError::BackendFailed {
                target: function.label.clone(),
                reason: "a function backend cannot carry a WebSocket".into(),
            });
        }
        // Boxed: a function call's state stays off the pass-through request's future.
        let response = phase!(
            routed.ctx.observers,
            "backend",
            Box::pin(function::call(
                &mut routed,
                function,
                backend.timeout,
                client,
                out
            ))
            .await
        );
        return Ok(respond::respond(routed.ctx, response));
    }
    let ctx = routed.ctx;
    // An upgrade takes a place under the API's cap before the backend is asked.
    let socket = match (&mut outgoing, ctx.websocket) {
        (Some(out), true) => {
            websocket::prepare(ctx.parts, &mut out.headers);
            Some(websocket::OpenSocket::take(plan)?)
        }
        (None, true) => {
            return Err(GatewayError::BackendFailed {
                target: backend.target.describe().into_owned(),
                reason: "this backend kind cannot carry a WebSocket".into(),
            });
        }
        (_, false) => None,
    };
    // A sampled request's backend call is a span of its trace: the backend continues it.
    if let (Some(out), Some(span)) = (&mut outgoing, &ctx.observers.otel) {
        out.headers.insert(TRACEPARENT, span.backend_traceparent());
    }
    if let Some(out) = &outgoing {
        ctx.observers
            .backend_request(&backend.target, out, clock::now());
    }
    // A kind that sends no request answers at once, without a traced backend phase.
    let sends = outgoing.is_some();
    // Awaited where it is made, at one place: the call's future (a kilobyte and more) is then
    // built in the request's own, not built beside it and copied in.
    let (response, sent) = phase!(
        ctx.observers,
        "backend" if sends,
        backend
            .target
            .call(
                client,
                backend.timeout,
                plan.sets_host,
                outgoing,
                &ctx.request_id,
            )
            .await
    );
    // Its own answer goes back as configured; a backend's passes the respond phase.
    let Some(sent) = sent else {
        return Ok(response);
    };
    ctx.observers.backend_sent(&sent);
    ctx.observers
        .backend_response(response.status, &response.headers, clock::now());
    if let Some(socket) = socket
        && websocket::switched(&response)
    {
        return Ok(phase!(
            ctx.observers,
            "websocket",
            websocket::splice(ctx, plan, response, socket)
        ));
    }
    Ok(respond::respond(ctx, response))
}

/// Reads the body into memory when a phase needs it whole: a form whose parameters are read,
/// written or signed, or a signed body whose Content-MD5 is checked. Any other body streams.
async fn read_body(routed: &mut Routed<'_, '_>) -> Result<(), GatewayError> {
    let RequestBody::Stream(_) = &routed.body else {
        return Ok(());
    };
    let plan = routed.plan();
    let headers = &routed.ctx.parts.headers;
    let is_form = alibaba::is_form(headers);
    let signed = plan.auth.kind == AuthType::App;
    let wanted = (is_form && (plan.reads_form || plan.writes_form || signed))
        || (signed && headers.contains_key(CONTENT_MD5));
    if !wanted {
        return Ok(());
    }
    let RequestBody::Stream(body) = routed.take_body() else {
        return Ok(());
    };
    routed.body = RequestBody::Buffered {
        bytes: read_whole(body, MAX_BUFFERED_BODY).await?,
        is_form,
    };
    Ok(())
}
