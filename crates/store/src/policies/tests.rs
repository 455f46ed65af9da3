//! Policies and their bindings: round trips, names, and the rules checked in the transaction.

use pylon_model::Environment;

use crate::fixtures::{api, binding, cors_policy, group, temp_store};
use crate::{Store, StoreError};

/// A store with group `g`, APIs `a` (`orders`) and `b` (`users`), and policy `p1` (`web`).
async fn setup() -> (tempfile::TempDir, Store) {
    let (dir, store) = temp_store().await;
    store.create_group(&group("g", "shop", 1)).await.unwrap();
    store
        .create_api(&api("a", "g", "orders", None, 1))
        .await
        .unwrap();
    store
        .create_api(&api("b", "g", "users", None, 2))
        .await
        .unwrap();
    store
        .create_policy(&cors_policy("p1", "web", "https://a.example", 1))
        .await
        .unwrap();
    (dir, store)
}

fn conflict(err: StoreError) -> String {
    match err {
        StoreError::Conflict(m) => m,
        other => panic!("not a conflict: {other:?}"),
    }
}

#[tokio::test]
async fn policies_round_trip_by_id_or_name() {
    let (_dir, store) = setup().await;
    store
        .create_policy(&cors_policy("p0", "admin", "*", 0))
        .await
        .unwrap();
    assert_eq!(store.get_policy("web").await.unwrap().id, "p1");
    assert_eq!(store.get_policy("p0").await.unwrap().spec.name, "admin");
    let ids: Vec<_> = store
        .list_policies()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(ids, ["p0", "p1"]);

    let mut changed = cors_policy("p1", "web2", "https://b.example", 1);
    changed.updated_at = 5;
    store.update_policy(&changed).await.unwrap();
    assert_eq!(store.get_policy("p1").await.unwrap(), changed);
    assert_eq!(store.load_snapshot().await.unwrap().policies[1], changed);

    store.delete_policy("p0").await.unwrap();
    assert!(matches!(
        store.get_policy("admin").await,
        Err(StoreError::NotFound { kind: "policy", .. })
    ));
}

#[tokio::test]
async fn policy_names_are_unique() {
    let (_dir, store) = setup().await;
    store
        .create_policy(&cors_policy("p2", "other", "*", 2))
        .await
        .unwrap();
    let err = store
        .create_policy(&cors_policy("p3", "web", "*", 3))
        .await
        .unwrap_err();
    assert_eq!(conflict(err), "a policy named `web` already exists");
    let err = store
        .update_policy(&cors_policy("p2", "web", "*", 2))
        .await
        .unwrap_err();
    assert_eq!(conflict(err), "a policy named `web` already exists");
}

#[tokio::test]
async fn bindings_are_listed_by_policy_by_api_and_in_the_snapshot() {
    let (_dir, store) = setup().await;
    let stored = store
        .bind_policy(&binding("p1", "a", "release", 10))
        .await
        .unwrap();
    assert_eq!(stored.environment, "RELEASE");
    store
        .bind_policy(&binding("p1", "a", "TEST", 11))
        .await
        .unwrap();
    store
        .bind_policy(&binding("p1", "b", "TEST", 12))
        .await
        .unwrap();

    let by_policy = store.list_policy_bindings("p1").await.unwrap();
    assert_eq!(
        by_policy,
        [
            binding("p1", "a", "RELEASE", 10),
            binding("p1", "a", "TEST", 11),
            binding("p1", "b", "TEST", 12)
        ]
    );
    let of_a = store.list_api_policies("a", None).await.unwrap();
    let envs: Vec<_> = of_a
        .iter()
        .map(|(b, p)| (b.environment.as_str(), p.spec.name.as_str()))
        .collect();
    assert_eq!(envs, [("RELEASE", "web"), ("TEST", "web")]);
    let in_test = store.list_api_policies("a", Some("test")).await.unwrap();
    assert_eq!(in_test.len(), 1);
    assert_eq!(in_test[0].0, binding("p1", "a", "TEST", 11));

    let s = store.load_snapshot().await.unwrap();
    assert_eq!(s.policies.len(), 1);
    assert_eq!(s.policy_bindings, by_policy);

    store.unbind_policy("p1", "a", "test").await.unwrap();
    assert_eq!(store.list_policy_bindings("p1").await.unwrap().len(), 2);
    assert!(matches!(
        store.unbind_policy("p1", "a", "TEST").await,
        Err(StoreError::NotFound {
            kind: "policy binding",
            ..
        })
    ));
}

#[tokio::test]
async fn binding_needs_the_policy_the_api_and_the_environment() {
    let (_dir, store) = setup().await;
    for (b, kind) in [
        (binding("nope", "a", "TEST", 1), "policy"),
        (binding("p1", "nope", "TEST", 1), "API"),
        (binding("p1", "a", "NOPE", 1), "environment"),
    ] {
        match store.bind_policy(&b).await {
            Err(StoreError::NotFound { kind: k, .. }) => assert_eq!(k, kind),
            other => panic!("{b:?}: {other:?}"),
        }
    }
    assert!(store.list_policy_bindings("p1").await.unwrap().is_empty());
}

