//! Backend services and their per-environment definitions.

use pylon_model::{Backend, BackendDefinition, BackendEnvironment};
use sqlx::{AnyConnection, Row};

use crate::Store;
use crate::Touch;
use crate::codec::{check_name_free, decode, decode_all, encode, env_key, fetch_one, on_unique};
use crate::error::{Result, StoreError, not_found};
use crate::groups::exists;

impl Store {
    pub async fn create_backend(&self, b: &Backend) -> Result<()> {
        let mut tx = self.write_tx().await?;
        if exists(&mut tx, "SELECT id FROM backends WHERE id = $1", &b.id).await? {
            return Err(StoreError::Conflict(format!(
                "a backend with id `{}` already exists",
                b.id
            )));
        }
        name_free(&mut tx, b).await?;
        sqlx::query("INSERT INTO backends (id, name, created_at, body) VALUES ($1, $2, $3, $4)")
            .bind(&b.id)
            .bind(&b.spec.name)
            .bind(b.created_at)
            .bind(encode(b)?)
            .execute(&mut *tx)
            .await
            .map_err(|e| on_unique(e, || name_taken(&b.spec.name)))?;
        self.commit(tx, Touch::All).await?;
        Ok(())
    }

    /// The caller keeps the kind unchanged.
    pub async fn update_backend(&self, b: &Backend) -> Result<()> {
        let mut tx = self.write_tx().await?;
        get_by_id(&mut tx, &b.id).await?;
        name_free(&mut tx, b).await?;
        sqlx::query("UPDATE backends SET name = $1, created_at = $2, body = $3 WHERE id = $4")
            .bind(&b.spec.name)
            .bind(b.created_at)
            .bind(encode(b)?)
            .bind(&b.id)
            .execute(&mut *tx)
            .await
            .map_err(|e| on_unique(e, || name_taken(&b.spec.name)))?;
        self.commit(tx, Touch::All).await?;
        Ok(())
    }

    pub async fn get_backend(&self, id: &str) -> Result<Backend> {
        get_by_id(&mut *self.conn().await?, id).await
    }

    /// In creation order.
    pub async fn list_backends(&self) -> Result<Vec<Backend>> {
        list_backends(&mut *self.conn().await?).await
    }

    /// Refused while an API draft or an active deployment refers to the backend; removes its
    /// definitions.
    pub async fn delete_backend(&self, id: &str) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let b = get_by_id(&mut tx, id).await?;
        let drafts = sqlx::query(
            "SELECT a.name FROM apis a WHERE a.backend_id = $1 ORDER BY a.created_at, a.id",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        if !drafts.is_empty() {
            let names = drafts
                .iter()
                .map(|r| r.try_get::<String, _>("name").map(|n| format!("`{n}`")))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            return Err(StoreError::Conflict(format!(
                "backend `{}` is used by API(s) {}; point them elsewhere first",
                b.spec.name,
                names.join(", ")
            )));
        }
        // A draft may have moved away while an older deployment still serves this backend.
        let serving = sqlx::query(
            "SELECT a.name, p.environment FROM published p
             JOIN deployments d ON d.id = p.deployment_id
             JOIN apis a ON a.id = p.api_id
             WHERE d.backend_id = $1 ORDER BY a.created_at, a.id, p.environment",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        if !serving.is_empty() {
            let uses = serving
                .iter()
                .map(|r| {
                    let api: String = r.try_get("name")?;
                    let env: String = r.try_get("environment")?;
                    Ok(format!("API `{api}` in `{env}`"))
                })
                .collect::<Result<Vec<_>>>()?;
            return Err(StoreError::Conflict(format!(
                "backend `{}` still serves the published {}; republish or unpublish first",
                b.spec.name,
                uses.join(", ")
            )));
        }
        for sql in [
            "DELETE FROM backend_definitions WHERE backend_id = $1",
            "DELETE FROM backends WHERE id = $1",
        ] {
            sqlx::query(sql).bind(id).execute(&mut *tx).await?;
        }
        self.commit(tx, Touch::All).await?;
        Ok(())
    }

