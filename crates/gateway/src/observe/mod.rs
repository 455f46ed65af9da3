//! Observers: who watches requests go through the pipeline. The access log and the metrics
//! watch every request, the debug trace only online-debugging ones, the OpenTelemetry span
//! only sampled ones. The fan-out is static, so an untraced request pays one `Option` check
//! per hook.

pub(crate) mod log;
pub(crate) mod metrics;
pub(crate) mod observer;
pub(crate) mod otel;
pub(crate) mod trace;

use std::time::{Duration, Instant};

use http::StatusCode;

use self::log::AccessLog;
use self::log::sink::AccessLogSink;
use self::metrics::MetricsObserver;
use self::metrics::registry::Metrics;
use self::observer::{Finished, FunctionCall, Observer, RouteInfo};
use self::otel::RequestSpan;
use self::trace::Trace;
use crate::backend::Target;
use crate::backend::send::Sent;
use crate::compiled::ApiPlan;
use crate::error::GatewayError;
use crate::policy::kind::Decision;
use crate::request::outgoing::Outgoing;
use crate::request::values::Values;
use crate::response::Fields;

/// Every observer of one request.
pub(crate) struct Observers<'a> {
    pub(crate) log: AccessLog<'a>,
    pub(crate) metrics: MetricsObserver<'a>,
    /// Present only on online-debugging requests.
    pub(crate) trace: Option<Box<Trace>>,
    /// Present only on requests whose trace is sampled for OpenTelemetry.
    pub(crate) otel: Option<Box<RequestSpan>>,
}

impl<'a> Observers<'a> {
    pub(crate) fn new(access_log: &'a AccessLogSink, metrics: &'a Metrics) -> Self {
        Observers {
            log: AccessLog::new(access_log),
            metrics: MetricsObserver::new(metrics),
            trace: None,
            otel: None,
        }
    }
}

impl Observer for Observers<'_> {
    fn times_phases(&self) -> bool {
        self.log.times_phases() || self.trace.is_some()
    }

    fn wants_detail(&self) -> bool {
        self.log.wants_detail() || self.trace.is_some()
    }

    fn phase(&mut self, name: &'static str, took: Duration, error: Option<&GatewayError>) {
        self.log.phase(name, took, error);
        if let Some(t) = &mut self.trace {
            t.phase(name, took, error);
        }
    }

    fn routed(&mut self, route: &RouteInfo<'_>) {
        self.log.routed(route);
        if let Some(t) = &mut self.trace {
            t.routed(route);
        }
        if let Some(o) = &mut self.otel {
            o.routed(route);
        }
    }

    fn parameters(&mut self, plan: &ApiPlan, values: &Values<'_>) {
        self.log.parameters(plan, values);
        if let Some(t) = &mut self.trace {
            t.parameters(plan, values);
        }
    }

    fn policies(&mut self, decisions: &[Decision]) {
        self.log.policies(decisions);
        if let Some(t) = &mut self.trace {
            t.policies(decisions);
        }
    }

    fn backend_request(&mut self, target: &Target, out: &Outgoing<'_>, at: Instant) {
        self.log.backend_request(target, out, at);
        self.metrics.backend_request(target, out, at);
        if let Some(t) = &mut self.trace {
            t.backend_request(target, out, at);
        }
        if let Some(o) = &mut self.otel {
            o.backend_request(target, out, at);
        }
    }

    fn backend_sent(&mut self, sent: &Sent<'_>) {
        self.log.backend_sent(sent);
        if let Some(t) = &mut self.trace {
            t.backend_sent(sent);
        }
        if let Some(o) = &mut self.otel {
            o.backend_sent(sent);
        }
    }

    fn backend_response(&mut self, status: StatusCode, headers: &Fields, at: Instant) {
        self.log.backend_response(status, headers, at);
        self.metrics.backend_response(status, headers, at);
        if let Some(t) = &mut self.trace {
            t.backend_response(status, headers, at);
        }
        if let Some(o) = &mut self.otel {
            o.backend_response(status, headers, at);
        }
    }

    fn function_call(&mut self, call: &FunctionCall<'_>) {
        self.log.function_call(call);
        self.metrics.function_call(call);
        if let Some(t) = &mut self.trace {
            t.function_call(call);
        }
    }

    fn done(&mut self, finished: &Finished<'_>) {
        self.log.done(finished);
        self.metrics.done(finished);
        if let Some(t) = &mut self.trace {
            t.done(finished);
        }
        if let Some(o) = &mut self.otel {
            o.done(finished);
        }
    }
}
