//! Policies and their bindings to an API in an environment. Bindings are served as stored, so
//! every write here changes what the gateway serves; the rules that span resources (the API
//! and environment exist, one policy of a kind per (API, environment), no deleting a bound
//! policy) are checked inside the write transaction. A change's scope is `Touch::All`: no
//! narrower one carries policies, so the follower reloads everything.

use pylon_model::{Policy, PolicyBinding};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::Store;
use crate::Touch;
use crate::codec::{check_name_free, decode, decode_all, encode, env_key, fetch_one, on_unique};
use crate::error::{Result, StoreError, not_found};
use crate::groups::exists;

impl Store {
    pub async fn create_policy(&self, p: &Policy) -> Result<()> {
        let mut tx = self.write_tx().await?;
        if exists(&mut tx, "SELECT id FROM policies WHERE id = $1", &p.id).await? {
            return Err(StoreError::Conflict(format!(
                "a policy with id `{}` already exists",
                p.id
            )));
        }
        name_free(&mut tx, p).await?;
        sqlx::query(
            "INSERT INTO policies (id, name, kind, created_at, body) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&p.id)
        .bind(&p.spec.name)
        .bind(p.spec.config.kind())
        .bind(p.created_at)
        .bind(encode(p)?)
        .execute(&mut *tx)
        .await
        .map_err(|e| on_unique(e, || name_taken(&p.spec.name)))?;
        self.commit(tx, Touch::All).await?;
        Ok(())
    }

    /// Replaces name, description and configuration; the kind is fixed at creation, since
    /// "one policy of a kind per (API, environment)" was checked against it when bound.
    pub async fn update_policy(&self, p: &Policy) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let old = get_by_id(&mut tx, &p.id).await?;
        if old.spec.config.kind() != p.spec.config.kind() {
            return Err(StoreError::Conflict(format!(
                "policy `{}` is a `{}` policy; its kind is fixed at creation",
                old.spec.name,
                old.spec.config.kind()
            )));
        }
        name_free(&mut tx, p).await?;
        sqlx::query("UPDATE policies SET name = $1, created_at = $2, body = $3 WHERE id = $4")
            .bind(&p.spec.name)
            .bind(p.created_at)
            .bind(encode(p)?)
            .bind(&p.id)
            .execute(&mut *tx)
            .await
            .map_err(|e| on_unique(e, || name_taken(&p.spec.name)))?;
        self.commit(tx, Touch::All).await?;
        Ok(())
    }

    /// By id first, else by name.
    pub async fn get_policy(&self, id_or_name: &str) -> Result<Policy> {
        let row = sqlx::query(
            "SELECT body FROM policies WHERE id = $1 OR name = $1
             ORDER BY CASE WHEN id = $1 THEN 0 ELSE 1 END LIMIT 1",
        )
        .bind(id_or_name)
        .fetch_optional(&mut *self.conn().await?)
        .await?
        .ok_or_else(|| not_found("policy", id_or_name))?;
        decode(&row)
    }

    /// In creation order.
    pub async fn list_policies(&self) -> Result<Vec<Policy>> {
        list_policies(&mut *self.conn().await?).await
    }

    /// Refused while the policy is bound anywhere, naming the bindings.
    pub async fn delete_policy(&self, id: &str) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let p = get_by_id(&mut tx, id).await?;
        let bound = sqlx::query(
            "SELECT a.name, b.environment FROM policy_bindings b
             JOIN apis a ON a.id = b.api_id
             JOIN environments e ON e.name = b.environment
             WHERE b.policy_id = $1 ORDER BY a.created_at, a.id, e.seq",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        if !bound.is_empty() {
            let places = bound
                .iter()
                .map(|r| {
                    let api: String = r.try_get("name")?;
                    let env: String = r.try_get("environment")?;
                    Ok(format!("API `{api}` in `{env}`"))
                })
                .collect::<Result<Vec<_>>>()?;
            return Err(StoreError::Conflict(format!(
                "policy `{}` is bound to {}; unbind it first",
                p.spec.name,
                places.join(", ")
            )));
        }
        sqlx::query("DELETE FROM policies WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        self.commit(tx, Touch::All).await?;
        Ok(())
    }

