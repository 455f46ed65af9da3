//! Upstream backends: an API names an upstream (by id or name) and a path prefix; each request
//! goes round-robin over its targets, with passive health (a target that refused a connection is
//! skipped for a few seconds) and failover to the next target when connecting fails.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::HeaderValue;
use http::uri::{Authority, PathAndQuery};
use pylon_auth::now_ms;
use pylon_model::Upstream;

use super::client::{BackendRequest, HttpClient, SendError};
use super::deadline;
use super::pool::Endpoint;
use super::resolve::{Unservable, render_template};
use super::send::{self, Attempts, Sent};
use super::tls::{self, ClientCertificates};
use crate::error::GatewayError;
use crate::request::body::BackendBody;
use crate::request::outgoing::Outgoing;
use crate::response::Answer;

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

    /// Whether the target is taken as up now (the metrics read it when scraped).
    pub(crate) fn is_up(&self) -> bool {
        !self.is_down(now_ms())
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
    pub(crate) endpoint: Endpoint,
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
        certificates: &ClientCertificates,
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
            // Over TLS the certificate is checked for the Host the targets are asked for.
            let tls = match &upstream.spec.tls {
                None => None,
                Some(settings) => {
                    let default_name = match &upstream.spec.host_header {
                        Some(h) => Authority::from_str(h)
                            .map(|a| a.host().to_string())
                            .unwrap_or_else(|_| h.clone()),
                        None => authority.host().to_string(),
                    };
                    Some(
                        tls::compile(settings, &default_name, certificates)
                            .map_err(|e| format!("upstream `{}`: {e}", upstream.spec.name))?,
                    )
                }
            };
            targets.push(Target {
                address: address.clone(),
                endpoint: Endpoint::with_tls(authority, tls),
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

/// The snapshot's upstreams compiled once per snapshot, by id and by name.
#[derive(Default)]
pub(crate) struct Upstreams {
    plans: HashMap<String, Arc<UpstreamPlan>>,
    /// Upstreams that did not compile, with why: an API using one is unservable.
    broken: HashMap<String, String>,
}

impl Upstreams {
    /// Each compiled upstream once (they are indexed by id and by name).
    pub(crate) fn plans(&self) -> impl Iterator<Item = &UpstreamPlan> {
        let mut seen = std::collections::HashSet::new();
        self.plans
            .values()
            .filter(move |p| seen.insert(Arc::as_ptr(p)))
            .map(|p| &**p)
    }

    /// Compiles every upstream, handing target health over from the previous snapshot; the
    /// registry keeps exactly the entries this snapshot uses.
    pub(crate) fn build(
        upstreams: &[Upstream],
        certificates: &ClientCertificates,
        health: &HealthRegistry,
    ) -> Self {
        let old_health = health.current();
        let mut used_health = HashMap::new();
        let mut out = Upstreams::default();
        // Names first, ids after, so an id wins when a name happens to equal another's id.
        for u in upstreams {
            match UpstreamPlan::compile(u, certificates, &old_health, &mut used_health) {
                Ok(plan) => {
                    let plan = Arc::new(plan);
                    out.plans.insert(u.spec.name.clone(), plan.clone());
                    out.plans.insert(u.id.clone(), plan);
                }
                Err(why) => {
                    out.broken.insert(u.spec.name.clone(), why.clone());
                    out.broken.insert(u.id.clone(), why);
                }
            }
        }
        health.replace(used_health);
        out
    }
}

/// An API's upstream backend, resolved for one environment.
#[derive(Debug)]
pub(crate) struct UpstreamTarget {
    pub(crate) upstream: Arc<UpstreamPlan>,
    pub(crate) base_path: String,
}

impl UpstreamTarget {
    pub(crate) fn compile(
        reference: &str,
        path_prefix: &str,
        vars: &BTreeMap<String, String>,
        upstreams: &Upstreams,
    ) -> Result<Self, Unservable> {
        let reference = render_template(reference, vars, "upstream reference")?;
        let reference = reference.trim();
        if let Some(why) = upstreams.broken.get(reference) {
            return Err(Unservable::Internal(why.clone()));
        }
        let plan = upstreams.plans.get(reference).cloned().ok_or_else(|| {
            Unservable::Unavailable(format!("upstream `{reference}` does not exist"))
        })?;
        Ok(UpstreamTarget {
            upstream: plan,
            base_path: path_prefix.trim_end_matches('/').to_string(),
        })
    }

    /// Tries the targets in attempt order; only a failed connection moves on to the next.
    pub(crate) async fn call<'p>(
        &'p self,
        client: &HttpClient,
        timeout: Duration,
        sets_host: bool,
        out: Outgoing<'_>,
    ) -> Result<(Answer<BackendBody>, Sent<'p>), GatewayError> {
        let upstream = &self.upstream;
        let until = deadline::after(timeout);
        let timeout_ms = timeout.as_millis() as u64;
        let mut path = send::path(out.path_and_query)?;
        let count = upstream.targets.len();
        let mut body = Attempts::new(out.body, count > 1);
        let mut failures = Vec::new();
        for (attempt, target) in upstream.attempt_order().enumerate() {
            let Some(attempt_body) = body.next() else {
                break;
            };
            // The path is copied only while another attempt may follow.
            let attempt_path = if attempt + 1 < count {
                path.clone()
            } else {
                std::mem::replace(&mut path, PathAndQuery::from_static("/"))
            };
            let host = (!sets_host).then_some(&target.host);
            let req = BackendRequest {
                method: &out.method,
                path: attempt_path,
                headers: &out.headers,
                host,
                body: attempt_body,
            };
            match deadline::within(until, client.send(&target.endpoint, req)).await {
                Ok(Ok((response, negotiated))) => {
                    target.health.mark_up();
                    return Ok((response, Sent::new(&target.endpoint, host, negotiated)));
                }
                Ok(Err(SendError::Connect(reason))) => {
                    target.health.mark_down();
                    failures.push(format!("{}: {reason}", target.address));
                }
                Ok(Err(e)) => {
                    return Err(send::failed(
                        || format!("upstream {} target {}", upstream.name, target.address),
                        &e,
                    ));
                }
                Err(_) => {
                    return Err(GatewayError::BackendTimeout {
                        target: format!("upstream {} target {}", upstream.name, target.address),
                        timeout_ms,
                    });
                }
            }
        }
        if failures.len() == count {
            Err(GatewayError::ServiceUnavailable(format!(
                "every target of upstream {} is down ({})",
                upstream.name,
                failures.join("; ")
            )))
        } else {
            Err(GatewayError::BackendFailed {
                target: format!("upstream {}", upstream.name),
                reason: format!(
                    "connecting failed after the body was sent ({})",
                    failures.join("; ")
                ),
            })
        }
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
                tls: None,
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
            &ClientCertificates::default(),
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
        let plan = UpstreamPlan::compile(
            &upstream(&["a:1", "b:2"]),
            &ClientCertificates::default(),
            &HashMap::new(),
            &mut used,
        )
        .unwrap();
        plan.targets[0].health.mark_down();
        assert_eq!(order(&plan), ["b:2", "a:1"]);
        assert_eq!(order(&plan), ["b:2", "a:1"]);
        plan.targets[0].health.mark_up();
        assert_eq!(order(&plan), ["a:1", "b:2"]);
    }

    #[test]
    fn each_upstream_is_listed_once_though_indexed_twice() {
        let upstreams = Upstreams::build(
            &[upstream(&["a:1", "b:2"])],
            &ClientCertificates::default(),
            &HealthRegistry::default(),
        );
        let names: Vec<&str> = upstreams.plans().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["vpc"]);
    }

    #[test]
    fn health_survives_a_recompile() {
        let mut used = HashMap::new();
        let first = UpstreamPlan::compile(
            &upstream(&["a:1"]),
            &ClientCertificates::default(),
            &HashMap::new(),
            &mut used,
        )
        .unwrap();
        first.targets[0].health.mark_down();
        let mut again = HashMap::new();
        let second = UpstreamPlan::compile(
            &upstream(&["a:1"]),
            &ClientCertificates::default(),
            &used,
            &mut again,
        )
        .unwrap();
        assert!(second.targets[0].health.is_down(now_ms()));
    }
}
