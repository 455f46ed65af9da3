//! Upstreams at run time: round-robin over the targets per request, passive health (a target
//! that refused a connection is skipped for a few seconds), and the attempt order for failover.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::HeaderValue;
use http::uri::Authority;
use pylon_auth::now_ms;
use pylon_model::Upstream;

/// How long a target that failed to connect is skipped.
pub(crate) const DOWN_FOR: Duration = Duration::from_secs(5);

/// Passive health of one `host:port`, shared by every snapshot that uses it so a publish does
/// not forget that a target is down.
#[derive(Debug, Default)]
pub(crate) struct TargetHealth {
    /// `now_ms()` until which the target is considered down; 0 when up.
    down_until: AtomicI64,
}

impl TargetHealth {
    fn is_down(&self, now: i64) -> bool {
        self.down_until.load(Ordering::Relaxed) > now
    }

    pub(crate) fn mark_down(&self) {
        self.down_until.store(
            now_ms().saturating_add(DOWN_FOR.as_millis() as i64),
            Ordering::Relaxed,
        );
    }

    pub(crate) fn mark_up(&self) {
        if self.down_until.load(Ordering::Relaxed) != 0 {
            self.down_until.store(0, Ordering::Relaxed);
        }
    }
}

/// Health by target address, carried from one compiled snapshot to the next.
#[derive(Debug, Default)]
pub(crate) struct HealthRegistry {
    targets: Mutex<HashMap<String, Arc<TargetHealth>>>,
}

impl HealthRegistry {
    /// The current entries, to look targets up in while compiling.
    pub(crate) fn current(&self) -> HashMap<String, Arc<TargetHealth>> {
        self.targets.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Keeps exactly the entries the new snapshot uses.
    pub(crate) fn replace(&self, used: HashMap<String, Arc<TargetHealth>>) {
        if let Ok(mut m) = self.targets.lock() {
            *m = used;
        }
    }
}

#[derive(Debug)]
pub(crate) struct Target {
    /// `host:port` as configured, for logs.
    pub(crate) address: String,
    pub(crate) authority: Authority,
    /// The Host header: the upstream's `host_header`, else the address.
    pub(crate) host: HeaderValue,
    pub(crate) health: Arc<TargetHealth>,
}

#[derive(Debug)]
pub(crate) struct UpstreamPlan {
    pub(crate) name: String,
    pub(crate) targets: Vec<Target>,
    next: AtomicUsize,
}

impl UpstreamPlan {
    /// `old` holds the health entries of the previous snapshot; `used` collects this one's.
    pub(crate) fn compile(
        upstream: &Upstream,
        old: &HashMap<String, Arc<TargetHealth>>,
        used: &mut HashMap<String, Arc<TargetHealth>>,
    ) -> Result<Self, String> {
        let host_header = match &upstream.spec.host_header {
            Some(h) => Some(HeaderValue::from_str(h).map_err(|_| {
                format!(
                    "upstream `{}`: host_header `{h}` is not a header value",
                    upstream.spec.name
                )
            })?),
            None => None,
        };
        let mut targets = Vec::with_capacity(upstream.spec.targets.len());
        for address in &upstream.spec.targets {
            let authority = Authority::from_str(address).map_err(|_| {
                format!(
                    "upstream `{}`: target `{address}` is not host:port",
                    upstream.spec.name
                )
            })?;
            let host = match &host_header {
                Some(h) => h.clone(),
                None => HeaderValue::from_str(authority.as_str())
                    .map_err(|_| format!("target `{address}` is not a header value"))?,
            };
            let health = used
                .entry(address.clone())
                .or_insert_with(|| old.get(address).cloned().unwrap_or_default())
                .clone();
            targets.push(Target {
                address: address.clone(),
                authority,
                host,
                health,
            });
        }
        if targets.is_empty() {
            return Err(format!("upstream `{}` has no targets", upstream.spec.name));
        }
        Ok(Self {
            name: upstream.spec.name.clone(),
            targets,
            next: AtomicUsize::new(0),
        })
    }

    /// The targets to try for one request: round-robin from the next start, targets that are
    /// up first, then the ones marked down (the mark may be stale; trying beats refusing).
    pub(crate) fn attempt_order(&self) -> impl Iterator<Item = &Target> + '_ {
        let n = self.targets.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n.max(1);
        let now = now_ms();
        // A bit per target, read once so no target is tried twice in one request.
        let mut down = 0u64;
        for (i, t) in self.targets.iter().take(64).enumerate() {
            if t.health.is_down(now) {
                down |= 1 << i;
            }
        }
        let is_down = move |i: usize| i < 64 && down & (1 << i) != 0;
        let rotation = move || (0..n).map(move |k| (start + k) % n);
        rotation()
            .filter(move |&i| !is_down(i))
            .chain(rotation().filter(move |&i| is_down(i)))
            .map(move |i| &self.targets[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pylon_model::UpstreamSpec;

    fn upstream(targets: &[&str]) -> Upstream {
        Upstream {
            id: "u1".into(),
            spec: UpstreamSpec {
                name: "vpc".into(),
                description: String::new(),
                targets: targets.iter().map(|s| s.to_string()).collect(),
                host_header: None,
            },
            created_at: 0,
            updated_at: 0,
        }
    }

    fn order(plan: &UpstreamPlan) -> Vec<&str> {
        plan.attempt_order().map(|t| t.address.as_str()).collect()
    }

    #[test]
    fn requests_rotate_over_the_targets() {
        let mut used = HashMap::new();
        let plan = UpstreamPlan::compile(
            &upstream(&["a:1", "b:2", "c:3"]),
            &HashMap::new(),
            &mut used,
        )
        .unwrap();
        assert_eq!(order(&plan), ["a:1", "b:2", "c:3"]);
        assert_eq!(order(&plan), ["b:2", "c:3", "a:1"]);
        assert_eq!(order(&plan), ["c:3", "a:1", "b:2"]);
        assert_eq!(plan.targets[0].host, "a:1");
    }

    #[test]
    fn down_targets_go_last_until_they_recover() {
        let mut used = HashMap::new();
        let plan =
            UpstreamPlan::compile(&upstream(&["a:1", "b:2"]), &HashMap::new(), &mut used).unwrap();
        plan.targets[0].health.mark_down();
        assert_eq!(order(&plan), ["b:2", "a:1"]);
        assert_eq!(order(&plan), ["b:2", "a:1"]);
        plan.targets[0].health.mark_up();
        assert_eq!(order(&plan), ["a:1", "b:2"]);
    }

    #[test]
    fn health_survives_a_recompile() {
        let mut used = HashMap::new();
        let first = UpstreamPlan::compile(&upstream(&["a:1"]), &HashMap::new(), &mut used).unwrap();
        first.targets[0].health.mark_down();
        let mut again = HashMap::new();
        let second = UpstreamPlan::compile(&upstream(&["a:1"]), &used, &mut again).unwrap();
        assert!(second.targets[0].health.is_down(now_ms()));
    }
}