    /// Creates or replaces the backend's definition for one environment.
    pub async fn put_backend_definition(&self, d: &BackendEnvironment) -> Result<()> {
        let key = env_key(&d.environment);
        let mut tx = self.write_tx().await?;
        get_by_id(&mut tx, &d.backend_id).await?;
        if !exists(
            &mut tx,
            "SELECT name FROM environments WHERE name = $1",
            &key,
        )
        .await?
        {
            return Err(not_found("environment", key));
        }
        let upstream = match &d.definition {
            BackendDefinition::Upstream { upstream, .. } => Some(upstream.clone()),
            _ => None,
        };
        // Checked here too, not only by the caller before: deleting the upstream checks for
        // definitions naming it in its own transaction, so one of the two writes sees the
        // other. A name known only per environment (`${stageVariables.x}`) is the gateway's
        // to resolve.
        if let Some(name) = upstream.as_deref().map(str::trim)
            && !name.contains("${")
        {
            let found = sqlx::query("SELECT id FROM upstreams WHERE id = $1 OR name = $1")
                .bind(name)
                .fetch_optional(&mut *tx)
                .await?;
            if found.is_none() {
                return Err(StoreError::Conflict(format!(
                    "upstream `{name}` does not exist (any more); create it or name another"
                )));
            }
        }
        let record = BackendEnvironment {
            environment: key.clone(),
            ..d.clone()
        };
        sqlx::query(
            "INSERT INTO backend_definitions (backend_id, environment, upstream, body)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (backend_id, environment)
             DO UPDATE SET upstream = excluded.upstream, body = excluded.body",
        )
        .bind(&d.backend_id)
        .bind(&key)
        .bind(upstream)
        .bind(encode(&record)?)
        .execute(&mut *tx)
        .await?;
        self.commit(tx, Touch::All).await?;
        Ok(())
    }

    pub async fn get_backend_definition(
        &self,
        backend_id: &str,
        environment: &str,
    ) -> Result<BackendEnvironment> {
        let key = env_key(environment);
        let row = sqlx::query(
            "SELECT body FROM backend_definitions WHERE backend_id = $1 AND environment = $2",
        )
        .bind(backend_id)
        .bind(&key)
        .fetch_optional(&mut *self.conn().await?)
        .await?
        .ok_or_else(|| not_found("backend definition", format!("{backend_id} in {key}")))?;
        decode(&row)
    }

    /// The backend's definitions in environment order; `NotFound` for an unknown backend.
    pub async fn list_backend_definitions(
        &self,
        backend_id: &str,
    ) -> Result<Vec<BackendEnvironment>> {
        let mut conn = self.conn().await?;
        get_by_id(&mut conn, backend_id).await?;
        let rows = sqlx::query(
            "SELECT d.body FROM backend_definitions d
             JOIN environments e ON e.name = d.environment
             WHERE d.backend_id = $1 ORDER BY e.seq",
        )
        .bind(backend_id)
        .fetch_all(&mut *conn)
        .await?;
        decode_all(&rows)
    }

    /// The APIs served in `environment` through the backend service (by their active
    /// deployment), as (id, name): what deleting its definition there would unpublish.
    pub async fn apis_served_by_backend(
        &self,
        backend_id: &str,
        environment: &str,
    ) -> Result<Vec<(String, String)>> {
        served_by_backend(&mut *self.conn().await?, backend_id, &env_key(environment)).await
    }

    /// Deletes the definition and unpublishes, in the same transaction, every API served in
    /// that environment through the backend service. `confirmed` are the APIs the caller was
    /// told about: if another one is served through it by now, nothing is deleted (Conflict),
    /// so nothing is unpublished that nobody agreed to.
    pub async fn delete_backend_definition(
        &self,
        backend_id: &str,
        environment: &str,
        confirmed: &[String],
    ) -> Result<()> {
        let key = env_key(environment);
        let mut tx = self.write_tx().await?;
        let deleted = sqlx::query(
            "DELETE FROM backend_definitions WHERE backend_id = $1 AND environment = $2",
        )
        .bind(backend_id)
        .bind(&key)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if deleted == 0 {
            return Err(not_found(
                "backend definition",
                format!("{backend_id} in {key}"),
            ));
        }
        let served = served_by_backend(&mut tx, backend_id, &key).await?;
        let unconfirmed: Vec<&str> = served
            .iter()
            .filter(|(id, _)| !confirmed.contains(id))
            .map(|(_, name)| name.as_str())
            .collect();
        if !unconfirmed.is_empty() {
            return Err(StoreError::Conflict(format!(
                "API(s) {} were published through this definition meanwhile; repeat the call \
                 to see what deleting it unpublishes",
                unconfirmed.join(", ")
            )));
        }
        for (api_id, _) in &served {
            sqlx::query("DELETE FROM published WHERE api_id = $1 AND environment = $2")
                .bind(api_id)
                .bind(&key)
                .execute(&mut *tx)
                .await?;
        }
        self.commit(tx, Touch::All).await?;
        Ok(())
    }
}

