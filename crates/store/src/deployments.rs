//! Deployments: numbered, immutable copies of an API published to an environment, and which
//! one each (API, environment) serves.

use pylon_model::{Api, Deployment};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::Store;
use crate::apis::{backend_id, get_by_id as get_api};
use crate::codec::{decode, encode, env_key, on_unique};
use crate::error::{Result, StoreError, not_found};
use crate::groups::exists;

impl Store {
    /// New immutable version (max+1 for this API and environment), made active, atomically.
    pub async fn publish(
        &self,
        api: &Api,
        environment: &str,
        note: &str,
        deployment_id: &str,
        now: i64,
    ) -> Result<Deployment> {
        let key = env_key(environment);
        let mut tx = self.write_tx().await?;
        get_api(&mut tx, &api.id).await?;
        if !exists(
            &mut tx,
            "SELECT name FROM environments WHERE name = $1",
            &key,
        )
        .await?
        {
            return Err(not_found("environment", key));
        }
        let last: i64 = sqlx::query(
            "SELECT COALESCE(MAX(version), 0) AS v FROM deployments
             WHERE api_id = $1 AND environment = $2",
        )
        .bind(&api.id)
        .bind(&key)
        .fetch_one(&mut *tx)
        .await?
        .try_get("v")?;
        let version = u32::try_from(last + 1).map_err(|_| {
            StoreError::Conflict(format!(
                "API `{}` has no versions left in `{key}`",
                api.spec.name
            ))
        })?;
        let mut deployment = Deployment {
            id: deployment_id.to_string(),
            api_id: api.id.clone(),
            group_id: api.group_id.clone(),
            environment: key.clone(),
            version,
            note: note.to_string(),
            api: api.clone(),
            created_at: now,
            // Whether a version is active lives in `published`, not in the immutable record.
            active: false,
        };
        sqlx::query(
            "INSERT INTO deployments
             (id, api_id, group_id, environment, version, backend_id, created_at, body)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&deployment.id)
        .bind(&api.id)
        .bind(&api.group_id)
        .bind(&key)
        .bind(i64::from(version))
        .bind(backend_id(api))
        .bind(now)
        .bind(encode(&deployment)?)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_unique(e, || {
                format!(
                    "could not publish API `{}` to `{key}` as version {version} \
                     (deployment id taken or a concurrent publish); retry",
                    api.spec.name
                )
            })
        })?;
        set_active(&mut tx, &api.id, &key, &deployment.id).await?;
        tx.commit().await?;
        deployment.active = true;
        Ok(deployment)
    }

    /// Stops serving the API in the environment; `NotFound` if it is not published there.
    pub async fn unpublish(&self, api_id: &str, environment: &str) -> Result<()> {
        let key = env_key(environment);
        let removed = sqlx::query("DELETE FROM published WHERE api_id = $1 AND environment = $2")
            .bind(api_id)
            .bind(&key)
            .execute(&mut *self.conn().await?)
            .await?
            .rows_affected();
        if removed == 0 {
            return Err(not_found("published API", format!("{api_id} in {key}")));
        }
        Ok(())
    }

    /// Makes an earlier version the active one again (rollback). NotFound if no such version.
    pub async fn activate(
        &self,
        api_id: &str,
        environment: &str,
        version: u32,
    ) -> Result<Deployment> {
        let key = env_key(environment);
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(
            "SELECT body FROM deployments WHERE api_id = $1 AND environment = $2 AND version = $3",
        )
        .bind(api_id)
        .bind(&key)
        .bind(i64::from(version))
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| not_found("deployment", format!("{api_id} in {key} version {version}")))?;
        let mut deployment: Deployment = decode(&row)?;
        set_active(&mut tx, api_id, &key, &deployment.id).await?;
        tx.commit().await?;
        deployment.active = true;
        Ok(deployment)
    }

    /// History, newest first, `active` set on the serving one; `NotFound` for an unknown API.
    pub async fn list_deployments(
        &self,
        api_id: &str,
        environment: Option<&str>,
    ) -> Result<Vec<Deployment>> {
        let mut conn = self.conn().await?;
        get_api(&mut conn, api_id).await?;
        let rows = match environment {
            Some(env) => {
                sqlx::query(
                    "SELECT d.body, p.deployment_id AS serving FROM deployments d
                     LEFT JOIN published p ON p.deployment_id = d.id
                     WHERE d.api_id = $1 AND d.environment = $2
                     ORDER BY d.created_at DESC, d.version DESC",
                )
                .bind(api_id)
                .bind(env_key(env))
                .fetch_all(&mut *conn)
                .await?
            }
            None => {
                sqlx::query(
                    "SELECT d.body, p.deployment_id AS serving FROM deployments d
                     LEFT JOIN published p ON p.deployment_id = d.id
                     WHERE d.api_id = $1
                     ORDER BY d.created_at DESC, d.version DESC",
                )
                .bind(api_id)
                .fetch_all(&mut *conn)
                .await?
            }
        };
        rows.iter().map(with_active).collect()
    }

    /// The active deployment of each (API, environment), by API creation then environment order.
    pub async fn active_deployments(&self) -> Result<Vec<Deployment>> {
        active_deployments(&mut *self.conn().await?).await
    }
}

pub(crate) async fn active_deployments(conn: &mut AnyConnection) -> Result<Vec<Deployment>> {
    let rows = sqlx::query(
        "SELECT d.body, p.deployment_id AS serving FROM published p
         JOIN deployments d ON d.id = p.deployment_id
         JOIN apis a ON a.id = p.api_id
         JOIN environments e ON e.name = p.environment
         ORDER BY a.created_at, a.id, e.seq",
    )
    .fetch_all(conn)
    .await?;
    rows.iter().map(with_active).collect()
}

/// Decodes a deployment row that carries `serving` (the published deployment id, or NULL).
fn with_active(row: &AnyRow) -> Result<Deployment> {
    let mut deployment: Deployment = decode(row)?;
    let serving: Option<String> = row.try_get("serving")?;
    deployment.active = serving.is_some();
    Ok(deployment)
}

async fn set_active(
    conn: &mut AnyConnection,
    api_id: &str,
    environment: &str,
    deployment_id: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO published (api_id, environment, deployment_id) VALUES ($1, $2, $3)
         ON CONFLICT (api_id, environment) DO UPDATE SET deployment_id = excluded.deployment_id",
    )
    .bind(api_id)
    .bind(environment)
    .bind(deployment_id)
    .execute(conn)
    .await?;
    Ok(())
}
