//! Environments (RELEASE, PRE, TEST seeded, custom ones added) and per-group stage variables.

use pylon_model::{Environment, StageVariables};
use sqlx::{AnyConnection, Row};

use crate::Store;
use crate::Touch;
use crate::codec::{decode, decode_all, encode, env_key, on_unique};
use crate::error::{Result, StoreError, not_found};
use crate::groups::{exists, list_groups};

impl Store {
    /// Builtin environments first, then custom ones in creation order.
    pub async fn list_environments(&self) -> Result<Vec<Environment>> {
        list_environments(&mut *self.conn().await?).await
    }

    /// `name` in any case.
    pub async fn get_environment(&self, name: &str) -> Result<Environment> {
        let key = env_key(name);
        let row = sqlx::query("SELECT body FROM environments WHERE name = $1")
            .bind(&key)
            .fetch_optional(&mut *self.conn().await?)
            .await?
            .ok_or_else(|| not_found("environment", key))?;
        decode(&row)
    }

    /// Stores the environment under its uppercase name; `Conflict` if it exists.
    pub async fn create_environment(&self, e: &Environment) -> Result<()> {
        let key = env_key(&e.name);
        let taken = || format!("environment `{key}` already exists");
        let mut tx = self.write_tx().await?;
        if exists(
            &mut tx,
            "SELECT name FROM environments WHERE name = $1",
            &key,
        )
        .await?
        {
            return Err(StoreError::Conflict(taken()));
        }
        let record = Environment {
            name: key.clone(),
            ..e.clone()
        };
        sqlx::query(
            "INSERT INTO environments (name, builtin, seq, body)
             SELECT $1, $2, COALESCE(MAX(seq), 0) + 1, $3 FROM environments",
        )
        .bind(&key)
        .bind(i32::from(e.builtin))
        .bind(encode(&record)?)
        .execute(&mut *tx)
        .await
        .map_err(|err| on_unique(err, taken))?;
        self.commit(tx, Touch::All).await?;
        Ok(())
    }

    /// Refused for builtin environments, while a domain is bound to it and while any API is
    /// published there; removes the
    /// environment's stage variables, backend definitions, deployment history, the
    /// authorizations granted in it and the policies bound in it.
    pub async fn delete_environment(&self, name: &str) -> Result<()> {
        let key = env_key(name);
        let mut tx = self.write_tx().await?;
        let row = sqlx::query("SELECT builtin FROM environments WHERE name = $1")
            .bind(&key)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| not_found("environment", &key))?;
        if row.try_get::<i64, _>("builtin")? != 0 {
            return Err(StoreError::Conflict(format!(
                "environment `{key}` is built in and cannot be deleted"
            )));
        }
        // A domain bound to it would serve nothing: unbind it first, knowingly. Checked here,
        // in the transaction, so a domain bound meanwhile cannot be left pointing nowhere.
        let bound: Vec<String> = list_groups(&mut tx)
            .await?
            .iter()
            .flat_map(|g| g.domains.iter().map(move |d| (g, d)))
            .filter(|(_, d)| d.environment.as_deref() == Some(key.as_str()))
            .map(|(g, d)| format!("`{}` (group `{}`)", d.name, g.name))
            .collect();
        if !bound.is_empty() {
            return Err(StoreError::Conflict(format!(
                "environment `{key}` serves domain {}: unbind it first",
                bound.join(", ")
            )));
        }
        let published = sqlx::query(
            "SELECT a.name FROM published p JOIN apis a ON a.id = p.api_id
             WHERE p.environment = $1 ORDER BY a.created_at, a.id",
        )
        .bind(&key)
        .fetch_all(&mut *tx)
        .await?;
        if !published.is_empty() {
            let names = published
                .iter()
                .map(|r| r.try_get::<String, _>("name").map(|n| format!("`{n}`")))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            return Err(StoreError::Conflict(format!(
                "environment `{key}` still serves API(s) {}; unpublish them first",
                names.join(", ")
            )));
        }
        for sql in [
            "DELETE FROM stage_variables WHERE environment = $1",
            "DELETE FROM backend_definitions WHERE environment = $1",
            "DELETE FROM deployments WHERE environment = $1",
            "DELETE FROM authorizations WHERE environment = $1",
            "DELETE FROM policy_bindings WHERE environment = $1",
            "DELETE FROM environments WHERE name = $1",
        ] {
            sqlx::query(sql).bind(&key).execute(&mut *tx).await?;
        }
        self.commit(tx, Touch::All).await?;
        Ok(())
    }

    /// An empty map when none were set.
    pub async fn get_stage_variables(
        &self,
        group_id: &str,
        environment: &str,
    ) -> Result<StageVariables> {
        let key = env_key(environment);
        let row = sqlx::query(
            "SELECT body FROM stage_variables WHERE group_id = $1 AND environment = $2",
        )
        .bind(group_id)
        .bind(&key)
        .fetch_optional(&mut *self.conn().await?)
        .await?;
        match row {
            Some(row) => decode(&row),
            None => Ok(StageVariables {
                group_id: group_id.to_string(),
                environment: key,
                variables: Default::default(),
            }),
        }
    }

    /// Replaces the whole map of one group in one environment.
    pub async fn put_stage_variables(&self, sv: &StageVariables) -> Result<()> {
        let key = env_key(&sv.environment);
        let mut tx = self.write_tx().await?;
        if !exists(&mut tx, "SELECT id FROM groups WHERE id = $1", &sv.group_id).await? {
            return Err(not_found("group", &sv.group_id));
        }
        if !exists(
            &mut tx,
            "SELECT name FROM environments WHERE name = $1",
            &key,
        )
        .await?
        {
            return Err(not_found("environment", key));
        }
        let record = StageVariables {
            environment: key.clone(),
            ..sv.clone()
        };
        sqlx::query(
            "INSERT INTO stage_variables (group_id, environment, body) VALUES ($1, $2, $3)
             ON CONFLICT (group_id, environment) DO UPDATE SET body = excluded.body",
        )
        .bind(&sv.group_id)
        .bind(&key)
        .bind(encode(&record)?)
        .execute(&mut *tx)
        .await?;
        self.commit(tx, Touch::Group(&sv.group_id)).await?;
        Ok(())
    }
}

