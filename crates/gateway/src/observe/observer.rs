//! The observer interface: what the pipeline tells whoever watches requests (the access log,
//! the debug trace, the metrics). Every hook defaults to nothing, so an observer implements
//! only what it records.

use std::time::{Duration, Instant};

use http::{HeaderName, HeaderValue, StatusCode};

use crate::backend::Target;
use crate::backend::function::FunctionTarget;
use crate::backend::send::Sent;
use crate::compiled::ApiPlan;
use crate::error::GatewayError;
use crate::policy::kind::Decision;
use crate::request::id::RequestId;
use crate::request::outgoing::Outgoing;
use crate::request::values::Values;
use crate::response::Fields;

/// The route phase's finding, as observers see it.
pub(crate) struct RouteInfo<'i> {
    pub(crate) host: &'i str,
    pub(crate) group: &'i str,
    pub(crate) environment: &'i str,
    /// What chose the environment: `domain`, `X-Ca-Stage` or `default`.
    pub(crate) environment_from: &'static str,
    pub(crate) plan: &'i ApiPlan,
    /// Path parameters as matched, raw.
    pub(crate) params: &'i [(&'i str, &'i str)],
    pub(crate) preflight: bool,
}

/// A routed request's group, environment and API, by name.
pub(crate) struct FinishedRoute<'f> {
    pub(crate) group: &'f str,
    pub(crate) environment: &'f str,
    pub(crate) plan: &'f ApiPlan,
}

/// A request as it ended, answered or refused.
pub(crate) struct Finished<'f> {
    pub(crate) request_id: &'f RequestId,
    pub(crate) method: &'f http::Method,
    pub(crate) path: &'f str,
    pub(crate) status: StatusCode,
    pub(crate) error: Option<&'f GatewayError>,
    pub(crate) took: Duration,
    /// `None` when no API matched.
    pub(crate) route: Option<FinishedRoute<'f>>,
    pub(crate) app_id: Option<&'f str>,
    /// What the authenticate phase added for the backend (JWT claims).
    pub(crate) identity_headers: &'f [(HeaderName, HeaderValue)],
    /// The Host the client asked for.
    pub(crate) host: &'f str,
    /// The client's address, as the pipeline decided it (the peer, or a trusted proxy's word).
    pub(crate) client: std::net::IpAddr,
    /// The request body's declared length (`Content-Length`, or its size when in memory);
    /// `None` when it streams without one.
    pub(crate) bytes_in: Option<u64>,
    /// The response body's length as the response goes out, by the same rule.
    pub(crate) bytes_out: Option<u64>,
}

/// A function call, as it ended.
pub(crate) struct FunctionCall<'c> {
    pub(crate) target: &'c FunctionTarget,
    /// The event sent.
    pub(crate) event: &'c [u8],
    /// The function's answer as it came, when one came.
    pub(crate) answer: Option<&'c [u8]>,
    /// Hosted functions: whether a worker had to be started.
    pub(crate) cold_start: Option<bool>,
    pub(crate) took: Duration,
    /// Why the call failed, when it did.
    pub(crate) failure: Option<&'c GatewayError>,
}

pub(crate) trait Observer {
    /// Whether phases are to be timed: a clock read per phase is spent only when someone reads
    /// the result.
    fn times_phases(&self) -> bool {
        false
    }

    /// Whether to work out what only a person reads (why no API matched).
    fn wants_detail(&self) -> bool {
        false
    }

    fn phase(&mut self, _name: &'static str, _took: Duration, _error: Option<&GatewayError>) {}

    fn routed(&mut self, _route: &RouteInfo<'_>) {}

    /// The declared parameters, as the validate phase extracted them.
    fn parameters(&mut self, _plan: &ApiPlan, _values: &Values<'_>) {}

    /// What each of the API's policies decided, in the order they ran.
    fn policies(&mut self, _decisions: &[Decision]) {}

    /// The backend request as built, before a target is chosen, `at` that moment: the
    /// pipeline reads the clock once for every observer.
    fn backend_request(&mut self, _target: &Target, _out: &Outgoing<'_>, _at: Instant) {}

    /// Where the backend request went.
    fn backend_sent(&mut self, _sent: &Sent<'_>) {}

    /// The backend's response head, as it came, `at` its arrival.
    fn backend_response(&mut self, _status: StatusCode, _headers: &Fields, _at: Instant) {}

    /// A function backend's call: the event, the raw answer, how it went.
    fn function_call(&mut self, _call: &FunctionCall<'_>) {}

    fn done(&mut self, _finished: &Finished<'_>) {}
}
