//! What a policy kind implements: the [`Policy`] hooks, the narrow view of a request they
//! take, and what a policy is compiled for. Kinds and the registry build on this; it imports
//! neither.

use std::fmt::Debug;
use std::net::SocketAddr;

use http::{HeaderMap, Method, Response, Uri};

use super::state::PolicyStates;
use crate::error::GatewayError;
use crate::request::body::GatewayBody;
use crate::request::id::RequestId;
use crate::response::Fields;

/// One compiled policy of an API in an environment. Every hook defaults to doing nothing.
pub(crate) trait Policy: Send + Sync + Debug {
    /// The kind, as configurations name it (`cors`), for the debug trace.
    fn kind(&self) -> &'static str;

    /// Policies run highest first (APISIX's order): a cheap refusal before a costly check.
    fn priority(&self) -> i32;

    /// Whether this policy answers CORS preflights, which the route phase then routes as the
    /// method they announce instead of as `OPTIONS`.
    fn answers_preflight(&self) -> bool {
        false
    }

    /// Runs after authorization (for a preflight, right after routing); may answer the request
    /// itself (a preflight) or refuse it (an address, a throttle), or add headers to the
    /// response that goes back (`response_headers`: a throttle's `X-RateLimit-*`).
    fn on_request(
        &self,
        _request: &PolicyRequest<'_>,
        _response_headers: &mut HeaderMap,
    ) -> Result<Option<Response<GatewayBody>>, GatewayError> {
        Ok(None)
    }

    /// Runs on every response of a routed request, the backend's and the gateway's own errors
    /// alike; may add headers.
    fn on_response(&self, _request: &PolicyRequest<'_>, _headers: &mut Fields) {}
}

/// What a policy sees of a request: not the whole context, so that a policy cannot depend on
/// how the pipeline is built.
#[allow(dead_code, reason = "the seam later policy kinds use")]
pub(crate) struct PolicyRequest<'r> {
    pub(crate) method: &'r Method,
    pub(crate) uri: &'r Uri,
    pub(crate) headers: &'r HeaderMap,
    pub(crate) peer: SocketAddr,
    /// The client's address: the peer's, or what a trusted proxy says it is.
    pub(crate) client: std::net::IpAddr,
    /// The app the authenticate phase found, if any (never set yet for a preflight).
    pub(crate) app_id: Option<&'r str>,
    /// Who the caller is within its app or issuer: the JWT subject, the Tencent key id.
    pub(crate) user: Option<&'r str>,
    pub(crate) api_id: &'r str,
    pub(crate) environment: &'r str,
    /// For the `X-Ca-Request-Id` of an answer the policy gives itself.
    pub(crate) request_id: &'r RequestId,
    /// A CORS preflight routed as the method it announces.
    pub(crate) preflight: bool,
}

/// What one policy decided about a request, for the debug trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decision {
    pub(crate) kind: &'static str,
    /// `pass`, `answered <status>`, or `refused: <the client's error message>`.
    pub(crate) outcome: String,
}

/// What a policy is compiled for: one policy bound to one API in one environment.
#[allow(dead_code, reason = "the seam later policy kinds use")]
pub(crate) struct Binding<'b> {
    /// The policy's id; an inline configuration (the API's `cors`) uses its kind's name.
    pub(crate) policy: &'b str,
    pub(crate) api_id: &'b str,
    pub(crate) environment: &'b str,
    /// The API's own method (`ANY` included), for defaults that follow it.
    pub(crate) api_method: &'b str,
    /// Where state that must outlive a publish (counters) is kept.
    pub(crate) states: &'b PolicyStates,
}

impl Binding<'_> {
    /// The key of this binding's carried state: the same policy on the same API and
    /// environment finds its state again in the next snapshot.
    pub(crate) fn state_key(&self) -> String {
        format!("{}/{}/{}", self.policy, self.api_id, self.environment)
    }
}
