//! The published state the data plane compiles, read in one transaction.

use pylon_model::Snapshot;

use crate::Store;
use crate::error::Result;
use crate::{backends, deployments, environments, groups, upstreams};

impl Store {
    /// Everything the data plane needs, read in one transaction so it is one consistent state.
    pub async fn load_snapshot(&self) -> Result<Snapshot> {
        let mut tx = self.read_tx().await?;
        let snapshot = Snapshot {
            groups: groups::list_groups(&mut tx).await?,
            environments: environments::list_environments(&mut tx).await?,
            stage_variables: environments::list_stage_variables(&mut tx).await?,
            upstreams: upstreams::list_upstreams(&mut tx).await?,
            backends: backends::list_backends(&mut tx).await?,
            backend_definitions: backends::list_all_definitions(&mut tx).await?,
            deployments: deployments::active_deployments(&mut tx).await?,
        };
        tx.commit().await?;
        Ok(snapshot)
    }
}
