//! Online debugging: the recorder a traced request carries among its observers, and the
//! [`DebugTrace`] it produces. Untraced requests pay one `Option` check per hook.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::Serialize;

use super::observer::{Finished, FunctionCall, Observer, RouteInfo};
use crate::backend::Target;
use crate::backend::send::Sent;
use crate::compiled::ApiPlan;
use crate::error::GatewayError;
use crate::policy::kind::Decision;
use crate::request::outgoing::{OutBody, Outgoing};
use crate::request::values::Values;
use crate::response::Fields;

/// Bodies are shown up to this many bytes.
const MAX_SHOWN_BODY: usize = 64 * 1024;

/// What happened to one request, phase by phase.
#[derive(Debug, Default, Clone, Serialize)]
pub struct DebugTrace {
    /// The request as the gateway received it (signed, when the gateway signed it).
    pub request: HttpMessage,
    /// Which group, environment and API served the request, and why.
    pub route: Option<RouteTrace>,
    /// The declared parameters as extracted and checked.
    pub parameters: Vec<ParameterTrace>,
    /// Who the authenticate phase found.
    pub caller: Option<CallerTrace>,
    /// The request exactly as sent to the backend (`None` if no backend was called).
    pub backend_request: Option<HttpMessage>,
    /// How the backend connection was secured, when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend_tls: Option<BackendTlsTrace>,
    pub backend_response: Option<HttpMessage>,
    /// A function backend's call: the event sent and the raw answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function: Option<FunctionTrace>,
    /// What the client got.
    pub response: HttpMessage,
    /// The gateway's own error, with the message a client would get.
    pub error: Option<ErrorTrace>,
    pub phases: Vec<PhaseTrace>,
    /// What each of the API's policies decided, in the order they ran.
    pub policies: Vec<PolicyTrace>,
    pub total_us: u64,
}

/// A function backend's call.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FunctionTrace {
    /// The hosted function's name, or the endpoint's.
    pub function: String,
    /// Where the event went.
    pub target: String,
    /// `aliyun-fc`, `tencent-scf` or `aws-lambda`.
    pub format: String,
    pub response_integration: bool,
    /// The event as sent (up to 64 KiB shown).
    pub event: String,
    pub event_bytes: usize,
    /// The function's answer as it came, before response integration (`None`: no answer).
    pub answer: Option<String>,
    pub answer_bytes: usize,
    /// Hosted functions: whether a worker had to be started for the call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cold_start: Option<bool>,
    pub duration_us: u64,
}

