//! The registry of the gateway's metrics (`Metrics`, one per gateway, carried across
//! snapshots): what is exposed and how, and where each API's handles come from when its plan
//! is compiled (`apis.rs`). Requests only add to atomics: no lock is taken per request. Labels
//! are names and ids of configured things and bounded codes; a client's host, path or address
//! never becomes one.

use std::sync::Arc;

use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use super::apis::ApiSeries;
pub(crate) use super::apis::{ApiMetrics, Sample};
use super::codes::CodeCounters;
use super::functions::FunctionSeries;
use super::health::{TargetGauge, UpstreamHealth};
use crate::backend::upstream::UpstreamPlan;

/// The Prometheus text format 0.0.4, which `promtool check metrics` reads (it does not read
/// OpenMetrics' `info` type or `# EOF`).
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Every metric the gateway exposes.
pub(crate) struct Metrics {
    registry: Registry,
    apis: Arc<ApiSeries>,
    refused: CodeCounters,
    failed: CodeCounters,
    auth_failures: CodeCounters,
    health: Arc<UpstreamHealth>,
    revision: Gauge,
    applied_at: Gauge,
    pub(crate) functions: FunctionSeries,
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
        let apis = Arc::new(ApiSeries::default());
        let refused = CodeCounters::default();
        let failed = CodeCounters::default();
        let auth_failures = CodeCounters::default();
        let health = Arc::new(UpstreamHealth::default());
        let revision = Gauge::default();
        let applied_at = Gauge::default();
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
        registry.register_collector(Box::new(apis.clone()));
        registry.register_collector(Box::new(health.clone()));
        let functions = FunctionSeries::default();
        functions.register(&mut registry);
        Metrics {
            registry,
            unmatched: apis.get("", "", ""),
            apis,
            refused,
            failed,
            auth_failures,
            health,
            revision,
            applied_at,
            functions,
        }
    }

    /// The handles of one API in one environment, made when its plan is compiled.
    pub(crate) fn api(&self, group: &str, api: &str, environment: &str) -> Arc<ApiMetrics> {
        self.apis.get(group, api, environment)
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
    use std::time::Duration;

    use http::StatusCode;

    use super::*;

    fn sample(status: u16, request_bytes: Option<u64>) -> Sample {
        Sample {
            status: StatusCode::from_u16(status).unwrap(),
            took: Duration::from_millis(2),
            backend_took: Some(Duration::from_millis(1)),
            request_bytes,
        }
    }

    #[test]
    fn one_api_records_into_its_own_series_and_the_exposition_shows_them() {
        let metrics = Metrics::new();
        let api = metrics.api("g1", "get-user", "RELEASE");
        let again = metrics.api("g1", "get-user", "RELEASE");
        api.record(&sample(200, Some(4)));
        again.record(&sample(204, Some(6)));
        api.record(&sample(404, None));
        metrics.api("g1", "idle", "RELEASE");
        metrics.error("A403IP", false, false);
        metrics.error("A400IS", false, true);
        metrics.set_revision(7);
        let text = metrics.encode();
        let has = |line: &str| text.lines().any(|l| l == line);
        let labels = r#"group="g1",api="get-user",environment="RELEASE""#;
        for line in [
            format!(r#"pylon_requests_total{{{labels},status="2xx"}} 2"#),
            format!(r#"pylon_requests_total{{{labels},status="4xx"}} 1"#),
            format!(r#"pylon_request_duration_seconds_count{{{labels}}} 3"#),
            format!(r#"pylon_request_duration_seconds_bucket{{{labels},le="0.0025"}} 3"#),
            format!(r#"pylon_backend_duration_seconds_count{{{labels}}} 3"#),
            format!(r#"pylon_request_body_bytes_total{{{labels}}} 10"#),
            format!(r#"pylon_response_body_bytes_total{{{labels}}} 0"#),
            r#"pylon_refused_requests_total{reason="A403IP"} 1"#.into(),
            r#"pylon_refused_requests_total{reason="A400IS"} 1"#.into(),
            r#"pylon_auth_failures_total{reason="A400IS"} 1"#.into(),
            "pylon_config_revision 7".into(),
            format!(
                r#"pylon_build_info{{version="{}"}} 1"#,
                env!("CARGO_PKG_VERSION")
            ),
            "# TYPE pylon_requests_total counter".into(),
            "# TYPE pylon_request_duration_seconds histogram".into(),
            "# TYPE pylon_upstream_target_up gauge".into(),
        ] {
            assert!(has(&line), "{line} missing from:\n{text}");
        }
        // Idle APIs, unused status classes and the unmatched series stay out until used.
        assert!(!text.contains("idle"), "{text}");
        assert!(!text.contains(r#"status="3xx""#), "{text}");
        assert!(!text.contains(r#"api="""#), "{text}");
    }
}