    /// Binds a policy to an API in an environment (any case; stored uppercase) and returns
    /// the binding as stored. Unknown policy, API or environment -> `NotFound`; the same
    /// binding again, or another policy of the same kind already bound there -> `Conflict`.
    pub async fn bind_policy(&self, b: &PolicyBinding) -> Result<PolicyBinding> {
        let binding = PolicyBinding {
            environment: env_key(&b.environment),
            ..b.clone()
        };
        let mut tx = self.write_tx().await?;
        let policy = get_by_id(&mut tx, &binding.policy_id).await?;
        let api: String = sqlx::query("SELECT name FROM apis WHERE id = $1")
            .bind(&binding.api_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| not_found("API", &binding.api_id))?
            .try_get("name")?;
        if !exists(
            &mut tx,
            "SELECT name FROM environments WHERE name = $1",
            &binding.environment,
        )
        .await?
        {
            return Err(not_found("environment", &binding.environment));
        }
        let kind = policy.spec.config.kind();
        let holder = sqlx::query(
            "SELECT p.id, p.name FROM policy_bindings b JOIN policies p ON p.id = b.policy_id
             WHERE b.api_id = $1 AND b.environment = $2 AND p.kind = $3",
        )
        .bind(&binding.api_id)
        .bind(&binding.environment)
        .bind(kind)
        .fetch_optional(&mut *tx)
        .await?;
        let already = || {
            format!(
                "policy `{}` is already bound to API `{api}` in `{}`",
                policy.spec.name, binding.environment
            )
        };
        if let Some(row) = holder {
            let (id, name): (String, String) = (row.try_get("id")?, row.try_get("name")?);
            return Err(StoreError::Conflict(if id == policy.id {
                already()
            } else {
                format!(
                    "API `{api}` already has `{kind}` policy `{name}` in `{}`; \
                     unbind it first (one policy of a kind per API and environment)",
                    binding.environment
                )
            }));
        }
        sqlx::query(
            "INSERT INTO policy_bindings (policy_id, api_id, environment, created_at, body)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&binding.policy_id)
        .bind(&binding.api_id)
        .bind(&binding.environment)
        .bind(binding.created_at)
        .bind(encode(&binding)?)
        .execute(&mut *tx)
        .await
        .map_err(|e| on_unique(e, already))?;
        self.commit(tx, Touch::All).await?;
        Ok(binding)
    }

    /// `environment` in any case; `NotFound` when the policy is not bound there.
    pub async fn unbind_policy(
        &self,
        policy_id: &str,
        api_id: &str,
        environment: &str,
    ) -> Result<()> {
        let environment = env_key(environment);
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "DELETE FROM policy_bindings
             WHERE policy_id = $1 AND api_id = $2 AND environment = $3",
        )
        .bind(policy_id)
        .bind(api_id)
        .bind(&environment)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(not_found(
                "policy binding",
                format!("{policy_id}/{api_id}/{environment}"),
            ));
        }
        self.commit(tx, Touch::All).await?;
        Ok(())
    }

    /// Where one policy is bound, in binding order.
    pub async fn list_policy_bindings(&self, policy_id: &str) -> Result<Vec<PolicyBinding>> {
        let rows = sqlx::query(
            "SELECT body FROM policy_bindings WHERE policy_id = $1
             ORDER BY created_at, api_id, environment",
        )
        .bind(policy_id)
        .fetch_all(&mut *self.conn().await?)
        .await?;
        decode_all(&rows)
    }

    /// The policies bound to one API, each with its binding, in environment order (builtin
    /// first), then binding order; only those in `environment` (any case) if given.
    pub async fn list_api_policies(
        &self,
        api_id: &str,
        environment: Option<&str>,
    ) -> Result<Vec<(PolicyBinding, Policy)>> {
        let mut sql = String::from(
            "SELECT b.body AS binding, p.body AS body FROM policy_bindings b
             JOIN policies p ON p.id = b.policy_id
             JOIN environments e ON e.name = b.environment
             WHERE b.api_id = $1",
        );
        let environment = environment.map(env_key);
        if environment.is_some() {
            sql.push_str(" AND b.environment = $2");
        }
        sql.push_str(" ORDER BY e.seq, b.created_at, b.policy_id");
        // Safe: fixed text and placeholders only; values are bound.
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(api_id);
        if let Some(env) = &environment {
            query = query.bind(env);
        }
        let rows = query.fetch_all(&mut *self.conn().await?).await?;
        rows.iter()
            .map(|row| Ok((binding_of(row)?, decode(row)?)))
            .collect()
    }
}

fn binding_of(row: &AnyRow) -> Result<PolicyBinding> {
    let body: String = row.try_get("binding")?;
    Ok(serde_json::from_str(&body)?)
}

pub(crate) async fn list_policies(conn: &mut AnyConnection) -> Result<Vec<Policy>> {
    let rows = sqlx::query("SELECT body FROM policies ORDER BY created_at, id")
        .fetch_all(conn)
        .await?;
    decode_all(&rows)
}

/// Every binding, in binding order.
pub(crate) async fn list_all_bindings(conn: &mut AnyConnection) -> Result<Vec<PolicyBinding>> {
    let rows = sqlx::query(
        "SELECT body FROM policy_bindings ORDER BY created_at, policy_id, api_id, environment",
    )
    .fetch_all(conn)
    .await?;
    decode_all(&rows)
}

async fn get_by_id(conn: &mut AnyConnection, id: &str) -> Result<Policy> {
    fetch_one(
        conn,
        "SELECT body FROM policies WHERE id = $1",
        id,
        "policy",
    )
    .await
}

fn name_taken(name: &str) -> String {
    format!("a policy named `{name}` already exists")
}

async fn name_free(conn: &mut AnyConnection, p: &Policy) -> Result<()> {
    let sql = "SELECT id FROM policies WHERE name = $1 AND id <> $2";
    check_name_free(conn, sql, &p.spec.name, &p.id, || name_taken(&p.spec.name)).await
}

#[cfg(test)]
mod tests;
