//! The published state the data plane compiles: everything a request may need, nothing draft.

use serde::{Deserialize, Serialize};

use crate::{
    AppCredentials, Authorization, Backend, BackendEnvironment, Deployment, Environment, Group,
    StageVariables, Upstream,
};

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
}
