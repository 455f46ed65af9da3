//! Everything computed when a snapshot is applied: the router, and per deployment an `ApiPlan`
//! with its backend resolved for the deployment's environment. Requests only read this. It is
//! built group by group, so a change to some groups compiles only those and shares the rest
//! with the snapshot before (`Compiled::update`).

pub(crate) mod access;
pub(crate) mod jwt;
pub(crate) mod params;
pub(crate) mod path;
pub(crate) mod plan;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use pylon_model::{
    Authorization, BackendDefinition, BackendTarget, Deployment, GroupState, Method, PartialChange,
    Policy, ServedChange, Snapshot, StageVariables,
};
use pylon_router::{EnvId, Environments, GroupId, GroupRoutes, RouteError, RouteSpec, Router};

use crate::backend::Resolver;
use crate::backend::upstream::{HealthRegistry, UpstreamPlan};
use crate::observe::metrics::registry::Metrics;
use crate::policy::state::PolicyStates;
use access::Apps;
pub(crate) use plan::ApiPlan;
use pylon_auth::nonce::NonceCache;

/// What outlives snapshots: target health, fetched JWK Sets, seen nonces, policy state and
/// the metrics are handed from one compiled snapshot to the next.
pub(crate) struct Carried {
    pub(crate) health: HealthRegistry,
    pub(crate) jwks: jwt::JwksRegistry,
    pub(crate) nonces: Arc<NonceCache>,
    pub(crate) policies: PolicyStates,
    pub(crate) metrics: Arc<Metrics>,
    /// Where hosted functions run, when hosting is on.
    pub(crate) functions: Option<Arc<pylon_functions::FunctionHost>>,
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
            metrics: Arc::new(Metrics::new()),
            functions: None,
        }
    }
}

/// One group's APIs compiled, by the index its routes answer with.
#[derive(Default)]
pub(crate) struct GroupPlans {
    plans: Vec<Served>,
}

/// One deployment compiled, with what routing needs to rebuild the group's routes without
/// it: a change to one API compiles that API's plan and reuses the others'.
#[derive(Clone)]
struct Served {
    plan: Arc<ApiPlan>,
    method: Method,
    regex_priority: i32,
    /// The API's creation time (route ties go to the older API).
    created_at: i64,
}

impl Served {
    fn new(plan: ApiPlan, d: &Deployment) -> Self {
        Served {
            plan: Arc::new(plan),
            method: d.api.spec.request.method,
            regex_priority: d.api.spec.request.regex_priority,
            created_at: d.api.created_at,
        }
    }

    fn route(&self) -> RouteSpec<'_> {
        RouteSpec {
            environment: &self.plan.environment,
            name: &self.plan.api_name,
            method: self.method,
            path: &self.plan.request_path,
            regex_priority: self.regex_priority,
            created_at: self.created_at,
        }
    }
}

/// Stage variables of one group, by canonical environment name.
type GroupVars = HashMap<String, BTreeMap<String, String>>;

/// What compiling one group needs from the rest of the published state: kept from one compile
/// to the next, so a change to some groups compiles only those.
#[derive(Default)]
struct Inputs {
    resolver: Arc<Resolver>,
    /// By (backend id, canonical environment).
    definitions: Arc<HashMap<(String, String), BackendDefinition>>,
    /// By group id.
    stage_variables: HashMap<String, Arc<GroupVars>>,
    /// Grants for each group's APIs, by group id.
    authorizations: HashMap<String, Arc<Vec<Authorization>>>,
    /// Policies bound to each (API id, canonical environment). Binding, unbinding or editing
    /// a policy reloads everything, so a partial change keeps these.
    bound: Arc<HashMap<(String, String), Vec<Policy>>>,
}

pub(crate) struct Compiled {
    pub(crate) router: Router,
    /// By [`GroupId`]: what each group's routes point at.
    groups: Vec<Arc<GroupPlans>>,
    /// The environment of a request without `X-Ca-Stage`.
    pub(crate) release: Option<EnvId>,
    pub(crate) apps: Arc<Apps>,
    pub(crate) nonces: Arc<NonceCache>,
    /// The gateway's metrics, which every request of this snapshot records into.
    pub(crate) metrics: Arc<Metrics>,
    inputs: Inputs,
}

