//! The per-request context the phases share (Pingora's `CTX`): who called, what was matched,
//! and the request id every response carries.

use std::net::SocketAddr;
use std::time::Instant;

use http::request::Parts;
use http::{HeaderName, HeaderValue};
use pylon_router::{EnvId, GroupId};

use crate::compiled::access::AppIdx;
use crate::compiled::{ApiPlan, Compiled};
use crate::request::id::RequestId;
use crate::trace::Trace;

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
}

/// What chose a request's environment, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EnvFrom {
    /// The Host is a domain bound to one environment.
    Domain,
    /// `X-Ca-Stage`.
    Header,
    /// Neither: RELEASE.
    Default,
}

impl EnvFrom {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            EnvFrom::Domain => "domain",
            EnvFrom::Header => "X-Ca-Stage",
            EnvFrom::Default => "default",
        }
    }
}

/// The app the authenticate phase established.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Caller {
    pub(crate) app: AppIdx,
}

pub(crate) struct RequestContext<'a> {
    pub(crate) compiled: &'a Compiled,
    pub(crate) parts: &'a Parts,
    /// The path as the client sent it, before normalisation: what signatures cover.
    pub(crate) client_path: &'a str,
    pub(crate) peer: SocketAddr,
    pub(crate) request_id: RequestId,
    pub(crate) start: Instant,
    /// The Host the client asked for (Host header, or the HTTP/2 authority).
    pub(crate) host: &'a str,
    pub(crate) route: Option<Route<'a>>,
    /// A CORS preflight for an API with a CORS policy: answered by the gateway.
    pub(crate) preflight: bool,
    /// Set by `app` and `key-pair` authentication.
    pub(crate) caller: Option<Caller>,
    /// Headers the authenticate phase adds to the backend request (JWT claims).
    pub(crate) identity_headers: Vec<(HeaderName, HeaderValue)>,
    /// Present only on online-debugging requests.
    pub(crate) trace: Option<Box<Trace>>,
}

impl<'a> RequestContext<'a> {
    /// `client_path`: the path as the client sent it, when normalising changed it.
    pub(crate) fn new(
        compiled: &'a Compiled,
        parts: &'a Parts,
        peer: SocketAddr,
        client_path: Option<&'a str>,
    ) -> Self {
        let host = parts
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| parts.uri.authority().map(|a| a.as_str()))
            .unwrap_or("");
        Self {
            compiled,
            parts,
            client_path: client_path.unwrap_or(parts.uri.path()),
            peer,
            request_id: RequestId::generate(),
            start: Instant::now(),
            host,
            route: None,
            preflight: false,
            caller: None,
            identity_headers: Vec::new(),
            trace: None,
        }
    }
}
