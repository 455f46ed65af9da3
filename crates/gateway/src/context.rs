//! The per-request context the phases share (Pingora's `CTX`): who called, what was matched,
//! and the request id every response carries.

use std::net::SocketAddr;
use std::time::Instant;

use http::request::Parts;
use http::{HeaderName, HeaderValue};
use pylon_router::{EnvId, GroupId};

use crate::compiled::access::AppIdx;
use crate::compiled::{ApiPlan, Compiled};
use crate::trace::Trace;

/// A UUID v4, uppercase and hyphenated, generated once per request.
#[derive(Debug, Clone)]
pub(crate) struct RequestId {
    text: [u8; 36],
}

impl RequestId {
    pub(crate) fn generate() -> Self {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&next_random().to_le_bytes());
        bytes[8..].copy_from_slice(&next_random().to_le_bytes());
        let mut text = [0u8; 36];
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .hyphenated()
            .encode_upper(&mut text);
        Self { text }
    }

    pub(crate) fn as_str(&self) -> &str {
        // Always ASCII: written by `encode_upper`.
        std::str::from_utf8(&self.text).unwrap_or_default()
    }

    pub(crate) fn header_value(&self) -> HeaderValue {
        HeaderValue::from_bytes(&self.text).unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

/// A per-thread wyrand generator seeded from the OS once: request ids must be unique, not
/// secret, and a `getrandom` system call per request showed in profiles.
fn next_random() -> u64 {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new(uuid::Uuid::new_v4().as_u64_pair().0);
    }
    STATE.with(|state| {
        let s = state.get().wrapping_add(0xa076_1d64_78bd_642f);
        state.set(s);
        let t = u128::from(s).wrapping_mul(u128::from(s ^ 0xe703_7ed1_a0b4_28db));
        ((t >> 64) ^ t) as u64
    })
}

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
    pub(crate) fn new(compiled: &'a Compiled, parts: &'a Parts, peer: SocketAddr) -> Self {
        let host = parts
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| parts.uri.authority().map(|a| a.as_str()))
            .unwrap_or("");
        Self {
            compiled,
            parts,
            client_path: parts.uri.path(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_uppercase_uuid_v4() {
        let id = RequestId::generate();
        let s = id.as_str();
        assert_eq!(s.len(), 36);
        assert_eq!(s, s.to_ascii_uppercase());
        let parsed = uuid::Uuid::parse_str(s).unwrap();
        assert_eq!(parsed.get_version_num(), 4);
        assert_ne!(s, RequestId::generate().as_str());
        assert_eq!(id.header_value(), s);
    }

    #[test]
    fn request_ids_do_not_repeat() {
        let ids: std::collections::HashSet<String> = (0..10_000)
            .map(|_| RequestId::generate().as_str().to_string())
            .collect();
        assert_eq!(ids.len(), 10_000);
    }
}
