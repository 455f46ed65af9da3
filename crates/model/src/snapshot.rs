//! The published state the data plane compiles: everything a request may need, nothing draft.

use serde::{Deserialize, Serialize};

use crate::{
    AppCredentials, Authorization, Backend, BackendEnvironment, Deployment, Environment, Group,
    Policy, PolicyBinding, ServedCertificate, ServedFunction, StageVariables, Upstream,
};

/// What changed in the published state since a revision a follower already holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Everything, as a whole: the first load, a change no narrower kind describes
    /// (environments, upstreams, backend definitions), or a follower too far behind.
    Full(Box<Snapshot>),
    Partial(PartialChange),
}

/// Changes to some groups and/or to apps and grants; everything else is as before.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PartialChange {
    /// Every group as it is now (domains are routed across groups; there are few groups).
    pub groups: Vec<Group>,
    /// The groups whose domains, stage variables or grants changed, whole. A changed group
    /// missing from `groups` was deleted.
    pub changed: Vec<GroupState>,
    /// What single APIs serve now in one environment (published, rolled back, unpublished), in
    /// groups not otherwise changed: only those deployments are read and compiled.
    pub served: Vec<ServedChange>,
    /// Every app with its credentials, when apps changed.
    pub apps: Option<Vec<AppCredentials>>,
}

/// What one API serves in one environment after a change.
#[derive(Debug, Clone, PartialEq)]
pub struct ServedChange {
    pub group_id: String,
    pub api_id: String,
    /// Canonical (uppercase).
    pub environment: String,
    /// `None`: no longer published there.
    pub deployment: Option<Deployment>,
}

/// What one group serves.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupState {
    pub group_id: String,
    pub stage_variables: Vec<StageVariables>,
    /// Its active deployments, in snapshot order.
    pub deployments: Vec<Deployment>,
    /// The grants for its APIs.
    pub authorizations: Vec<Authorization>,
}

/// What is live now. Backend definitions and upstreams are live as stored (changing them takes
/// effect without a republish); API definitions are live only as their active deployments.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub groups: Vec<Group>,
    pub environments: Vec<Environment>,
    pub stage_variables: Vec<StageVariables>,
    pub upstreams: Vec<Upstream>,
    pub backends: Vec<Backend>,
    pub backend_definitions: Vec<BackendEnvironment>,
    /// The active deployment of each (API, environment), in creation order of the APIs.
    pub deployments: Vec<Deployment>,
    /// Every app with its credentials in the clear.
    #[serde(default)]
    pub apps: Vec<AppCredentials>,
    /// Every grant, expired ones included: the data plane checks expiry per request, so a
    /// grant stops working at its expiry without a new snapshot.
    #[serde(default)]
    pub authorizations: Vec<Authorization>,
    /// Every policy, bound or not, in creation order. Like backend definitions, policies and
    /// their bindings are live as stored: editing, binding or unbinding needs no republish.
    #[serde(default)]
    pub policies: Vec<Policy>,
    #[serde(default)]
    pub policy_bindings: Vec<PolicyBinding>,
    /// Every TLS certificate with its key in the clear, in creation order.
    #[serde(default)]
    pub certificates: Vec<ServedCertificate>,
    /// Every hosted function with its secrets in the clear, in creation order.
    #[serde(default)]
    pub functions: Vec<ServedFunction>,
}

impl Snapshot {
    /// Brings this snapshot to the state `change` describes. Deployments keep snapshot order
    /// (API creation, then environment), as a full load would give them.
    pub fn patch(&mut self, change: &Change) {
        let partial = match change {
            Change::Full(snapshot) => {
                *self = (**snapshot).clone();
                return;
            }
            Change::Partial(partial) => partial,
        };
        self.groups = partial.groups.clone();
        for state in &partial.changed {
            let id = state.group_id.as_str();
            self.stage_variables.retain(|s| s.group_id != id);
            self.deployments.retain(|d| d.group_id != id);
            self.authorizations.retain(|a| a.group_id != id);
            self.stage_variables
                .extend(state.stage_variables.iter().cloned());
            self.deployments.extend(state.deployments.iter().cloned());
            self.authorizations
                .extend(state.authorizations.iter().cloned());
        }
        for served in &partial.served {
            self.deployments.retain(|d| {
                !(d.api_id == served.api_id
                    && d.environment.eq_ignore_ascii_case(&served.environment))
            });
            self.deployments.extend(served.deployment.iter().cloned());
        }
        let env_order = |name: &str| {
            self.environments
                .iter()
                .position(|e| e.name.eq_ignore_ascii_case(name))
                .unwrap_or(usize::MAX)
        };
        let group_order = |id: &str| self.groups.iter().position(|g| g.id == id);
        self.deployments.sort_by_cached_key(|d| {
            (
                d.api.created_at,
                d.api_id.clone(),
                env_order(&d.environment),
            )
        });
        self.stage_variables
            .sort_by_cached_key(|s| (group_order(&s.group_id), env_order(&s.environment)));
        self.authorizations
            .sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        if let Some(apps) = &partial.apps {
            self.apps = apps.clone();
        }
    }
}
