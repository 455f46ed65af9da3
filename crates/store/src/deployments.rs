//! Deployments: numbered, immutable copies of an API published to an environment, and which
//! one each (API, environment) serves.

use pylon_model::{Api, Deployment, Method};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::Store;
use crate::Touch;
use crate::apis::{backend_id, get_by_id as get_api, open_api, seal_api};
use crate::codec::{decode, encode, env_key, on_unique};
use crate::error::{Result, StoreError, not_found};
use crate::groups::exists;
use crate::secrets::Sealer;

impl Store {
    /// New immutable version (max+1 for this API and environment), made active, atomically.
    /// No rule is checked: a test fixture only; [`Store::publish_checked`] is the publish that
    /// serves.
    #[cfg(test)]
    pub(crate) async fn publish(
        &self,
        api: &Api,
        environment: &str,
        note: &str,
        deployment_id: &str,
        now: i64,
    ) -> Result<Deployment> {
        self.publish_with(api, environment, note, deployment_id, now, None)
            .await
    }

    /// A new immutable version (max+1 for this API and environment), made active atomically;
    /// refused with `Conflict` when `rule` refuses what the API's group
    /// would serve in that environment afterwards (its active deployments, the new one
    /// included), or when the backend service it names has no definition there. Both are
    /// checked inside the write transaction, so two concurrent publishes cannot both pass
    /// with routes that clash, nor one pass while the definition is deleted.
    pub async fn publish_checked(
        &self,
        api: &Api,
        environment: &str,
        note: &str,
        deployment_id: &str,
        now: i64,
        rule: &ServedRule<'_>,
    ) -> Result<Deployment> {
        self.publish_with(api, environment, note, deployment_id, now, Some(rule))
            .await
    }

    async fn publish_with(
        &self,
        api: &Api,
        environment: &str,
        note: &str,
        deployment_id: &str,
        now: i64,
        rule: Option<&ServedRule<'_>>,
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
        .bind(encode(&Deployment {
            api: seal_api(&self.sealer, api)?,
            ..deployment.clone()
        })?)
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
        let before = served_group(&mut tx, &api.id, &key).await?;
        let touch = moved(before.as_deref(), &api.group_id, &api.id, &key);
        set_active(&mut tx, &api.id, &key, &deployment.id).await?;
        if let Some(rule) = rule {
            check_backend_defined(&mut tx, api, &key).await?;
            self.check_served(&mut tx, &api.group_id, &key, rule)
                .await?;
        }
        self.commit(tx, touch).await?;
        deployment.active = true;
        Ok(deployment)
    }

    /// Runs `rule` on the active deployments of `group` in `environment` as `tx` sees them.
    async fn check_served(
        &self,
        tx: &mut AnyConnection,
        group: &str,
        environment: &str,
        rule: &ServedRule<'_>,
    ) -> Result<()> {
        let rows = sqlx::query(
            "SELECT d.body FROM published p
             JOIN deployments d ON d.id = p.deployment_id
             JOIN apis a ON a.id = p.api_id
             WHERE a.group_id = $1 AND p.environment = $2
             ORDER BY a.created_at, a.id",
        )
        .bind(group)
        .bind(environment)
        .fetch_all(&mut *tx)
        .await?;
        let served = rows
            .iter()
            .map(|row| decode::<RouteRow>(row).map(ServedRoute::from))
            .collect::<Result<Vec<_>>>()?;
        rule(&served).map_err(StoreError::Conflict)
    }

