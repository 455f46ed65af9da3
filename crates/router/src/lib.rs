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

use foldhash::HashMap;

use pylon_model::{Method, PathPattern, Snapshot};

pub use error::RouteError;
pub use lookup::{EnvId, GroupId, HostMatch, RouteMatch};

use error::AddError;
use host::HostTable;
use table::{Table, TableBuilder};

/// Environment names longer than this cannot exist (the model allows 32).
const MAX_ENV_LEN: usize = 64;

/// A compiled, immutable snapshot's routes.
#[derive(Debug)]
pub struct Router {
    hosts: HostTable,
    /// Model group ids, by [`GroupId`].
    groups: Vec<String>,
    /// Canonical (uppercase) environment names, by [`EnvId`].
    environments: Vec<String>,
    environment_index: HashMap<String, EnvId>,
    /// `group * environments.len() + environment`.
    tables: Vec<Table>,
}

impl Router {
    /// Compiles `snapshot`. Fails when two APIs of one group and environment would answer the
    /// same requests (same method, class and pattern), when a domain is bound to two groups, or
    /// when a path does not compile. Deployments naming a group or environment the snapshot
    /// does not hold are unreachable and skipped.
    pub fn build(snapshot: &Snapshot, base_domain: &str) -> Result<Router, RouteError> {
        let groups: Vec<String> = snapshot.groups.iter().map(|g| g.id.clone()).collect();
        let group_index: HashMap<&str, u32> = snapshot
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| (g.id.as_str(), i as u32))
            .collect();
        let mut environments = Vec::new();
        let mut environment_index = HashMap::default();
        for env in &snapshot.environments {
            let name = env.name.to_ascii_uppercase();
            if !environment_index.contains_key(&name) {
                environment_index.insert(name.clone(), EnvId(environments.len() as u32));
                environments.push(name);
            }
        }
        let hosts = HostTable::build(&snapshot.groups, base_domain, |name| {
            environment_index.get(&name.to_ascii_uppercase()).copied()
        })?;
        let mut router = Router {
            hosts,
            groups,
            environments,
            environment_index,
            tables: Vec::new(),
        };

        let width = router.environments.len();
        let mut builders: Vec<TableBuilder> = (0..router.groups.len() * width)
            .map(|_| TableBuilder::default())
            .collect();
        for (index, deployment) in snapshot.deployments.iter().enumerate() {
            let (Some(&g), Some(e)) = (
                group_index.get(deployment.group_id.as_str()),
                router.environment(&deployment.environment),
            ) else {
                continue;
            };
            let request = &deployment.api.spec.request;
            let context = |router: &Router| {
                (
                    router.groups[g as usize].clone(),
                    router.environments[e.0 as usize].clone(),
                )
            };
            let pattern = PathPattern::parse(&request.path).map_err(|err| {
                let (group, environment) = context(&router);
                RouteError::InvalidPath {
                    group,
                    environment,
                    api: deployment.api.spec.name.clone(),
                    message: err.message,
                }
            })?;
            let builder = &mut builders[g as usize * width + e.0 as usize];
            builder
                .add(
                    request.method,
                    pattern,
                    index,
                    request.regex_priority,
                    deployment.api.created_at,
                )
                .map_err(|err| {
                    let (group, environment) = context(&router);
                    match err {
                        AddError::Clash { existing, reason } => RouteError::Conflict {
                            group,
                            environment,
                            first_api: snapshot.deployments[existing].api.spec.name.clone(),
                            second_api: deployment.api.spec.name.clone(),
                            reason,
                        },
                        AddError::Invalid(message) => RouteError::InvalidPath {
                            group,
                            environment,
                            api: deployment.api.spec.name.clone(),
                            message,
                        },
                    }
                })?;
        }
        for (i, builder) in builders.into_iter().enumerate() {
            let table = builder.build().map_err(|message| RouteError::Regex {
                group: router.groups[i / width].clone(),
                environment: router.environments[i % width].clone(),
                message,
            })?;
            router.tables.push(table);
        }
        Ok(router)
    }

    /// The group serving `host` as it came in the Host header (any case, maybe with `:port`):
    /// custom domains, then `*.` wildcard domains, and `<group-id>.<base_domain>`; with the
    /// environment a custom domain is bound to. A domain bound to an environment this snapshot
    /// does not hold serves nothing.
    pub fn host(&self, host: &str) -> Option<HostMatch> {
        self.hosts.lookup(host)
    }

    /// Case-insensitive; only environments in the snapshot.
    pub fn environment(&self, name: &str) -> Option<EnvId> {
        let mut buf = [0u8; MAX_ENV_LEN];
        let out = buf.get_mut(..name.len())?;
        out.copy_from_slice(name.as_bytes());
        out.make_ascii_uppercase();
        let upper = std::str::from_utf8(out).ok()?;
        self.environment_index.get(upper).copied()
    }

    /// The deployment serving `method` and the raw (not percent-decoded) `path`.
    pub fn find<'r, 'p>(
        &'r self,
        group: GroupId,
        env: EnvId,
        method: Method,
        path: &'p str,
    ) -> Option<RouteMatch<'r, 'p>> {
        let width = self.environments.len();
        if env.0 as usize >= width {
            return None;
        }
        self.tables
            .get(group.0 as usize * width + env.0 as usize)?
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
