//! Counters by error code, without a lock. The codes are `GatewayError::code()`'s: a small
//! set of `&'static str` that grows only with the code, so a fixed open-addressed table is
//! enough, a new error kind needs no list kept here, and the request path never takes the
//! write lock of a prometheus-client `Family`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;

/// Far more than the codes the gateway has (about 50): probing stays short.
const SLOTS: usize = 256;

/// Counted under this code once every slot holds another one, which only a code table grown
/// past `SLOTS` codes could cause.
const OVERFLOW: &str = "other";

#[derive(Debug)]
struct Slot {
    code: OnceLock<&'static str>,
    count: AtomicU64,
}

/// A counter per code, encoded as one family labelled `reason`. A clone counts into the same
/// table (the registry holds one, the observers another).
#[derive(Debug, Clone)]
pub(crate) struct CodeCounters(Arc<Table>);

#[derive(Debug)]
struct Table {
    slots: Box<[Slot]>,
    overflow: AtomicU64,
}

impl Default for CodeCounters {
    fn default() -> Self {
        CodeCounters(Arc::new(Table {
            slots: (0..SLOTS)
                .map(|_| Slot {
                    code: OnceLock::new(),
                    count: AtomicU64::new(0),
                })
                .collect(),
            overflow: AtomicU64::new(0),
        }))
    }
}

/// FNV-1a: the codes are a few ASCII bytes.
fn hash(code: &str) -> usize {
    code.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    }) as usize
}

impl CodeCounters {
    pub(crate) fn inc(&self, code: &'static str) {
        let start = hash(code);
        for i in 0..SLOTS {
            let slot = &self.0.slots[(start + i) % SLOTS];
            // The first sight of a code claims a free slot; a slot once claimed never changes,
            // so after that this is a load and a compare.
            let held = match slot.code.get() {
                Some(held) => *held,
                None => *slot.code.get_or_init(|| code),
            };
            if held == code {
                slot.count.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        self.0.overflow.fetch_add(1, Ordering::Relaxed);
    }

    /// What was counted, by code, sorted (the exposition reads better, and tests compare it).
    pub(crate) fn read(&self) -> Vec<(&'static str, u64)> {
        let mut out: Vec<(&'static str, u64)> = self
            .0
            .slots
            .iter()
            .filter_map(|s| Some((*s.code.get()?, s.count.load(Ordering::Relaxed))))
            .collect();
        let overflow = self.0.overflow.load(Ordering::Relaxed);
        if overflow > 0 {
            out.push((OVERFLOW, overflow));
        }
        out.sort_unstable();
        out
    }
}

impl EncodeMetric for CodeCounters {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for (code, count) in self.read() {
            let labels = [("reason", code)];
            encoder
                .encode_family(&labels)?
                .encode_counter::<NoLabelSet, _, u64>(&count, None)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_code_counts_apart() {
        let c = CodeCounters::default();
        for _ in 0..3 {
            c.inc("A403IP");
        }
        c.inc("A400IS");
        assert_eq!(c.read(), [("A400IS", 1), ("A403IP", 3)]);
    }

    #[test]
    fn a_full_table_counts_the_rest_as_other() {
        let c = CodeCounters::default();
        let codes: Vec<&'static str> = (0..SLOTS + 2)
            .map(|i| &*Box::leak(format!("X{i}").into_boxed_str()))
            .collect();
        for code in &codes {
            c.inc(code);
        }
        let read = c.read();
        assert_eq!(read.len(), SLOTS + 1);
        assert!(read.contains(&(OVERFLOW, 2)), "{read:?}");
    }

    #[test]
    fn concurrent_first_sightings_lose_no_count() {
        let c = CodeCounters::default();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let c = c.clone();
                std::thread::spawn(move || {
                    for i in 0..1000 {
                        c.inc(if (i + t) % 2 == 0 { "T429AP" } else { "A403IP" });
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(c.read(), [("A403IP", 2000), ("T429AP", 2000)]);
    }
}
