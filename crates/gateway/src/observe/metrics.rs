//! Prometheus metrics as an observer: `MetricsObserver` records each request into the API's
//! handles (`registry::ApiMetrics`, resolved when the plan was compiled), so the request path
//! only adds to atomics; `registry` holds what is exposed on `/metrics` and how.

pub(crate) mod apis;
mod codes;
mod functions;
mod health;
mod histogram;
pub(crate) mod registry;

use std::time::{Duration, Instant};

use http::StatusCode;

use self::registry::{Metrics, Sample};
use super::log::function_outcome;
use super::observer::{Finished, FunctionCall, Observer};
use crate::backend::Target;
use crate::compiled::ApiPlan;
use crate::error::GatewayError;
use crate::request::body::GatewayBody;
use crate::request::outgoing::Outgoing;
use crate::response::{Answer, Fields};

/// Records one request into the gateway's metrics. Off for online-debugging requests, which
/// are an operator's tests, not traffic.
#[derive(Default)]
pub(crate) struct MetricsObserver<'m> {
    metrics: Option<&'m Metrics>,
    backend_started: Option<Instant>,
    backend_took: Option<Duration>,
}

impl<'m> MetricsObserver<'m> {
    pub(crate) fn new(metrics: &'m Metrics) -> Self {
        MetricsObserver {
            metrics: Some(metrics),
            backend_started: None,
            backend_took: None,
        }
    }

    /// The response body, made to count its bytes into the API's series as it is sent. A
    /// body the gateway holds whole is counted at once.
    pub(crate) fn count_body(&self, plan: Option<&ApiPlan>, response: Answer) -> Answer {
        let Some(metrics) = self.metrics else {
            return response;
        };
        let api = plan.map_or(metrics.unmatched(), |p| &*p.metrics);
        response.map_body(|body| match body {
            GatewayBody::Full(bytes) => {
                let n = bytes.as_ref().map_or(0, |b| b.len() as u64);
                api.response_bytes().inc_by(n);
                GatewayBody::Full(bytes)
            }
            GatewayBody::Stream(s) => GatewayBody::counted(s, api.response_bytes().clone()),
            counted @ GatewayBody::Counted(_) => counted,
        })
    }
}

impl Observer for MetricsObserver<'_> {
    fn backend_request(&mut self, _target: &Target, _out: &Outgoing<'_>, at: Instant) {
        if self.metrics.is_some() {
            self.backend_started = Some(at);
        }
    }

    fn backend_response(&mut self, _status: StatusCode, _headers: &Fields, at: Instant) {
        self.backend_took = self
            .backend_started
            .map(|s| at.saturating_duration_since(s));
    }

    fn function_call(&mut self, call: &FunctionCall<'_>) {
        let Some(metrics) = self.metrics else {
            return;
        };
        self.backend_started = Instant::now()
            .checked_sub(call.took)
            .or(Some(Instant::now()));
        self.backend_took = Some(call.took);
        metrics.functions.record(
            &call.target.name,
            function_outcome(call),
            call.cold_start == Some(true),
            call.took.as_secs_f64(),
        );
    }

    fn done(&mut self, finished: &Finished<'_>) {
        let Some(metrics) = self.metrics else {
            return;
        };
        let api = finished
            .route
            .as_ref()
            .map_or(metrics.unmatched(), |r| &*r.plan.metrics);
        api.record(&Sample {
            status: finished.status,
            took: finished.took,
            // A failed call never saw a response head: it ended about now.
            backend_took: self
                .backend_started
                .map(|started| self.backend_took.unwrap_or_else(|| started.elapsed())),
            request_bytes: finished.bytes_in,
        });
        if let Some(e) = finished.error {
            metrics.error(
                e.code(),
                e.status().is_server_error(),
                matches!(e, GatewayError::Auth(_)),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::AuthError;
    use crate::request::id::RequestId;

    fn finish(observer: &mut MetricsObserver<'_>, error: Option<&GatewayError>, length: &str) {
        let status = error.map_or(StatusCode::OK, GatewayError::status);
        observer.done(&Finished {
            request_id: &RequestId::generate(),
            method: &http::Method::POST,
            path: "/client/path",
            status,
            error,
            took: Duration::from_millis(1),
            route: None,
            app_id: None,
            identity_headers: &[],
            host: "h.example",
            client: [192, 0, 2, 1].into(),
            bytes_in: length.parse().ok(),
            bytes_out: None,
        });
    }

    #[test]
    fn errors_count_by_code_as_refusals_failures_and_auth_failures() {
        let metrics = Metrics::new();
        let mut observer = MetricsObserver::new(&metrics);
        finish(&mut observer, Some(&AuthError::MissingAppKey.into()), "3");
        finish(
            &mut observer,
            Some(&GatewayError::Internal("x".into())),
            "4",
        );
        finish(&mut observer, None, "5");
        let text = metrics.encode();
        let has = |line: &str| text.lines().any(|l| l == line);
        assert!(
            has(r#"pylon_refused_requests_total{reason="A400MK"} 1"#),
            "{text}"
        );
        assert!(has(r#"pylon_auth_failures_total{reason="A400MK"} 1"#));
        assert!(has(r#"pylon_failed_requests_total{reason="S500IE"} 1"#));
        let none = r#"group="",api="",environment="""#;
        assert!(has(&format!(
            r#"pylon_requests_total{{{none},status="4xx"}} 1"#
        )));
        assert!(has(&format!(
            r#"pylon_requests_total{{{none},status="5xx"}} 1"#
        )));
        assert!(has(&format!(
            r#"pylon_request_body_bytes_total{{{none}}} 12"#
        )));
        assert!(!text.contains("/client/path"));
    }
}
