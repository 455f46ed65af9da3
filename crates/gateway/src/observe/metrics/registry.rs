//! The registry of the gateway's metrics (`Metrics`, one per gateway, carried across
//! snapshots) and the handles of one API in one environment (`ApiMetrics`, resolved when its
//! plan is compiled). Requests only add to atomics: the families' lock is taken when a plan is
//! compiled and when `/metrics` is scraped, never per request. Labels are names and ids of
//! configured things and bounded codes; a client's host, path or address never becomes one.

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

use super::codes::CodeCounters;
use super::health::{TargetGauge, UpstreamHealth};
use super::histogram::LatencyHistogram;
use crate::backend::upstream::UpstreamPlan;

/// The Prometheus text format 0.0.4, which `promtool check metrics` reads (it does not read
/// OpenMetrics' `info` type or `# EOF`).
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ApiLabels {
    group: String,
    api: String,
    environment: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    group: String,
    api: String,
    environment: String,
    status: &'static str,
}

const STATUS_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// The index in [`STATUS_CLASSES`]; a status past 599, which only a misbehaving backend sends,
/// counts as `5xx`.
fn status_class(status: StatusCode) -> usize {
    (usize::from(status.as_u16() / 100)).clamp(1, 5) - 1
}

/// One API's series in one environment, resolved when its plan is compiled, so recording a
/// request is a few relaxed atomic adds.
#[derive(Debug)]
pub(crate) struct ApiMetrics {
    /// By [`STATUS_CLASSES`].
    requests: [Counter; 5],
    latency: LatencyHistogram,
    backend_latency: LatencyHistogram,
    request_bytes: Counter,
    response_bytes: Counter,
}

/// One request as the metrics record it.
pub(crate) struct Sample {
    pub(crate) status: StatusCode,
    pub(crate) took: Duration,
    /// `None` when no backend was called.
    pub(crate) backend_took: Option<Duration>,
    /// The request body's declared length.
    pub(crate) request_bytes: Option<u64>,
}

impl ApiMetrics {
    pub(crate) fn record(&self, sample: &Sample) {
        self.requests[status_class(sample.status)].inc();
        self.latency.observe(sample.took);
        if let Some(took) = sample.backend_took {
            self.backend_latency.observe(took);
        }
        if let Some(n) = sample.request_bytes {
            self.request_bytes.inc_by(n);
        }
    }

    /// What the response body's bytes are added to.
    pub(crate) fn response_bytes(&self) -> &Counter {
        &self.response_bytes
    }
}

