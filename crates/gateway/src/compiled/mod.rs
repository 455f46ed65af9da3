//! Everything computed when a snapshot is applied: the router, and per deployment an `ApiPlan`
//! with its backend resolved for the deployment's environment. Requests only read this.

pub(crate) mod access;
pub(crate) mod jwt;
pub(crate) mod params;
pub(crate) mod path;
pub(crate) mod plan;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use pylon_model::{BackendDefinition, BackendTarget, Snapshot};
use pylon_router::{EnvId, RouteError, Router};

use crate::backend::Resolver;
use crate::backend::upstream::HealthRegistry;
use crate::policy::state::PolicyStates;
use access::Apps;
pub(crate) use plan::ApiPlan;
use pylon_auth::nonce::NonceCache;

/// What outlives snapshots: target health, fetched JWK Sets, seen nonces and policy state are
/// handed from one compiled snapshot to the next.
pub(crate) struct Carried {
    pub(crate) health: HealthRegistry,
    pub(crate) jwks: jwt::JwksRegistry,
    pub(crate) nonces: Arc<NonceCache>,
    pub(crate) policies: PolicyStates,
}

/// Distinct nonces remembered at most (about 16 bytes each); see `pylon_auth::nonce`.
const MAX_NONCES: usize = 1_000_000;

impl Default for Carried {
    fn default() -> Self {
        Carried {
            health: HealthRegistry::default(),
            jwks: jwt::JwksRegistry::default(),
            nonces: Arc::new(NonceCache::new(MAX_NONCES)),
            policies: PolicyStates::default(),
        }
    }
}

pub(crate) struct Compiled {
    pub(crate) router: Router,
    /// Indexed like `snapshot.deployments`, which is what the router's matches point at.
    pub(crate) plans: Vec<ApiPlan>,
    /// The environment of a request without `X-Ca-Stage`.
    pub(crate) release: Option<EnvId>,
    pub(crate) apps: Apps,
    pub(crate) nonces: Arc<NonceCache>,
}

impl Compiled {
    /// Only routing conflicts fail a compile; an API whose backend cannot be resolved is
    /// compiled as unservable and answers with an error naming nothing secret.
    pub(crate) fn build(
        snapshot: &Snapshot,
        base_domain: &str,
        carried: &Carried,
    ) -> Result<Self, RouteError> {
        let health = &carried.health;
        let router = Router::build(snapshot, base_domain)?;
        let release = router.environment("RELEASE");

        let resolver = Resolver::build(&snapshot.upstreams, health);

        let upper = |s: &str| s.to_ascii_uppercase();
        let mut stage_variables: HashMap<(&str, String), &BTreeMap<String, String>> =
            HashMap::new();
        for sv in &snapshot.stage_variables {
            stage_variables.insert(
                (sv.group_id.as_str(), upper(&sv.environment)),
                &sv.variables,
            );
        }
        let mut definitions: HashMap<(&str, String), &BackendDefinition> = HashMap::new();
        for d in &snapshot.backend_definitions {
            definitions.insert(
                (d.backend_id.as_str(), upper(&d.environment)),
                &d.definition,
            );
        }

        // Grants by (API, environment), indexed once: filtering every authorization for each
        // deployment cost deployments x authorizations per publish.
        let mut grants: HashMap<(&str, String), Vec<&pylon_model::Authorization>> = HashMap::new();
        for a in &snapshot.authorizations {
            grants
                .entry((a.spec.api_id.as_str(), upper(&a.spec.environment)))
                .or_default()
                .push(a);
        }
        let apps = Apps::build(&snapshot.apps);
        let empty = BTreeMap::new();
        let no_grants = Vec::new();
        let plans = snapshot
            .deployments
            .iter()
            .map(|d| {
                let env = upper(&d.environment);
                let vars = stage_variables
                    .get(&(d.group_id.as_str(), env.clone()))
                    .copied()
                    .unwrap_or(&empty);
                let definition = match &d.api.spec.backend.service {
                    BackendTarget::Inline(def) => Some(def),
                    BackendTarget::BackendId(id) => definitions.get(&(id.as_str(), env)).copied(),
                };
                ApiPlan::compile(
                    d,
                    definition,
                    vars,
                    &resolver,
                    &apps,
                    grants
                        .get(&(d.api_id.as_str(), upper(&d.environment)))
                        .unwrap_or(&no_grants),
                    &carried.jwks,
                    &carried.policies,
                )
            })
            .collect();
        Ok(Self {
            router,
            plans,
            release,
            apps,
            nonces: carried.nonces.clone(),
        })
    }
}