impl Compiled {
    /// Only routing conflicts fail a compile; an API whose backend cannot be resolved is
    /// compiled as unservable and answers with an error naming nothing secret.
    pub(crate) fn build(
        snapshot: &Snapshot,
        base_domain: &str,
        carried: &Carried,
    ) -> Result<Self, RouteError> {
        let resolver = Resolver::build(
            &snapshot.upstreams,
            &snapshot.certificates,
            &carried.health,
            carried.functions.clone(),
        );
        let definitions = snapshot
            .backend_definitions
            .iter()
            .map(|d| {
                let key = (d.backend_id.clone(), upper(&d.environment));
                (key, d.definition.clone())
            })
            .collect();
        let policies: HashMap<&str, &Policy> = snapshot
            .policies
            .iter()
            .map(|p| (p.id.as_str(), p))
            .collect();
        let mut bound: HashMap<(String, String), Vec<Policy>> = HashMap::new();
        for b in &snapshot.policy_bindings {
            if let Some(p) = policies.get(b.policy_id.as_str()) {
                bound
                    .entry((b.api_id.clone(), upper(&b.environment)))
                    .or_default()
                    .push(Policy::clone(p));
            }
        }
        let mut inputs = Inputs {
            resolver: Arc::new(resolver),
            definitions: Arc::new(definitions),
            stage_variables: HashMap::new(),
            authorizations: HashMap::new(),
            bound: Arc::new(bound),
        };
        let mut views: HashMap<&str, GroupView<'_>> = snapshot
            .groups
            .iter()
            .map(|g| (g.id.as_str(), GroupView::new(&g.id)))
            .collect();
        for d in &snapshot.deployments {
            if let Some(view) = views.get_mut(d.group_id.as_str()) {
                view.deployments.push(d);
            }
        }
        for sv in &snapshot.stage_variables {
            if let Some(view) = views.get_mut(sv.group_id.as_str()) {
                view.stage_variables.push(sv);
            }
        }
        for a in &snapshot.authorizations {
            if let Some(view) = views.get_mut(a.group_id.as_str()) {
                view.authorizations.push(a);
            }
        }
        let environments = Environments::new(&snapshot.environments);
        let mut routes = Vec::with_capacity(snapshot.groups.len());
        let mut groups = Vec::with_capacity(snapshot.groups.len());
        for g in &snapshot.groups {
            let view = views.remove(g.id.as_str()).unwrap_or(GroupView::new(&g.id));
            let (r, plans) = inputs.compile_group(&view, &environments, carried)?;
            routes.push(Arc::new(r));
            groups.push(Arc::new(plans));
        }
        let router = Router::assemble(&snapshot.groups, environments, routes, base_domain)?;
        Ok(Self {
            release: router.environment("RELEASE"),
            router,
            groups,
            apps: Arc::new(Apps::build(&snapshot.apps)),
            nonces: carried.nonces.clone(),
            metrics: carried.metrics.clone(),
            inputs,
        })
    }