/// Every metric the gateway exposes.
pub(crate) struct Metrics {
    registry: Registry,
    requests: Family<StatusLabels, Counter>,
    latency: Family<ApiLabels, LatencyHistogram>,
    backend_latency: Family<ApiLabels, LatencyHistogram>,
    request_bytes: Family<ApiLabels, Counter>,
    response_bytes: Family<ApiLabels, Counter>,
    refused: CodeCounters,
    failed: CodeCounters,
    auth_failures: CodeCounters,
    health: Arc<UpstreamHealth>,
    revision: Gauge,
    applied_at: Gauge,
    /// Requests that matched no API, under empty group, API and environment labels: the
    /// client's host and path must not become labels.
    unmatched: Arc<ApiMetrics>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let mut registry = Registry::with_prefix("pylon");
        let requests = Family::<StatusLabels, Counter>::default();
        let latency = Family::<ApiLabels, LatencyHistogram>::default();
        let backend_latency = Family::<ApiLabels, LatencyHistogram>::default();
        let request_bytes = Family::<ApiLabels, Counter>::default();
        let response_bytes = Family::<ApiLabels, Counter>::default();
        let refused = CodeCounters::default();
        let failed = CodeCounters::default();
        let auth_failures = CodeCounters::default();
        let health = Arc::new(UpstreamHealth::default());
        let revision = Gauge::default();
        let applied_at = Gauge::default();
        registry.register(
            "requests",
            "Requests answered, by group, API, environment and status class",
            requests.clone(),
        );
        registry.register_with_unit(
            "request_duration",
            "Time from a request's arrival to its response head",
            Unit::Seconds,
            latency.clone(),
        );
        registry.register_with_unit(
            "backend_duration",
            "Time from sending the backend request to the backend's response head (or its failure)",
            Unit::Seconds,
            backend_latency.clone(),
        );
        registry.register_with_unit(
            "request_body",
            "Request body bytes, as the client declared them in Content-Length",
            Unit::Bytes,
            request_bytes.clone(),
        );
        registry.register_with_unit(
            "response_body",
            "Response body bytes sent to clients, counted as they pass",
            Unit::Bytes,
            response_bytes.clone(),
        );
        registry.register(
            "refused_requests",
            "Requests the gateway refused with a 4xx error (throttled, IP refused, invalid, unauthenticated, ...), by error code",
            refused.clone(),
        );
        registry.register(
            "failed_requests",
            "Requests the gateway answered with a 5xx error of its own (backend failed or timed out, unavailable, internal), by error code",
            failed.clone(),
        );
        registry.register(
            "auth_failures",
            "Authentication failures (signature, key, AppCode, JWT, grant), by error code",
            auth_failures.clone(),
        );
        registry.register(
            "config_revision",
            "The store revision of the published state being served",
            revision.clone(),
        );
        registry.register(
            "config_last_apply_timestamp_seconds",
            "When the published state served was last applied, in Unix seconds",
            applied_at.clone(),
        );
        registry.register(
            "build",
            "The running build",
            Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
        );
        registry.register_collector(Box::new(health.clone()));
        let mut metrics = Metrics {
            registry,
            requests,
            latency,
            backend_latency,
            request_bytes,
            response_bytes,
            refused,
            failed,
            auth_failures,
            health,
            revision,
            applied_at,
            unmatched: Arc::new(ApiMetrics {
                requests: Default::default(),
                latency: LatencyHistogram::default(),
                backend_latency: LatencyHistogram::default(),
                request_bytes: Counter::default(),
                response_bytes: Counter::default(),
            }),
        };
        metrics.unmatched = metrics.api("", "", "");
        metrics
    }

    /// The handles of one API in one environment, made when its plan is compiled: this takes
    /// the families' write lock, which requests never do.
    pub(crate) fn api(&self, group: &str, api: &str, environment: &str) -> Arc<ApiMetrics> {
        let labels = ApiLabels {
            group: group.to_string(),
            api: api.to_string(),
            environment: environment.to_string(),
        };
        let requests = STATUS_CLASSES.map(|status| {
            self.requests.get_or_create_owned(&StatusLabels {
                group: labels.group.clone(),
                api: labels.api.clone(),
                environment: labels.environment.clone(),
                status,
            })
        });
        Arc::new(ApiMetrics {
            requests,
            latency: self.latency.get_or_create_owned(&labels),
            backend_latency: self.backend_latency.get_or_create_owned(&labels),
            request_bytes: self.request_bytes.get_or_create_owned(&labels),
            response_bytes: self.response_bytes.get_or_create_owned(&labels),
        })
    }

    /// A snapshot is now served: its apply time, and the upstream targets (each of its
    /// upstreams once) whose health is shown.
    pub(crate) fn applied<'u>(&self, upstreams: impl Iterator<Item = &'u UpstreamPlan>) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        self.applied_at.set(now);
        let targets = upstreams
            .flat_map(|u| {
                u.targets.iter().map(|t| TargetGauge {
                    upstream: u.name.clone(),
                    target: t.address.clone(),
                    health: t.health.clone(),
                })
            })
            .collect();
        self.health.replace(targets);
    }

    /// Where a request that matched no API records.
    pub(crate) fn unmatched(&self) -> &ApiMetrics {
        &self.unmatched
    }

    /// A request the gateway answered with an error of its own, by its code: a 4xx is a
    /// refusal, a 5xx a failure; an authentication failure is also counted apart.
    pub(crate) fn error(&self, code: &'static str, server_error: bool, authentication: bool) {
        if server_error {
            self.failed.inc(code);
        } else {
            self.refused.inc(code);
        }
        if authentication {
            self.auth_failures.inc(code);
        }
    }

    pub(crate) fn set_revision(&self, revision: u64) {
        self.revision
            .set(i64::try_from(revision).unwrap_or(i64::MAX));
    }

    /// The exposition, in the Prometheus text format ([`CONTENT_TYPE`]).
    pub(crate) fn encode(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        if let Err(e) =
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
        {
            // Writing to a String fails only if an encoder refuses a value; say so rather
            // than serve half an exposition.
            tracing::error!(error = %e, "encoding the metrics failed");
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes_cover_every_status() {
        let class = |s: u16| STATUS_CLASSES[status_class(StatusCode::from_u16(s).unwrap())];
        assert_eq!(class(101), "1xx");
        assert_eq!(class(204), "2xx");
        assert_eq!(class(304), "3xx");
        assert_eq!(class(429), "4xx");
        assert_eq!(class(504), "5xx");
        assert_eq!(class(999), "5xx");
    }

    #[test]
    fn one_api_records_into_its_own_series_and_the_exposition_shows_them() {
        let metrics = Metrics::new();
        let api = metrics.api("g1", "get-user", "RELEASE");
        let again = metrics.api("g1", "get-user", "RELEASE");
        api.requests[1].inc();
        again.requests[1].inc();
        api.requests[3].inc();
        api.latency.observe(Duration::from_millis(2));
        api.request_bytes.inc_by(10);
        metrics.refused.inc("A403IP");
        metrics.auth_failures.inc("A400IS");
        metrics.set_revision(7);
        let text = metrics.encode();
        let has = |line: &str| text.lines().any(|l| l == line);
        let labels = r#"group="g1",api="get-user",environment="RELEASE""#;
        assert!(
            has(&format!(
                r#"pylon_requests_total{{{labels},status="2xx"}} 2"#
            )),
            "{text}"
        );
        assert!(has(&format!(
            r#"pylon_requests_total{{{labels},status="4xx"}} 1"#
        )));
        assert!(has(&format!(
            r#"pylon_request_duration_seconds_count{{{labels}}} 1"#
        )));
        assert!(has(&format!(
            r#"pylon_request_body_bytes_total{{{labels}}} 10"#
        )));
        assert!(has(r#"pylon_refused_requests_total{reason="A403IP"} 1"#));
        assert!(has(r#"pylon_auth_failures_total{reason="A400IS"} 1"#));
        assert!(has("pylon_config_revision 7"));
        assert!(has(&format!(
            r#"pylon_build_info{{version="{}"}} 1"#,
            env!("CARGO_PKG_VERSION")
        )));
        assert!(has(
            r#"pylon_requests_total{group="",api="",environment="",status="2xx"} 0"#
        ));
        assert!(
            text.contains("# TYPE pylon_upstream_target_up gauge"),
            "{text}"
        );
    }
}