/// The TLS of a backend connection.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BackendTlsTrace {
    /// `TLSv1.3` or `TLSv1.2`.
    pub version: String,
    /// What ALPN chose: `h2` or `http/1.1`.
    pub protocol: String,
    /// The name the backend's certificate was verified for, or `not verified (insecure)`.
    pub verified: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PolicyTrace {
    /// The policy's kind (`cors`, `ip-control`).
    pub kind: String,
    /// `pass`, `answered <status>`, or `refused: <the client's error message>`.
    pub decision: String,
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct HttpMessage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Path and query (and, for the backend, the target it went to).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub headers: Vec<(String, String)>,
    /// UTF-8 text (lossy), cut at 64 KiB.
    pub body: String,
    pub body_bytes: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct RouteTrace {
    pub host: String,
    pub group_id: String,
    pub environment: String,
    /// `domain` (the Host is bound to the environment), `X-Ca-Stage`, or `default` (RELEASE).
    pub environment_from: String,
    pub api_id: String,
    pub api_name: String,
    /// The API's method and path pattern the request matched.
    pub api_method: String,
    pub api_path: String,
    pub path_parameters: Vec<(String, String)>,
    /// Set when the request was a CORS preflight answered by the gateway.
    pub preflight: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ParameterTrace {
    pub name: String,
    pub location: String,
    pub value: Option<String>,
    pub from_default: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct CallerTrace {
    pub scheme: String,
    pub app_id: Option<String>,
    /// Headers authentication adds for the backend (JWT claims).
    pub identity_headers: Vec<(String, String)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ErrorTrace {
    pub status: u16,
    pub code: String,
    /// `X-Ca-Error-Message`, as a client sees it.
    pub message: String,
    /// What the gateway log says (may name internals; the admin API is trusted).
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PhaseTrace {
    pub name: &'static str,
    pub duration_us: u64,
    /// The client-facing message when the phase refused the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The recorder a traced request carries among its observers.
#[derive(Default)]
pub(crate) struct Trace {
    pub(crate) out: DebugTrace,
}

impl Observer for Trace {
    fn times_phases(&self) -> bool {
        true
    }

    fn wants_detail(&self) -> bool {
        true
    }

    fn phase(&mut self, name: &'static str, took: Duration, error: Option<&GatewayError>) {
        self.out.phases.push(PhaseTrace {
            name,
            duration_us: u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            error: error.map(GatewayError::message),
        });
    }

    fn policies(&mut self, decisions: &[Decision]) {
        self.out.policies = decisions
            .iter()
            .map(|d| PolicyTrace {
                kind: d.kind.to_string(),
                decision: d.outcome.clone(),
            })
            .collect();
    }

    fn routed(&mut self, r: &RouteInfo<'_>) {
        self.out.route = Some(RouteTrace {
            host: r.host.to_string(),
            group_id: r.group.to_string(),
            environment: r.environment.to_string(),
            environment_from: r.environment_from.into(),
            api_id: r.plan.api_id.clone(),
            api_name: r.plan.api_name.clone(),
            api_method: r.plan.request_method.clone(),
            api_path: r.plan.request_path.clone(),
            path_parameters: r
                .params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            preflight: r.preflight,
        });
    }

    fn parameters(&mut self, plan: &ApiPlan, values: &Values<'_>) {
        self.out.parameters = plan
            .params
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let v = values.get(i);
                ParameterTrace {
                    name: p.name.clone(),
                    location: format!("{:?}", p.location).to_ascii_lowercase(),
                    value: v.map(|v| v.text.to_string()),
                    from_default: v.is_some_and(|v| v.from_default),
                }
            })
            .collect();
    }

    fn backend_request(&mut self, target: &Target, out: &Outgoing<'_>, _at: Instant) {
        let target = target.describe();
        let body = match &out.body {
            OutBody::Empty => Bytes::new(),
            OutBody::Bytes(b) => b.clone(),
            // Traced requests arrive whole, so their bodies never stream.
            OutBody::Stream(_) => Bytes::from_static(b"(streamed)"),
        };
        self.out.backend_request = Some(message(
            Some(out.method.as_str()),
            Some(format!("{target} {}", out.path_and_query)),
            None,
            &out.headers.to_map(),
            &body,
        ));
    }

    /// Completes the recorded backend request with the address actually called (an
    /// upstream's chosen target) and the Host header set for it.
    fn backend_sent(&mut self, sent: &Sent<'_>) {
        let Some(request) = self.out.backend_request.as_mut() else {
            return;
        };
        let path = request
            .url
            .as_deref()
            .and_then(|u| u.rsplit_once(' ').map(|(_, p)| p))
            .unwrap_or("/")
            .to_string();
        let scheme = if sent.verified.is_some() {
            "https"
        } else {
            "http"
        };
        request.url = Some(format!("{scheme}://{}{path}", sent.authority));
        if let Some(host) = sent.host {
            let value = String::from_utf8_lossy(host.as_bytes()).into_owned();
            request.headers.insert(0, ("host".into(), value));
        }
        if let (Some(version), Some(verified)) = (sent.negotiated.tls, sent.verified) {
            self.out.backend_tls = Some(BackendTlsTrace {
                version: version.into(),
                protocol: if sent.negotiated.h2 { "h2" } else { "http/1.1" }.into(),
                verified: verified.into(),
            });
        }
    }

    fn backend_response(&mut self, status: StatusCode, headers: &Fields, _at: Instant) {
        let headers = headers.to_map();
        self.out.backend_response = Some(message(None, None, Some(status.as_u16()), &headers, &[]));
    }

    fn function_call(&mut self, call: &FunctionCall<'_>) {
        let shown =
            |b: &[u8]| String::from_utf8_lossy(&b[..b.len().min(MAX_SHOWN_BODY)]).into_owned();
        self.out.function = Some(FunctionTrace {
            function: call.target.name.clone(),
            target: call.target.label.clone(),
            format: call.target.format.as_str().into(),
            response_integration: call.target.integration,
            event: shown(call.event),
            event_bytes: call.event.len(),
            answer: call.answer.map(shown),
            answer_bytes: call.answer.map_or(0, <[u8]>::len),
            cold_start: call.cold_start,
            duration_us: u64::try_from(call.took.as_micros()).unwrap_or(u64::MAX),
        });
    }

    fn done(&mut self, finished: &Finished<'_>) {
        if let Some(r) = &finished.route {
            self.out.caller = Some(CallerTrace {
                scheme: format!("{:?}", r.plan.auth.kind).to_ascii_lowercase(),
                app_id: finished.app_id.map(str::to_string),
                identity_headers: finished
                    .identity_headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
                    .collect(),
            });
        }
        self.out.error = finished.error.map(|e| ErrorTrace {
            status: e.status().as_u16(),
            code: e.code().to_string(),
            message: e.message(),
            detail: e.to_string(),
        });
        self.out.total_us = u64::try_from(finished.took.as_micros()).unwrap_or(u64::MAX);
    }
}

pub(crate) fn message(
    method: Option<&str>,
    url: Option<String>,
    status: Option<u16>,
    headers: &HeaderMap,
    body: &[u8],
) -> HttpMessage {
    HttpMessage {
        method: method.map(str::to_string),
        url,
        status,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
            .collect(),
        body: String::from_utf8_lossy(&body[..body.len().min(MAX_SHOWN_BODY)]).into(),
        body_bytes: body.len(),
    }
}

/// Reads a response body for the trace, up to a limit (the rest is not shown anyway).
pub(crate) async fn collect(body: crate::request::body::GatewayBody) -> Bytes {
    use http_body_util::BodyExt;
    let read = http_body_util::Limited::new(body, 16 * MAX_SHOWN_BODY).collect();
    match tokio::time::timeout(Duration::from_secs(60), read).await {
        Ok(Ok(c)) => c.to_bytes(),
        Ok(Err(e)) => Bytes::from(format!("(body could not be read: {e})")),
        Err(_) => Bytes::from_static(b"(body still streaming after 60 s)"),
    }
}
