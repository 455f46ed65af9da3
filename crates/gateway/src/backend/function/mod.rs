//! Function backends: an event in one cloud's format sent to a function, and its answer made
//! into the response. The function runs at an HTTP endpoint (reached directly or through an
//! upstream, with the provider's invoke contract) or is hosted by Pylon (`pylon-functions`).

pub(crate) mod answer;
pub(crate) mod event;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderName, HeaderValue, Method, Response};
use http_body_util::{BodyExt, Limited};
use pylon_functions::{FunctionHost, HostedFunction, InvokeError};
use pylon_model::{DEFAULT_LAMBDA_NAME, FunctionFormat, PayloadVersion};

use super::client::HttpClient;
use super::http::HttpTarget;
use super::resolve::{Unservable, render_template};
use super::tls::ClientCertificates;
use super::upstream::{UpstreamTarget, Upstreams};
use crate::error::{FunctionFailure, GatewayError, clean_error_type};
use crate::request::body::{BackendBody, GatewayBody};
use crate::request::outgoing::{OutBody, OutHeaders, Outgoing};
use crate::response::Answer;

/// The largest event or answer (Lambda's synchronous payload limit).
pub(crate) const MAX_PAYLOAD: usize = 6 * 1024 * 1024;

const JSON: HeaderValue = HeaderValue::from_static("application/json");
const X_AMZ_FUNCTION_ERROR: HeaderName = HeaderName::from_static("x-amz-function-error");
const X_FC_STATUS: HeaderName = HeaderName::from_static("x-fc-status");

/// A function backend, resolved for one environment.
#[derive(Debug)]
pub(crate) struct FunctionTarget {
    pub(crate) format: FunctionFormat,
    pub(crate) version: PayloadVersion,
    pub(crate) integration: bool,
    pub(crate) place: Place,
    /// In place of the API's backend timeout.
    pub(crate) timeout: Option<Duration>,
    /// The environment's stage variables, which the Tencent and Lambda events carry.
    pub(crate) stage_variables: BTreeMap<String, String>,
    /// The function's name in metrics and logs: the hosted function's, else the endpoint's.
    pub(crate) name: String,
    /// Where the events go, for the debug trace.
    pub(crate) label: String,
    /// Function Compute's request headers naming the function.
    fc_headers: Vec<(HeaderName, HeaderValue)>,
}

/// Where the function runs.
pub(crate) enum Place {
    /// An endpoint, called at `HttpTarget`'s base path plus the provider's invoke path.
    Http(HttpTarget),
    Upstream(UpstreamTarget),
    Hosted(Arc<HostedFunction>),
}

impl std::fmt::Debug for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::Http(t) => f.debug_tuple("Http").field(t).finish(),
            Place::Upstream(t) => f.debug_tuple("Upstream").field(t).finish(),
            Place::Hosted(h) => f.debug_tuple("Hosted").field(&h.name()).finish(),
        }
    }
}

/// What the configured definition says, gathered for `compile`.
pub(crate) struct FunctionDefinition<'a> {
    pub(crate) format: FunctionFormat,
    pub(crate) integration: bool,
    pub(crate) url: Option<&'a str>,
    pub(crate) upstream: Option<&'a str>,
    pub(crate) hosted: Option<&'a str>,
    pub(crate) name: Option<&'a str>,
    pub(crate) tls: Option<&'a pylon_model::BackendTls>,
    pub(crate) timeout_ms: Option<u64>,
    pub(crate) version: Option<PayloadVersion>,
}

