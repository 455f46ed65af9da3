//! The per-request context the phases share (Pingora's `CTX`): `RequestContext` before the
//! route phase (the request, its id, the caller, the observers), `Routed` after it, where what
//! was matched is a field rather than an `Option` every phase would re-check.

use std::time::Instant;

use http::request::Parts;
use http::{HeaderMap, HeaderName, HeaderValue};
use pylon_router::{EnvId, GroupId};

use crate::clock;
use crate::compiled::access::AppIdx;
use crate::compiled::{ApiPlan, Compiled};
use crate::observe::Observers;
use crate::observe::log::sink::AccessLogSink;
use crate::observe::observer::RouteInfo;
use crate::policy::kind::PolicyRequest;
use crate::request::client::Peer;
use crate::request::headers::KnownHeaders;
use crate::request::id::RequestId;
use crate::request::outgoing::RequestBody;
use crate::request::values::Values;

/// Wall-clock epoch milliseconds: timestamps, nonces and grant expiry are all in these units.
pub(crate) use pylon_auth::now_ms;

/// What the route phase found.
pub(crate) struct Route<'a> {
    pub(crate) group: GroupId,
    pub(crate) env: EnvId,
    /// What chose `env`, for the debug trace.
    pub(crate) env_from: EnvFrom,
    pub(crate) plan: &'a ApiPlan,
    /// Path parameters as matched, raw (still percent-encoded).
    pub(crate) params: Vec<(&'a str, &'a str)>,
    /// The unmatched suffix of a prefix match.
    pub(crate) rest: &'a str,
    /// A CORS preflight for an API whose policies answer it, routed as the method it announces.
    pub(crate) preflight: bool,
}

/// What the work after the phases (response policies, access log, trace) needs to know of a
/// routed request; the route phase sets it once.
#[derive(Clone, Copy)]
pub(crate) struct RouteSummary<'a> {
    pub(crate) group: GroupId,
    pub(crate) env: EnvId,
    pub(crate) plan: &'a ApiPlan,
    pub(crate) preflight: bool,
}

impl<'a> Route<'a> {
    /// What observers are told of the route; `host` is the one the client asked for.
    pub(crate) fn info<'i>(&'i self, compiled: &'i Compiled, host: &'i str) -> RouteInfo<'i> {
        let router = &compiled.router;
        RouteInfo {
            host,
            group: router.group_id(self.group),
            environment: router.environment_name(self.env),
            environment_from: self.env_from.as_str(),
            plan: self.plan,
            params: &self.params,
            preflight: self.preflight,
        }
    }

    pub(crate) fn summary(&self) -> RouteSummary<'a> {
        RouteSummary {
            group: self.group,
            env: self.env,
            plan: self.plan,
            preflight: self.preflight,
        }
    }
}

/// What chose a request's environment, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EnvFrom {
    /// The Host is a domain bound to one environment.
    Domain,
    /// The path's first segment, on a stage-path domain.
    Path,
    /// `X-Ca-Stage`.
    Header,
    /// Neither: RELEASE.
    Default,
}

impl EnvFrom {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            EnvFrom::Domain => "domain",
            EnvFrom::Path => "path",
            EnvFrom::Header => "X-Ca-Stage",
            EnvFrom::Default => "default",
        }
    }
}

/// Who the authenticate phase found; empty until then, and for APIs without apps.
#[derive(Debug, Default)]
pub(crate) struct Caller {
    /// Set by `app` and `key-pair` authentication.
    pub(crate) app: Option<AppIdx>,
    /// Set by `key-pair` (the key id) and `jwt` (the `sub` claim) authentication.
    pub(crate) user: Option<Box<str>>,
    /// Headers the authenticate phase adds to the backend request (JWT claims).
    pub(crate) identity_headers: Vec<(HeaderName, HeaderValue)>,
}

