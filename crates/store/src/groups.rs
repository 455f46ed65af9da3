//! Groups and the custom domains bound to them.

use pylon_model::Group;
use sqlx::{AnyConnection, Row};

use crate::Store;
use crate::Touch;
use crate::codec::{check_name_free, decode, decode_all, encode, on_unique};
use crate::error::{Result, StoreError, not_found};

impl Store {
    pub async fn create_group(&self, g: &Group) -> Result<()> {
        let mut tx = self.write_tx().await?;
        if exists(&mut tx, "SELECT id FROM groups WHERE id = $1", &g.id).await? {
            return Err(StoreError::Conflict(format!(
                "a group with id `{}` already exists",
                g.id
            )));
        }
        name_free(&mut tx, g).await?;
        check_domains_free(&mut tx, g).await?;
        crate::certificates::check_bindings(&mut tx, g).await?;
        sqlx::query("INSERT INTO groups (id, name, created_at, body) VALUES ($1, $2, $3, $4)")
            .bind(&g.id)
            .bind(&g.name)
            .bind(g.created_at)
            .bind(encode(g)?)
            .execute(&mut *tx)
            .await
            .map_err(|e| on_unique(e, || name_taken(&g.name)))?;
        insert_domains(&mut tx, g).await?;
        self.commit(tx, Touch::Group(&g.id)).await?;
        Ok(())
    }

    /// Replaces the whole record, domains included.
    pub async fn update_group(&self, g: &Group) -> Result<()> {
        let mut tx = self.write_tx().await?;
        if !exists(&mut tx, "SELECT id FROM groups WHERE id = $1", &g.id).await? {
            return Err(not_found("group", &g.id));
        }
        write_group(&mut tx, g).await?;
        self.commit(tx, Touch::Group(&g.id)).await?;
        Ok(())
    }

    /// Reads the group, lets `change` edit it and writes it back, all in one transaction, so
    /// that two edits of one group (a rename and a new domain, two new domains) cannot undo
    /// each other. `change` may refuse; nothing is written then. Returns the group as written.
    pub async fn modify_group(
        &self,
        id: &str,
        change: impl FnOnce(&mut Group) -> Result<()>,
    ) -> Result<Group> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query("SELECT body FROM groups WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| not_found("group", id))?;
        let mut g: Group = decode(&row)?;
        change(&mut g)?;
        write_group(&mut tx, &g).await?;
        self.commit(tx, Touch::Group(id)).await?;
        Ok(g)
    }

