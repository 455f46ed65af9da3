//! Throttling: requests per unit of time for the API, per app, per user and per client
//! address (special limits replace the default for named apps and address ranges), and an
//! app's quota over calendar periods. A request is counted only where every limit that applies
//! to it had room; one that a later limit refuses is taken back from the earlier ones.

use std::collections::HashMap;
use std::sync::Arc;

use http::{HeaderMap, HeaderValue, Response};
use ipnet::IpNet;
use pylon_model::{ThrottleConfig, parse_ip_range, parse_time_zone};

use super::counter::{Counters, MemoryCounters, Subject};
use super::kind::{Binding, Policy, PolicyRequest};
use super::window::{self, Calendar, Window};
use crate::error::{GatewayError, ThrottleScope};
use crate::request::body::GatewayBody;

/// After IP control (5000) and CORS (4000): a refused address or a preflight spends nothing.
const PRIORITY: i32 = 3000;

pub(crate) const X_RATELIMIT_LIMIT: &str = "x-ratelimit-limit";
pub(crate) const X_RATELIMIT_REMAINING: &str = "x-ratelimit-remaining";
pub(crate) const X_RATELIMIT_RESET: &str = "x-ratelimit-reset";

#[derive(Debug)]
pub(crate) struct ThrottlePolicy {
    unit_s: i64,
    api: Option<u32>,
    app: Option<u32>,
    user: Option<u32>,
    ip: Option<u32>,
    special_apps: HashMap<Box<str>, u32>,
    /// First match wins, in the configured order.
    special_ranges: Vec<(IpNet, u32)>,
    quota: Option<Quota>,
    headers: bool,
    /// Carried from snapshot to snapshot: editing or rebinding the policy keeps the counts.
    counters: Arc<dyn Counters>,
}

#[derive(Debug)]
struct Quota {
    limit: u32,
    apps: HashMap<Box<str>, u32>,
    calendar: Calendar,
}

/// The limits validation let through fit in 32 bits; a larger one is clamped, not refused.
fn limit(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl ThrottlePolicy {
    pub(crate) fn compile(config: &ThrottleConfig, binding: &Binding<'_>) -> Result<Self, String> {
        let mut special_apps = HashMap::new();
        let mut special_ranges = Vec::new();
        for s in &config.special {
            match (&s.app_id, &s.range) {
                (Some(app), _) => {
                    special_apps.insert(app.as_str().into(), limit(s.limit));
                }
                (None, Some(range)) => {
                    special_ranges.push((parse_ip_range(range)?, limit(s.limit)))
                }
                (None, None) => return Err("a special limit names neither app nor range".into()),
            }
        }
        let quota = match &config.quota {
            Some(q) => Some(Quota {
                limit: limit(q.limit),
                apps: q
                    .apps
                    .iter()
                    .map(|a| (a.app_id.as_str().into(), limit(a.limit)))
                    .collect(),
                calendar: Calendar::new(q.period, parse_time_zone(&q.time_zone)?),
            }),
            None => None,
        };
        let counters: Arc<MemoryCounters> = binding
            .states
            .get_or_insert(&binding.state_key(), MemoryCounters::default);
        Ok(ThrottlePolicy {
            unit_s: config.unit.seconds(),
            api: config.api_limit.map(limit),
            app: config.app_limit.map(limit),
            user: config.user_limit.map(limit),
            ip: config.ip_limit.map(limit),
            special_apps,
            special_ranges,
            quota,
            headers: config.rate_limit_headers,
            counters,
        })
    }

    /// The limits that apply to this request, most specific first, so that the API's count is
    /// touched only by a request its caller's own limits let through.
    fn limits<'r>(&self, request: &PolicyRequest<'r>, now_ms: i64) -> Limits<'r> {
        let mut out = Limits::default();
        let unit = Window::fixed(now_ms, self.unit_s);
        let ip = request.client;
        let special_ip = self
            .special_ranges
            .iter()
            .find(|(net, _)| net.contains(&ip))
            .map(|&(_, l)| l);
        if let Some(l) = special_ip.or(self.ip) {
            out.push(ThrottleScope::Ip, Subject::Ip(ip), unit, l);
        }
        if let (Some(user), Some(l)) = (request.user, self.user) {
            out.push(ThrottleScope::User, Subject::User(user), unit, l);
        }
        if let Some(app) = request.app_id
            && let Some(l) = self.special_apps.get(app).copied().or(self.app)
        {
            out.push(ThrottleScope::App, Subject::App(app), unit, l);
        }
        if let Some(l) = self.api {
            out.push(ThrottleScope::Api, Subject::Api, unit, l);
        }
        if let (Some(q), Some(app)) = (&self.quota, request.app_id) {
            let l = q.apps.get(app).copied().unwrap_or(q.limit);
            out.push(
                ThrottleScope::Quota,
                Subject::Quota(app),
                q.calendar.window(now_ms),
                l,
            );
        }
        out
    }
}

