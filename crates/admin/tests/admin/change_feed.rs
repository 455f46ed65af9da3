//! The change feed as the admin API uses it: drafts never reach the gateway, a change that
//! does is served before its call returns, and a burst of changes is handed over in fewer
//! snapshots than there were calls.

use http::StatusCode;

use crate::common::{Harness, api_spec};

#[tokio::test]
async fn editing_drafts_hands_nothing_to_the_gateway() {
    let h = Harness::new().await;
    let group = h.group("shop").await;
    let backend = h.mock_backend("m", &["RELEASE"]).await;
    let before = h.changes();
    let api = h.api(&group, "orders", "/orders", &backend).await;
    let (status, body) = h
        .call(
            "PUT",
            &format!("/v1/groups/{group}/apis/{api}"),
            Some(api_spec("orders", "/orders/v2", &backend)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        h.changes(),
        before,
        "a draft is not served: no snapshot to load or compile"
    );

    let (status, _) = h.publish(&group, &api, "RELEASE").await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        h.changes(),
        before + 1,
        "the publish was served when its call returned"
    );
    assert_eq!(h.last_snapshot().deployments.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_publishes_are_each_served_when_they_return_in_fewer_snapshots() {
    // A gateway that takes 30 ms to compile: publishes committed meanwhile share the next one.
    let h = Harness::with_gateway(|_| {
        std::thread::sleep(std::time::Duration::from_millis(30));
        Ok(())
    })
    .await;
    let group = h.group("shop").await;
    let backend = h.mock_backend("m", &["RELEASE"]).await;
    let mut apis = Vec::new();
    for i in 0..16 {
        apis.push(
            h.api(&group, &format!("a{i}"), &format!("/a{i}"), &backend)
                .await,
        );
    }
    let before = h.changes();
    let calls = apis.iter().map(|api| {
        let h = &h;
        let group = group.clone();
        async move {
            let (status, body) = h.publish(&group, api, "RELEASE").await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            // Returned: the gateway holds this API now.
            assert!(
                h.last_snapshot()
                    .deployments
                    .iter()
                    .any(|d| d.api_id == *api),
                "{api} served when its call returned"
            );
        }
    });
    futures_join_all(calls).await;
    let handed = h.changes() - before;
    assert!(
        (1..16).contains(&handed),
        "16 publishes, {handed} snapshots"
    );
    assert_eq!(h.last_snapshot().deployments.len(), 16);
}

/// The routing rule is checked inside the publishing transaction: of eight APIs publishing the
/// same route at once, exactly one gets it, and the gateway serves that one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_publishes_of_one_route_admit_exactly_one() {
    let h = Harness::new().await;
    let group = h.group("g").await;
    let backend = h.mock_backend("b", &["RELEASE"]).await;
    let mut apis = Vec::new();
    for i in 0..8 {
        apis.push(h.api(&group, &format!("a{i}"), "/same", &backend).await);
    }
    let created = std::sync::atomic::AtomicUsize::new(0);
    let calls = apis.iter().map(|api| {
        let (h, group, created) = (&h, group.clone(), &created);
        async move {
            let (status, body) = h.publish(&group, api, "RELEASE").await;
            match status {
                StatusCode::CREATED => {
                    created.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                StatusCode::CONFLICT => assert_eq!(body["code"], "Conflict", "{body}"),
                other => panic!("{api}: {other} {body}"),
            }
        }
    });
    futures_join_all(calls).await;
    assert_eq!(created.into_inner(), 1);
    assert_eq!(h.last_snapshot().deployments.len(), 1);
}

/// `futures::future::join_all` without the dependency: polls every call concurrently.
async fn futures_join_all<F: std::future::Future<Output = ()>>(calls: impl Iterator<Item = F>) {
    let mut set = Vec::new();
    for call in calls {
        set.push(Box::pin(call));
    }
    std::future::poll_fn(|cx| {
        set.retain_mut(|f| f.as_mut().poll(cx).is_pending());
        if set.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
}
