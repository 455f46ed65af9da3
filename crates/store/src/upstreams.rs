//! Upstreams: named private targets that `upstream` backend definitions name by id or name.

use pylon_model::{BackendDefinition, Upstream};
use sqlx::{AnyConnection, Row};

use crate::Store;
use crate::Touch;
use crate::apis::apis_inlining;
use crate::codec::{check_name_free, decode, decode_all, encode, fetch_one, on_unique};
use crate::error::{Result, StoreError, not_found};
use crate::groups::exists;

impl Store {
    pub async fn create_upstream(&self, u: &Upstream) -> Result<()> {
        let mut tx = self.write_tx().await?;
        if exists(&mut tx, "SELECT id FROM upstreams WHERE id = $1", &u.id).await? {
            return Err(StoreError::Conflict(format!(
                "an upstream with id `{}` already exists",
                u.id
            )));
        }
        name_free(&mut tx, u).await?;
        sqlx::query("INSERT INTO upstreams (id, name, created_at, body) VALUES ($1, $2, $3, $4)")
            .bind(&u.id)
            .bind(&u.spec.name)
            .bind(u.created_at)
            .bind(encode(u)?)
            .execute(&mut *tx)
            .await
            .map_err(|e| on_unique(e, || name_taken(&u.spec.name)))?;
        self.commit(tx, Touch::All).await?;
        Ok(())
    }

    /// Refuses a rename while backend definitions name the upstream by its old name, since
    /// they would silently stop resolving.
    pub async fn update_upstream(&self, u: &Upstream) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let old: Upstream = get_by_id(&mut tx, &u.id).await?;
        name_free(&mut tx, u).await?;
        if old.spec.name != u.spec.name {
            let users = users_of(&mut tx, &old.spec.name, &old.spec.name).await?;
            if let Some(first) = users.first() {
                return Err(StoreError::Conflict(format!(
                    "upstream `{}` is named by {first}; point those at its id \
                     before renaming it",
                    old.spec.name
                )));
            }
        }
        sqlx::query("UPDATE upstreams SET name = $1, created_at = $2, body = $3 WHERE id = $4")
            .bind(&u.spec.name)
            .bind(u.created_at)
            .bind(encode(u)?)
            .bind(&u.id)
            .execute(&mut *tx)
            .await
            .map_err(|e| on_unique(e, || name_taken(&u.spec.name)))?;
        self.commit(tx, Touch::All).await?;
        Ok(())
    }

    /// By id first, else by name.
    pub async fn get_upstream(&self, id_or_name: &str) -> Result<Upstream> {
        let row = sqlx::query(
            "SELECT body FROM upstreams WHERE id = $1 OR name = $1
             ORDER BY CASE WHEN id = $1 THEN 0 ELSE 1 END LIMIT 1",
        )
        .bind(id_or_name)
        .fetch_optional(&mut *self.conn().await?)
        .await?
        .ok_or_else(|| not_found("upstream", id_or_name))?;
        decode(&row)
    }

    /// In creation order.
    pub async fn list_upstreams(&self) -> Result<Vec<Upstream>> {
        list_upstreams(&mut *self.conn().await?).await
    }

    /// Refused while a backend definition names the upstream (by id or name).
    pub async fn delete_upstream(&self, id: &str) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let u = get_by_id(&mut tx, id).await?;
        let users = users_of(&mut tx, &u.id, &u.spec.name).await?;
        if !users.is_empty() {
            return Err(StoreError::Conflict(format!(
                "upstream `{}` is still used by {}; change those backends first",
                u.spec.name,
                users.join(", ")
            )));
        }
        sqlx::query("DELETE FROM upstreams WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        self.commit(tx, Touch::All).await?;
        Ok(())
    }
}

pub(crate) async fn list_upstreams(conn: &mut AnyConnection) -> Result<Vec<Upstream>> {
    let rows = sqlx::query("SELECT body FROM upstreams ORDER BY created_at, id")
        .fetch_all(conn)
        .await?;
    decode_all(&rows)
}

async fn get_by_id(conn: &mut AnyConnection, id: &str) -> Result<Upstream> {
    fetch_one(
        conn,
        "SELECT body FROM upstreams WHERE id = $1",
        id,
        "upstream",
    )
    .await
}

fn name_taken(name: &str) -> String {
    format!("an upstream named `{name}` already exists")
}

async fn name_free(conn: &mut AnyConnection, u: &Upstream) -> Result<()> {
    let sql = "SELECT id FROM upstreams WHERE name = $1 AND id <> $2";
    check_name_free(conn, sql, &u.spec.name, &u.id, || name_taken(&u.spec.name)).await
}

/// "backend `b` in `ENV`" for each definition naming the upstream by `id` or `name`.
/// Backend definitions, and APIs with the definition inline, that name the upstream `a` or `b`.
async fn users_of(conn: &mut AnyConnection, a: &str, b: &str) -> Result<Vec<String>> {
    let mut users = definitions_naming(conn, a, b).await?;
    let names = |n: &str| n == a || n == b;
    let inlines = |d: &BackendDefinition| match d {
        BackendDefinition::Upstream { upstream, .. } => names(upstream),
        BackendDefinition::Function { upstream, .. } => upstream.as_deref().is_some_and(names),
        _ => false,
    };
    users.extend(apis_inlining(conn, "%upstream%", inlines).await?);
    Ok(users)
}

