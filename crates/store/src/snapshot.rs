//! The published state the data plane compiles, read in one transaction.

use pylon_model::{Change, GroupState, PartialChange, ServedChange, Snapshot};
use sqlx::Row;

use crate::error::Result;
use crate::handle::{ACCESS_SCOPE, ALL_SCOPE, API_SCOPE, CHANGES_KEPT, GROUP_SCOPE};
use crate::{Revision, Store};
use crate::{
    apps, authorizations, backends, deployments, environments, groups, policies, upstreams,
};

impl Store {
    /// Everything the data plane needs, read in one transaction so it is one consistent state.
    pub async fn load_snapshot(&self) -> Result<Snapshot> {
        Ok(self.load_snapshot_at().await?.1)
    }

    /// The snapshot and the revision it is the state of, read in one transaction.
    pub async fn load_snapshot_at(&self) -> Result<(Revision, Snapshot)> {
        let mut tx = self.read_tx().await?;
        let row = sqlx::query("SELECT value, served FROM revisions WHERE id = 1")
            .fetch_one(&mut *tx)
            .await?;
        let revision = crate::handle::revision_of(&row)?;
        let snapshot = Snapshot {
            groups: groups::list_groups(&mut tx).await?,
            environments: environments::list_environments(&mut tx).await?,
            stage_variables: environments::list_stage_variables(&mut tx).await?,
            upstreams: upstreams::list_upstreams(&mut tx).await?,
            backends: backends::list_backends(&mut tx).await?,
            backend_definitions: backends::list_all_definitions(&mut tx).await?,
            deployments: deployments::active_deployments(&mut tx, &self.sealer, None).await?,
            apps: apps::list_credentials(&mut tx, &self.sealer).await?,
            authorizations: authorizations::list_all(&mut tx).await?,
            policies: policies::list_policies(&mut tx).await?,
            policy_bindings: policies::list_all_bindings(&mut tx).await?,
            certificates: crate::certificates::list_served(&mut tx, &self.sealer).await?,
            functions: crate::functions::list_served(&mut tx, &self.sealer).await?,
        };
        tx.commit().await?;
        Ok((revision, snapshot))
    }

    /// What changed in the published state after served revision `since`, and the revision it
    /// brings a follower to: only the groups and access data the writes in between touched
    /// (`changes`), or everything when one touched more or `since` is too far behind.
    pub async fn load_change(&self, since: u64) -> Result<(Revision, Change)> {
        let mut tx = self.read_tx().await?;
        let row = sqlx::query("SELECT value, served FROM revisions WHERE id = 1")
            .fetch_one(&mut *tx)
            .await?;
        let revision = crate::handle::revision_of(&row)?;
        let scopes: Vec<String> = if since == 0 || since + CHANGES_KEPT <= revision.value {
            vec![ALL_SCOPE.to_string()]
        } else {
            sqlx::query("SELECT scope FROM changes WHERE revision > $1 AND revision <= $2")
                .bind(i64::try_from(since).unwrap_or(i64::MAX))
                .bind(i64::try_from(revision.served).unwrap_or(i64::MAX))
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| r.try_get::<String, _>("scope"))
                .collect::<std::result::Result<_, _>>()?
        };
        if scopes.iter().any(|s| s == ALL_SCOPE) {
            tx.commit().await?;
            let (revision, snapshot) = self.load_snapshot_at().await?;
            return Ok((revision, Change::Full(Box::new(snapshot))));
        }
        let mut groups: Vec<&str> = scopes
            .iter()
            .filter_map(|s| s.strip_prefix(GROUP_SCOPE))
            .collect();
        groups.sort_unstable();
        groups.dedup();
        // Single APIs of groups not reloaded whole; the last change to each (API,
        // environment) is what it serves now, so each is read once.
        let mut apis: Vec<(&str, &str, &str)> = scopes
            .iter()
            .filter_map(|s| {
                let mut parts = s.strip_prefix(API_SCOPE)?.splitn(3, '/');
                Some((parts.next()?, parts.next()?, parts.next()?))
            })
            .filter(|(group, _, _)| groups.binary_search(group).is_err())
            .collect();
        apis.sort_unstable();
        apis.dedup();
        let mut served = Vec::with_capacity(apis.len());
        for (group_id, api_id, environment) in apis {
            served.push(ServedChange {
                group_id: group_id.to_string(),
                api_id: api_id.to_string(),
                environment: environment.to_string(),
                deployment: deployments::served_deployment(
                    &mut tx,
                    &self.sealer,
                    api_id,
                    environment,
                )
                .await?,
            });
        }
        let mut changed = Vec::with_capacity(groups.len());
        for group_id in groups {
            changed.push(GroupState {
                group_id: group_id.to_string(),
                stage_variables: environments::group_stage_variables(&mut tx, group_id).await?,
                authorizations: authorizations::of_group(&mut tx, group_id).await?,
                deployments: deployments::active_deployments(&mut tx, &self.sealer, Some(group_id))
                    .await?,
            });
        }
        let apps = if scopes.iter().any(|s| s == ACCESS_SCOPE) {
            Some(apps::list_credentials(&mut tx, &self.sealer).await?)
        } else {
            None
        };
        let change = PartialChange {
            groups: groups::list_groups(&mut tx).await?,
            changed,
            served,
            apps,
        };
        tx.commit().await?;
        Ok((revision, Change::Partial(change)))
    }
}