pub(crate) async fn list_environments(conn: &mut AnyConnection) -> Result<Vec<Environment>> {
    let rows = sqlx::query("SELECT body FROM environments ORDER BY seq, name")
        .fetch_all(conn)
        .await?;
    decode_all(&rows)
}

/// Every group's variables, by group creation then environment order.
pub(crate) async fn list_stage_variables(conn: &mut AnyConnection) -> Result<Vec<StageVariables>> {
    let rows = sqlx::query(
        "SELECT s.body FROM stage_variables s
         JOIN groups g ON g.id = s.group_id
         JOIN environments e ON e.name = s.environment
         ORDER BY g.created_at, g.id, e.seq",
    )
    .fetch_all(conn)
    .await?;
    decode_all(&rows)
}

/// One group's stage variables, in environment order.
pub(crate) async fn group_stage_variables(
    conn: &mut AnyConnection,
    group_id: &str,
) -> Result<Vec<StageVariables>> {
    let rows = sqlx::query(
        "SELECT s.body FROM stage_variables s
         JOIN environments e ON e.name = s.environment
         WHERE s.group_id = $1
         ORDER BY e.seq",
    )
    .bind(group_id)
    .fetch_all(conn)
    .await?;
    decode_all(&rows)
}

#[cfg(test)]
mod tests {
    use pylon_model::{Domain, Environment};

    use crate::StoreError;
    use crate::fixtures::{api, backend, group, http_definition, temp_store};

    fn custom(name: &str) -> Environment {
        Environment {
            name: name.into(),
            description: "staging".into(),
            builtin: false,
        }
    }