/// One limit a request is held to.
#[derive(Clone, Copy)]
struct Held<'r> {
    scope: ThrottleScope,
    subject: Subject<'r>,
    window: Window,
    limit: u32,
}

/// At most one limit per scope: five, kept on the stack.
#[derive(Default)]
struct Limits<'r> {
    held: [Option<Held<'r>>; 5],
    len: usize,
}

impl<'r> Limits<'r> {
    fn push(&mut self, scope: ThrottleScope, subject: Subject<'r>, window: Window, limit: u32) {
        if let Some(slot) = self.held.get_mut(self.len) {
            *slot = Some(Held {
                scope,
                subject,
                window,
                limit,
            });
            self.len += 1;
        }
    }

    fn iter(&self) -> impl Iterator<Item = Held<'r>> + '_ {
        self.held[..self.len].iter().flatten().copied()
    }
}

impl Policy for ThrottlePolicy {
    fn kind(&self) -> &'static str {
        "throttle"
    }

    fn priority(&self) -> i32 {
        PRIORITY
    }

    fn on_request(
        &self,
        request: &PolicyRequest<'_>,
        response_headers: &mut HeaderMap,
    ) -> Result<Option<Response<GatewayBody>>, GatewayError> {
        if !request.preflight {
            self.admit(request, window::now_ms(), response_headers)?;
        }
        Ok(None)
    }
}

