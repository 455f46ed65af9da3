//! OpenTelemetry traces over OTLP/HTTP: a server span per sampled request, with the route's
//! attributes, and a client span for its backend call, whose id goes to the backend in
//! `traceparent`. A client's `traceparent` makes the server span its child and decides the
//! sampling (parent-based); without one, a ratio of new traces is kept.
//!
//! Spans are built from what the pipeline already tells observers, so an unsampled request
//! pays one check. Finished spans go through a bounded queue to one task that sends them in
//! batches (protobuf, `POST <endpoint>/v1/traces`) on the gateway's runtime; a full queue
//! drops spans rather than slow requests.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnectorBuilder;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span, status,
};
use prost::Message;
use tokio::sync::mpsc;

use super::observer::{Finished, Observer, RouteInfo};
use crate::backend::Target;
use crate::backend::send::Sent;
use crate::error::GatewayError;
use crate::request::id::next_random;
use crate::request::outgoing::Outgoing;
use crate::response::Fields;

pub(crate) const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// Spans waiting for the exporter at most; past it new spans are dropped and counted.
const QUEUE: usize = 8192;
/// Spans per export request at most.
const MAX_BATCH: usize = 512;
/// A batch goes out at the latest this long after its first span.
const FLUSH_AFTER: Duration = Duration::from_secs(1);
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where traces go and how many are kept.
#[derive(Debug, Clone, PartialEq)]
pub struct TracingConfig {
    /// The collector's OTLP/HTTP base URL (`http://127.0.0.1:4318`); spans are posted to
    /// `<endpoint>/v1/traces`.
    pub endpoint: String,
    /// The share of new traces kept, from 0 to 1; a client's `traceparent` decides for its own.
    pub sampling: f64,
}

impl TracingConfig {
    /// The export URL, or why the endpoint cannot be one.
    pub fn traces_url(&self) -> Result<http::Uri, String> {
        let base = self.endpoint.trim_end_matches('/');
        let uri = format!("{base}/v1/traces").parse::<http::Uri>().ok();
        match uri {
            Some(uri)
                if matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some() =>
            {
                Ok(uri)
            }
            _ => Err(format!(
                "OTLP endpoint `{}` must be an http:// or https:// URL",
                self.endpoint
            )),
        }
    }
}

/// The running exporter, shared by every request.
#[derive(Debug)]
pub(crate) struct Telemetry {
    queue: mpsc::Sender<Span>,
    /// New traces whose id's low 63 bits fall below this are kept (OpenTelemetry's
    /// trace-id ratio sampler).
    threshold: u64,
    dropped: Arc<AtomicU64>,
}

impl Telemetry {
    /// Starts the exporter task on the current runtime.
    pub(crate) fn start(config: &TracingConfig) -> Result<Telemetry, String> {
        let url = config.traces_url()?;
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| "traces need the gateway's runtime".to_string())?;
        let (queue, spans) = mpsc::channel(QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        runtime.spawn(export(spans, url, dropped.clone()));
        Ok(Telemetry {
            queue,
            threshold: threshold(config.sampling),
            dropped,
        })
    }

    /// The span of a request with these headers, when its trace is sampled.
    pub(crate) fn begin(&self, headers: &HeaderMap) -> Option<Box<RequestSpan>> {
        let parent = headers.get(TRACEPARENT).and_then(parse_traceparent);
        let (trace_id, parent_span, sampled) = match parent {
            Some(p) => (p.trace_id, Some(p.span_id), p.sampled),
            None => {
                let id = new_trace_id();
                (id, None, keeps(self.threshold, &id))
            }
        };
        sampled.then(|| {
            Box::new(RequestSpan {
                queue: self.queue.clone(),
                dropped: self.dropped.clone(),
                trace_id,
                span_id: new_span_id(),
                parent_span,
                start: now_ns(),
                route: None,
                backend: BackendSpan {
                    span_id: new_span_id(),
                    ..BackendSpan::default()
                },
            })
        })
    }
}