#[cfg(test)]
mod tests {
    use pylon_model::{BackendKind, Environment};

    use crate::fixtures::{api, backend, group, http_definition, temp_store, upstream};

    #[tokio::test]
    async fn reloads_follow_publishes_and_rollbacks() {
        let (_dir, store) = temp_store().await;
        store.create_group(&group("g", "shop", 1)).await.unwrap();
        let mut a = api("a", "g", "orders", None, 1);
        store.create_api(&a).await.unwrap();
        store.publish(&a, "RELEASE", "", "d1", 2).await.unwrap();
        let first = store.load_snapshot().await.unwrap();
        assert_eq!(first.deployments[0].id, "d1");
        a.spec.description = "second".into();
        store.update_api(&a).await.unwrap();
        store.publish(&a, "RELEASE", "", "d2", 3).await.unwrap();
        let second = store.load_snapshot().await.unwrap();
        assert_eq!(second.deployments.len(), 1);
        assert_eq!(second.deployments[0].id, "d2");
        assert_eq!(second.deployments[0].api.spec.description, "second");
        store.activate("a", "RELEASE", 1).await.unwrap();
        let rolled_back = store.load_snapshot().await.unwrap();
        assert_eq!(rolled_back.deployments[0].id, "d1");
        assert_eq!(rolled_back.deployments[0].api.spec.description, "");
        assert!(rolled_back.deployments[0].active);
        store.unpublish("a", "RELEASE").await.unwrap();
        assert!(store.load_snapshot().await.unwrap().deployments.is_empty());
    }

    #[tokio::test]
    async fn snapshot_holds_only_active_deployments_in_api_order() {
        let (_dir, store) = temp_store().await;
        store.create_group(&group("h", "blog", 2)).await.unwrap();
        store.create_group(&group("g", "shop", 1)).await.unwrap();
        store
            .create_environment(&Environment {
                name: "STAGING".into(),
                description: String::new(),
                builtin: false,
            })
            .await
            .unwrap();
        let mut sv = store.get_stage_variables("g", "TEST").await.unwrap();
        sv.variables.insert("host".into(), "10.0.0.1".into());
        store.put_stage_variables(&sv).await.unwrap();
        store
            .create_upstream(&upstream("u", "vpc", 1))
            .await
            .unwrap();
        store
            .create_backend(&backend("b", "web", BackendKind::Http, 1))
            .await
            .unwrap();
        store
            .put_backend_definition(&http_definition("b", "TEST"))
            .await
            .unwrap();

        // Created in the order late, early; published in the opposite order.
        let late = api("late", "g", "late", Some("b"), 20);
        let early = api("early", "h", "early", None, 10);
        let draft = api("draft", "g", "draft", None, 30);
        for a in [&late, &early, &draft] {
            store.create_api(a).await.unwrap();
        }
        store.publish(&late, "TEST", "", "l1", 100).await.unwrap();
        store.publish(&late, "TEST", "", "l2", 101).await.unwrap();
        store
            .publish(&late, "RELEASE", "", "l3", 102)
            .await
            .unwrap();
        store
            .publish(&early, "STAGING", "", "e1", 103)
            .await
            .unwrap();
        store.publish(&early, "TEST", "", "e2", 104).await.unwrap();
        store.publish(&draft, "TEST", "", "x1", 105).await.unwrap();
        store.unpublish("draft", "TEST").await.unwrap();

        let s = store.load_snapshot().await.unwrap();
        let groups: Vec<_> = s.groups.iter().map(|g| g.id.as_str()).collect();
        assert_eq!(groups, ["g", "h"]);
        let envs: Vec<_> = s.environments.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(envs, ["RELEASE", "PRE", "TEST", "STAGING"]);
        assert_eq!(s.stage_variables, [sv]);
        assert_eq!(s.upstreams, [upstream("u", "vpc", 1)]);
        assert_eq!(s.backends.len(), 1);
        assert_eq!(s.backend_definitions, [http_definition("b", "TEST")]);
        let deployments: Vec<_> = s
            .deployments
            .iter()
            .map(|d| (d.id.as_str(), d.active))
            .collect();
        // API creation order, then environment order (builtin first, then custom).
        assert_eq!(
            deployments,
            [("e2", true), ("e1", true), ("l3", true), ("l2", true)]
        );
        assert_eq!(s.deployments, store.active_deployments().await.unwrap());
    }

