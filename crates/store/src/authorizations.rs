//! Authorizations: grants letting an app call an API in an environment, at most one per
//! (app, API, environment), optionally until an expiry.

use pylon_model::Authorization;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::Store;
use crate::Touch;
use crate::apps::check_app;
use crate::codec::{decode, encode, env_key, on_unique};
use crate::error::{Result, StoreError, not_found};
use crate::groups::exists;

impl Store {
    /// Upsert on (app_id, api_id, environment): an existing grant keeps its id and created_at,
    /// takes the new expiry and description. `group_id` is taken from the API. Returns what is
    /// stored and whether it was new. Unknown app, API or environment -> `NotFound`.
    pub async fn put_authorization(&self, a: &Authorization) -> Result<(Authorization, bool)> {
        let environment = env_key(&a.spec.environment);
        let mut tx = self.write_tx().await?;
        check_app(&mut tx, &a.spec.app_id).await?;
        let group_id: String = sqlx::query("SELECT group_id FROM apis WHERE id = $1")
            .bind(&a.spec.api_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| not_found("API", &a.spec.api_id))?
            .try_get("group_id")?;
        if !exists(
            &mut tx,
            "SELECT name FROM environments WHERE name = $1",
            &environment,
        )
        .await?
        {
            return Err(not_found("environment", environment));
        }
        let existing = sqlx::query(
            "SELECT group_id, body FROM authorizations
             WHERE app_id = $1 AND api_id = $2 AND environment = $3",
        )
        .bind(&a.spec.app_id)
        .bind(&a.spec.api_id)
        .bind(&environment)
        .fetch_optional(&mut *tx)
        .await?
        .map(|row| from_row(&row))
        .transpose()?;
        let mut stored = match &existing {
            Some(old) => Authorization {
                id: old.id.clone(),
                created_at: old.created_at,
                ..a.clone()
            },
            None => a.clone(),
        };
        stored.group_id = group_id;
        stored.spec.environment = environment;
        match existing {
            Some(_) => {
                sqlx::query(
                    "UPDATE authorizations SET group_id = $1, expires_at = $2, body = $3
                     WHERE id = $4",
                )
                .bind(&stored.group_id)
                .bind(stored.spec.expires_at)
                .bind(encode(&stored)?)
                .bind(&stored.id)
                .execute(&mut *tx)
                .await?;
            }
            None => {
                if exists(
                    &mut tx,
                    "SELECT id FROM authorizations WHERE id = $1",
                    &stored.id,
                )
                .await?
                {
                    return Err(StoreError::Conflict(format!(
                        "an authorization with id `{}` already exists",
                        stored.id
                    )));
                }
                sqlx::query(
                    "INSERT INTO authorizations
                     (id, app_id, api_id, group_id, environment, expires_at, created_at, body)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&stored.id)
                .bind(&stored.spec.app_id)
                .bind(&stored.spec.api_id)
                .bind(&stored.group_id)
                .bind(&stored.spec.environment)
                .bind(stored.spec.expires_at)
                .bind(stored.created_at)
                .bind(encode(&stored)?)
                .execute(&mut *tx)
                .await
                .map_err(|e| {
                    on_unique(e, || {
                        "the app is already authorized for this API in this environment".into()
                    })
                })?;
            }
        }
        self.commit(tx, Touch::Group(&stored.group_id)).await?;
        Ok((stored, existing.is_none()))
    }

