//! API drafts: the definitions users edit, published as deployments.

use pylon_model::{Api, BackendDefinition, BackendTarget, Deployment};
use sqlx::{AnyConnection, Row};

use crate::Store;
use crate::Touch;
use crate::codec::{decode, decode_all, encode, on_unique};
use crate::error::{Result, StoreError, not_found};
use crate::groups::exists;
use crate::secrets::Sealer;

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
        check_backend_exists(&mut tx, a).await?;
        sqlx::query(
            "INSERT INTO apis (id, group_id, name, backend_id, created_at, body)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&a.id)
        .bind(&a.group_id)
        .bind(&a.spec.name)
        .bind(backend_id(a))
        .bind(a.created_at)
        .bind(encode(&seal_api(&self.sealer, a)?)?)
        .execute(&mut *tx)
        .await
        .map_err(|e| on_unique(e, || name_taken(&group, &a.spec.name)))?;
        self.commit(tx, Touch::Draft).await?;
        Ok(())
    }

    /// Replaces the draft; deployments keep the definition they were published with.
    pub async fn update_api(&self, a: &Api) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let before = get_by_id(&mut tx, &a.id).await?;
        let group = group_name(&mut tx, &a.group_id).await?;
        check_name_free(&mut tx, a, &group).await?;
        check_backend_exists(&mut tx, a).await?;
        sqlx::query(
            "UPDATE apis SET group_id = $1, name = $2, backend_id = $3, created_at = $4, body = $5
             WHERE id = $6",
        )
        .bind(&a.group_id)
        .bind(&a.spec.name)
        .bind(backend_id(a))
        .bind(a.created_at)
        .bind(encode(&seal_api(&self.sealer, a)?)?)
        .bind(&a.id)
        .execute(&mut *tx)
        .await
        .map_err(|e| on_unique(e, || name_taken(&group, &a.spec.name)))?;
        // Grants carry the API's group, and an update may move the API to another group.
        sqlx::query("UPDATE authorizations SET group_id = $1 WHERE api_id = $2")
            .bind(&a.group_id)
            .bind(&a.id)
            .execute(&mut *tx)
            .await?;
        // Only grants moving with the API to another group change what the gateway holds.
        let touch = if before.group_id == a.group_id {
            Touch::Draft
        } else {
            Touch::All
        };
        self.commit(tx, touch).await?;
        Ok(())
    }

    pub async fn get_api(&self, id: &str) -> Result<Api> {
        let mut a = get_by_id(&mut *self.conn().await?, id).await?;
        open_api(&self.sealer, &mut a)?;
        Ok(a)
    }

    /// The group's APIs in creation order.
    pub async fn list_apis(&self, group_id: &str) -> Result<Vec<Api>> {
        let rows = sqlx::query("SELECT body FROM apis WHERE group_id = $1 ORDER BY created_at, id")
            .bind(group_id)
            .fetch_all(&mut *self.conn().await?)
            .await?;
        rows.iter()
            .map(|row| {
                let mut a: Api = decode(row)?;
                open_api(&self.sealer, &mut a)?;
                Ok(a)
            })
            .collect()
    }

    /// Refused while the API is published anywhere; removes its deployment history, the
    /// authorizations to call it and its policy bindings.
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
            "DELETE FROM authorizations WHERE api_id = $1",
        ] {
            sqlx::query(sql).bind(id).execute(&mut *tx).await?;
        }
        let unbound = sqlx::query("DELETE FROM policy_bindings WHERE api_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM apis WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        // Policy bindings are not part of a group's change: removing any reloads everything.
        let touch = if unbound > 0 {
            Touch::All
        } else {
            Touch::Group(&a.group_id)
        };
        // Its grants and bindings leave the published state with it.
        self.commit(tx, touch).await?;
        Ok(())
    }
}

/// The admin checks this too, for a message naming the field; checked again here, in the
/// transaction, because deleting a backend checks for the APIs using it in its own: a backend
/// deleted between the two would leave the draft naming nothing.
async fn check_backend_exists(conn: &mut AnyConnection, a: &Api) -> Result<()> {
    match backend_id(a) {
        Some(id) if !exists(conn, "SELECT id FROM backends WHERE id = $1", id).await? => {
            Err(not_found("backend", id))
        }
        _ => Ok(()),
    }
}

/// The backend service an API refers to, if it refers to one rather than defining it inline.
pub(crate) fn backend_id(a: &Api) -> Option<&str> {
    match &a.spec.backend.service {
        BackendTarget::BackendId(id) => Some(id),
        BackendTarget::Inline(_) => None,
    }
}

/// Prefix of an HS256 secret sealed inside an API's JSON body. A secret without it was
/// written before API secrets were sealed, and is read as it is.
const SEALED: &str = "sealed:";

fn key_row<'a>(api_id: &'a str, index: &'a str) -> [&'a str; 3] {
    ["api jwt key", api_id, index]
}