fn threshold(ratio: f64) -> u64 {
    if ratio >= 1.0 {
        u64::MAX
    } else if ratio > 0.0 {
        (ratio * (1u64 << 63) as f64) as u64
    } else {
        0
    }
}

fn keeps(threshold: u64, trace_id: &[u8; 16]) -> bool {
    let mut low = [0u8; 8];
    low.copy_from_slice(&trace_id[8..]);
    threshold == u64::MAX || (u64::from_be_bytes(low) >> 1) < threshold
}

fn new_trace_id() -> [u8; 16] {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&next_random().to_be_bytes());
    id[8..].copy_from_slice(&next_random().to_be_bytes());
    id
}

fn new_span_id() -> [u8; 8] {
    // All zeroes is not a valid id; one draw in 2^64 is tried again.
    loop {
        let id = next_random().to_be_bytes();
        if id != [0; 8] {
            return id;
        }
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// A W3C `traceparent`: `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`.
#[derive(Debug, PartialEq, Eq)]
struct Parent {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    sampled: bool,
}

fn parse_traceparent(value: &HeaderValue) -> Option<Parent> {
    let text = value.to_str().ok()?.trim();
    let mut fields = text.split('-');
    let version = fields.next()?;
    let (trace, span, flags) = (fields.next()?, fields.next()?, fields.next()?);
    // Version ff is invalid; a later version may add fields after these, version 00 may not.
    if version.len() != 2 || version == "ff" || (version == "00" && fields.next().is_some()) {
        return None;
    }
    let mut trace_id = [0u8; 16];
    let mut span_id = [0u8; 8];
    hex_into(trace, &mut trace_id)?;
    hex_into(span, &mut span_id)?;
    let mut flag = [0u8; 1];
    hex_into(flags, &mut flag)?;
    if trace_id == [0; 16] || span_id == [0; 8] {
        return None;
    }
    Some(Parent {
        trace_id,
        span_id,
        sampled: flag[0] & 1 == 1,
    })
}

/// Lowercase hex only, as W3C requires, exactly filling `out`.
fn hex_into(text: &str, out: &mut [u8]) -> Option<()> {
    let digits = text.as_bytes();
    if digits.len() != out.len() * 2 {
        return None;
    }
    let value = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = (value(pair[0])? << 4) | value(pair[1])?;
    }
    Some(())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        text.push(DIGITS[usize::from(b >> 4)] as char);
        text.push(DIGITS[usize::from(b & 15)] as char);
    }
    text
}

/// One sampled request's spans, filled in by the observer hooks.
#[derive(Debug)]
pub(crate) struct RequestSpan {
    queue: mpsc::Sender<Span>,
    dropped: Arc<AtomicU64>,
    trace_id: [u8; 16],
    span_id: [u8; 8],
    parent_span: Option<[u8; 8]>,
    start: u64,
    route: Option<RouteAttributes>,
    backend: BackendSpan,
}

#[derive(Debug)]
struct RouteAttributes {
    group: String,
    environment: String,
    api: String,
    api_id: String,
    route: String,
    host: String,
}

#[derive(Debug, Default)]
struct BackendSpan {
    span_id: [u8; 8],
    method: String,
    start: Option<u64>,
    end: Option<u64>,
    target: Option<String>,
    status: Option<u16>,
    failed: Option<String>,
}