    pub async fn get_authorization(&self, id: &str) -> Result<Authorization> {
        let row = sqlx::query("SELECT group_id, body FROM authorizations WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *self.conn().await?)
            .await?
            .ok_or_else(|| not_found("authorization", id))?;
        from_row(&row)
    }

    /// The grants matching every filter given (environment in any case), in creation order.
    pub async fn list_authorizations(
        &self,
        app_id: Option<&str>,
        api_id: Option<&str>,
        environment: Option<&str>,
    ) -> Result<Vec<Authorization>> {
        let environment = environment.map(env_key);
        let filters = [
            ("app_id", app_id),
            ("api_id", api_id),
            ("environment", environment.as_deref()),
        ];
        // Placeholders numbered as they are added: a filter left out binds nothing, which
        // keeps the statement portable (no `$1 IS NULL` on an untyped parameter).
        let mut sql = String::from("SELECT group_id, body FROM authorizations");
        let mut values = Vec::new();
        for (column, value) in filters {
            if let Some(value) = value {
                values.push(value);
                let joiner = if values.len() == 1 { "WHERE" } else { "AND" };
                sql.push_str(&format!(" {joiner} {column} = ${}", values.len()));
            }
        }
        sql.push_str(" ORDER BY created_at, id");
        // Safe: the text is made of fixed column names and placeholders only; values are bound.
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for value in values {
            query = query.bind(value);
        }
        let rows = query.fetch_all(&mut *self.conn().await?).await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn delete_authorization(&self, id: &str) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let group_id: String = sqlx::query("SELECT group_id FROM authorizations WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| not_found("authorization", id))?
            .try_get("group_id")?;
        sqlx::query("DELETE FROM authorizations WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        self.commit(tx, Touch::Group(&group_id)).await?;
        Ok(())
    }
}

/// The record, with the group the API is in now (the column follows an API moved between
/// groups; the body keeps the group it had when granted).
fn from_row(row: &AnyRow) -> Result<Authorization> {
    let mut a: Authorization = decode(row)?;
    a.group_id = row.try_get("group_id")?;
    Ok(a)
}

/// Every grant, expired ones included (the gateway checks expiry per request).
pub(crate) async fn list_all(conn: &mut AnyConnection) -> Result<Vec<Authorization>> {
    let rows = sqlx::query("SELECT group_id, body FROM authorizations ORDER BY created_at, id")
        .fetch_all(conn)
        .await?;
    rows.iter().map(from_row).collect()
}

/// The grants for the APIs of one group.
pub(crate) async fn of_group(
    conn: &mut AnyConnection,
    group_id: &str,
) -> Result<Vec<Authorization>> {
    let rows = sqlx::query(
        "SELECT group_id, body FROM authorizations WHERE group_id = $1 ORDER BY created_at, id",
    )
    .bind(group_id)
    .fetch_all(conn)
    .await?;
    rows.iter().map(from_row).collect()
}

#[cfg(test)]
mod tests {
    use pylon_model::{Authorization, AuthorizationSpec, Environment};

    use crate::StoreError;
    use crate::fixtures::{api, app, app_key, group, temp_store};

    fn grant(id: &str, app_id: &str, api_id: &str, env: &str, at: i64) -> Authorization {
        Authorization {
            id: id.into(),
            group_id: String::new(),
            spec: AuthorizationSpec {
                app_id: app_id.into(),
                api_id: api_id.into(),
                environment: env.into(),
                expires_at: None,
                description: String::new(),
            },
            created_at: at,
        }
    }

    async fn seeded() -> (tempfile::TempDir, crate::Store) {
        let (dir, store) = temp_store().await;
        store.create_group(&group("g", "shop", 1)).await.unwrap();
        store.create_group(&group("h", "blog", 2)).await.unwrap();
        store
            .create_api(&api("a1", "g", "orders", None, 1))
            .await
            .unwrap();
        store
            .create_api(&api("a2", "h", "posts", None, 2))
            .await
            .unwrap();
        for (id, name, at) in [("p1", "mobile", 1), ("p2", "web", 2)] {
            store
                .create_app(&app(id, name, at), &app_key(id, &format!("k{id}"), at))
                .await
                .unwrap();
        }
        (dir, store)
    }

    #[tokio::test]
    async fn upsert_keeps_id_and_created_at_and_takes_group_from_the_api() {
        let (_dir, store) = seeded().await;
        let (first, new) = store
            .put_authorization(&grant("z1", "p1", "a1", "release", 10))
            .await
            .unwrap();
        assert!(new);
        assert_eq!(first.group_id, "g");
        assert_eq!(first.spec.environment, "RELEASE");
        assert_eq!(store.get_authorization("z1").await.unwrap(), first);

        let mut again = grant("z2", "p1", "a1", "RELEASE", 20);
        again.spec.expires_at = Some(5_000);
        again.spec.description = "until spring".into();
        let (second, new) = store.put_authorization(&again).await.unwrap();
        assert!(!new);
        assert_eq!((second.id.as_str(), second.created_at), ("z1", 10));
        assert_eq!(second.spec.expires_at, Some(5_000));
        assert_eq!(second.spec.description, "until spring");
        assert_eq!(store.get_authorization("z1").await.unwrap(), second);
        assert!(matches!(
            store.get_authorization("z2").await,
            Err(StoreError::NotFound {
                kind: "authorization",
                ..
            })
        ));
        // Clearing the expiry is an update too.
        let (third, _) = store
            .put_authorization(&grant("z3", "p1", "a1", "RELEASE", 30))
            .await
            .unwrap();
        assert_eq!(third.spec.expires_at, None);
        assert_eq!(
            store
                .list_authorizations(None, None, None)
                .await
                .unwrap()
                .len(),
            1
        );

        // The id of another grant cannot be reused for a new one.
        assert!(matches!(
            store
                .put_authorization(&grant("z1", "p2", "a1", "RELEASE", 40))
                .await,
            Err(StoreError::Conflict(_))
        ));
    }

    #[tokio::test]
    async fn unknown_app_api_or_environment_is_not_found() {
        let (_dir, store) = seeded().await;
        for (g, kind) in [
            (grant("x", "nope", "a1", "TEST", 1), "app"),
            (grant("x", "p1", "nope", "TEST", 1), "API"),
            (grant("x", "p1", "a1", "NOPE", 1), "environment"),
        ] {
            match store.put_authorization(&g).await {
                Err(StoreError::NotFound { kind: k, .. }) => assert_eq!(k, kind),
                other => panic!("{kind}: {other:?}"),
            }
        }
        assert!(matches!(
            store.delete_authorization("x").await,
            Err(StoreError::NotFound { .. })
        ));
    }

    #[tokio::test]
    async fn list_filters_combine() {
        let (_dir, store) = seeded().await;
        for (id, app_id, api_id, env, at) in [
            ("z1", "p1", "a1", "RELEASE", 1),
            ("z2", "p1", "a1", "TEST", 2),
            ("z3", "p1", "a2", "TEST", 3),
            ("z4", "p2", "a1", "TEST", 4),
        ] {
            store
                .put_authorization(&grant(id, app_id, api_id, env, at))
                .await
                .unwrap();
        }
        let ids = |list: Vec<Authorization>| list.into_iter().map(|a| a.id).collect::<Vec<_>>();
        let list = |app, api, env| store.list_authorizations(app, api, env);
        assert_eq!(
            ids(list(None, None, None).await.unwrap()),
            ["z1", "z2", "z3", "z4"]
        );
        assert_eq!(
            ids(list(Some("p1"), None, None).await.unwrap()),
            ["z1", "z2", "z3"]
        );
        assert_eq!(
            ids(list(None, Some("a1"), None).await.unwrap()),
            ["z1", "z2", "z4"]
        );
        assert_eq!(
            ids(list(None, None, Some("test")).await.unwrap()),
            ["z2", "z3", "z4"]
        );
        assert_eq!(
            ids(list(Some("p1"), Some("a1"), Some("TEST")).await.unwrap()),
            ["z2"]
        );
        assert_eq!(
            ids(list(None, Some("a2"), Some("RELEASE")).await.unwrap()),
            Vec::<String>::new()
        );
        store.delete_authorization("z2").await.unwrap();
        assert_eq!(
            ids(list(Some("p1"), Some("a1"), None).await.unwrap()),
            ["z1"]
        );
    }

    #[tokio::test]
    async fn deleting_an_api_or_environment_removes_its_grants() {
        let (_dir, store) = seeded().await;
        store
            .create_environment(&Environment {
                name: "STAGING".into(),
                description: String::new(),
                builtin: false,
            })
            .await
            .unwrap();
        for (id, api_id, env) in [
            ("z1", "a1", "TEST"),
            ("z2", "a2", "TEST"),
            ("z3", "a2", "STAGING"),
            ("z4", "a1", "STAGING"),
        ] {
            store
                .put_authorization(&grant(id, "p1", api_id, env, 1))
                .await
                .unwrap();
        }
        store.delete_api("a1").await.unwrap();
        let left = store.list_authorizations(None, None, None).await.unwrap();
        assert_eq!(
            left.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
            ["z2", "z3"]
        );
        store.delete_environment("staging").await.unwrap();
        let left = store.list_authorizations(None, None, None).await.unwrap();
        assert_eq!(
            left.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
            ["z2"]
        );
    }

    #[tokio::test]
    async fn grants_follow_an_api_moved_to_another_group() {
        let (_dir, store) = seeded().await;
        store
            .put_authorization(&grant("z1", "p1", "a1", "TEST", 1))
            .await
            .unwrap();
        store
            .update_api(&api("a1", "h", "orders", None, 1))
            .await
            .unwrap();
        assert_eq!(store.get_authorization("z1").await.unwrap().group_id, "h");
    }
}