async fn served_by_backend(
    conn: &mut AnyConnection,
    backend_id: &str,
    environment: &str,
) -> Result<Vec<(String, String)>> {
    let rows = sqlx::query(
        "SELECT a.id, a.name FROM published p
         JOIN deployments d ON d.id = p.deployment_id
         JOIN apis a ON a.id = p.api_id
         WHERE p.environment = $1 AND d.backend_id = $2
         ORDER BY a.created_at, a.id",
    )
    .bind(environment)
    .bind(backend_id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("name")?)))
        .collect()
}

pub(crate) async fn list_backends(conn: &mut AnyConnection) -> Result<Vec<Backend>> {
    let rows = sqlx::query("SELECT body FROM backends ORDER BY created_at, id")
        .fetch_all(conn)
        .await?;
    decode_all(&rows)
}

/// Every definition, by backend creation then environment order.
pub(crate) async fn list_all_definitions(
    conn: &mut AnyConnection,
) -> Result<Vec<BackendEnvironment>> {
    let rows = sqlx::query(
        "SELECT d.body FROM backend_definitions d
         JOIN backends b ON b.id = d.backend_id
         JOIN environments e ON e.name = d.environment
         ORDER BY b.created_at, b.id, e.seq",
    )
    .fetch_all(conn)
    .await?;
    decode_all(&rows)
}

async fn get_by_id(conn: &mut AnyConnection, id: &str) -> Result<Backend> {
    fetch_one(
        conn,
        "SELECT body FROM backends WHERE id = $1",
        id,
        "backend",
    )
    .await
}

fn name_taken(name: &str) -> String {
    format!("a backend named `{name}` already exists")
}

async fn name_free(conn: &mut AnyConnection, b: &Backend) -> Result<()> {
    let sql = "SELECT id FROM backends WHERE name = $1 AND id <> $2";
    check_name_free(conn, sql, &b.spec.name, &b.id, || name_taken(&b.spec.name)).await
}

#[cfg(test)]
mod tests {
    use pylon_model::{BackendKind, BackendTarget};

    use crate::StoreError;
    use crate::fixtures::{api, backend, group, http_definition, temp_store, upstream_definition};

    #[tokio::test]
    async fn backends_round_trip_and_names_are_unique() {
        let (_dir, store) = temp_store().await;
        store
            .create_backend(&backend("b2", "mock", BackendKind::Mock, 2))
            .await
            .unwrap();
        let web = backend("b1", "web", BackendKind::Http, 1);
        store.create_backend(&web).await.unwrap();
        assert_eq!(store.get_backend("b1").await.unwrap(), web);
        let ids: Vec<_> = store
            .list_backends()
            .await
            .unwrap()
            .into_iter()
            .map(|b| b.id)
            .collect();
        assert_eq!(ids, ["b1", "b2"]);

        let err = store
            .create_backend(&backend("b3", "web", BackendKind::Http, 3))
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "a backend named `web` already exists");
        assert!(matches!(
            store
                .update_backend(&backend("b2", "web", BackendKind::Mock, 2))
                .await,
            Err(StoreError::Conflict(_))
        ));
        let mut renamed = web.clone();
        renamed.spec.description = "main site".into();
        store.update_backend(&renamed).await.unwrap();
        assert_eq!(store.get_backend("b1").await.unwrap(), renamed);