impl FunctionTarget {
    pub(crate) fn compile(
        def: &FunctionDefinition<'_>,
        vars: &BTreeMap<String, String>,
        certificates: &ClientCertificates,
        upstreams: &Upstreams,
        functions: Option<&Arc<FunctionHost>>,
    ) -> Result<Self, Unservable> {
        let name = def.name.unwrap_or(DEFAULT_LAMBDA_NAME);
        // The provider's invoke path under the endpoint's base path.
        let invoke_path = match def.format {
            FunctionFormat::AwsLambda => format!("/2015-03-31/functions/{name}/invocations"),
            FunctionFormat::AliyunFc => "/invoke".to_string(),
            FunctionFormat::TencentScf => String::new(),
        };
        let (place, label, display_name) = match (def.url, def.upstream, def.hosted) {
            (Some(url), _, _) => {
                let mut target = HttpTarget::compile(url, def.tls, vars, certificates)?;
                target.base_path.push_str(&invoke_path);
                let label = format!("{}{}", target.label.trim_end_matches('/'), invoke_path);
                let display = def
                    .name
                    .map(str::to_string)
                    .unwrap_or_else(|| label.clone());
                (Place::Http(target), label, display)
            }
            (None, Some(upstream), _) => {
                let target = UpstreamTarget::compile(upstream, &invoke_path, vars, upstreams)?;
                let label = format!("upstream {}{}", target.upstream.name, invoke_path);
                let display = def
                    .name
                    .map(str::to_string)
                    .unwrap_or_else(|| label.clone());
                (Place::Upstream(target), label, display)
            }
            (None, None, Some(hosted)) => {
                let hosted = render_template(hosted, vars, "hosted function")?;
                let host = functions.ok_or_else(|| {
                    Unservable::Unavailable(format!(
                        "hosted function `{hosted}`: hosting functions is off (start `pylon serve --allow-hosted-functions`)"
                    ))
                })?;
                let function = FunctionHost::get(host, &hosted).ok_or_else(|| {
                    Unservable::Unavailable(format!(
                        "hosted function `{hosted}` does not exist (`pylon function list`)"
                    ))
                })?;
                (
                    Place::Hosted(function),
                    format!("hosted function {hosted}"),
                    hosted,
                )
            }
            (None, None, None) => {
                return Err(Unservable::Internal(
                    "a function backend needs a url, an upstream or a hosted function".into(),
                ));
            }
        };
        let mut fc_headers = Vec::new();
        if def.format == FunctionFormat::AliyunFc
            && let Ok(v) = HeaderValue::from_str(name)
        {
            fc_headers.push((HeaderName::from_static("x-fc-function-name"), v));
        }
        Ok(FunctionTarget {
            format: def.format,
            version: def.version.unwrap_or_default(),
            integration: def.integration,
            place,
            timeout: def.timeout_ms.map(Duration::from_millis),
            stage_variables: vars.clone(),
            name: display_name,
            label,
            fc_headers,
        })
    }

    /// Sends `event` and waits for the answer until `timeout`.
    pub(crate) async fn invoke(
        &self,
        client: &HttpClient,
        event: Bytes,
        timeout: Duration,
        request_id: &str,
    ) -> Invocation {
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + timeout;
        let (answer, cold_start) = match &self.place {
            Place::Hosted(function) => match function.invoke(event, request_id, deadline).await {
                Ok(done) => (Ok(done.body), Some(done.cold_start)),
                Err(e) => (Err(self.failed(hosted_failure(e, timeout))), None),
            },
            Place::Http(t) => {
                let out = self.endpoint_request(event, &t.base_path, timeout, request_id);
                let sent = t.call(client, timeout, false, out).await;
                (
                    self.endpoint_answer(sent.map(|(r, _)| r), deadline, timeout)
                        .await,
                    None,
                )
            }
            Place::Upstream(t) => {
                let out = self.endpoint_request(event, &t.base_path, timeout, request_id);
                let sent = t.call(client, timeout, false, out).await;
                (
                    self.endpoint_answer(sent.map(|(r, _)| r), deadline, timeout)
                        .await,
                    None,
                )
            }
        };
        let raw = answer.as_ref().ok().cloned();
        let response = answer.and_then(|answer| {
            answer::decode(self.format, self.version, self.integration, answer)
                .map_err(|why| self.failed(FunctionFailure::Malformed(why)))
        });
        Invocation {
            response,
            answer: raw,
            cold_start,
            took: started.elapsed(),
        }
    }

    fn failed(&self, failure: FunctionFailure) -> GatewayError {
        GatewayError::Function {
            function: self.label.clone(),
            failure,
        }
    }

