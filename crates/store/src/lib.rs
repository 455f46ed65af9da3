//! Persistence of Pylon's drafts and deployments over sqlx (SQLite now, PostgreSQL on the same
//! code path). First-commit signatures: bodies land next.

mod error;

pub use error::{Result, StoreError};

use pylon_model::{
    Api, Backend, BackendEnvironment, Deployment, Environment, Group, Snapshot, StageVariables,
    Upstream,
};

/// The handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: sqlx::AnyPool,
}

fn pending<T>() -> Result<T> {
    Err(StoreError::Conflict("not yet".into()))
}

#[allow(unused_variables)]
impl Store {
    /// `sqlite:///abs/path/pylon.db?mode=rwc` or `postgres://...`; creates and migrates.
    pub async fn open(url: &str) -> Result<Store> {
        let _ = |s: Store| s.pool;
        pending()
    }
    pub async fn open_sqlite(path: &std::path::Path) -> Result<Store> {
        let _ = |s: Store| s.pool;
        pending()
    }
    pub async fn create_group(&self, g: &Group) -> Result<()> {
        pending()
    }
    pub async fn update_group(&self, g: &Group) -> Result<()> {
        pending()
    }
    pub async fn get_group(&self, id: &str) -> Result<Group> {
        pending()
    }
    pub async fn list_groups(&self) -> Result<Vec<Group>> {
        pending()
    }
    pub async fn delete_group(&self, id: &str) -> Result<()> {
        pending()
    }
    pub async fn group_by_domain(&self, domain: &str) -> Result<Option<Group>> {
        pending()
    }
    pub async fn list_environments(&self) -> Result<Vec<Environment>> {
        pending()
    }
    pub async fn get_environment(&self, name: &str) -> Result<Environment> {
        pending()
    }
    pub async fn create_environment(&self, e: &Environment) -> Result<()> {
        pending()
    }
    pub async fn delete_environment(&self, name: &str) -> Result<()> {
        pending()
    }
    pub async fn get_stage_variables(
        &self,
        group_id: &str,
        environment: &str,
    ) -> Result<StageVariables> {
        pending()
    }
    pub async fn put_stage_variables(&self, sv: &StageVariables) -> Result<()> {
        pending()
    }
    pub async fn create_upstream(&self, u: &Upstream) -> Result<()> {
        pending()
    }
    pub async fn update_upstream(&self, u: &Upstream) -> Result<()> {
        pending()
    }
    pub async fn get_upstream(&self, id_or_name: &str) -> Result<Upstream> {
        pending()
    }
    pub async fn list_upstreams(&self) -> Result<Vec<Upstream>> {
        pending()
    }
    pub async fn delete_upstream(&self, id: &str) -> Result<()> {
        pending()
    }
    pub async fn create_backend(&self, b: &Backend) -> Result<()> {
        pending()
    }
    pub async fn update_backend(&self, b: &Backend) -> Result<()> {
        pending()
    }
    pub async fn get_backend(&self, id: &str) -> Result<Backend> {
        pending()
    }
    pub async fn list_backends(&self) -> Result<Vec<Backend>> {
        pending()
    }
    pub async fn delete_backend(&self, id: &str) -> Result<()> {
        pending()
    }
    pub async fn put_backend_definition(&self, d: &BackendEnvironment) -> Result<()> {
        pending()
    }
    pub async fn get_backend_definition(
        &self,
        backend_id: &str,
        environment: &str,
    ) -> Result<BackendEnvironment> {
        pending()
    }
    pub async fn list_backend_definitions(
        &self,
        backend_id: &str,
    ) -> Result<Vec<BackendEnvironment>> {
        pending()
    }
    pub async fn delete_backend_definition(
        &self,
        backend_id: &str,
        environment: &str,
        unpublish_api_ids: &[String],
    ) -> Result<()> {
        pending()
    }
    pub async fn create_api(&self, a: &Api) -> Result<()> {
        pending()
    }
    pub async fn update_api(&self, a: &Api) -> Result<()> {
        pending()
    }
    pub async fn get_api(&self, id: &str) -> Result<Api> {
        pending()
    }
    pub async fn list_apis(&self, group_id: &str) -> Result<Vec<Api>> {
        pending()
    }
    pub async fn delete_api(&self, id: &str) -> Result<()> {
        pending()
    }
    pub async fn publish(
        &self,
        api: &Api,
        environment: &str,
        note: &str,
        deployment_id: &str,
        now: i64,
    ) -> Result<Deployment> {
        pending()
    }
    pub async fn unpublish(&self, api_id: &str, environment: &str) -> Result<()> {
        pending()
    }
    pub async fn activate(
        &self,
        api_id: &str,
        environment: &str,
        version: u32,
    ) -> Result<Deployment> {
        pending()
    }
    pub async fn list_deployments(
        &self,
        api_id: &str,
        environment: Option<&str>,
    ) -> Result<Vec<Deployment>> {
        pending()
    }
    pub async fn active_deployments(&self) -> Result<Vec<Deployment>> {
        pending()
    }
    pub async fn load_snapshot(&self) -> Result<Snapshot> {
        pending()
    }
}