impl RequestSpan {
    /// The `traceparent` the backend gets: this trace, the backend call's span as parent.
    pub(crate) fn backend_traceparent(&self) -> HeaderValue {
        let text = format!(
            "00-{}-{}-01",
            hex(&self.trace_id),
            hex(&self.backend.span_id)
        );
        HeaderValue::try_from(text).unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

fn attribute(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

fn text(key: &str, value: &str) -> KeyValue {
    attribute(key, any_value::Value::StringValue(value.into()))
}

fn int(key: &str, value: i64) -> KeyValue {
    attribute(key, any_value::Value::IntValue(value))
}

fn error_status(message: String) -> Option<Status> {
    Some(Status {
        message,
        code: status::StatusCode::Error as i32,
    })
}

impl Observer for RequestSpan {
    fn routed(&mut self, route: &RouteInfo<'_>) {
        self.route = Some(RouteAttributes {
            group: route.group.into(),
            environment: route.environment.into(),
            api: route.plan.api_name.clone(),
            api_id: route.plan.api_id.clone(),
            route: route.plan.request_path.clone(),
            host: route.host.into(),
        });
    }

    fn backend_request(&mut self, _target: &Target, out: &Outgoing<'_>, _at: Instant) {
        self.backend.method = out.method.as_str().into();
        self.backend.start = Some(now_ns());
    }

    fn backend_sent(&mut self, sent: &Sent<'_>) {
        self.backend.target = Some(sent.authority.as_str().into());
    }

    fn backend_response(&mut self, status: StatusCode, _headers: &Fields, _at: Instant) {
        self.backend.end = Some(now_ns());
        self.backend.status = Some(status.as_u16());
    }

    fn done(&mut self, finished: &Finished<'_>) {
        let end = now_ns();
        // A backend call that never answered ended with the request's error.
        if self.backend.start.is_some() && self.backend.end.is_none() {
            self.backend.end = Some(end);
            self.backend.failed = finished.error.map(GatewayError::message);
        }
        let method = finished.method.as_str();
        let mut attributes = vec![
            text("http.request.method", method),
            text("url.path", finished.path),
            int(
                "http.response.status_code",
                i64::from(finished.status.as_u16()),
            ),
            text("pylon.request_id", finished.request_id.as_str()),
        ];
        let name = match &self.route {
            Some(r) => {
                attributes.extend([
                    text("http.route", &r.route),
                    text("server.address", &r.host),
                    text("pylon.group", &r.group),
                    text("pylon.environment", &r.environment),
                    text("pylon.api", &r.api),
                    text("pylon.api_id", &r.api_id),
                ]);
                format!("{method} {}", r.route)
            }
            None => method.to_string(),
        };
        if let Some(app) = finished.app_id {
            attributes.push(text("pylon.app_id", app));
        }
        if let Some(e) = finished.error {
            attributes.push(text("error.type", e.code()));
        }
        let mut spans = Vec::with_capacity(2);
        spans.push(Span {
            trace_id: self.trace_id.to_vec(),
            span_id: self.span_id.to_vec(),
            parent_span_id: self.parent_span.map(|p| p.to_vec()).unwrap_or_default(),
            flags: 1,
            name,
            kind: span::SpanKind::Server as i32,
            start_time_unix_nano: self.start,
            end_time_unix_nano: end,
            attributes,
            // A server span is in error for the server's own failures, not the client's.
            status: finished
                .status
                .is_server_error()
                .then(|| error_status(finished.status.to_string()))
                .flatten(),
            ..Span::default()
        });
        let backend = &self.backend;
        if let Some(start) = backend.start {
            let mut attributes = vec![text("http.request.method", &backend.method)];
            if let Some(target) = &backend.target {
                let (host, port) = target.rsplit_once(':').unwrap_or((target, "80"));
                attributes.push(text("server.address", host));
                if let Ok(port) = port.parse::<i64>() {
                    attributes.push(int("server.port", port));
                }
            }
            if let Some(status) = backend.status {
                attributes.push(int("http.response.status_code", i64::from(status)));
            }
            spans.push(Span {
                trace_id: self.trace_id.to_vec(),
                span_id: backend.span_id.to_vec(),
                parent_span_id: self.span_id.to_vec(),
                flags: 1,
                name: backend.method.clone(),
                kind: span::SpanKind::Client as i32,
                start_time_unix_nano: start,
                end_time_unix_nano: backend.end.unwrap_or(end),
                attributes,
                status: backend.failed.clone().and_then(error_status),
                ..Span::default()
            });
        }
        for span in spans {
            if self.queue.try_send(span).is_err() {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

type ExportClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

fn export_client() -> Result<ExportClient, String> {
    let tls = crate::compiled::jwt::tls_client_config()?;
    let connector = HttpsConnectorBuilder::new()
        .with_tls_config(tls.as_ref().clone())
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}

/// Sends the queued spans in batches until the gateway drops its `Telemetry`.
async fn export(mut spans: mpsc::Receiver<Span>, url: http::Uri, dropped: Arc<AtomicU64>) {
    let client = match export_client() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "traces cannot be sent: no TLS client");
            return;
        }
    };
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        let Some(first) = spans.recv().await else {
            return;
        };
        batch.push(first);
        let deadline = tokio::time::Instant::now() + FLUSH_AFTER;
        while batch.len() < MAX_BATCH {
            match tokio::time::timeout_at(deadline, spans.recv()).await {
                Ok(Some(span)) => batch.push(span),
                Ok(None) | Err(_) => break,
            }
        }
        let count = batch.len();
        let body = encode(std::mem::take(&mut batch));
        if let Err(e) = post(&client, &url, body).await {
            tracing::warn!(error = %e, spans = count, url = %url, "sending traces failed; the spans are dropped");
        }
        let lost = dropped.swap(0, Ordering::Relaxed);
        if lost > 0 {
            tracing::warn!(spans = lost, "trace queue full; spans dropped");
        }
    }
}

fn encode(spans: Vec<Span>) -> Bytes {
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    text("service.name", "pylon"),
                    text("service.version", env!("CARGO_PKG_VERSION")),
                ],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "pylon-gateway".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    ..InstrumentationScope::default()
                }),
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    };
    Bytes::from(request.encode_to_vec())
}