    pub async fn get_group(&self, id: &str) -> Result<Group> {
        let row = sqlx::query("SELECT body FROM groups WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *self.conn().await?)
            .await?
            .ok_or_else(|| not_found("group", id))?;
        decode(&row)
    }

    /// In creation order.
    pub async fn list_groups(&self) -> Result<Vec<Group>> {
        list_groups(&mut *self.conn().await?).await
    }

    /// Refused while the group holds APIs; removes its stage variables and domains.
    pub async fn delete_group(&self, id: &str) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query("SELECT name FROM groups WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| not_found("group", id))?;
        let name: String = row.try_get("name")?;
        let apis: i64 = sqlx::query("SELECT COUNT(*) AS n FROM apis WHERE group_id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
        if apis > 0 {
            return Err(StoreError::Conflict(format!(
                "group `{name}` still holds {apis} API(s); delete them first"
            )));
        }
        for sql in [
            "DELETE FROM stage_variables WHERE group_id = $1",
            "DELETE FROM group_domains WHERE group_id = $1",
            "DELETE FROM groups WHERE id = $1",
        ] {
            sqlx::query(sql).bind(id).execute(&mut *tx).await?;
        }
        self.commit(tx, Touch::Group(id)).await?;
        Ok(())
    }

    /// The group owning a custom domain, if any (`domain` in any case, without port).
    pub async fn group_by_domain(&self, domain: &str) -> Result<Option<Group>> {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        let row = sqlx::query(
            "SELECT g.body FROM groups g JOIN group_domains d ON d.group_id = g.id
             WHERE d.domain = $1",
        )
        .bind(domain)
        .fetch_optional(&mut *self.conn().await?)
        .await?;
        row.as_ref().map(decode).transpose()
    }
}

pub(crate) async fn list_groups(conn: &mut AnyConnection) -> Result<Vec<Group>> {
    let rows = sqlx::query("SELECT body FROM groups ORDER BY created_at, id")
        .fetch_all(conn)
        .await?;
    decode_all(&rows)
}

/// Whether `sql` (selecting by one key) finds a row.
pub(crate) async fn exists(conn: &mut AnyConnection, sql: &'static str, key: &str) -> Result<bool> {
    Ok(sqlx::query(sql)
        .bind(key)
        .fetch_optional(conn)
        .await?
        .is_some())
}

/// Rewrites an existing group's record and domains, checking name and domains are free.
async fn write_group(conn: &mut AnyConnection, g: &Group) -> Result<()> {
    name_free(&mut *conn, g).await?;
    check_domains_free(&mut *conn, g).await?;
    crate::certificates::check_bindings(&mut *conn, g).await?;
    sqlx::query("UPDATE groups SET name = $1, created_at = $2, body = $3 WHERE id = $4")
        .bind(&g.name)
        .bind(g.created_at)
        .bind(encode(g)?)
        .bind(&g.id)
        .execute(&mut *conn)
        .await
        .map_err(|e| on_unique(e, || name_taken(&g.name)))?;
    sqlx::query("DELETE FROM group_domains WHERE group_id = $1")
        .bind(&g.id)
        .execute(&mut *conn)
        .await?;
    insert_domains(conn, g).await
}

fn name_taken(name: &str) -> String {
    format!("a group named `{name}` already exists")
}

async fn name_free(conn: &mut AnyConnection, g: &Group) -> Result<()> {
    let sql = "SELECT id FROM groups WHERE name = $1 AND id <> $2";
    check_name_free(conn, sql, &g.name, &g.id, || name_taken(&g.name)).await
}

/// Domains are unique across groups, and listed once per group.
async fn check_domains_free(conn: &mut AnyConnection, g: &Group) -> Result<()> {
    for (i, d) in g.domains.iter().enumerate() {
        if g.domains[..i].iter().any(|e| e.name == d.name) {
            return Err(StoreError::Conflict(format!(
                "domain `{}` is listed more than once",
                d.name
            )));
        }
        let owner = sqlx::query(
            "SELECT g.name FROM group_domains d JOIN groups g ON g.id = d.group_id
             WHERE d.domain = $1 AND d.group_id <> $2",
        )
        .bind(&d.name)
        .bind(&g.id)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(owner) = owner {
            let owner: String = owner.try_get("name")?;
            return Err(StoreError::Conflict(format!(
                "domain `{}` is already bound to group `{owner}`",
                d.name
            )));
        }
    }
    Ok(())
}

/// Also checks, in the transaction, that the environment a domain serves exists: deleting an
/// environment checks for such domains in its own, so neither can leave a domain serving an
/// environment that is gone.
async fn insert_domains(conn: &mut AnyConnection, g: &Group) -> Result<()> {
    for d in &g.domains {
        if let Some(env) = &d.environment
            && !exists(
                &mut *conn,
                "SELECT name FROM environments WHERE name = $1",
                env,
            )
            .await?
        {
            return Err(not_found("environment", env));
        }
        sqlx::query("INSERT INTO group_domains (domain, group_id) VALUES ($1, $2)")
            .bind(&d.name)
            .bind(&g.id)
            .execute(&mut *conn)
            .await
            .map_err(|e| {
                on_unique(e, || {
                    format!("domain `{}` is already bound to another group", d.name)
                })
            })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::StoreError;
    use crate::fixtures::{api, group, temp_store, with_domains};

    #[tokio::test]
    async fn groups_round_trip_in_creation_order() {
        let (_dir, store) = temp_store().await;
        store
            .create_group(&group("b2", "second", 20))
            .await
            .unwrap();
        store.create_group(&group("a1", "first", 10)).await.unwrap();
        assert_eq!(
            store.get_group("a1").await.unwrap(),
            group("a1", "first", 10)
        );
        let names: Vec<_> = store
            .list_groups()
            .await
            .unwrap()
            .into_iter()
            .map(|g| g.name)
            .collect();
        assert_eq!(names, ["first", "second"]);

        let updated = with_domains(group("a1", "renamed", 10), &["api.example.com"]);
        store.update_group(&updated).await.unwrap();
        assert_eq!(store.get_group("a1").await.unwrap(), updated);

        store.delete_group("b2").await.unwrap();
        assert!(matches!(
            store.get_group("b2").await,
            Err(StoreError::NotFound { kind: "group", .. })
        ));
        assert!(matches!(
            store.update_group(&group("zz", "x", 1)).await,
            Err(StoreError::NotFound { .. })
        ));
    }

    #[tokio::test]
    async fn group_names_are_unique() {
        let (_dir, store) = temp_store().await;
        store.create_group(&group("a1", "shop", 1)).await.unwrap();
        store.create_group(&group("b2", "blog", 2)).await.unwrap();
        let err = store
            .create_group(&group("c3", "shop", 3))
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "a group named `shop` already exists");
        let err = store
            .update_group(&group("b2", "shop", 2))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)));
        let err = store
            .create_group(&group("a1", "other", 3))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)));
    }

    #[tokio::test]
    async fn modify_group_edits_the_stored_record_or_writes_nothing() {
        let (_dir, store) = temp_store().await;
        store
            .create_group(&with_domains(group("g", "shop", 1), &["a.example.com"]))
            .await
            .unwrap();
        store.create_group(&group("h", "blog", 2)).await.unwrap();
        // Two edits each made on the record as stored: neither undoes the other.
        store
            .modify_group("g", |g| {
                g.name = "shop2".into();
                Ok(())
            })
            .await
            .unwrap();
        let g = store
            .modify_group("g", |g| {
                g.domains.push(pylon_model::Domain {
                    name: "b.example.com".into(),
                    environment: None,
                    ..Default::default()
                });
                Ok(())
            })
            .await
            .unwrap();
        assert_eq!(g.name, "shop2");
        assert_eq!(g.domains.len(), 2);
        assert_eq!(store.get_group("g").await.unwrap(), g);

        // A refusal, from the change or from the store's checks, writes nothing.
        let err = store
            .modify_group("g", |g| {
                g.name = "x".into();
                Err(StoreError::Conflict("no".into()))
            })
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "no");
        let err = store
            .modify_group("h", |h| {
                h.domains.push(pylon_model::Domain {
                    name: "a.example.com".into(),
                    environment: None,
                    ..Default::default()
                });
                Ok(())
            })
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "domain `a.example.com` is already bound to group `shop2`"
        );
        assert_eq!(store.get_group("g").await.unwrap(), g);
        assert!(store.get_group("h").await.unwrap().domains.is_empty());
        assert!(matches!(
            store.modify_group("nope", |_| Ok(())).await,
            Err(StoreError::NotFound { kind: "group", .. })
        ));
    }

    #[tokio::test]
    async fn domains_are_unique_across_groups_and_found_in_any_case() {
        let (_dir, store) = temp_store().await;
        let shop = with_domains(group("a1", "shop", 1), &["shop.example.com"]);
        store.create_group(&shop).await.unwrap();
        let err = store
            .create_group(&with_domains(group("b2", "blog", 2), &["shop.example.com"]))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "domain `shop.example.com` is already bound to group `shop`"
        );
        store.create_group(&group("b2", "blog", 2)).await.unwrap();
        let twice = with_domains(group("b2", "blog", 2), &["b.example.com", "b.example.com"]);
        assert!(matches!(
            store.update_group(&twice).await,
            Err(StoreError::Conflict(_))
        ));
        // Re-saving a group with its own domains is fine.
        store.update_group(&shop).await.unwrap();

        let found = store.group_by_domain("Shop.Example.COM").await.unwrap();
        assert_eq!(found.map(|g| g.id), Some("a1".to_string()));
        assert_eq!(
            store.group_by_domain("none.example.com").await.unwrap(),
            None
        );
        store.update_group(&group("a1", "shop", 1)).await.unwrap();
        assert_eq!(
            store.group_by_domain("shop.example.com").await.unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn group_delete_refused_while_it_holds_apis() {
        let (_dir, store) = temp_store().await;
        store.create_group(&group("a1", "shop", 1)).await.unwrap();
        store
            .create_api(&api("x", "a1", "orders", None, 1))
            .await
            .unwrap();
        let err = store.delete_group("a1").await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "group `shop` still holds 1 API(s); delete them first"
        );
        store.delete_api("x").await.unwrap();
        store.delete_group("a1").await.unwrap();
        assert!(matches!(
            store.delete_group("a1").await,
            Err(StoreError::NotFound { .. })
        ));
    }

    #[tokio::test]
    async fn group_delete_removes_its_stage_variables() {
        let (_dir, store) = temp_store().await;
        store.create_group(&group("a1", "shop", 1)).await.unwrap();
        let mut sv = store.get_stage_variables("a1", "TEST").await.unwrap();
        sv.variables.insert("host".into(), "10.0.0.1".into());
        store.put_stage_variables(&sv).await.unwrap();
        store.delete_group("a1").await.unwrap();
        // A new group with the same id starts clean.
        store.create_group(&group("a1", "shop", 2)).await.unwrap();
        let sv = store.get_stage_variables("a1", "TEST").await.unwrap();
        assert!(sv.variables.is_empty());
        assert!(
            store
                .load_snapshot()
                .await
                .unwrap()
                .stage_variables
                .is_empty()
        );
    }
}
