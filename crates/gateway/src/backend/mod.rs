//! Backend calls: HTTP URLs and upstreams over the shared client, with the API's timeout on the
//! response head, and failover across an upstream's targets when connecting fails.

pub(crate) mod http;
pub(crate) mod mock;
pub(crate) mod upstream;

use ::http::header::HOST;
use ::http::uri::{Authority, PathAndQuery, Scheme};
use ::http::{HeaderMap, HeaderValue, Request, Response, Uri};
use hyper::body::Incoming;
use tokio::time::Instant;

use self::http::HttpClient;
use crate::compiled::jwt::error_chain;
use crate::compiled::plan::BackendPlan;
use crate::compiled::target::TargetPlan;
use crate::error::GatewayError;
use crate::request::body::{ForwardBody, ReclaimableBody};
use crate::request::outgoing::{OutBody, Outgoing};

/// The body for one attempt, and whether it can be handed to another.
enum Attempts {
    Bytes(Option<::bytes::Bytes>),
    Stream(Option<Incoming>),
    Reclaimable(ReclaimableBody),
}

impl Attempts {
    fn new(body: OutBody, may_retry: bool) -> Self {
        match body {
            OutBody::Empty => Self::Bytes(None),
            OutBody::Bytes(b) => Self::Bytes(Some(b)),
            OutBody::Stream(s) if may_retry => Self::Reclaimable(ReclaimableBody::new(s)),
            OutBody::Stream(s) => Self::Stream(Some(s)),
        }
    }

    /// The body for the next attempt; `None` once a streamed body has been (partly) sent.
    fn next(&mut self) -> Option<ForwardBody> {
        match self {
            Self::Bytes(b) => Some(ForwardBody::Full(b.clone())),
            Self::Stream(s) => s.take().map(ForwardBody::Stream),
            Self::Reclaimable(r) => r.reclaim().map(ForwardBody::Reclaimable),
        }
    }
}

fn request(
    method: &::http::Method,
    authority: &Authority,
    path: &PathAndQuery,
    headers: HeaderMap,
    host: Option<&HeaderValue>,
    body: ForwardBody,
) -> Result<Request<ForwardBody>, GatewayError> {
    let uri = Uri::builder()
        .scheme(Scheme::HTTP)
        .authority(authority.clone())
        .path_and_query(path.clone())
        .build()
        .map_err(|e| GatewayError::Internal(format!("backend URI: {e}")))?;
    let mut req = Request::new(body);
    *req.method_mut() = method.clone();
    *req.uri_mut() = uri;
    *req.headers_mut() = headers;
    if let Some(host) = host {
        req.headers_mut().insert(HOST, host.clone());
    }
    Ok(req)
}

/// The client's own body failing while it streamed to the backend (broken chunked framing,
/// a connection cut mid-body) is the client's error, not the backend's: hyper reports it as
/// a user-body error whose cause is the error of the client's `Incoming`.
fn client_body_error(error: &hyper_util::client::legacy::Error) -> Option<GatewayError> {
    let mut source = std::error::Error::source(error);
    while let Some(s) = source {
        if let Some(h) = s.downcast_ref::<hyper::Error>()
            && h.is_user()
            && let Some(cause) = std::error::Error::source(h)
            && cause.downcast_ref::<hyper::Error>().is_some()
        {
            return Some(GatewayError::RequestBody(cause.to_string()));
        }
        source = s.source();
    }
    None
}

/// A failed backend call: the client's body, or the backend.
fn failed(
    target: impl FnOnce() -> String,
    error: &hyper_util::client::legacy::Error,
) -> GatewayError {
    client_body_error(error).unwrap_or_else(|| GatewayError::BackendFailed {
        target: target(),
        reason: error_chain(error),
    })
}

/// Where a backend request went: the address called and the Host header the gateway set
/// (`None` when the API's constant Host, already among the headers, was sent).
pub(crate) struct Sent<'p> {
    pub(crate) authority: &'p Authority,
    pub(crate) host: Option<&'p HeaderValue>,
}

/// Calls the backend and returns its response head (the body streams on), and where it went.
pub(crate) async fn call<'p>(
    client: &HttpClient,
    backend: &'p BackendPlan,
    sets_host: bool,
    out: Outgoing,
) -> Result<(Response<Incoming>, Sent<'p>), GatewayError> {
    let deadline = Instant::now() + backend.timeout;
    let timeout_ms = backend.timeout.as_millis() as u64;
    let path = PathAndQuery::try_from(out.path_and_query)
        .map_err(|e| GatewayError::Internal(format!("backend path: {e}")))?;
    match &backend.target {
        TargetPlan::Http {
            label,
            authority,
            host,
            ..
        } => {
            let body = Attempts::new(out.body, false)
                .next()
                .unwrap_or(ForwardBody::Full(None));
            let host = (!sets_host).then_some(host);
            let req = request(&out.method, authority, &path, out.headers, host, body)?;
            match tokio::time::timeout_at(deadline, client.request(req)).await {
                Ok(Ok(response)) => Ok((response, Sent { authority, host })),
                Ok(Err(e)) => Err(failed(|| label.clone(), &e)),
                Err(_) => Err(GatewayError::BackendTimeout {
                    target: label.clone(),
                    timeout_ms,
                }),
            }
        }
        TargetPlan::Upstream { upstream, .. } => {
            let count = upstream.targets.len();
            let mut body = Attempts::new(out.body, count > 1);
            let mut headers = Some(out.headers);
            let mut failures = Vec::new();
            for (attempt, target) in upstream.attempt_order().enumerate() {
                let Some(attempt_body) = body.next() else {
                    break;
                };
                // Headers are copied only while another attempt may follow.
                let attempt_headers = if attempt + 1 < count {
                    headers.clone().unwrap_or_default()
                } else {
                    headers.take().unwrap_or_default()
                };
                let host = (!sets_host).then_some(&target.host);
                let req = request(
                    &out.method,
                    &target.authority,
                    &path,
                    attempt_headers,
                    host,
                    attempt_body,
                )?;
                match tokio::time::timeout_at(deadline, client.request(req)).await {
                    Ok(Ok(response)) => {
                        target.health.mark_up();
                        let sent = Sent {
                            authority: &target.authority,
                            host,
                        };
                        return Ok((response, sent));
                    }
                    Ok(Err(e)) if e.is_connect() => {
                        target.health.mark_down();
                        failures.push(format!("{}: {}", target.address, error_chain(&e)));
                    }
                    Ok(Err(e)) => {
                        return Err(failed(
                            || format!("upstream {} target {}", upstream.name, target.address),
                            &e,
                        ));
                    }
                    Err(_) => {
                        return Err(GatewayError::BackendTimeout {
                            target: format!("upstream {} target {}", upstream.name, target.address),
                            timeout_ms,
                        });
                    }
                }
            }
            if failures.len() == count {
                Err(GatewayError::ServiceUnavailable(format!(
                    "every target of upstream {} is down ({})",
                    upstream.name,
                    failures.join("; ")
                )))
            } else {
                Err(GatewayError::BackendFailed {
                    target: format!("upstream {}", upstream.name),
                    reason: format!(
                        "connecting failed after the body was sent ({})",
                        failures.join("; ")
                    ),
                })
            }
        }
        TargetPlan::Mock(_) => Err(GatewayError::Internal(
            "a mock backend reached the HTTP client".into(),
        )),
    }
}
