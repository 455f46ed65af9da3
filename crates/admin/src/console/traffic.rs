//! The home page's traffic table: requests and server errors per API, read from the gateway's
//! own Prometheus exposition (the same counters `/metrics` serves), with rates between two
//! views of the page.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

/// One API in one environment: its counters as last read.
#[derive(Clone, Copy, Default, PartialEq, Debug)]
pub(crate) struct Counts {
    pub(crate) requests: u64,
    /// Answered with a 5xx (the backend's or the gateway's own).
    pub(crate) errors: u64,
}

/// `(group id, API name, environment)`.
pub(crate) type Key = (String, String, String);

/// The counters of every API in `exposition` (`pylon_requests_total` by status class).
pub(crate) fn parse(exposition: &str) -> BTreeMap<Key, Counts> {
    let mut out: BTreeMap<Key, Counts> = BTreeMap::new();
    for line in exposition.lines() {
        let Some(rest) = line.strip_prefix("pylon_requests_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once("} ") else {
            continue;
        };
        let Ok(n) = value.trim().parse::<f64>() else {
            continue;
        };
        let label = |name: &str| {
            labels
                .split("\",")
                .filter_map(|pair| pair.split_once("=\""))
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.trim_end_matches('"').to_string())
                .unwrap_or_default()
        };
        let (group, api) = (label("group"), label("api"));
        // Requests no API matched count under empty labels: not an API's traffic.
        if api.is_empty() {
            continue;
        }
        let entry = out.entry((group, api, label("environment"))).or_default();
        entry.requests += n as u64;
        if label("status") == "5xx" {
            entry.errors += n as u64;
        }
    }
    out
}

/// The counters as the home page last read them, for rates.
#[derive(Default)]
pub(crate) struct Sampler {
    last: Mutex<Option<(Instant, BTreeMap<Key, Counts>)>>,
}

impl Sampler {
    /// Keeps `now` and returns the previous reading, with the seconds since it.
    pub(crate) fn swap(&self, now: BTreeMap<Key, Counts>) -> Option<(f64, BTreeMap<Key, Counts>)> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let previous = last.replace((Instant::now(), now));
        previous.map(|(at, counts)| (at.elapsed().as_secs_f64(), counts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_server_errors_are_summed_per_api() {
        let text = "\
# HELP pylon_requests_total Requests answered.
pylon_requests_total{group=\"g1\",api=\"orders\",environment=\"RELEASE\",status=\"2xx\"} 8
pylon_requests_total{group=\"g1\",api=\"orders\",environment=\"RELEASE\",status=\"5xx\"} 2
pylon_requests_total{group=\"\",api=\"\",environment=\"\",status=\"4xx\"} 5
pylon_refused_requests_total{reason=\"D400NF\"} 5
";
        let counts = parse(text);
        assert_eq!(counts.len(), 1);
        let c = counts[&("g1".into(), "orders".into(), "RELEASE".into())];
        assert_eq!(
            c,
            Counts {
                requests: 10,
                errors: 2
            }
        );
    }
}