    /// Stops serving the API in the environment; `NotFound` if it is not published there.
    pub async fn unpublish(&self, api_id: &str, environment: &str) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let key = env_key(environment);
        let group = served_group(&mut tx, api_id, &key)
            .await?
            .ok_or_else(|| not_found("published API", format!("{api_id} in {key}")))?;
        let removed = sqlx::query("DELETE FROM published WHERE api_id = $1 AND environment = $2")
            .bind(api_id)
            .bind(&key)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if removed == 0 {
            return Err(not_found("published API", format!("{api_id} in {key}")));
        }
        let touch = Touch::Api {
            group: &group,
            api: api_id,
            environment: &key,
        };
        self.commit(tx, touch).await?;
        Ok(())
    }

    /// Makes an earlier version the active one again (rollback). NotFound if no such version.
    /// No rule is checked: a test fixture only; [`Store::activate_checked`] serves.
    #[cfg(test)]
    pub(crate) async fn activate(
        &self,
        api_id: &str,
        environment: &str,
        version: u32,
    ) -> Result<Deployment> {
        self.activate_with(api_id, environment, version, None).await
    }

    /// Makes an earlier version the active one again (rollback; `NotFound` if there is no such
    /// version), refused with `Conflict` when `rule` refuses what the group would serve
    /// afterwards (see [`Store::publish_checked`]).
    pub async fn activate_checked(
        &self,
        api_id: &str,
        environment: &str,
        version: u32,
        rule: &ServedRule<'_>,
    ) -> Result<Deployment> {
        self.activate_with(api_id, environment, version, Some(rule))
            .await
    }

    async fn activate_with(
        &self,
        api_id: &str,
        environment: &str,
        version: u32,
        rule: Option<&ServedRule<'_>>,
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
        open_api(&self.sealer, &mut deployment.api)?;
        let before = served_group(&mut tx, api_id, &key).await?;
        let touch = moved(before.as_deref(), &deployment.group_id, api_id, &key);
        set_active(&mut tx, api_id, &key, &deployment.id).await?;
        if let Some(rule) = rule {
            check_backend_defined(&mut tx, &deployment.api, &key).await?;
            self.check_served(&mut tx, &deployment.group_id, &key, rule)
                .await?;
        }
        self.commit(tx, touch).await?;
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
        rows.iter()
            .map(|row| with_active(&self.sealer, row))
            .collect()
    }

    /// The active deployment of each (API, environment), by API creation then environment order.
    pub async fn active_deployments(&self) -> Result<Vec<Deployment>> {
        let conn = &mut *self.conn().await?;
        active_deployments(conn, &self.sealer, None).await
    }

    /// What one group serves: its active deployments, in snapshot order.
    pub async fn active_deployments_in_group(&self, group_id: &str) -> Result<Vec<Deployment>> {
        let conn = &mut *self.conn().await?;
        active_deployments(conn, &self.sealer, Some(group_id)).await
    }
}

/// The deployment `api_id` serves in `environment`, if it is published there.
pub(crate) async fn served_deployment(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    api_id: &str,
    environment: &str,
) -> Result<Option<Deployment>> {
    let row = sqlx::query(
        "SELECT d.body FROM published p JOIN deployments d ON d.id = p.deployment_id
         WHERE p.api_id = $1 AND p.environment = $2",
    )
    .bind(api_id)
    .bind(environment)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let mut deployment: Deployment = decode(&row)?;
    open_api(sealer, &mut deployment.api)?;
    deployment.active = true;
    Ok(Some(deployment))
}

/// A backend service the API names must have a definition in the environment.
async fn check_backend_defined(
    conn: &mut AnyConnection,
    api: &Api,
    environment: &str,
) -> Result<()> {
    let Some(backend) = backend_id(api) else {
        return Ok(());
    };
    let defined = sqlx::query(
        "SELECT backend_id FROM backend_definitions WHERE backend_id = $1 AND environment = $2",
    )
    .bind(backend)
    .bind(environment)
    .fetch_optional(&mut *conn)
    .await?
    .is_some();
    if defined {
        Ok(())
    } else {
        Err(StoreError::Conflict(format!(
            "API `{}` uses backend service `{backend}`, which has no definition in \
             {environment}",
            api.spec.name
        )))
    }
}

/// The group of the deployment `api_id` serves in `environment`, if it is published there.
async fn served_group(
    conn: &mut AnyConnection,
    api_id: &str,
    environment: &str,
) -> Result<Option<String>> {
    let row = sqlx::query(
        "SELECT d.group_id FROM published p JOIN deployments d ON d.id = p.deployment_id
         WHERE p.api_id = $1 AND p.environment = $2",
    )
    .bind(api_id)
    .bind(environment)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| r.try_get("group_id")).transpose()?)
}