#[tokio::test]
async fn one_policy_of_a_kind_per_api_and_environment() {
    let (_dir, store) = setup().await;
    store
        .create_policy(&cors_policy("p2", "mobile", "*", 2))
        .await
        .unwrap();
    store
        .bind_policy(&binding("p1", "a", "TEST", 1))
        .await
        .unwrap();
    let err = store
        .bind_policy(&binding("p1", "a", "test", 2))
        .await
        .unwrap_err();
    assert_eq!(
        conflict(err),
        "policy `web` is already bound to API `orders` in `TEST`"
    );
    let err = store
        .bind_policy(&binding("p2", "a", "TEST", 2))
        .await
        .unwrap_err();
    assert_eq!(
        conflict(err),
        "API `orders` already has `cors` policy `web` in `TEST`; unbind it first \
         (one policy of a kind per API and environment)"
    );
    // Elsewhere the second policy binds.
    store
        .bind_policy(&binding("p2", "a", "RELEASE", 3))
        .await
        .unwrap();
    store
        .bind_policy(&binding("p2", "b", "TEST", 4))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_bound_policy_cannot_be_deleted() {
    let (_dir, store) = setup().await;
    store
        .bind_policy(&binding("p1", "b", "TEST", 1))
        .await
        .unwrap();
    store
        .bind_policy(&binding("p1", "a", "TEST", 2))
        .await
        .unwrap();
    store
        .bind_policy(&binding("p1", "a", "RELEASE", 3))
        .await
        .unwrap();
    let err = store.delete_policy("p1").await.unwrap_err();
    assert_eq!(
        conflict(err),
        "policy `web` is bound to API `orders` in `RELEASE`, API `orders` in `TEST`, \
         API `users` in `TEST`; unbind it first"
    );
    for (api, env) in [("a", "TEST"), ("a", "RELEASE"), ("b", "TEST")] {
        store.unbind_policy("p1", api, env).await.unwrap();
    }
    store.delete_policy("p1").await.unwrap();
}

#[tokio::test]
async fn deleting_an_api_or_an_environment_removes_its_bindings() {
    let (_dir, store) = setup().await;
    store
        .create_environment(&Environment {
            name: "STAGING".into(),
            description: String::new(),
            builtin: false,
        })
        .await
        .unwrap();
    store
        .bind_policy(&binding("p1", "a", "TEST", 1))
        .await
        .unwrap();
    store
        .bind_policy(&binding("p1", "b", "TEST", 2))
        .await
        .unwrap();
    store
        .bind_policy(&binding("p1", "b", "STAGING", 3))
        .await
        .unwrap();

    store.delete_api("a").await.unwrap();
    assert_eq!(
        store.list_policy_bindings("p1").await.unwrap(),
        [
            binding("p1", "b", "TEST", 2),
            binding("p1", "b", "STAGING", 3)
        ]
    );
    store.delete_environment("staging").await.unwrap();
    assert_eq!(
        store.list_policy_bindings("p1").await.unwrap(),
        [binding("p1", "b", "TEST", 2)]
    );
}

/// No narrower change carries policies: every policy write, and deleting an API that had
/// bindings, is a whole reload, so a follower patching what it holds stays right.
#[tokio::test]
async fn policy_changes_reach_a_follower_as_whole_reloads() {
    use pylon_model::{Change, Snapshot};

    async fn follow(store: &Store, held: &mut Snapshot, since: &mut u64) -> bool {
        let (revision, change) = store.load_change(*since).await.unwrap();
        held.patch(&change);
        assert_eq!(*held, store.load_snapshot().await.unwrap());
        *since = revision.served;
        matches!(change, Change::Full(_))
    }

    let (_dir, store) = setup().await;
    let (revision, mut held) = store.load_snapshot_at().await.unwrap();
    let mut since = revision.served;
    store
        .bind_policy(&binding("p1", "a", "TEST", 1))
        .await
        .unwrap();
    assert!(follow(&store, &mut held, &mut since).await);
    assert_eq!(held.policy_bindings.len(), 1);
    store
        .update_policy(&cors_policy("p1", "web", "*", 1))
        .await
        .unwrap();
    assert!(follow(&store, &mut held, &mut since).await);

    store.delete_api("a").await.unwrap();
    assert!(follow(&store, &mut held, &mut since).await);
    assert!(held.policy_bindings.is_empty());
    // An API without bindings leaves as a change of its group only.
    store.delete_api("b").await.unwrap();
    assert!(!follow(&store, &mut held, &mut since).await);
}