impl ThrottlePolicy {
    /// Counts the request against every limit that applies to it at `now_ms`, or refuses it.
    fn admit(
        &self,
        request: &PolicyRequest<'_>,
        now_ms: i64,
        response_headers: &mut HeaderMap,
    ) -> Result<(), GatewayError> {
        let limits = self.limits(request, now_ms);
        // The limit closest to running out, for the X-RateLimit headers.
        let mut tightest: Option<(u32, u32, Window)> = None;
        for (i, held) in limits.iter().enumerate() {
            let start = held.window.start;
            let Some(count) = self.counters.acquire(held.subject, start, held.limit) else {
                for earlier in limits.iter().take(i) {
                    self.counters.release(earlier.subject, earlier.window.start);
                }
                return Err(GatewayError::Throttled {
                    scope: held.scope,
                    retry_after: held.window.seconds_left(now_ms),
                });
            };
            let remaining = held.limit - count;
            if tightest.is_none_or(|(_, r, _)| remaining < r) {
                tightest = Some((held.limit, remaining, held.window));
            }
        }
        if let (true, Some((limit, remaining, window))) = (self.headers, tightest) {
            response_headers.insert(X_RATELIMIT_LIMIT, HeaderValue::from(limit));
            response_headers.insert(X_RATELIMIT_REMAINING, HeaderValue::from(remaining));
            response_headers.insert(
                X_RATELIMIT_RESET,
                HeaderValue::from(window.seconds_left(now_ms)),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::policy::state::PolicyStates;
    use crate::request::id::RequestId;

    fn policy(states: &PolicyStates, config: serde_json::Value) -> ThrottlePolicy {
        let pylon_model::PolicyConfig::Throttle(config) =
            pylon_model::PolicyConfig::parse("throttle", config).unwrap()
        else {
            unreachable!()
        };
        let binding = Binding {
            policy: "p",
            api_id: "a",
            environment: "RELEASE",
            api_method: "GET",
            states,
        };
        ThrottlePolicy::compile(&config, &binding).unwrap()
    }

    /// A fixed time in the middle of an hour, so that a test's calls share their windows.
    const NOW_MS: i64 = 1_796_126_400_000 + 1_800_000;

    /// Calls the policy as `app` / `user` from `ip`: the refusal's scope, or the headers added.
    fn call(
        p: &ThrottlePolicy,
        ip: &str,
        app: Option<&str>,
        user: Option<&str>,
    ) -> Result<HeaderMap, ThrottleScope> {
        let (parts, ()) = http::Request::get("/x").body(()).unwrap().into_parts();
        let id = RequestId::generate();
        let request = PolicyRequest {
            method: &parts.method,
            uri: &parts.uri,
            headers: &parts.headers,
            peer: "192.0.2.1:1".parse().unwrap(),
            client: ip.parse().unwrap(),
            app_id: app,
            user,
            api_id: "a",
            environment: "RELEASE",
            request_id: &id,
            preflight: false,
        };
        let mut headers = HeaderMap::new();
        match p.admit(&request, NOW_MS, &mut headers) {
            Ok(()) => Ok(headers),
            Err(GatewayError::Throttled { scope, .. }) => Err(scope),
            Err(e) => panic!("unexpected {e}"),
        }
    }

    #[test]
    fn each_scope_refuses_with_its_own_name_and_a_refusal_counts_nowhere() {
        let states = PolicyStates::default();
        let p = policy(
            &states,
            json!({"unit": "hour", "api_limit": 4, "app_limit": 2, "ip_limit": 3,
                   "special": [{"app_id": "vip", "limit": 3}, {"range": "10.0.0.0/8", "limit": 1}]}),
        );
        assert!(call(&p, "192.0.2.1", Some("a"), None).is_ok());
        assert!(call(&p, "192.0.2.1", Some("a"), None).is_ok());
        assert_eq!(
            call(&p, "192.0.2.1", Some("a"), None),
            Err(ThrottleScope::App)
        );
        // The app's refusal did not spend the address's third call.
        assert!(call(&p, "192.0.2.1", Some("vip"), None).is_ok());
        assert_eq!(
            call(&p, "192.0.2.1", Some("vip"), None),
            Err(ThrottleScope::Ip)
        );
        // A special range: one call per address in it.
        assert_eq!(call(&p, "10.1.1.1", Some("vip"), None).map(|_| ()), Ok(()));
        assert_eq!(
            call(&p, "10.1.1.1", Some("vip"), None),
            Err(ThrottleScope::Ip)
        );
        // Four admitted so far: the API is full for everyone.
        assert_eq!(
            call(&p, "10.1.1.2", Some("vip"), None),
            Err(ThrottleScope::Api)
        );
    }

    #[test]
    fn users_count_apart_and_headers_show_the_tightest_limit() {
        let states = PolicyStates::default();
        let p = policy(
            &states,
            json!({"unit": "day", "user_limit": 2, "api_limit": 100, "rate_limit_headers": true}),
        );
        let headers = call(&p, "192.0.2.1", None, Some("alice")).unwrap();
        assert_eq!(headers[X_RATELIMIT_LIMIT], "2");
        assert_eq!(headers[X_RATELIMIT_REMAINING], "1");
        // Half past the hour: the UTC day ends in so many seconds.
        let reset = 86_400 - (NOW_MS / 1000).rem_euclid(86_400);
        assert_eq!(headers[X_RATELIMIT_RESET], reset.to_string().as_str());
        call(&p, "192.0.2.1", None, Some("alice")).unwrap();
        assert_eq!(
            call(&p, "192.0.2.1", None, Some("alice")),
            Err(ThrottleScope::User)
        );
        let bob = call(&p, "192.0.2.1", None, Some("bob")).unwrap();
        assert_eq!(bob[X_RATELIMIT_REMAINING], "1");
        // Without a user (no JWT), only the API's limit applies.
        let anonymous = call(&p, "192.0.2.1", None, None).unwrap();
        assert_eq!(anonymous[X_RATELIMIT_LIMIT], "100");
        assert_eq!(anonymous[X_RATELIMIT_REMAINING], "96");
    }

    #[test]
    fn quotas_hold_apps_to_their_own_limit_and_counts_survive_a_recompile() {
        let states = PolicyStates::default();
        let config = json!({"unit": "second", "quota": {"limit": 2, "period": "month",
                            "apps": [{"app_id": "big", "limit": 3}]}});
        let first = policy(&states, config.clone());
        call(&first, "192.0.2.1", Some("a"), None).unwrap();
        // A publish compiles the policy again while the old snapshot still serves.
        let second = policy(&states, config);
        drop(first);
        call(&second, "192.0.2.1", Some("a"), None).unwrap();
        assert_eq!(
            call(&second, "192.0.2.1", Some("a"), None),
            Err(ThrottleScope::Quota)
        );
        for _ in 0..3 {
            call(&second, "192.0.2.1", Some("big"), None).unwrap();
        }
        assert_eq!(
            call(&second, "192.0.2.1", Some("big"), None),
            Err(ThrottleScope::Quota)
        );
        // Callers without an app have no quota to spend.
        call(&second, "192.0.2.1", None, None).unwrap();
    }
}