/// What replacing a deployment served in group `before` by one in `after` changes: one API
/// of one group, or two groups when the API moved between groups since it was last published.
fn moved<'a>(
    before: Option<&str>,
    after: &'a str,
    api: &'a str,
    environment: &'a str,
) -> Touch<'a> {
    match before {
        Some(b) if b != after => Touch::All,
        _ => Touch::Api {
            group: after,
            api,
            environment,
        },
    }
}

/// A rule on what one group serves in one environment: the routes of its active deployments,
/// in snapshot order. `Err` says why they cannot be served together.
pub type ServedRule<'r> = dyn Fn(&[ServedRoute]) -> std::result::Result<(), String> + Sync + 'r;

/// What routing needs of one served API, read without decoding the rest of its deployment: a
/// publish checks every route of its group and environment inside its write transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct ServedRoute {
    pub environment: String,
    pub name: String,
    pub method: Method,
    pub path: String,
    pub regex_priority: i32,
    /// The API's creation time: among equal routes, the older API wins.
    pub created_at: i64,
}

/// The fields of a deployment's body that [`ServedRoute`] reads; serde skips the rest.
#[derive(serde::Deserialize)]
struct RouteRow {
    environment: String,
    api: RouteApi,
}

#[derive(serde::Deserialize)]
struct RouteApi {
    name: String,
    request: RouteRequest,
    created_at: i64,
}

#[derive(serde::Deserialize)]
struct RouteRequest {
    method: Method,
    path: String,
    #[serde(default)]
    regex_priority: i32,
}

impl From<RouteRow> for ServedRoute {
    fn from(row: RouteRow) -> Self {
        ServedRoute {
            environment: row.environment,
            name: row.api.name,
            method: row.api.request.method,
            path: row.api.request.path,
            regex_priority: row.api.request.regex_priority,
            created_at: row.api.created_at,
        }
    }
}

/// The active deployments, of every group or of one, in snapshot order (API creation, then
/// environment). Decoded on each read rather than cached: a follower reads only what a change
/// touched, and holding every published API decoded cost more memory than the whole compiled
/// gateway.
pub(crate) async fn active_deployments(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    group: Option<&str>,
) -> Result<Vec<Deployment>> {
    let query = match group {
        None => sqlx::query(
            "SELECT d.body FROM published p
             JOIN deployments d ON d.id = p.deployment_id
             JOIN apis a ON a.id = p.api_id
             JOIN environments e ON e.name = p.environment
             ORDER BY a.created_at, a.id, e.seq",
        ),
        Some(group) => sqlx::query(
            "SELECT d.body FROM published p
             JOIN deployments d ON d.id = p.deployment_id
             JOIN apis a ON a.id = p.api_id
             JOIN environments e ON e.name = p.environment
             WHERE a.group_id = $1
             ORDER BY a.created_at, a.id, e.seq",
        )
        .bind(group),
    };
    let rows = query.fetch_all(&mut *conn).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut deployment: Deployment = decode(row)?;
        open_api(sealer, &mut deployment.api)?;
        deployment.active = true;
        out.push(deployment);
    }
    Ok(out)
}

