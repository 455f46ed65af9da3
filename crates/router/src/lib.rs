//! Pylon's router: compiles a published [`Snapshot`] into lookup tables once, when it is
//! published, and answers per request which group (by Host), environment and deployment (by
//! method and path, in DESIGN.md's match-class order) serve it. Lookups never scan the APIs.

mod error;
mod host;
mod lookup;
mod params;
mod prefix;
mod regexes;
mod table;

use std::sync::Arc;

use foldhash::HashMap;

use pylon_model::{Deployment, Environment, Group, Method, PathPattern, Snapshot};

pub use error::RouteError;
pub use lookup::{EnvId, GroupId, HostMatch, RouteMatch};

use error::AddError;
use host::HostTable;
use table::{Table, TableBuilder};

/// Environment names longer than this cannot exist (the model allows 32).
const MAX_ENV_LEN: usize = 64;

/// A snapshot's environments, in order: what [`EnvId`]s index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environments {
    /// Canonical (uppercase) names, by [`EnvId`].
    names: Vec<String>,
    index: HashMap<String, EnvId>,
}

impl Environments {
    pub fn new(environments: &[Environment]) -> Self {
        let mut out = Environments::default();
        for env in environments {
            let name = env.name.to_ascii_uppercase();
            if !out.index.contains_key(&name) {
                out.index
                    .insert(name.clone(), EnvId(out.names.len() as u32));
                out.names.push(name);
            }
        }
        out
    }

    /// Case-insensitive; only environments in the snapshot.
    pub fn get(&self, name: &str) -> Option<EnvId> {
        let mut buf = [0u8; MAX_ENV_LEN];
        let out = buf.get_mut(..name.len())?;
        out.copy_from_slice(name.as_bytes());
        out.make_ascii_uppercase();
        let upper = std::str::from_utf8(out).ok()?;
        self.index.get(upper).copied()
    }

    fn len(&self) -> usize {
        self.names.len()
    }
}

/// One group's routes in every environment, compiled on their own: a router assembled after a
/// change reuses the groups the change did not touch.
#[derive(Debug)]
pub struct GroupRoutes {
    /// By [`EnvId`] of the environments it was built for.
    tables: Vec<Table>,
}

/// What routing needs of one published API: enough to rebuild a group's routes without the
/// whole deployment.
#[derive(Debug, Clone, Copy)]
pub struct RouteSpec<'a> {
    pub environment: &'a str,
    /// The API's name, for conflict messages.
    pub name: &'a str,
    pub method: Method,
    pub path: &'a str,
    pub regex_priority: i32,
    /// The API's creation time: among equals, the older API wins.
    pub created_at: i64,
}

impl<'a> RouteSpec<'a> {
    pub fn of(deployment: &'a Deployment) -> Self {
        let request = &deployment.api.spec.request;
        RouteSpec {
            environment: &deployment.environment,
            name: &deployment.api.spec.name,
            method: request.method,
            path: &request.path,
            regex_priority: request.regex_priority,
            created_at: deployment.api.created_at,
        }
    }
}

impl GroupRoutes {
    /// Compiles `deployments`, each with the index a match will answer with. Deployments of
    /// environments not in `environments` are unreachable and skipped. Fails when two of them
    /// would answer the same requests in one environment, or a path does not compile.
    pub fn build<'d>(
        group_id: &str,
        environments: &Environments,
        deployments: impl IntoIterator<Item = (usize, &'d Deployment)>,
    ) -> Result<GroupRoutes, RouteError> {
        let specs = deployments.into_iter().map(|(i, d)| (i, RouteSpec::of(d)));
        GroupRoutes::from_specs(group_id, environments, specs)
    }

    /// [`GroupRoutes::build`] from what routing needs of each API.
    pub fn from_specs<'d>(
        group_id: &str,
        environments: &Environments,
        routes: impl IntoIterator<Item = (usize, RouteSpec<'d>)>,
    ) -> Result<GroupRoutes, RouteError> {
        let mut builders: Vec<TableBuilder> = (0..environments.len())
            .map(|_| TableBuilder::default())
            .collect();
        let mut names: HashMap<usize, &'d str> = HashMap::default();
        for (index, route) in routes {
            let Some(e) = environments.get(route.environment) else {
                continue;
            };
            let environment = || environments.names[e.0 as usize].clone();
            let api = route.name;
            let pattern =
                PathPattern::parse(route.path).map_err(|err| RouteError::InvalidPath {
                    group: group_id.to_string(),
                    environment: environment(),
                    api: api.to_string(),
                    message: err.message,
                })?;
            names.insert(index, api);
            builders[e.0 as usize]
                .add(
                    route.method,
                    pattern,
                    index,
                    route.regex_priority,
                    route.created_at,
                )
                .map_err(|err| match err {
                    AddError::Clash { existing, reason } => RouteError::Conflict {
                        group: group_id.to_string(),
                        environment: environment(),
                        first_api: names.get(&existing).copied().unwrap_or("").to_string(),
                        second_api: api.to_string(),
                        reason,
                    },
                    AddError::Invalid(message) => RouteError::InvalidPath {
                        group: group_id.to_string(),
                        environment: environment(),
                        api: api.to_string(),
                        message,
                    },
                })?;
        }
        let mut tables = Vec::with_capacity(builders.len());
        for (e, builder) in builders.into_iter().enumerate() {
            tables.push(builder.build().map_err(|message| RouteError::Regex {
                group: group_id.to_string(),
                environment: environments.names[e].clone(),
                message,
            })?);
        }
        Ok(GroupRoutes { tables })
    }
}

