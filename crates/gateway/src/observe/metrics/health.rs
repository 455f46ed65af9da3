//! `pylon_upstream_target_up`: the passive health of each upstream target, read when scraped.
//! The request path already keeps health in the targets' atomics; this only holds the list of
//! the served snapshot's targets, replaced when a snapshot is applied, and reads them.

use std::sync::Arc;

use arc_swap::ArcSwap;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::gauge::ConstGauge;

use crate::backend::upstream::TargetHealth;

/// One upstream's target, named as configured.
#[derive(Debug)]
pub(crate) struct TargetGauge {
    pub(crate) upstream: String,
    pub(crate) target: String,
    pub(crate) health: Arc<TargetHealth>,
}

#[derive(Debug, Default)]
pub(crate) struct UpstreamHealth {
    targets: ArcSwap<Vec<TargetGauge>>,
}

impl UpstreamHealth {
    pub(crate) fn replace(&self, targets: Vec<TargetGauge>) {
        self.targets.store(Arc::new(targets));
    }
}

impl Collector for UpstreamHealth {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let targets = self.targets.load();
        let mut metric = encoder.encode_descriptor(
            "upstream_target_up",
            "Whether an upstream target is taken as up (1) or skipped after a failed connection (0), by passive health.",
            None,
            MetricType::Gauge,
        )?;
        for t in targets.iter() {
            let labels = [("upstream", t.upstream.as_str()), ("target", &t.target)];
            let up = ConstGauge::new(i64::from(t.health.is_up()));
            up.encode(metric.encode_family(&labels)?)?;
        }
        Ok(())
    }
}