    /// This snapshot with `change` applied: the groups it names are compiled again, the others
    /// (their routes and plans) are reused as they are, and apps are rebuilt only when they
    /// changed.
    pub(crate) fn update(
        &self,
        change: &PartialChange,
        base_domain: &str,
        carried: &Carried,
    ) -> Result<Self, RouteError> {
        let mut inputs = Inputs {
            resolver: self.inputs.resolver.clone(),
            definitions: self.inputs.definitions.clone(),
            stage_variables: self.inputs.stage_variables.clone(),
            authorizations: self.inputs.authorizations.clone(),
            bound: self.inputs.bound.clone(),
        };
        let environments = self.router.environments().clone();
        let mut fresh: HashMap<&str, (Arc<GroupRoutes>, Arc<GroupPlans>)> = HashMap::new();
        for state in &change.changed {
            let view = GroupView::of(state);
            let (r, plans) = inputs.compile_group(&view, &environments, carried)?;
            fresh.insert(state.group_id.as_str(), (Arc::new(r), Arc::new(plans)));
        }
        let before: HashMap<&str, usize> = self
            .router
            .group_ids()
            .enumerate()
            .map(|(i, id)| (id, i))
            .collect();
        let mut served: HashMap<&str, Vec<&ServedChange>> = HashMap::new();
        for c in &change.served {
            served.entry(c.group_id.as_str()).or_default().push(c);
        }
        let mut routes = Vec::with_capacity(change.groups.len());
        let mut groups = Vec::with_capacity(change.groups.len());
        for g in &change.groups {
            let old = before.get(g.id.as_str()).and_then(|&i| {
                let r = self.router.group_routes(self.router.group_at(i)?)?;
                Some((r.clone(), self.groups.get(i)?.clone()))
            });
            let reused = match (served.remove(g.id.as_str()), old) {
                (Some(changes), old) => {
                    let plans = old.map(|(_, plans)| plans).unwrap_or_default();
                    let (r, plans) =
                        inputs.recompile_apis(&g.id, &plans, &changes, &environments, carried)?;
                    Some((Arc::new(r), Arc::new(plans)))
                }
                (None, old) => old,
            };
            let (r, plans) = match fresh.remove(g.id.as_str()).or(reused) {
                Some(compiled) => compiled,
                // A group no change named and the router did not hold serves nothing yet.
                None => {
                    let empty = GroupView::new(&g.id);
                    let (r, plans) = inputs.compile_group(&empty, &environments, carried)?;
                    (Arc::new(r), Arc::new(plans))
                }
            };
            routes.push(r);
            groups.push(plans);
        }
        let listed = |id: &String| change.groups.iter().any(|g| g.id == *id);
        inputs.stage_variables.retain(|id, _| listed(id));
        inputs.authorizations.retain(|id, _| listed(id));
        let router = Router::assemble(&change.groups, environments, routes, base_domain)?;
        let apps = match &change.apps {
            Some(apps) => Arc::new(Apps::build(apps)),
            None => self.apps.clone(),
        };
        Ok(Self {
            release: router.environment("RELEASE"),
            router,
            groups,
            apps,
            nonces: carried.nonces.clone(),
            metrics: carried.metrics.clone(),
            inputs,
        })
    }

    /// The upstreams this snapshot compiled, each once.
    pub(crate) fn upstreams(&self) -> impl Iterator<Item = &UpstreamPlan> {
        self.inputs.resolver.upstreams.plans()
    }

    /// The plan a route match of `group` points at.
    pub(crate) fn plan(&self, group: GroupId, index: usize) -> Option<&ApiPlan> {
        let served = self.groups.get(group.index())?.plans.get(index)?;
        Some(&served.plan)
    }
}

impl Inputs {
    /// Compiles one group's routes and plans (a match answers with the index of the plan), and
    /// keeps its stage variables for the next compile.
    fn compile_group(
        &mut self,
        state: &GroupView<'_>,
        environments: &Environments,
        carried: &Carried,
    ) -> Result<(GroupRoutes, GroupPlans), RouteError> {
        let vars = Arc::new(group_vars(&state.stage_variables));
        self.stage_variables
            .insert(state.group_id.to_string(), vars.clone());
        let authorizations: Vec<Authorization> =
            state.authorizations.iter().map(|a| (*a).clone()).collect();
        self.authorizations
            .insert(state.group_id.to_string(), Arc::new(authorizations));
        let routes = GroupRoutes::build(
            state.group_id,
            environments,
            state.deployments.iter().copied().enumerate(),
        )?;
        let grants = grants_by_api(state.authorizations.iter().copied());
        let plans = state
            .deployments
            .iter()
            .map(|d| Served::new(self.compile_plan(d, &vars, &grants, carried), d))
            .collect();
        Ok((routes, GroupPlans { plans }))
    }

    /// A group whose stage variables and grants did not change, with what some of its APIs
    /// serve changed: only those APIs are compiled, the others' plans are reused, and the
    /// group's routes are rebuilt from what each plan keeps of its route.
    fn recompile_apis(
        &self,
        group_id: &str,
        before: &GroupPlans,
        changes: &[&ServedChange],
        environments: &Environments,
        carried: &Carried,
    ) -> Result<(GroupRoutes, GroupPlans), RouteError> {
        let replaced = |p: &ApiPlan| {
            changes
                .iter()
                .any(|c| c.api_id == p.api_id && c.environment.eq_ignore_ascii_case(&p.environment))
        };
        let mut plans: Vec<Served> = before
            .plans
            .iter()
            .filter(|s| !replaced(&s.plan))
            .cloned()
            .collect();
        let vars = self
            .stage_variables
            .get(group_id)
            .cloned()
            .unwrap_or_default();
        let authorizations = self
            .authorizations
            .get(group_id)
            .cloned()
            .unwrap_or_default();
        let grants = grants_by_api(authorizations.iter());
        for d in changes.iter().filter_map(|c| c.deployment.as_ref()) {
            plans.push(Served::new(
                self.compile_plan(d, &vars, &grants, carried),
                d,
            ));
        }
        // Snapshot order (API creation, then environment), which breaks ties between routes.
        let env_order = |s: &Served| environments.get(&s.plan.environment).map(|e| e.index());
        plans.sort_by(|a, b| {
            (a.created_at, &a.plan.api_id, env_order(a)).cmp(&(
                b.created_at,
                &b.plan.api_id,
                env_order(b),
            ))
        });
        let routes = GroupRoutes::from_specs(
            group_id,
            environments,
            plans.iter().map(Served::route).enumerate(),
        )?;
        Ok((routes, GroupPlans { plans }))
    }