/// The context before routing: what the listener and the request give every phase.
pub(crate) struct RequestContext<'a> {
    pub(crate) compiled: &'a Compiled,
    /// The request head, without its extensions (see `extensions`).
    pub(crate) parts: &'a Parts,
    /// The headers of `parts` the phases read by name.
    pub(crate) known: KnownHeaders<'a>,
    /// The request's extensions, owned, so that a phase can take hyper's upgrade handle
    /// (`OnUpgrade`) out of them.
    pub(crate) extensions: http::Extensions,
    /// The path as the client sent it, before normalisation: what signatures cover.
    pub(crate) client_path: &'a str,
    /// The connection's peer.
    pub(crate) peer: &'a Peer,
    /// The client's address: the peer's, or what a trusted proxy says (`request::client`).
    pub(crate) client: std::net::IpAddr,
    pub(crate) request_id: RequestId,
    pub(crate) start: Instant,
    /// The Host the client asked for (Host header, or the HTTP/2 authority).
    pub(crate) host: &'a str,
    /// Whether the request came over TLS.
    pub(crate) secure: bool,
    /// The request asks to become a WebSocket (`Upgrade: websocket`).
    pub(crate) websocket: bool,
    /// The environment the path named, on a stage-path domain.
    pub(crate) path_env: Option<pylon_router::EnvId>,
    /// The domain answers errors in AWS's shape.
    pub(crate) aws_errors: bool,
    /// The HTTPS listener's port, if one runs.
    pub(crate) https_port: Option<u16>,
    /// Set by the route phase.
    pub(crate) routed: Option<RouteSummary<'a>>,
    pub(crate) caller: Caller,
    /// Headers the policies add to whatever response goes back (`X-RateLimit-*`).
    pub(crate) policy_headers: HeaderMap,
    /// Who watches this request: the access log, and the recorder of a debugged request.
    pub(crate) observers: Observers<'a>,
    /// The request body's declared length, for the access log (`None`: streamed without one).
    pub(crate) body_len: Option<u64>,
}

impl<'a> RequestContext<'a> {
    /// `parts` comes without its extensions, which are handed over in `extensions`;
    /// `client_path`: the path as the client sent it, when normalising changed it;
    /// `access_log`: where the request's access-log line goes.
    pub(crate) fn new(
        compiled: &'a Compiled,
        parts: &'a Parts,
        extensions: http::Extensions,
        peer: &'a Peer,
        client_path: Option<&'a str>,
        access_log: &'a AccessLogSink,
    ) -> Self {
        let known = KnownHeaders::of(&parts.headers);
        let host = host_of(parts, known.host);
        Self {
            compiled,
            parts,
            extensions,
            client_path: client_path.unwrap_or(parts.uri.path()),
            client: peer.addr.ip().to_canonical(),
            peer,
            request_id: RequestId::generate(),
            start: clock::now(),
            host,
            secure: false,
            websocket: crate::request::headers::asks_for_websocket(parts, &known),
            known,
            path_env: None,
            aws_errors: false,
            https_port: None,
            routed: None,
            caller: Caller::default(),
            policy_headers: HeaderMap::new(),
            observers: Observers::new(access_log, &compiled.metrics),
            body_len: None,
        }
    }

    /// What the policies of the routed API see of this request.
    pub(crate) fn policy_request<'r>(&'r self, route: &'r RouteSummary<'a>) -> PolicyRequest<'r> {
        PolicyRequest {
            method: &self.parts.method,
            uri: &self.parts.uri,
            headers: &self.parts.headers,
            peer: self.peer.addr,
            client: self.client,
            app_id: self.app_id(),
            user: self.caller.user.as_deref(),
            api_id: &route.plan.api_id,
            environment: &route.plan.environment,
            request_id: &self.request_id,
            preflight: route.preflight,
        }
    }

    /// The caller's app id, if one authenticated.
    pub(crate) fn app_id(&self) -> Option<&'a str> {
        self.caller.app.map(|app| self.compiled.apps.id(app))
    }
}

/// The Host the client asked for: the Host header, or the HTTP/2 authority.
pub(crate) fn request_host(parts: &Parts) -> &str {
    host_of(parts, parts.headers.get(http::header::HOST))
}

/// The Host the client asked for: `header`, its `Host`, or the HTTP/2 authority.
fn host_of<'a>(parts: &'a Parts, header: Option<&'a HeaderValue>) -> &'a str {
    header
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))
        .unwrap_or("")
}

/// The context after routing: what every later phase reads is a field, not an `Option`.
/// `values` may borrow from a buffered body the caller keeps in a local that outlives this.
pub(crate) struct Routed<'r, 'a> {
    pub(crate) ctx: &'r mut RequestContext<'a>,
    pub(crate) route: Route<'a>,
    /// The client's body: streaming, or read whole by the read-body phase. The forward phase
    /// takes it.
    pub(crate) body: RequestBody,
    /// The declared parameters, once the validate phase has extracted them.
    pub(crate) values: Values<'r>,
}

impl<'r, 'a> Routed<'r, 'a> {
    pub(crate) fn new(
        ctx: &'r mut RequestContext<'a>,
        route: Route<'a>,
        body: RequestBody,
    ) -> Self {
        Routed {
            ctx,
            route,
            body,
            values: Values::default(),
        }
    }

    pub(crate) fn plan(&self) -> &'a ApiPlan {
        self.route.plan
    }

    /// Hands the body on (to the backend request); an empty body stays behind.
    pub(crate) fn take_body(&mut self) -> RequestBody {
        std::mem::replace(
            &mut self.body,
            RequestBody::Buffered {
                bytes: bytes::Bytes::new(),
                is_form: false,
            },
        )
    }
}