async fn definitions_naming(conn: &mut AnyConnection, id: &str, name: &str) -> Result<Vec<String>> {
    let rows = sqlx::query(
        "SELECT b.name, d.environment FROM backend_definitions d
         JOIN backends b ON b.id = d.backend_id
         WHERE d.upstream = $1 OR d.upstream = $2
         ORDER BY b.name, d.environment",
    )
    .bind(id)
    .bind(name)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let backend: String = r.try_get("name")?;
            let env: String = r.try_get("environment")?;
            Ok(format!("backend `{backend}` in `{env}`"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use pylon_model::BackendKind;

    use crate::StoreError;
    use crate::fixtures::{api, backend, group, temp_store, upstream, upstream_definition};

    #[tokio::test]
    async fn upstreams_round_trip_by_id_or_name() {
        let (_dir, store) = temp_store().await;
        store
            .create_upstream(&upstream("u2", "vpc-b", 2))
            .await
            .unwrap();
        store
            .create_upstream(&upstream("u1", "vpc-a", 1))
            .await
            .unwrap();
        assert_eq!(store.get_upstream("u1").await.unwrap().spec.name, "vpc-a");
        assert_eq!(store.get_upstream("vpc-b").await.unwrap().id, "u2");
        let ids: Vec<_> = store
            .list_upstreams()
            .await
            .unwrap()
            .into_iter()
            .map(|u| u.id)
            .collect();
        assert_eq!(ids, ["u1", "u2"]);

        let mut changed = upstream("u1", "vpc-a", 1);
        changed.spec.targets = vec!["10.0.0.9:8080".into()];
        store.update_upstream(&changed).await.unwrap();
        assert_eq!(store.get_upstream("u1").await.unwrap(), changed);

        store.delete_upstream("u2").await.unwrap();
        assert!(matches!(
            store.get_upstream("vpc-b").await,
            Err(StoreError::NotFound {
                kind: "upstream",
                ..
            })
        ));
    }

    #[tokio::test]
    async fn upstream_names_are_unique() {
        let (_dir, store) = temp_store().await;
        store
            .create_upstream(&upstream("u1", "vpc", 1))
            .await
            .unwrap();
        store
            .create_upstream(&upstream("u2", "other", 2))
            .await
            .unwrap();
        let err = store
            .create_upstream(&upstream("u3", "vpc", 3))
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "an upstream named `vpc` already exists");
        assert!(matches!(
            store.update_upstream(&upstream("u2", "vpc", 2)).await,
            Err(StoreError::Conflict(_))
        ));
    }

    #[tokio::test]
    async fn upstream_delete_and_rename_refused_while_an_api_inlines_it() {
        let (_dir, store) = temp_store().await;
        store
            .create_upstream(&upstream("u1", "vpc", 1))
            .await
            .unwrap();
        store.create_group(&group("g", "shop", 1)).await.unwrap();
        let mut a = api("a", "g", "orders", None, 1);
        a.spec.backend.service = serde_json::from_value(serde_json::json!(
            {"inline": {"type": "upstream", "upstream": "vpc"}}
        ))
        .unwrap();
        store.create_api(&a).await.unwrap();
        let err = store.delete_upstream("u1").await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "upstream `vpc` is still used by API `orders`; change those backends first"
        );
        assert!(matches!(
            store.update_upstream(&upstream("u1", "vpc2", 1)).await,
            Err(StoreError::Conflict(_))
        ));
        store.delete_api("a").await.unwrap();
        store.delete_upstream("u1").await.unwrap();
    }

    #[tokio::test]
    async fn upstream_delete_refused_while_a_definition_names_it() {
        let (_dir, store) = temp_store().await;
        store
            .create_upstream(&upstream("u1", "vpc", 1))
            .await
            .unwrap();
        store
            .create_backend(&backend("b", "web", BackendKind::Upstream, 1))
            .await
            .unwrap();
        // By name.
        store
            .put_backend_definition(&upstream_definition("b", "TEST", "vpc"))
            .await
            .unwrap();
        let err = store.delete_upstream("u1").await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "upstream `vpc` is still used by backend `web` in `TEST`; change those backends first"
        );
        // Renaming would break the reference by name.
        assert!(matches!(
            store.update_upstream(&upstream("u1", "vpc2", 1)).await,
            Err(StoreError::Conflict(_))
        ));
        // By id.
        store
            .put_backend_definition(&upstream_definition("b", "TEST", "u1"))
            .await
            .unwrap();
        assert!(matches!(
            store.delete_upstream("u1").await,
            Err(StoreError::Conflict(_))
        ));
        store
            .update_upstream(&upstream("u1", "vpc2", 1))
            .await
            .unwrap();

        store
            .delete_backend_definition("b", "TEST", &[])
            .await
            .unwrap();
        store.delete_upstream("u1").await.unwrap();
    }
}
