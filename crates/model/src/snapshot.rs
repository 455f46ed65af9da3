//! The published state the data plane compiles: everything a request may need, nothing draft.

use serde::{Deserialize, Serialize};

use crate::{
    Backend, BackendEnvironment, Deployment, Environment, Group, StageVariables, Upstream,
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
}