/// Decodes a deployment row that carries `serving` (the published deployment id, or NULL).
fn with_active(sealer: &Sealer, row: &AnyRow) -> Result<Deployment> {
    let mut deployment: Deployment = decode(row)?;
    open_api(sealer, &mut deployment.api)?;
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

#[cfg(test)]
mod tests {
    use crate::fixtures::{api, group, temp_store};
    use crate::{Store, StoreError};

    async fn store_with_api() -> (tempfile::TempDir, Store, pylon_model::Api) {
        let (dir, store) = temp_store().await;
        store.create_group(&group("g", "shop", 1)).await.unwrap();
        let a = api("a", "g", "orders", None, 1);
        store.create_api(&a).await.unwrap();
        (dir, store, a)
    }

    fn versions(ds: &[pylon_model::Deployment]) -> Vec<(u32, bool)> {
        ds.iter().map(|d| (d.version, d.active)).collect()
    }

    /// Loads of an older and a newer state overlap while publishes replace what is served:
    /// each load must still return a whole state (a cache of decoded deployments once let the
    /// newer load evict what the older one still needed).
    #[tokio::test(flavor = "multi_thread", worker_threads = 8)]
    async fn overlapping_reloads_while_publishing_never_lose_a_deployment() {
        let (_dir, store) = temp_store().await;
        store.create_group(&group("g", "shop", 1)).await.unwrap();
        let apis: Vec<_> = (0..20)
            .map(|i| api(&format!("a{i}"), "g", &format!("api{i}"), None, i))
            .collect();
        for a in &apis {
            store.create_api(a).await.unwrap();
        }
        let publisher = {
            let store = store.clone();
            tokio::spawn(async move {
                for round in 0..30 {
                    for (i, a) in apis.iter().enumerate() {
                        let id = format!("d{round}-{i}");
                        store.publish(a, "RELEASE", "", &id, 100).await.unwrap();
                    }
                }
            })
        };
        let readers: Vec<_> = (0..6)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut loads = 0;
                    loop {
                        let snapshot = store.load_snapshot().await.unwrap();
                        loads += 1;
                        if snapshot.deployments.iter().any(|d| d.id == "d29-19") {
                            return loads;
                        }
                    }
                })
            })
            .collect();
        publisher.await.unwrap();
        for reader in readers {
            assert!(reader.await.unwrap() > 0);
        }
    }

    /// The checks a serving publish makes run in its transaction: a backend service without a
    /// definition there, or a rule refusing what the group would serve, leaves nothing behind.
    #[tokio::test]
    async fn a_checked_publish_is_refused_inside_its_transaction() {
        use crate::fixtures::{backend, http_definition};
        let (_dir, store) = temp_store().await;
        store.create_group(&group("g", "shop", 1)).await.unwrap();
        store
            .create_backend(&backend("b", "web", pylon_model::BackendKind::Http, 1))
            .await
            .unwrap();
        let a = api("a", "g", "orders", Some("b"), 1);
        store.create_api(&a).await.unwrap();
        let pass = |_: &[super::ServedRoute]| Ok(());
        match store.publish_checked(&a, "TEST", "", "d1", 2, &pass).await {
            Err(StoreError::Conflict(m)) => assert!(m.contains("no definition in TEST"), "{m}"),
            other => panic!("{other:?}"),
        }
        store
            .put_backend_definition(&http_definition("b", "TEST"))
            .await
            .unwrap();
        let refuse = |served: &[super::ServedRoute]| {
            Err(format!("{} served: {}", served.len(), served[0].path))
        };
        match store
            .publish_checked(&a, "TEST", "", "d2", 3, &refuse)
            .await
        {
            Err(StoreError::Conflict(m)) => assert_eq!(m, "1 served: /orders"),
            other => panic!("{other:?}"),
        }
        assert!(store.active_deployments().await.unwrap().is_empty());
        assert!(store.list_deployments("a", None).await.unwrap().is_empty());
        store
            .publish_checked(&a, "TEST", "", "d3", 4, &pass)
            .await
            .unwrap();
        assert_eq!(store.active_deployments().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn publish_numbers_versions_per_api_and_environment() {
        let (_dir, store, a) = store_with_api().await;
        for (i, env) in ["TEST", "test", "Test"].into_iter().enumerate() {
            let d = store
                .publish(&a, env, "note", &format!("t{i}"), 10 + i as i64)
                .await
                .unwrap();
            assert_eq!((d.version, d.active), (i as u32 + 1, true));
            assert_eq!(d.environment, "TEST");
        }
        let d = store.publish(&a, "RELEASE", "", "r0", 20).await.unwrap();
        assert_eq!(d.version, 1);
        assert_eq!(d.api, a);
        assert_eq!((d.group_id.as_str(), d.note.as_str()), ("g", ""));

        let b = api("b", "g", "users", None, 2);
        store.create_api(&b).await.unwrap();
        assert_eq!(
            store
                .publish(&b, "TEST", "", "b0", 30)
                .await
                .unwrap()
                .version,
            1
        );

        assert!(matches!(
            store.publish(&a, "NOPE", "", "x", 1).await,
            Err(StoreError::NotFound {
                kind: "environment",
                ..
            })
        ));
        assert!(matches!(
            store.publish(&a, "TEST", "", "t0", 1).await,
            Err(StoreError::Conflict(_))
        ));
        let ghost = api("ghost", "g", "ghost", None, 1);
        assert!(matches!(
            store.publish(&ghost, "TEST", "", "x", 1).await,
            Err(StoreError::NotFound { kind: "API", .. })
        ));
    }

    #[tokio::test]
    async fn deployments_keep_the_definition_as_published() {
        let (_dir, store, mut a) = store_with_api().await;
        store.publish(&a, "TEST", "", "d1", 10).await.unwrap();
        let original = a.clone();
        a.spec.description = "edited draft".into();
        store.update_api(&a).await.unwrap();
        let active = store.active_deployments().await.unwrap();
        assert_eq!(active[0].api, original);
    }

    #[tokio::test]
    async fn unpublish_stops_serving_and_keeps_history() {
        let (_dir, store, a) = store_with_api().await;
        store.publish(&a, "TEST", "", "d1", 10).await.unwrap();
        store.unpublish("a", "test").await.unwrap();
        assert!(store.active_deployments().await.unwrap().is_empty());
        assert_eq!(
            versions(&store.list_deployments("a", Some("TEST")).await.unwrap()),
            [(1, false)]
        );
        let err = store.unpublish("a", "TEST").await.unwrap_err();
        assert_eq!(err.to_string(), "published API `a in TEST` not found");
        // Publishing again continues the numbering.
        assert_eq!(
            store
                .publish(&a, "TEST", "", "d2", 11)
                .await
                .unwrap()
                .version,
            2
        );
    }

    #[tokio::test]
    async fn activate_rolls_back_to_an_earlier_version() {
        let (_dir, store, a) = store_with_api().await;
        for i in 1..=3 {
            store
                .publish(&a, "TEST", "", &format!("d{i}"), 10 + i)
                .await
                .unwrap();
        }
        store.publish(&a, "RELEASE", "", "r1", 20).await.unwrap();
        assert_eq!(
            versions(&store.list_deployments("a", Some("TEST")).await.unwrap()),
            [(3, true), (2, false), (1, false)]
        );

        let d = store.activate("a", "test", 2).await.unwrap();
        assert_eq!((d.id.as_str(), d.version, d.active), ("d2", 2, true));
        assert_eq!(
            versions(&store.list_deployments("a", Some("TEST")).await.unwrap()),
            [(3, false), (2, true), (1, false)]
        );
        // All environments, newest first.
        let all = store.list_deployments("a", None).await.unwrap();
        let ids: Vec<_> = all.iter().map(|d| (d.id.as_str(), d.active)).collect();
        assert_eq!(
            ids,
            [("r1", true), ("d3", false), ("d2", true), ("d1", false)]
        );
        // Activating re-publishes an unpublished environment too.
        store.unpublish("a", "TEST").await.unwrap();
        store.activate("a", "TEST", 1).await.unwrap();
        let active = store.active_deployments().await.unwrap();
        assert_eq!(
            active.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
            ["r1", "d1"]
        );

        assert!(matches!(
            store.activate("a", "TEST", 9).await,
            Err(StoreError::NotFound {
                kind: "deployment",
                ..
            })
        ));
        assert!(matches!(
            store.list_deployments("missing", None).await,
            Err(StoreError::NotFound { kind: "API", .. })
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_publishes_get_distinct_consecutive_versions() {
        let (_dir, store, a) = store_with_api().await;
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let (store, a) = (store.clone(), a.clone());
                tokio::spawn(async move {
                    store
                        .publish(&a, "TEST", "", &format!("c{i}"), i)
                        .await
                        .map(|d| d.version)
                })
            })
            .collect();
        let mut got = Vec::new();
        for t in tasks {
            got.push(t.await.unwrap().unwrap());
        }
        got.sort_unstable();
        assert_eq!(got, (1..=8).collect::<Vec<u32>>());
        assert_eq!(store.active_deployments().await.unwrap().len(), 1);
    }
}
