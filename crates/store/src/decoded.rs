//! Published deployments already decoded, by id: a deployment never changes once written, so
//! a snapshot reload decodes only the ones it has not seen (`deployments::active_deployments`).

use pylon_model::Deployment;

/// Deployments already read and decoded, by id. A deployment never changes once written, so
/// a snapshot reload reads only the ids of what is published and decodes only new ones: at
/// thousands of APIs, decoding every deployment was most of a reload.
#[derive(Default)]
pub(crate) struct Decoded {
    pub(crate) by_id:
        std::sync::Mutex<std::collections::HashMap<String, std::sync::Arc<Deployment>>>,
}