/// A copy of `a` whose JWT HS256 secrets are encrypted, for writing (an API's draft, or the
/// copy a deployment keeps).
pub(crate) fn seal_api(sealer: &Sealer, a: &Api) -> Result<Api> {
    let mut out = a.clone();
    if let Some(jwt) = out.spec.auth.jwt.as_mut() {
        for (i, key) in jwt.keys.iter_mut().enumerate() {
            if let Some(secret) = key.secret.as_mut() {
                let sealed = sealer.seal(&key_row(&a.id, &i.to_string()), secret)?;
                *secret = format!("{SEALED}{sealed}");
            }
        }
    }
    Ok(out)
}

/// Decrypts what [`seal_api`] encrypted, in place.
pub(crate) fn open_api(sealer: &Sealer, a: &mut Api) -> Result<()> {
    let id = a.id.clone();
    if let Some(jwt) = a.spec.auth.jwt.as_mut() {
        for (i, key) in jwt.keys.iter_mut().enumerate() {
            if let Some(sealed) = key.secret.as_ref().and_then(|s| s.strip_prefix(SEALED)) {
                let plain = sealer.open(&key_row(&id, &i.to_string()), sealed)?;
                key.secret = Some(plain);
            }
        }
    }
    Ok(())
}

/// The stored record, secrets still sealed: for checks that only need it to exist or its name.
/// "API `a` as published in ENV" and "API `a`" (its draft) for each API whose inline backend
/// definition `uses` something; `like` is a cheap SQL filter on the records first.
pub(crate) async fn apis_inlining(
    conn: &mut AnyConnection,
    like: &str,
    uses: impl Fn(&BackendDefinition) -> bool,
) -> Result<Vec<String>> {
    let inlined =
        |api: &Api| matches!(&api.spec.backend.service, BackendTarget::Inline(d) if uses(d));
    let mut users = Vec::new();
    let rows = sqlx::query(
        "SELECT d.body, p.environment FROM published p
         JOIN deployments d ON d.id = p.deployment_id
         WHERE d.body LIKE $1",
    )
    .bind(like)
    .fetch_all(&mut *conn)
    .await?;
    for row in &rows {
        let d: Deployment = decode(row)?;
        if inlined(&d.api) {
            let env: String = row.try_get("environment")?;
            users.push(format!("API `{}` as published in {env}", d.api.spec.name));
        }
    }
    let rows = sqlx::query("SELECT body FROM apis WHERE body LIKE $1")
        .bind(like)
        .fetch_all(&mut *conn)
        .await?;
    for api in decode_all::<Api>(&rows)? {
        if inlined(&api) {
            users.push(format!("API `{}`", api.spec.name));
        }
    }
    Ok(users)
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

#[cfg(test)]
mod tests {
    use pylon_model::Api;
    use sqlx::Row;

    use pylon_model::BackendKind;

    use crate::StoreError;
    use crate::fixtures::{api, backend, group, temp_store};

    #[tokio::test]
    async fn an_api_cannot_refer_to_a_backend_that_is_gone() {
        let (_dir, store) = temp_store().await;
        store.create_group(&group("g", "shop", 1)).await.unwrap();
        assert!(matches!(
            store
                .create_api(&api("a", "g", "orders", Some("b"), 1))
                .await,
            Err(StoreError::NotFound {
                kind: "backend",
                ..
            })
        ));
        store
            .create_backend(&backend("b", "web", BackendKind::Http, 1))
            .await
            .unwrap();
        store
            .create_api(&api("a", "g", "orders", None, 1))
            .await
            .unwrap();
        store.delete_backend("b").await.unwrap();
        assert!(matches!(
            store
                .update_api(&api("a", "g", "orders", Some("b"), 1))
                .await,
            Err(StoreError::NotFound {
                kind: "backend",
                ..
            })
        ));
    }

    #[tokio::test]
    async fn apis_round_trip_per_group_in_creation_order() {
        let (_dir, store) = temp_store().await;
        store.create_group(&group("g", "shop", 1)).await.unwrap();
        store.create_group(&group("h", "blog", 2)).await.unwrap();
        // The backend `a1` refers to (the store refuses a reference to none).
        store
            .create_backend(&backend("b", "web", BackendKind::Http, 1))
            .await
            .unwrap();
        store
            .create_api(&api("a2", "g", "users", None, 20))
            .await
            .unwrap();
        store
            .create_api(&api("a1", "g", "orders", Some("b"), 10))
            .await
            .unwrap();
        store
            .create_api(&api("a3", "h", "posts", None, 5))
            .await
            .unwrap();
        let ids: Vec<_> = store
            .list_apis("g")
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(ids, ["a1", "a2"]);
        assert_eq!(
            store.get_api("a1").await.unwrap(),
            api("a1", "g", "orders", Some("b"), 10)
        );

        let mut changed = api("a1", "g", "orders-v2", None, 10);
        changed.spec.description = "renamed".into();
        store.update_api(&changed).await.unwrap();
        assert_eq!(store.get_api("a1").await.unwrap(), changed);

        store.delete_api("a2").await.unwrap();
        assert!(matches!(
            store.get_api("a2").await,
            Err(StoreError::NotFound { kind: "API", .. })
        ));
        assert!(matches!(
            store.create_api(&api("z", "missing", "x", None, 1)).await,
            Err(StoreError::NotFound { kind: "group", .. })
        ));
    }

    #[tokio::test]
    async fn api_names_are_unique_within_a_group() {
        let (_dir, store) = temp_store().await;
        store.create_group(&group("g", "shop", 1)).await.unwrap();
        store.create_group(&group("h", "blog", 2)).await.unwrap();
        store
            .create_api(&api("a1", "g", "orders", None, 1))
            .await
            .unwrap();
        store
            .create_api(&api("a2", "g", "users", None, 2))
            .await
            .unwrap();
        // Same name in another group is fine.
        store
            .create_api(&api("a3", "h", "orders", None, 3))
            .await
            .unwrap();
        let err = store
            .create_api(&api("a4", "g", "orders", None, 4))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "group `shop` already has an API named `orders`"
        );
        assert!(matches!(
            store.update_api(&api("a2", "g", "orders", None, 2)).await,
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            store.create_api(&api("a1", "h", "new", None, 5)).await,
            Err(StoreError::Conflict(_))
        ));
    }

    #[tokio::test]
    async fn api_delete_refused_while_published_and_removes_history() {
        let (_dir, store) = temp_store().await;
        store.create_group(&group("g", "shop", 1)).await.unwrap();
        let a = api("a", "g", "orders", None, 1);
        store.create_api(&a).await.unwrap();
        store.publish(&a, "RELEASE", "", "d1", 2).await.unwrap();
        store.publish(&a, "TEST", "", "d2", 3).await.unwrap();
        let err = store.delete_api("a").await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "API `orders` is published in `RELEASE`, `TEST`; unpublish it first"
        );
        store.unpublish("a", "RELEASE").await.unwrap();
        store.unpublish("a", "TEST").await.unwrap();
        store.delete_api("a").await.unwrap();
        // Recreating the same id starts a fresh history.
        store.create_api(&a).await.unwrap();
        assert!(store.list_deployments("a", None).await.unwrap().is_empty());
        assert_eq!(
            store
                .publish(&a, "TEST", "", "d3", 4)
                .await
                .unwrap()
                .version,
            1
        );
    }

    #[tokio::test]
    async fn jwt_secrets_are_sealed_in_drafts_and_deployments() {
        let (dir, store) = temp_store().await;
        let secret = "Hs256SharedSecretThatMustNotLeak";
        store.create_group(&group("g", "shop", 1)).await.unwrap();
        let mut a = api("a1", "g", "orders", None, 1);
        a.spec.auth = serde_json::from_value(serde_json::json!({
            "type": "jwt",
            "jwt": {"algorithms": ["HS256"], "keys": [
                {"kid": "k1", "algorithm": "HS256", "secret": secret},
                {"kid": "k2", "algorithm": "HS256", "secret": "Other-Hs256-Key"},
            ]},
        }))
        .unwrap();
        store.create_api(&a).await.unwrap();
        store.update_api(&a).await.unwrap();
        store.publish(&a, "RELEASE", "", "d1", 2).await.unwrap();

        // Read back in the clear, from the draft, the history and the snapshot.
        let secrets = |api: &Api| -> Vec<Option<String>> {
            let keys = &api.spec.auth.jwt.as_ref().unwrap().keys;
            keys.iter().map(|k| k.secret.clone()).collect()
        };
        let want = vec![
            Some(secret.to_string()),
            Some("Other-Hs256-Key".to_string()),
        ];
        assert_eq!(secrets(&store.get_api("a1").await.unwrap()), want);
        assert_eq!(secrets(&store.list_apis("g").await.unwrap()[0]), want);
        let history = store.list_deployments("a1", None).await.unwrap();
        assert_eq!(secrets(&history[0].api), want);
        let snapshot = store.load_snapshot().await.unwrap();
        assert_eq!(secrets(&snapshot.deployments[0].api), want);
        assert_eq!(store.get_api("a1").await.unwrap(), a);

        // Stored sealed, each bound to its API and key position.
        let mut conn = store.conn().await.unwrap();
        for sql in ["SELECT body FROM apis", "SELECT body FROM deployments"] {
            let row = sqlx::query(sql).fetch_one(&mut *conn).await.unwrap();
            let body: String = row.try_get("body").unwrap();
            assert!(body.contains("\"secret\":\"sealed:v1:"), "{body}");
            assert!(
                !body.contains(secret) && !body.contains("Other-Hs256-Key"),
                "{body}"
            );
        }
        // A secret written before sealing existed is still read as it was.
        sqlx::query("UPDATE apis SET body = $1")
            .bind(crate::codec::encode(&a).unwrap())
            .execute(&mut *conn)
            .await
            .unwrap();
        drop(conn);
        assert_eq!(secrets(&store.get_api("a1").await.unwrap()), want);
        store.close().await;
        drop(dir);
    }
}