    /// A follower that patches what it holds with each change ends up with what a full load
    /// gives, and each change carries only what its write touched.
    #[tokio::test]
    async fn changes_carry_only_what_was_touched_and_patch_to_the_full_state() {
        use pylon_model::{Change, Snapshot};

        use crate::Store;
        use crate::fixtures::{app, app_key};

        async fn follow(store: &Store, held: &mut Snapshot, since: &mut u64) -> Change {
            let (revision, change) = store.load_change(*since).await.unwrap();
            held.patch(&change);
            assert_eq!(*held, store.load_snapshot().await.unwrap());
            *since = revision.served;
            change
        }
        /// Groups reloaded whole, single APIs (`api/ENV`) reloaded, apps reloaded.
        fn touched(change: &Change) -> (Vec<&str>, Vec<String>, bool) {
            match change {
                Change::Full(_) => (vec!["*"], Vec::new(), true),
                Change::Partial(p) => (
                    p.changed.iter().map(|g| g.group_id.as_str()).collect(),
                    p.served
                        .iter()
                        .map(|c| format!("{}/{}", c.api_id, c.environment))
                        .collect(),
                    p.apps.is_some(),
                ),
            }
        }
        let none: Vec<String> = Vec::new();

        let (_dir, store) = temp_store().await;
        let (revision, mut held) = store.load_snapshot_at().await.unwrap();
        let mut since = revision.served;
        store.create_group(&group("g1", "shop", 1)).await.unwrap();
        store.create_group(&group("g2", "blog", 2)).await.unwrap();
        let change = follow(&store, &mut held, &mut since).await;
        assert_eq!(
            touched(&change),
            (vec!["*"], none.clone(), true),
            "first load is whole"
        );

        let a = api("a", "g1", "orders", None, 10);
        let b = api("b", "g2", "posts", None, 5);
        store.create_api(&a).await.unwrap();
        store.create_api(&b).await.unwrap();
        store.publish(&a, "RELEASE", "", "a1", 20).await.unwrap();
        let change = follow(&store, &mut held, &mut since).await;
        assert_eq!(touched(&change), (vec![], vec!["a/RELEASE".into()], false));
        store.publish(&b, "TEST", "", "b1", 21).await.unwrap();
        store.publish(&b, "RELEASE", "", "b2", 22).await.unwrap();
        let change = follow(&store, &mut held, &mut since).await;
        let both = vec!["b/RELEASE".to_string(), "b/TEST".to_string()];
        assert_eq!(touched(&change), (vec![], both, false));
        assert_eq!(held.deployments.len(), 3);

        let mut sv = store.get_stage_variables("g2", "TEST").await.unwrap();
        sv.variables.insert("host".into(), "10.0.0.1".into());
        store.put_stage_variables(&sv).await.unwrap();
        let change = follow(&store, &mut held, &mut since).await;
        assert_eq!(touched(&change), (vec!["g2"], none.clone(), false));

        store
            .create_app(&app("p", "mobile", 30), &app_key("p", "key", 30))
            .await
            .unwrap();
        let change = follow(&store, &mut held, &mut since).await;
        assert_eq!(touched(&change), (vec![], none.clone(), true));

        let grant = |id: &str, api: &str| pylon_model::Authorization {
            id: id.into(),
            group_id: String::new(),
            spec: serde_json::from_value(serde_json::json!({
                "app_id": "p", "api_id": api, "environment": "RELEASE"
            }))
            .unwrap(),
            created_at: 31,
        };
        store.put_authorization(&grant("z1", "a")).await.unwrap();
        store.put_authorization(&grant("z2", "b")).await.unwrap();
        let change = follow(&store, &mut held, &mut since).await;
        assert_eq!(touched(&change), (vec!["g1", "g2"], none.clone(), false));
        assert_eq!(held.authorizations.len(), 2);
        store.delete_authorization("z2").await.unwrap();
        let change = follow(&store, &mut held, &mut since).await;
        assert_eq!(touched(&change), (vec!["g2"], none.clone(), false));

        store.unpublish("a", "RELEASE").await.unwrap();
        store.delete_api("a").await.unwrap();
        let change = follow(&store, &mut held, &mut since).await;
        // The API's unpublish is part of its group's whole reload.
        assert_eq!(touched(&change), (vec!["g1"], none.clone(), false));
        assert!(held.authorizations.is_empty());

        store
            .create_upstream(&upstream("u", "vpc", 40))
            .await
            .unwrap();
        let change = follow(&store, &mut held, &mut since).await;
        assert_eq!(touched(&change), (vec!["*"], none, true));

        // A draft moves no served revision: nothing to follow.
        store
            .create_api(&api("c", "g2", "drafts", None, 50))
            .await
            .unwrap();
        assert_eq!(store.revision().served, since);
    }

    #[tokio::test]
    async fn empty_store_snapshot_has_only_the_builtin_environments() {
        let (_dir, store) = temp_store().await;
        let s = store.load_snapshot().await.unwrap();
        assert_eq!(s.environments.len(), 3);
        assert!(s.groups.is_empty() && s.deployments.is_empty() && s.backends.is_empty());
    }
}
