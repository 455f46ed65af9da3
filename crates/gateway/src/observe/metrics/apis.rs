//! The per-API series: each API's handles in each environment (`ApiMetrics`), made once when
//! its plan is compiled and kept across publishes, and the collector that exposes them. An
//! API's series appear once it has served a request, and a status class once a response had
//! it. Measured at 10,000 published APIs: prometheus-client families with every series made
//! up front held 26 MB and every scrape was 49 MB of zeros; one map entry per API holds 6 MB
//! and an idle gateway's scrape is 2 kB.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::StatusCode;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Unit;

use super::histogram::LatencyHistogram;

#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
struct ApiLabels {
    group: String,
    api: String,
    environment: String,
}

pub(super) const STATUS_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// The index in [`STATUS_CLASSES`]; a status past 599, which only a misbehaving backend sends,
/// counts as `5xx`.
pub(super) fn status_class(status: StatusCode) -> usize {
    (usize::from(status.as_u16() / 100)).clamp(1, 5) - 1
}

/// One API's series in one environment, resolved when its plan is compiled, so recording a
/// request is a few relaxed atomic adds.
#[derive(Debug, Default)]
pub(crate) struct ApiMetrics {
    /// By [`STATUS_CLASSES`].
    requests: [AtomicU64; 5],
    latency: LatencyHistogram,
    backend_latency: LatencyHistogram,
    request_bytes: AtomicU64,
    /// Its own allocation: a streamed response body holds it until the body is dropped.
    response_bytes: Counter,
    /// WebSocket connections open now (the API's cap is checked against it).
    pub(crate) websockets_open: AtomicU64,
    websocket_duration: LatencyHistogram,
    websocket_bytes_in: AtomicU64,
    websocket_bytes_out: AtomicU64,
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
        self.requests[status_class(sample.status)].fetch_add(1, Ordering::Relaxed);
        self.latency.observe(sample.took);
        if let Some(took) = sample.backend_took {
            self.backend_latency.observe(took);
        }
        if let Some(n) = sample.request_bytes {
            self.request_bytes.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// A WebSocket connection ended after `took`, having relayed these bytes.
    pub(crate) fn websocket_closed(&self, bytes_in: u64, bytes_out: u64, took: Duration) {
        self.websocket_duration.observe(took);
        self.websocket_bytes_in
            .fetch_add(bytes_in, Ordering::Relaxed);
        self.websocket_bytes_out
            .fetch_add(bytes_out, Ordering::Relaxed);
    }

    /// What the response body's bytes are added to.
    pub(crate) fn response_bytes(&self) -> &Counter {
        &self.response_bytes
    }

    fn served(&self) -> bool {
        self.requests.iter().any(|c| c.load(Ordering::Relaxed) > 0)
    }
}

/// Every API's handles by label set. The lock is taken when a plan is compiled and when
/// `/metrics` is scraped; requests hold their plan's `Arc<ApiMetrics>` and never take it.
#[derive(Debug, Default)]
pub(super) struct ApiSeries {
    apis: Mutex<HashMap<ApiLabels, Arc<ApiMetrics>>>,
}

impl ApiSeries {
    /// The handles of one API in one environment: the same ones after a republish, so its
    /// counters go on. An API renamed or unpublished keeps its old series until a restart,
    /// as Prometheus counters may not go back.
    pub(super) fn get(&self, group: &str, api: &str, environment: &str) -> Arc<ApiMetrics> {
        let labels = ApiLabels {
            group: group.to_string(),
            api: api.to_string(),
            environment: environment.to_string(),
        };
        let mut apis = self.apis.lock().unwrap_or_else(|p| p.into_inner());
        apis.entry(labels).or_default().clone()
    }