    fn compile_plan(
        &self,
        d: &Deployment,
        vars: &GroupVars,
        grants: &HashMap<(&str, String), Vec<&Authorization>>,
        carried: &Carried,
    ) -> ApiPlan {
        static EMPTY: BTreeMap<String, String> = BTreeMap::new();
        let env = upper(&d.environment);
        let definition = match &d.api.spec.backend.service {
            BackendTarget::Inline(def) => Some(def),
            BackendTarget::BackendId(id) => self.definitions.get(&(id.clone(), env.clone())),
        };
        let grants = grants
            .get(&(d.api_id.as_str(), env.clone()))
            .map_or(&[][..], Vec::as_slice);
        let bound = self
            .bound
            .get(&(d.api_id.clone(), env.clone()))
            .map_or(&[][..], Vec::as_slice);
        let inputs = plan::PlanInputs {
            definition,
            vars: vars.get(&env).unwrap_or(&EMPTY),
            resolver: &self.resolver,
            authorizations: grants,
            bound,
            jwks: &carried.jwks,
            states: &carried.policies,
            metrics: &carried.metrics,
        };
        ApiPlan::compile(d, &inputs)
    }
}

/// Grants by (API, environment), indexed once per group: filtering every authorization for
/// each deployment cost deployments x authorizations per compile.
fn grants_by_api<'a>(
    authorizations: impl Iterator<Item = &'a Authorization>,
) -> HashMap<(&'a str, String), Vec<&'a Authorization>> {
    let mut grants: HashMap<(&str, String), Vec<&Authorization>> = HashMap::new();
    for a in authorizations {
        grants
            .entry((a.spec.api_id.as_str(), upper(&a.spec.environment)))
            .or_default()
            .push(a);
    }
    grants
}

fn upper(s: &str) -> String {
    s.to_ascii_uppercase()
}

/// What compiling one group reads, borrowed from a snapshot or a change.
struct GroupView<'a> {
    group_id: &'a str,
    stage_variables: Vec<&'a StageVariables>,
    deployments: Vec<&'a Deployment>,
    authorizations: Vec<&'a Authorization>,
}

impl<'a> GroupView<'a> {
    fn new(group_id: &'a str) -> Self {
        GroupView {
            group_id,
            stage_variables: Vec::new(),
            deployments: Vec::new(),
            authorizations: Vec::new(),
        }
    }

    fn of(state: &'a GroupState) -> Self {
        GroupView {
            group_id: &state.group_id,
            stage_variables: state.stage_variables.iter().collect(),
            deployments: state.deployments.iter().collect(),
            authorizations: state.authorizations.iter().collect(),
        }
    }
}