async fn post(client: &ExportClient, url: &http::Uri, body: Bytes) -> Result<(), String> {
    let request = http::Request::post(url.clone())
        .header(http::header::CONTENT_TYPE, "application/x-protobuf")
        .body(Full::new(body))
        .map_err(|e| e.to_string())?;
    let response = tokio::time::timeout(EXPORT_TIMEOUT, client.request(request))
        .await
        .map_err(|_| format!("no answer within {} s", EXPORT_TIMEOUT.as_secs()))?
        .map_err(|e| crate::compiled::jwt::error_chain(&e))?;
    let status = response.status();
    // Read the answer so the connection goes back to the pool.
    let _ = response.into_body().collect().await;
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("the collector answered {status}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(text: &str) -> HeaderValue {
        HeaderValue::from_str(text).unwrap()
    }

    #[test]
    fn traceparents_are_read_as_w3c_writes_them() {
        let p = parse_traceparent(&header(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ))
        .unwrap();
        assert_eq!(hex(&p.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(hex(&p.span_id), "00f067aa0ba902b7");
        assert!(p.sampled);
        let unsampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
        assert!(!parse_traceparent(&header(unsampled)).unwrap().sampled);
        // A later version may carry more fields.
        let future = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra";
        assert!(parse_traceparent(&header(future)).is_some());
        for bad in [
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "garbage",
        ] {
            assert_eq!(parse_traceparent(&header(bad)), None, "{bad}");
        }
    }

    #[test]
    fn the_ratio_keeps_its_share_of_new_traces() {
        assert_eq!(threshold(0.0), 0);
        assert!(!keeps(threshold(0.0), &[0xff; 16]));
        assert!(keeps(threshold(1.0), &[0xff; 16]));
        let kept = (0..20_000)
            .filter(|_| keeps(threshold(0.25), &new_trace_id()))
            .count();
        assert!((4_000..6_000).contains(&kept), "{kept}");
    }

    #[test]
    fn endpoints_must_be_http_urls() {
        let config = |endpoint: &str| TracingConfig {
            endpoint: endpoint.into(),
            sampling: 1.0,
        };
        assert_eq!(
            config("http://127.0.0.1:4318/").traces_url().unwrap(),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert!(config("https://otel.example.com").traces_url().is_ok());
        assert!(config("127.0.0.1:4318").traces_url().is_err());
        assert!(config("ftp://x").traces_url().is_err());
    }
}