    /// The event as a request to the endpoint, with the provider's contract.
    fn endpoint_request(
        &self,
        event: Bytes,
        path: &str,
        timeout: Duration,
        request_id: &str,
    ) -> Outgoing<'static> {
        let mut headers = OutHeaders::with_capacity(6);
        headers.insert(CONTENT_TYPE, JSON);
        match self.format {
            FunctionFormat::AwsLambda => {
                headers.insert(
                    HeaderName::from_static("x-amz-invocation-type"),
                    HeaderValue::from_static("RequestResponse"),
                );
                headers.insert(
                    HeaderName::from_static("x-amz-log-type"),
                    HeaderValue::from_static("None"),
                );
            }
            FunctionFormat::AliyunFc => {
                if let Ok(id) = HeaderValue::from_str(request_id) {
                    headers.insert(HeaderName::from_static("x-fc-request-id"), id);
                }
                headers.insert(
                    HeaderName::from_static("x-fc-function-timeout"),
                    HeaderValue::from(timeout.as_secs().max(1)),
                );
                for (name, value) in &self.fc_headers {
                    headers.insert(name.clone(), value.clone());
                }
            }
            FunctionFormat::TencentScf => {}
        }
        Outgoing {
            method: Method::POST,
            path_and_query: if path.is_empty() {
                "/".into()
            } else {
                path.into()
            },
            headers,
            body: OutBody::Bytes(event),
        }
    }

    /// Reads the endpoint's answer whole, within the deadline.
    async fn endpoint_answer(
        &self,
        sent: Result<Answer<BackendBody>, GatewayError>,
        deadline: tokio::time::Instant,
        timeout: Duration,
    ) -> Result<Bytes, GatewayError> {
        let timed_out = || self.failed(FunctionFailure::Timeout(timeout.as_millis() as u64));
        let response = match sent {
            Ok(response) => response,
            Err(GatewayError::BackendTimeout { .. }) => return Err(timed_out()),
            Err(e) => return Err(e),
        };
        let (parts, body) = response.into_http().into_parts();
        let body = match tokio::time::timeout_at(deadline, read_answer(body)).await {
            Ok(Ok(body)) => body,
            Ok(Err(why)) => return Err(self.failed(FunctionFailure::Malformed(why))),
            Err(_) => return Err(timed_out()),
        };
        self.endpoint_outcome(&parts, body)
    }

    /// Tells the function's own errors (and the endpoint's refusals) from answers.
    fn endpoint_outcome(
        &self,
        parts: &http::response::Parts,
        body: Bytes,
    ) -> Result<Bytes, GatewayError> {
        let status = match (self.format, parts.headers.get(X_FC_STATUS)) {
            // Function Compute's custom runtime reports a failed invocation in x-fc-status.
            (FunctionFormat::AliyunFc, Some(v)) => v
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<u16>().ok())
                .unwrap_or(500),
            _ => parts.status.as_u16(),
        };
        let reported = reported_error(&body);
        let function_error = match self.format {
            FunctionFormat::AwsLambda => {
                parts.headers.contains_key(X_AMZ_FUNCTION_ERROR)
                    || (status == 200 && reported.as_ref().is_some_and(|r| r.only))
            }
            FunctionFormat::AliyunFc => {
                status == 404 || (!(200..300).contains(&status) && reported.is_some())
            }
            FunctionFormat::TencentScf => !(200..300).contains(&status) && reported.is_some(),
        };
        if function_error {
            let (error_type, detail) = reported
                .map(|r| (r.error_type, r.message))
                .unwrap_or_else(|| ("Unhandled".into(), String::new()));
            return Err(self.failed(FunctionFailure::Error { error_type, detail }));
        }
        if !(200..300).contains(&status) {
            let kind = parts
                .headers
                .get("x-amzn-errortype")
                .and_then(|v| v.to_str().ok())
                .map(|t| format!(" {}", clean_error_type(t.split(':').next().unwrap_or(t))))
                .unwrap_or_default();
            return Err(self.failed(FunctionFailure::Endpoint(format!("HTTP {status}{kind}"))));
        }
        Ok(body)
    }
}

/// The answer, whole, up to the payload limit.
async fn read_answer(body: BackendBody) -> Result<Bytes, String> {
    match Limited::new(body, MAX_PAYLOAD).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(format!(
            "the answer is larger than {} MiB",
            MAX_PAYLOAD / (1024 * 1024)
        )),
        Err(e) => Err(format!("the answer was cut off ({e})")),
    }
}

/// An error a function reported in its answer (`{"errorType": .., "errorMessage": ..}`);
/// `only`: the answer has nothing else (no statusCode), as Lambda's error answers do.
struct Reported {
    error_type: String,
    message: String,
    only: bool,
}

fn reported_error(body: &[u8]) -> Option<Reported> {
    let serde_json::Value::Object(object) = serde_json::from_slice(body).ok()? else {
        return None;
    };
    let error_type = object.get("errorType").and_then(|v| v.as_str());
    let message = object.get("errorMessage").and_then(|v| v.as_str());
    if error_type.is_none() && message.is_none() {
        return None;
    }
    Some(Reported {
        error_type: clean_error_type(error_type.unwrap_or("Unhandled")),
        message: message.unwrap_or("").chars().take(200).collect(),
        only: !object.contains_key("statusCode"),
    })
}

fn hosted_failure(error: InvokeError, timeout: Duration) -> FunctionFailure {
    match error {
        InvokeError::Function {
            error_type,
            message,
        } => FunctionFailure::Error {
            error_type: clean_error_type(&error_type),
            detail: message.chars().take(200).collect(),
        },
        InvokeError::Init {
            error_type,
            message,
        } => FunctionFailure::Init {
            error_type: clean_error_type(&error_type),
            detail: message.chars().take(200).collect(),
        },
        InvokeError::Timeout { after } => {
            FunctionFailure::Timeout(after.max(timeout).as_millis() as u64)
        }
        InvokeError::Crashed { status } => FunctionFailure::Crashed(status),
        InvokeError::Throttled { limit } => FunctionFailure::Throttled(limit),
        e @ (InvokeError::Spawn { .. } | InvokeError::Retired) => {
            FunctionFailure::Unavailable(e.to_string())
        }
    }
}

/// One call's outcome, and what observers are told of it.
pub(crate) struct Invocation {
    pub(crate) response: Result<Response<GatewayBody>, GatewayError>,
    /// The function's answer as it came, when one came.
    pub(crate) answer: Option<Bytes>,
    /// Hosted functions: whether a worker had to be started.
    pub(crate) cold_start: Option<bool>,
    pub(crate) took: Duration,
}