    /// The APIs that have served a request, in label order (a stable exposition).
    fn served(&self) -> Vec<(ApiLabels, Arc<ApiMetrics>)> {
        let apis = self.apis.lock().unwrap_or_else(|p| p.into_inner());
        let mut served: Vec<_> = apis
            .iter()
            .filter(|(_, m)| m.served())
            .map(|(l, m)| (l.clone(), m.clone()))
            .collect();
        drop(apis);
        served.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        served
    }
}

impl Collector for ApiSeries {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let served = self.served();
        let mut requests = encoder.encode_descriptor(
            "requests",
            "Requests answered, by group, API, environment and status class.",
            None,
            MetricType::Counter,
        )?;
        for (labels, api) in &served {
            for (class, counter) in STATUS_CLASSES.iter().zip(&api.requests) {
                let n = counter.load(Ordering::Relaxed);
                if n > 0 {
                    let labels = (labels.clone(), [("status", *class)]);
                    requests
                        .encode_family(&labels)?
                        .encode_counter::<NoLabelSet, _, u64>(&n, None)?;
                }
            }
        }
        histograms(
            &mut encoder,
            &served,
            "request_duration",
            "Time from a request's arrival to its response head.",
            |a| &a.latency,
        )?;
        histograms(
            &mut encoder,
            &served,
            "backend_duration",
            "Time from sending the backend request to the backend's response head (or its failure).",
            |a| &a.backend_latency,
        )?;
        bytes(
            &mut encoder,
            &served,
            "request_body",
            "Request body bytes, as the client declared them in Content-Length.",
            |a| a.request_bytes.load(Ordering::Relaxed),
        )?;
        bytes(
            &mut encoder,
            &served,
            "response_body",
            "Response body bytes sent to clients, counted as they pass.",
            |a| a.response_bytes.get(),
        )?;
        let sockets: Vec<_> = served
            .iter()
            .filter(|(_, a)| {
                a.websockets_open.load(Ordering::Relaxed) > 0 || a.websocket_duration.count() > 0
            })
            .cloned()
            .collect();
        let mut open = encoder.encode_descriptor(
            "websocket_connections",
            "WebSocket connections open now.",
            None,
            MetricType::Gauge,
        )?;
        for (labels, api) in &sockets {
            let n = api.websockets_open.load(Ordering::Relaxed) as i64;
            open.encode_family(labels)?.encode_gauge(&n)?;
        }
        histograms(
            &mut encoder,
            &sockets,
            "websocket_duration",
            "How long closed WebSocket connections lasted.",
            |a| &a.websocket_duration,
        )?;
        bytes(
            &mut encoder,
            &sockets,
            "websocket_received",
            "Bytes relayed from clients to backends over closed WebSocket connections.",
            |a| a.websocket_bytes_in.load(Ordering::Relaxed),
        )?;
        bytes(
            &mut encoder,
            &sockets,
            "websocket_sent",
            "Bytes relayed from backends to clients over closed WebSocket connections.",
            |a| a.websocket_bytes_out.load(Ordering::Relaxed),
        )?;
        Ok(())
    }
}

type Served = [(ApiLabels, Arc<ApiMetrics>)];

/// One latency family: the APIs whose histogram has a sample.
fn histograms(
    encoder: &mut DescriptorEncoder,
    served: &Served,
    name: &str,
    help: &str,
    pick: impl Fn(&ApiMetrics) -> &LatencyHistogram,
) -> Result<(), std::fmt::Error> {
    let mut family =
        encoder.encode_descriptor(name, help, Some(&Unit::Seconds), MetricType::Histogram)?;
    for (labels, api) in served {
        let h = pick(api);
        if h.count() > 0 {
            h.encode(family.encode_family(labels)?)?;
        }
    }
    Ok(())
}

/// One byte counter family: every API that served a request.
fn bytes(
    encoder: &mut DescriptorEncoder,
    served: &Served,
    name: &str,
    help: &str,
    value: impl Fn(&ApiMetrics) -> u64,
) -> Result<(), std::fmt::Error> {
    let mut family =
        encoder.encode_descriptor(name, help, Some(&Unit::Bytes), MetricType::Counter)?;
    for (labels, api) in served {
        family
            .encode_family(labels)?
            .encode_counter::<NoLabelSet, _, u64>(&value(api), None)?;
    }
    Ok(())
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
    fn a_republished_api_keeps_its_handles() {
        let series = ApiSeries::default();
        let first = series.get("g", "a", "RELEASE");
        let again = series.get("g", "a", "RELEASE");
        assert!(Arc::ptr_eq(&first, &again));
        assert!(!Arc::ptr_eq(&first, &series.get("g", "a", "TEST")));
    }

    #[test]
    fn only_apis_that_served_a_request_are_listed() {
        let series = ApiSeries::default();
        let idle = series.get("g", "idle", "RELEASE");
        let busy = series.get("g", "busy", "RELEASE");
        busy.record(&Sample {
            status: StatusCode::OK,
            took: Duration::from_millis(1),
            backend_took: None,
            request_bytes: None,
        });
        let served: Vec<_> = series.served().into_iter().map(|(l, _)| l.api).collect();
        assert_eq!(served, ["busy"]);
        drop(idle);
    }
}