/// A compiled, immutable snapshot's routes.
#[derive(Debug)]
pub struct Router {
    hosts: HostTable,
    /// Model group ids, by [`GroupId`].
    groups: Vec<String>,
    environments: Environments,
    /// By [`GroupId`].
    routes: Vec<Arc<GroupRoutes>>,
}

impl Router {
    /// Compiles `snapshot`; a match answers with the deployment's index in
    /// `snapshot.deployments`. Fails when two APIs of one group and environment would answer
    /// the same requests (same method, class and pattern), when a domain is bound to two
    /// groups, or when a path does not compile. Deployments naming a group or environment the
    /// snapshot does not hold are unreachable and skipped.
    pub fn build(snapshot: &Snapshot, base_domain: &str) -> Result<Router, RouteError> {
        let environments = Environments::new(&snapshot.environments);
        let mut by_group: HashMap<&str, Vec<(usize, &Deployment)>> = HashMap::default();
        for (index, d) in snapshot.deployments.iter().enumerate() {
            by_group
                .entry(d.group_id.as_str())
                .or_default()
                .push((index, d));
        }
        let mut routes = Vec::with_capacity(snapshot.groups.len());
        for g in &snapshot.groups {
            let deployments = by_group.remove(g.id.as_str()).unwrap_or_default();
            routes.push(Arc::new(GroupRoutes::build(
                &g.id,
                &environments,
                deployments,
            )?));
        }
        Router::assemble(&snapshot.groups, environments, routes, base_domain)
    }

    /// A router over `groups`, with `routes[i]` the routes of `groups[i]`, each built for
    /// `environments`. Fails when a domain is bound to two groups.
    pub fn assemble(
        groups: &[Group],
        environments: Environments,
        routes: Vec<Arc<GroupRoutes>>,
        base_domain: &str,
    ) -> Result<Router, RouteError> {
        if routes.len() != groups.len()
            || routes.iter().any(|r| r.tables.len() != environments.len())
        {
            return Err(RouteError::Internal(
                "group routes do not match the groups and environments".into(),
            ));
        }
        let hosts = HostTable::build(groups, base_domain, |name| environments.get(name))?;
        Ok(Router {
            hosts,
            groups: groups.iter().map(|g| g.id.clone()).collect(),
            environments,
            routes,
        })
    }

    /// The environments the router was built for.
    pub fn environments(&self) -> &Environments {
        &self.environments
    }

    /// The model ids of the groups, in [`GroupId`] order.
    pub fn group_ids(&self) -> impl Iterator<Item = &str> + '_ {
        self.groups.iter().map(String::as_str)
    }

    /// The group at `index` in [`Router::group_ids`].
    pub fn group_at(&self, index: usize) -> Option<GroupId> {
        (index < self.groups.len()).then_some(GroupId(index as u32))
    }

    /// The routes of `group`, to reuse in the next router when the group did not change.
    pub fn group_routes(&self, group: GroupId) -> Option<&Arc<GroupRoutes>> {
        self.routes.get(group.0 as usize)
    }

    /// The group serving `host` as it came in the Host header (any case, maybe with `:port`):
    /// custom domains, then `*.` wildcard domains, and `<group-id>.<base_domain>`; with the
    /// environment a custom domain is bound to. A domain bound to an environment this snapshot
    /// does not hold serves nothing.
    pub fn host(&self, host: &str) -> Option<HostMatch> {
        self.hosts.lookup(host)
    }

    /// Whether some domain takes the environment from the path (else no request needs its
    /// host looked up before routing).
    pub fn has_stage_paths(&self) -> bool {
        self.hosts.has_stage_paths()
    }

    /// Case-insensitive; only environments in the snapshot.
    pub fn environment(&self, name: &str) -> Option<EnvId> {
        self.environments.get(name)
    }

    /// The deployment serving `method` and the raw (not percent-decoded) `path`.
    pub fn find<'r, 'p>(
        &'r self,
        group: GroupId,
        env: EnvId,
        method: Method,
        path: &'p str,
    ) -> Option<RouteMatch<'r, 'p>> {
        self.routes
            .get(group.0 as usize)?
            .tables
            .get(env.0 as usize)?
            .find(method, path)
    }

    /// Every environment of the snapshot.
    pub fn environment_ids(&self) -> impl Iterator<Item = EnvId> + '_ {
        (0..self.environments.len()).map(|i| EnvId(i as u32))
    }

    /// The model `Group.id`; "" for an id from another router.
    pub fn group_id(&self, g: GroupId) -> &str {
        self.groups.get(g.0 as usize).map_or("", String::as_str)
    }

    /// The canonical (uppercase) name; "" for an id from another router.
    pub fn environment_name(&self, e: EnvId) -> &str {
        self.environments
            .names
            .get(e.0 as usize)
            .map_or("", String::as_str)
    }
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod testutil;
