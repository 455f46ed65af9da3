//! Policies: per API and environment, compiled at publish time and run by the pipeline in
//! priority order on the request (may answer it early) and on the response (may add headers).
//! A kind is one file here implementing `kind::Policy`, plus its line in [`compile`].

pub(crate) mod cors;
pub(crate) mod counter;
pub(crate) mod ip;
pub(crate) mod kind;
pub(crate) mod state;
pub(crate) mod throttle;
pub(crate) mod window;

use std::sync::Arc;

use http::{HeaderMap, Response};
use pylon_model::PolicyConfig;

use self::cors::CorsPolicy;
use self::ip::IpControlPolicy;
use self::kind::{Binding, Decision, Policy, PolicyRequest};
use self::throttle::ThrottlePolicy;
use crate::error::GatewayError;
use crate::request::body::GatewayBody;
use crate::response::Fields;

/// The registry: compiles one configured policy (bound to the API, or the API's inline
/// `cors`) for one binding.
pub(crate) fn compile(
    config: &PolicyConfig,
    binding: &Binding<'_>,
) -> Result<Arc<dyn Policy>, String> {
    Ok(match config {
        PolicyConfig::Cors(c) => Arc::new(CorsPolicy::compile(c, binding)?),
        PolicyConfig::IpControl(c) => Arc::new(IpControlPolicy::compile(c, binding)?),
        PolicyConfig::Throttle(c) => Arc::new(ThrottlePolicy::compile(c, binding)?),
    })
}

/// An API's policies, highest priority first. Empty for most APIs, which then pay nothing.
#[derive(Debug, Default)]
pub(crate) struct Policies {
    list: Vec<Arc<dyn Policy>>,
    answers_preflight: bool,
}

impl Policies {
    /// Adds a policy in its place; among equal priorities, the first added runs first.
    pub(crate) fn add(&mut self, policy: Arc<dyn Policy>) {
        self.answers_preflight |= policy.answers_preflight();
        let at = self
            .list
            .partition_point(|p| p.priority() >= policy.priority());
        self.list.insert(at, policy);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Whether a preflight for this API is the gateway's to answer.
    pub(crate) fn answers_preflight(&self) -> bool {
        self.answers_preflight
    }

    /// Runs each policy's request hook; the first answer or refusal ends the request. With
    /// `decisions`, what each policy decided is recorded there (online debugging).
    pub(crate) fn on_request(
        &self,
        request: &PolicyRequest<'_>,
        response_headers: &mut HeaderMap,
        mut decisions: Option<&mut Vec<Decision>>,
    ) -> Result<Option<Response<GatewayBody>>, GatewayError> {
        for policy in &self.list {
            let result = policy.on_request(request, response_headers);
            if let Some(decisions) = decisions.as_deref_mut() {
                let outcome = match &result {
                    Ok(None) => "pass".to_string(),
                    Ok(Some(answer)) => format!("answered {}", answer.status().as_u16()),
                    Err(e) => format!("refused: {}", e.message()),
                };
                decisions.push(Decision {
                    kind: policy.kind(),
                    outcome,
                });
            }
            if let Some(answer) = result? {
                return Ok(Some(answer));
            }
        }
        Ok(None)
    }

    pub(crate) fn on_response(&self, request: &PolicyRequest<'_>, headers: &mut Fields) {
        for policy in &self.list {
            policy.on_response(request, headers);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;
    use crate::policy::state::PolicyStates;
    use crate::request::id::RequestId;

    /// A test-only kind that counts the requests it sees, in state carried across publishes.
    #[derive(Debug)]
    struct Counting {
        priority: i32,
        refuses: bool,
        seen: Arc<AtomicU64>,
    }

    impl Counting {
        fn compile(binding: &Binding<'_>, priority: i32, refuses: bool) -> Arc<Self> {
            let seen = binding
                .states
                .get_or_insert(&binding.state_key(), || AtomicU64::new(0));
            Arc::new(Counting {
                priority,
                refuses,
                seen,
            })
        }
    }

    impl Policy for Counting {
        fn kind(&self) -> &'static str {
            "counting"
        }

        fn priority(&self) -> i32 {
            self.priority
        }

        fn on_request(
            &self,
            _request: &PolicyRequest<'_>,
            _response_headers: &mut HeaderMap,
        ) -> Result<Option<Response<GatewayBody>>, GatewayError> {
            let n = self.seen.fetch_add(1, Ordering::Relaxed) + 1;
            if self.refuses {
                return Err(GatewayError::Internal(format!("refused at {n}")));
            }
            Ok(None)
        }
    }

    fn binding<'b>(states: &'b PolicyStates, api_id: &'b str) -> Binding<'b> {
        Binding {
            policy: "counting",
            api_id,
            environment: "RELEASE",
            api_method: "GET",
            states,
        }
    }

    fn with_request(check: impl FnOnce(&PolicyRequest<'_>)) {
        let (parts, ()) = http::Request::get("/x").body(()).unwrap().into_parts();
        let id = RequestId::generate();
        check(&PolicyRequest {
            method: &parts.method,
            uri: &parts.uri,
            headers: &parts.headers,
            peer: "192.0.2.1:1".parse().unwrap(),
            client: "192.0.2.1".parse().unwrap(),
            app_id: None,
            user: None,
            api_id: "a1",
            environment: "RELEASE",
            request_id: &id,
            preflight: false,
        });
    }

    #[test]
    fn state_is_carried_to_the_next_snapshot_and_dropped_when_unused() {
        let states = PolicyStates::default();
        let first = Counting::compile(&binding(&states, "a1"), 0, false);
        with_request(|r| {
            for _ in 0..3 {
                first.on_request(r, &mut HeaderMap::new()).unwrap();
            }
        });
        // The next snapshot compiles while the first one still serves.
        let second = Counting::compile(&binding(&states, "a1"), 0, false);
        let other_api = Counting::compile(&binding(&states, "a2"), 0, false);
        drop(first);
        assert_eq!(second.seen.load(Ordering::Relaxed), 3);
        assert_eq!(other_api.seen.load(Ordering::Relaxed), 0);
        assert_eq!(states.live(), 2);
        // A snapshot that no longer has the policy lets its state go.
        drop(second);
        assert_eq!(states.live(), 1);
        let again = Counting::compile(&binding(&states, "a1"), 0, false);
        assert_eq!(again.seen.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn policies_run_highest_priority_first_and_stop_at_a_refusal() {
        let states = PolicyStates::default();
        let low = Counting::compile(&binding(&states, "low"), -5, false);
        let high = Counting::compile(&binding(&states, "high"), 10, true);
        let mut policies = Policies::default();
        assert!(policies.is_empty() && !policies.answers_preflight());
        // Added lowest first: the order comes from the priorities.
        policies.add(low.clone());
        policies.add(high.clone());
        with_request(|r| {
            let refused = policies
                .on_request(r, &mut HeaderMap::new(), None)
                .unwrap_err();
            assert!(refused.to_string().contains("refused at 1"), "{refused}");
        });
        assert_eq!(high.seen.load(Ordering::Relaxed), 1);
        assert_eq!(low.seen.load(Ordering::Relaxed), 0);
    }
}
