//! API drafts: the definitions users edit, published as deployments.

use pylon_model::{Api, BackendTarget};
use sqlx::{AnyConnection, Row};

use crate::Store;
use crate::codec::{decode, decode_all, encode, on_unique};
use crate::error::{Result, StoreError, not_found};
use crate::groups::exists;

impl Store {
    pub async fn create_api(&self, a: &Api) -> Result<()> {
        let mut tx = self.write_tx().await?;
        if exists(&mut tx, "SELECT id FROM apis WHERE id = $1", &a.id).await? {
            return Err(StoreError::Conflict(format!(
                "an API with id `{}` already exists",
                a.id
            )));
        }
        let group = group_name(&mut tx, &a.group_id).await?;
        check_name_free(&mut tx, a, &group).await?;
        sqlx::query(
            "INSERT INTO apis (id, group_id, name, backend_id, created_at, body)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&a.id)
        .bind(&a.group_id)
        .bind(&a.spec.name)
        .bind(backend_id(a))
        .bind(a.created_at)
        .bind(encode(a)?)
        .execute(&mut *tx)
        .await
        .map_err(|e| on_unique(e, || name_taken(&group, &a.spec.name)))?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces the draft; deployments keep the definition they were published with.
    pub async fn update_api(&self, a: &Api) -> Result<()> {
        let mut tx = self.write_tx().await?;
        get_by_id(&mut tx, &a.id).await?;
        let group = group_name(&mut tx, &a.group_id).await?;
        check_name_free(&mut tx, a, &group).await?;
        sqlx::query(
            "UPDATE apis SET group_id = $1, name = $2, backend_id = $3, created_at = $4, body = $5
             WHERE id = $6",
        )
        .bind(&a.group_id)
        .bind(&a.spec.name)
        .bind(backend_id(a))
        .bind(a.created_at)
        .bind(encode(a)?)
        .bind(&a.id)
        .execute(&mut *tx)
        .await
        .map_err(|e| on_unique(e, || name_taken(&group, &a.spec.name)))?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn get_api(&self, id: &str) -> Result<Api> {
        get_by_id(&mut *self.conn().await?, id).await
    }

    /// The group's APIs in creation order.
    pub async fn list_apis(&self, group_id: &str) -> Result<Vec<Api>> {
        let rows = sqlx::query("SELECT body FROM apis WHERE group_id = $1 ORDER BY created_at, id")
            .bind(group_id)
            .fetch_all(&mut *self.conn().await?)
            .await?;
        decode_all(&rows)
    }

    /// Refused while the API is published anywhere; removes its deployment history.
    pub async fn delete_api(&self, id: &str) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let a = get_by_id(&mut tx, id).await?;
        let envs = sqlx::query(
            "SELECT p.environment FROM published p JOIN environments e ON e.name = p.environment
             WHERE p.api_id = $1 ORDER BY e.seq",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        if !envs.is_empty() {
            let envs = envs
                .iter()
                .map(|r| {
                    r.try_get::<String, _>("environment")
                        .map(|e| format!("`{e}`"))
                })
                .collect::<std::result::Result<Vec<_>, _>>()?;
            return Err(StoreError::Conflict(format!(
                "API `{}` is published in {}; unpublish it first",
                a.spec.name,
                envs.join(", ")
            )));
        }
        for sql in [
            "DELETE FROM deployments WHERE api_id = $1",
            "DELETE FROM apis WHERE id = $1",
        ] {
            sqlx::query(sql).bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// The backend service an API refers to, if it refers to one rather than defining it inline.
pub(crate) fn backend_id(a: &Api) -> Option<&str> {
    match &a.spec.backend.service {
        BackendTarget::BackendId(id) => Some(id),
        BackendTarget::Inline(_) => None,
    }
}

pub(crate) async fn get_by_id(conn: &mut AnyConnection, id: &str) -> Result<Api> {
    let row = sqlx::query("SELECT body FROM apis WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| not_found("API", id))?;
    decode(&row)
}

async fn group_name(conn: &mut AnyConnection, group_id: &str) -> Result<String> {
    let row = sqlx::query("SELECT name FROM groups WHERE id = $1")
        .bind(group_id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| not_found("group", group_id))?;
    Ok(row.try_get("name")?)
}

fn name_taken(group: &str, name: &str) -> String {
    format!("group `{group}` already has an API named `{name}`")
}

async fn check_name_free(conn: &mut AnyConnection, a: &Api, group: &str) -> Result<()> {
    let taken = sqlx::query("SELECT id FROM apis WHERE group_id = $1 AND name = $2 AND id <> $3")
        .bind(&a.group_id)
        .bind(&a.spec.name)
        .bind(&a.id)
        .fetch_optional(conn)
        .await?
        .is_some();
    if taken {
        return Err(StoreError::Conflict(name_taken(group, &a.spec.name)));
    }
    Ok(())
}