        store.delete_backend("b2").await.unwrap();
        assert!(matches!(
            store.get_backend("b2").await,
            Err(StoreError::NotFound {
                kind: "backend",
                ..
            })
        ));
    }

    #[tokio::test]
    async fn backend_definitions_are_upserted_per_environment() {
        let (_dir, store) = temp_store().await;
        store
            .create_backend(&backend("b", "web", BackendKind::Http, 1))
            .await
            .unwrap();
        store
            .put_backend_definition(&http_definition("b", "test"))
            .await
            .unwrap();
        store
            .put_backend_definition(&http_definition("b", "RELEASE"))
            .await
            .unwrap();
        let replaced = upstream_definition("b", "TEST", "vpc");
        // The upstream it names must exist, checked in the write transaction.
        match store.put_backend_definition(&replaced).await {
            Err(StoreError::Conflict(m)) => assert!(m.contains("`vpc` does not exist"), "{m}"),
            other => panic!("{other:?}"),
        }
        store
            .create_upstream(&crate::fixtures::upstream("u", "vpc", 1))
            .await
            .unwrap();
        store.put_backend_definition(&replaced).await.unwrap();
        let by_template = upstream_definition("b", "PRE", "${stageVariables.vpc}");
        store.put_backend_definition(&by_template).await.unwrap();
        store
            .delete_backend_definition("b", "PRE", &[])
            .await
            .unwrap();
        assert_eq!(
            store.get_backend_definition("b", "Test").await.unwrap(),
            replaced
        );
        let envs: Vec<_> = store
            .list_backend_definitions("b")
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.environment)
            .collect();
        assert_eq!(envs, ["RELEASE", "TEST"]);
        assert!(matches!(
            store.get_backend_definition("b", "PRE").await,
            Err(StoreError::NotFound {
                kind: "backend definition",
                ..
            })
        ));
        assert!(matches!(
            store
                .put_backend_definition(&http_definition("missing", "TEST"))
                .await,
            Err(StoreError::NotFound {
                kind: "backend",
                ..
            })
        ));
        assert!(matches!(
            store
                .put_backend_definition(&http_definition("b", "NOPE"))
                .await,
            Err(StoreError::NotFound {
                kind: "environment",
                ..
            })
        ));
    }

    #[tokio::test]
    async fn backend_delete_refused_while_a_draft_or_active_deployment_uses_it() {
        let (_dir, store) = temp_store().await;
        store.create_group(&group("g", "shop", 1)).await.unwrap();
        store
            .create_backend(&backend("b", "web", BackendKind::Http, 1))
            .await
            .unwrap();
        store
            .put_backend_definition(&http_definition("b", "TEST"))
            .await
            .unwrap();
        let mut a = api("a", "g", "orders", Some("b"), 1);
        store.create_api(&a).await.unwrap();
        let err = store.delete_backend("b").await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "backend `web` is used by API(s) `orders`; point them elsewhere first"
        );

        store.publish(&a, "TEST", "", "d1", 2).await.unwrap();
        a.spec.backend.service = api("x", "g", "x", None, 0).spec.backend.service;
        assert!(matches!(a.spec.backend.service, BackendTarget::Inline(_)));
        store.update_api(&a).await.unwrap();
        let err = store.delete_backend("b").await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "backend `web` still serves the published API `orders` in `TEST`; \
             republish or unpublish first"
        );

        store.unpublish("a", "TEST").await.unwrap();
        store.delete_backend("b").await.unwrap();
        assert!(
            store
                .load_snapshot()
                .await
                .unwrap()
                .backend_definitions
                .is_empty()
        );
    }

    #[tokio::test]
    async fn delete_backend_definition_unpublishes_in_the_same_transaction() {
        let (_dir, store) = temp_store().await;
        store.create_group(&group("g", "shop", 1)).await.unwrap();
        store
            .create_backend(&backend("b", "web", BackendKind::Http, 1))
            .await
            .unwrap();
        store
            .put_backend_definition(&http_definition("b", "TEST"))
            .await
            .unwrap();
        let a = api("a", "g", "orders", Some("b"), 1);
        let other = api("o", "g", "other", Some("b"), 2);
        store.create_api(&a).await.unwrap();
        store.create_api(&other).await.unwrap();
        store.publish(&a, "TEST", "", "d1", 3).await.unwrap();
        store.publish(&other, "TEST", "", "d2", 4).await.unwrap();
        store.publish(&a, "RELEASE", "", "d3", 5).await.unwrap();

        // Unknown definition: nothing changes.
        assert!(matches!(
            store
                .delete_backend_definition("b", "PRE", &["a".to_string()])
                .await,
            Err(StoreError::NotFound { .. })
        ));
        assert_eq!(store.active_deployments().await.unwrap().len(), 3);
        assert_eq!(
            store.apis_served_by_backend("b", "test").await.unwrap(),
            [
                ("a".to_string(), "orders".to_string()),
                ("o".to_string(), "other".to_string())
            ]
        );
        // An API the caller was not told about (published since it asked): nothing changes.
        match store
            .delete_backend_definition("b", "TEST", &["a".to_string()])
            .await
        {
            Err(StoreError::Conflict(m)) => assert!(m.contains("other"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(store.active_deployments().await.unwrap().len(), 3);
        assert_eq!(store.list_backend_definitions("b").await.unwrap().len(), 1);

        store
            .delete_backend_definition("b", "test", &["a".to_string(), "o".to_string()])
            .await
            .unwrap();
        let active: Vec<_> = store
            .active_deployments()
            .await
            .unwrap()
            .into_iter()
            .map(|d| (d.api_id, d.environment))
            .collect();
        assert_eq!(active, [("a".to_string(), "RELEASE".to_string())]);
        assert!(
            store
                .list_backend_definitions("b")
                .await
                .unwrap()
                .is_empty()
        );
    }
}