fn group_vars(stage_variables: &[&StageVariables]) -> GroupVars {
    stage_variables
        .iter()
        .map(|sv| (upper(&sv.environment), sv.variables.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use pylon_model::{Environment, Group, Method};
    use serde_json::json;

    use super::*;

    fn group(id: &str) -> Group {
        serde_json::from_value(json!({
            "id": id, "name": id, "description": "", "domains": [],
            "created_at": 0, "updated_at": 0
        }))
        .unwrap()
    }

    fn deployment(group: &str, name: &str, path: &str) -> Deployment {
        serde_json::from_value(json!({
            "id": format!("d-{name}"), "api_id": format!("a-{name}"), "group_id": group,
            "environment": "RELEASE", "version": 1, "note": "", "created_at": 0, "active": true,
            "api": {
                "id": format!("a-{name}"), "group_id": group, "name": name,
                "request": { "method": "GET", "path": path },
                "backend": {
                    "service": { "inline": { "type": "http", "url": "http://127.0.0.1:9" } },
                    "path": "/"
                },
                "created_at": 0, "updated_at": 0
            }
        }))
        .unwrap()
    }

    fn find<'c>(c: &'c Compiled, group: &str, path: &str) -> Option<&'c ApiPlan> {
        let g = c.router.host(&format!("{group}.gw.test"))?.group;
        let env = c.router.environment("RELEASE")?;
        let found = c.router.find(g, env, Method::Get, path)?;
        c.plan(g, found.deployment)
    }

    #[test]
    fn a_partial_change_compiles_only_the_groups_it_names() {
        let snapshot = Snapshot {
            groups: vec![group("one"), group("two")],
            environments: vec![Environment {
                name: "RELEASE".into(),
                description: String::new(),
                builtin: true,
            }],
            deployments: vec![
                deployment("one", "kept", "/kept"),
                deployment("two", "old", "/old"),
            ],
            ..Snapshot::default()
        };
        let carried = Carried::default();
        let first = Compiled::build(&snapshot, "gw.test", &carried).unwrap();
        assert_eq!(find(&first, "two", "/old").unwrap().api_name, "old");

        let change = PartialChange {
            groups: vec![group("one"), group("two"), group("three")],
            changed: vec![
                GroupState {
                    group_id: "two".into(),
                    deployments: vec![deployment("two", "new", "/new")],
                    ..GroupState::default()
                },
                GroupState {
                    group_id: "three".into(),
                    deployments: vec![deployment("three", "born", "/born")],
                    ..GroupState::default()
                },
            ],
            served: Vec::new(),
            apps: None,
        };
        let second = first.update(&change, "gw.test", &carried).unwrap();
        assert!(Arc::ptr_eq(&first.groups[0], &second.groups[0]));
        assert!(Arc::ptr_eq(&first.apps, &second.apps));
        let kept = find(&second, "one", "/kept").unwrap();
        assert!(std::ptr::eq(kept, find(&first, "one", "/kept").unwrap()));
        assert!(find(&second, "two", "/old").is_none());
        assert_eq!(find(&second, "two", "/new").unwrap().api_name, "new");
        assert_eq!(find(&second, "three", "/born").unwrap().api_name, "born");

        // One API of a group published: that plan is compiled, the group's others reused.
        let served = |name: &str, deployment: Option<Deployment>| ServedChange {
            group_id: "one".into(),
            api_id: format!("a-{name}"),
            environment: "RELEASE".into(),
            deployment,
        };
        let published = PartialChange {
            groups: change.groups.clone(),
            served: vec![served("added", Some(deployment("one", "added", "/added")))],
            ..PartialChange::default()
        };
        let with_added = second.update(&published, "gw.test", &carried).unwrap();
        let kept = find(&second, "one", "/kept").unwrap();
        assert!(std::ptr::eq(
            kept,
            find(&with_added, "one", "/kept").unwrap()
        ));
        let added = find(&with_added, "one", "/added").unwrap();
        assert_eq!(added.api_name, "added");
        assert!(Arc::ptr_eq(&second.groups[1], &with_added.groups[1]));
        // Unpublished: its route goes, the other API of the group stays as compiled.
        let unpublished = PartialChange {
            groups: change.groups.clone(),
            served: vec![served("kept", None)],
            ..PartialChange::default()
        };
        let without = with_added
            .update(&unpublished, "gw.test", &carried)
            .unwrap();
        assert!(find(&without, "one", "/kept").is_none());
        assert!(std::ptr::eq(
            added,
            find(&without, "one", "/added").unwrap()
        ));

        // A group no longer listed is gone, with its routes.
        let gone = PartialChange {
            groups: vec![group("two")],
            changed: vec![GroupState {
                group_id: "one".into(),
                ..GroupState::default()
            }],
            served: Vec::new(),
            apps: Some(Vec::new()),
        };
        let third = second.update(&gone, "gw.test", &carried).unwrap();
        assert!(find(&third, "one", "/kept").is_none());
        assert!(Arc::ptr_eq(&second.groups[1], &third.groups[0]));
        assert!(!Arc::ptr_eq(&second.apps, &third.apps));
    }
}
