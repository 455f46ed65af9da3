//! Function backends' series: invocations by outcome, cold starts and call durations, per
//! function. Functions are called far less often than the pass-through path runs, so these
//! are prometheus-client families (a read lock per call), labelled with the function's
//! configured name.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    function: String,
    /// `ok`, `error`, `timeout`, `crashed`, `throttled`, `malformed` or `unavailable`.
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Name {
    function: String,
}

fn duration_histogram() -> Histogram {
    // 1 ms to about 33 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

#[derive(Clone)]
pub(crate) struct FunctionSeries {
    invocations: Family<Outcome, Counter>,
    cold_starts: Family<Name, Counter>,
    durations: Family<Name, Histogram, fn() -> Histogram>,
}

impl Default for FunctionSeries {
    fn default() -> Self {
        FunctionSeries {
            invocations: Family::default(),
            cold_starts: Family::default(),
            durations: Family::new_with_constructor(duration_histogram),
        }
    }
}

impl FunctionSeries {
    pub(crate) fn register(&self, registry: &mut Registry) {
        registry.register(
            "function_invocations",
            "Function backend calls, by function and outcome (ok, error, timeout, crashed, throttled, malformed, unavailable)",
            self.invocations.clone(),
        );
        registry.register(
            "function_cold_starts",
            "Hosted function calls that had to start a worker",
            self.cold_starts.clone(),
        );
        registry.register(
            "function_duration_seconds",
            "How long function calls took, event sent to answer read",
            self.durations.clone(),
        );
    }

    pub(crate) fn record(&self, function: &str, outcome: &'static str, cold: bool, took: f64) {
        self.invocations
            .get_or_create(&Outcome {
                function: function.to_string(),
                outcome,
            })
            .inc();
        let name = Name {
            function: function.to_string(),
        };
        if cold {
            self.cold_starts.get_or_create(&name).inc();
        }
        self.durations.get_or_create(&name).observe(took);
    }
}