    #[tokio::test]
    async fn builtin_environments_are_seeded() {
        let (_dir, store) = temp_store().await;
        let envs = store.list_environments().await.unwrap();
        let names: Vec<_> = envs.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["RELEASE", "PRE", "TEST"]);
        assert!(envs.iter().all(|e| e.builtin));
    }

    #[tokio::test]
    async fn environments_are_created_uppercase_and_found_in_any_case() {
        let (_dir, store) = temp_store().await;
        store.create_environment(&custom("staging")).await.unwrap();
        let got = store.get_environment("Staging").await.unwrap();
        assert_eq!(got.name, "STAGING");
        assert!(!got.builtin);
        let names: Vec<_> = store
            .list_environments()
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["RELEASE", "PRE", "TEST", "STAGING"]);
        let err = store
            .create_environment(&custom("STAGING"))
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "environment `STAGING` already exists");
        assert!(matches!(
            store.get_environment("nope").await,
            Err(StoreError::NotFound {
                kind: "environment",
                ..
            })
        ));
    }

    #[tokio::test]
    async fn builtin_environment_delete_refused() {
        let (_dir, store) = temp_store().await;
        let err = store.delete_environment("release").await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment `RELEASE` is built in and cannot be deleted"
        );
        assert!(matches!(
            store.delete_environment("nope").await,
            Err(StoreError::NotFound { .. })
        ));
    }

    #[tokio::test]
    async fn environment_delete_refused_while_a_domain_serves_it() {
        let (_dir, store) = temp_store().await;
        store.create_environment(&custom("canary")).await.unwrap();
        let mut g = group("g", "shop", 1);
        g.domains.push(Domain {
            name: "canary.example.com".into(),
            environment: Some("CANARY".into()),
            ..Default::default()
        });
        store.create_group(&g).await.unwrap();
        let err = store.delete_environment("canary").await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment `CANARY` serves domain `canary.example.com` (group `shop`): unbind it first"
        );
        g.domains.clear();
        store.update_group(&g).await.unwrap();
        store.delete_environment("canary").await.unwrap();
        // And the other way round: no domain can be bound to an environment that is gone.
        g.domains.push(Domain {
            name: "canary.example.com".into(),
            environment: Some("CANARY".into()),
            ..Default::default()
        });
        assert!(matches!(
            store.update_group(&g).await,
            Err(StoreError::NotFound {
                kind: "environment",
                ..
            })
        ));
    }

    #[tokio::test]
    async fn environment_delete_refused_while_published_then_cleans_up() {
        let (_dir, store) = temp_store().await;
        store.create_environment(&custom("STAGING")).await.unwrap();
        store.create_group(&group("g", "shop", 1)).await.unwrap();
        let a = api("a", "g", "orders", None, 1);
        store.create_api(&a).await.unwrap();
        store.publish(&a, "staging", "", "d1", 5).await.unwrap();
        let err = store.delete_environment("STAGING").await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment `STAGING` still serves API(s) `orders`; unpublish them first"
        );

        store.unpublish("a", "STAGING").await.unwrap();
        let mut sv = store.get_stage_variables("g", "STAGING").await.unwrap();
        sv.variables.insert("v".into(), "1".into());
        store.put_stage_variables(&sv).await.unwrap();
        let b = backend("b", "web", pylon_model::BackendKind::Http, 1);
        store.create_backend(&b).await.unwrap();
        store
            .put_backend_definition(&http_definition("b", "STAGING"))
            .await
            .unwrap();
        store.delete_environment("staging").await.unwrap();

        assert!(
            store
                .list_backend_definitions("b")
                .await
                .unwrap()
                .is_empty()
        );
        assert!(store.list_deployments("a", None).await.unwrap().is_empty());
        let snapshot = store.load_snapshot().await.unwrap();
        assert!(snapshot.stage_variables.is_empty());
        assert_eq!(snapshot.environments.len(), 3);
    }

    #[tokio::test]
    async fn stage_variables_default_to_empty_and_are_replaced_whole() {
        let (_dir, store) = temp_store().await;
        store.create_group(&group("g", "shop", 1)).await.unwrap();
        let mut sv = store.get_stage_variables("g", "test").await.unwrap();
        assert_eq!((sv.environment.as_str(), sv.variables.len()), ("TEST", 0));
        sv.variables.insert("a".into(), "1".into());
        sv.variables.insert("b".into(), "2".into());
        store.put_stage_variables(&sv).await.unwrap();
        sv.variables.remove("a");
        store.put_stage_variables(&sv).await.unwrap();
        let got = store.get_stage_variables("g", "TEST").await.unwrap();
        assert_eq!(got, sv);

        sv.environment = "NOPE".into();
        assert!(matches!(
            store.put_stage_variables(&sv).await,
            Err(StoreError::NotFound {
                kind: "environment",
                ..
            })
        ));
        sv.environment = "TEST".into();
        sv.group_id = "missing".into();
        assert!(matches!(
            store.put_stage_variables(&sv).await,
            Err(StoreError::NotFound { kind: "group", .. })
        ));
    }
}
