//! Behaviour of the whole router: hosts, environments, class precedence, methods, conflicts.

use pylon_model::Method::{self, Any, Get, Head, Post};
use pylon_model::Snapshot;

use crate::testutil::{BASE, deployment, release, snapshot};
use crate::{EnvId, Environments, GroupId, GroupRoutes, RouteError, Router};

/// (API name, params, rest).
type Served = (String, Vec<(String, String)>, String);

/// What served `method path` in g1/RELEASE: (API name, params, rest).
fn serve(s: &Snapshot, method: Method, path: &str) -> Option<Served> {
    let r = Router::build(s, BASE).unwrap();
    let g = r.host("api.example.com").map(|h| h.group)?;
    let e = r.environment("RELEASE")?;
    let m = r.find(g, e, method, path)?;
    Some((
        s.deployments[m.deployment].api.spec.name.clone(),
        m.params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        m.rest.to_string(),
    ))
}

fn name(s: &Snapshot, method: Method, path: &str) -> Option<String> {
    serve(s, method, path).map(|m| m.0)
}

fn conflict(s: &Snapshot) -> (String, String, String) {
    match Router::build(s, BASE).unwrap_err() {
        RouteError::Conflict {
            first_api,
            second_api,
            reason,
            group,
            environment,
        } => {
            assert_eq!((group.as_str(), environment.as_str()), ("g1", "RELEASE"));
            (first_api, second_api, reason)
        }
        other => panic!("not a conflict: {other}"),
    }
}

#[test]
fn exact_class_matches_only_the_exact_path() {
    let s = release(&[(Get, "=/user")]);
    assert_eq!(
        serve(&s, Get, "/user"),
        Some(("a0".into(), vec![], "".into()))
    );
    assert_eq!(name(&s, Get, "/user/"), None);
    assert_eq!(name(&s, Get, "/users"), None);
}

#[test]
fn prefix_class_takes_the_longest_prefix_and_gives_the_rest() {
    let s = release(&[(Get, "^~/a"), (Get, "^~/a/b")]);
    assert_eq!(
        serve(&s, Get, "/a/b/c"),
        Some(("a1".into(), vec![], "/c".into()))
    );
    assert_eq!(
        serve(&s, Get, "/a/x"),
        Some(("a0".into(), vec![], "/x".into()))
    );
    assert_eq!(serve(&s, Get, "/a"), Some(("a0".into(), vec![], "".into())));
    assert_eq!(name(&s, Get, "/b"), None);
}

#[test]
fn params_class_extracts_params_and_greedy_rest() {
    let s = release(&[(Get, "/user/{id}"), (Get, "/files/{proxy+}")]);
    assert_eq!(
        serve(&s, Get, "/user/42"),
        Some(("a0".into(), vec![("id".into(), "42".into())], "".into()))
    );
    assert_eq!(
        serve(&s, Get, "/files/a/b%2Fc.txt"),
        Some((
            "a1".into(),
            vec![("proxy".into(), "a/b%2Fc.txt".into())],
            "".into()
        ))
    );
    // AWS: `{proxy+}` needs one or more segments.
    assert_eq!(name(&s, Get, "/files"), None);
    assert_eq!(name(&s, Get, "/files/"), None);
}

#[test]
fn params_static_beats_param_beats_greedy() {
    let s = release(&[
        (Get, "/f/{proxy+}"),
        (Get, "/f/{id}/{sub}"),
        (Get, "/f/new/{sub}"),
    ]);
    assert_eq!(name(&s, Get, "/f/new/1").as_deref(), Some("a2"));
    assert_eq!(name(&s, Get, "/f/7/1").as_deref(), Some("a1"));
    assert_eq!(name(&s, Get, "/f/7/1/2").as_deref(), Some("a0"));
    assert_eq!(name(&s, Get, "/f/7").as_deref(), Some("a0"));
}

#[test]
fn a_path_without_params_is_plain_and_loses_to_params() {
    // DESIGN's class order: `/f/new` is class 4 (plain), `/f/{id}` class 3; a user who wants
    // the static path to win writes `=/f/new`.
    let s = release(&[(Get, "/f/{id}"), (Get, "/f/new")]);
    assert_eq!(name(&s, Get, "/f/new").as_deref(), Some("a0"));
    let s = release(&[(Get, "/f/{id}"), (Get, "=/f/new")]);
    assert_eq!(name(&s, Get, "/f/new").as_deref(), Some("a1"));
}

#[test]
fn plain_class_prefers_exact_then_longest_prefix() {
    let s = release(&[(Get, "/user"), (Get, "/user/a")]);
    assert_eq!(
        serve(&s, Get, "/user"),
        Some(("a0".into(), vec![], "".into()))
    );
    assert_eq!(
        serve(&s, Get, "/usertest"),
        Some(("a0".into(), vec![], "test".into()))
    );
    assert_eq!(
        serve(&s, Get, "/user/b"),
        Some(("a0".into(), vec![], "/b".into()))
    );
    assert_eq!(
        serve(&s, Get, "/user/a"),
        Some(("a1".into(), vec![], "".into()))
    );
    assert_eq!(
        serve(&s, Get, "/user/ab"),
        Some(("a1".into(), vec![], "b".into()))
    );
    assert_eq!(name(&s, Get, "/use"), None);
}

#[test]
fn regex_class_orders_by_priority_then_creation() {
    let mut s = release(&[
        (Get, "~^/r/(?P<n>[0-9]+)$"),
        (Get, "~^/r/.*$"),
        (Get, "~^/r/1"),
    ]);
    // Same priority: the older API wins.
    assert_eq!(
        serve(&s, Get, "/r/12"),
        Some(("a0".into(), vec![("n".into(), "12".into())], "".into()))
    );
    // A lower priority number wins over creation order.
    s.deployments[2].api.spec.request.regex_priority = -1;
    assert_eq!(name(&s, Get, "/r/12").as_deref(), Some("a2"));
    assert_eq!(name(&s, Get, "/r/x").as_deref(), Some("a1"));
    // Creation time, not snapshot position, breaks priority ties.
    s.deployments[2].api.spec.request.regex_priority = 0;
    s.deployments[0].api.created_at = 100;
    assert_eq!(name(&s, Get, "/r/12").as_deref(), Some("a1"));
}

#[test]
fn classes_are_tried_in_order() {
    let all = [
        (Get, "~^/user$"),
        (Get, "/user"),
        (Get, "/{seg}"),
        (Get, "^~/user"),
        (Get, "=/user"),
    ];
    // With all five present the exact API wins; removing the winner each time hands the
    // request to the next class: prefix, params, plain, regex.
    for winner in (0..all.len()).rev() {
        let s = release(&all[..=winner]);
        assert_eq!(
            name(&s, Get, "/user"),
            Some(format!("a{winner}")),
            "{:?}",
            all[winner]
        );
    }
}

#[test]
fn method_specific_api_beats_any_with_the_same_pattern() {
    for path in ["=/x", "^~/x", "/{x}", "/x", "~^/x$"] {
        let s = release(&[(Any, path), (Get, path)]);
        assert_eq!(name(&s, Get, "/x").as_deref(), Some("a1"), "{path}");
        assert_eq!(name(&s, Post, "/x").as_deref(), Some("a0"), "{path}");
    }
}

#[test]
fn class_order_comes_before_method_preference() {
    let s = release(&[(Get, "/x"), (Any, "=/x")]);
    assert_eq!(name(&s, Get, "/x").as_deref(), Some("a1"));
}

#[test]
fn method_specific_api_ignores_other_methods() {
    let s = release(&[(Post, "/x")]);
    assert_eq!(name(&s, Post, "/x").as_deref(), Some("a0"));
    assert_eq!(name(&s, Get, "/x"), None);
}

#[test]
fn head_falls_back_to_get_after_head_and_any() {
    let s = release(&[(Get, "/x")]);
    assert_eq!(name(&s, Head, "/x").as_deref(), Some("a0"));
    let s = release(&[(Get, "/x"), (Any, "/x")]);
    assert_eq!(name(&s, Head, "/x").as_deref(), Some("a1"));
    let s = release(&[(Get, "/x"), (Any, "/x"), (Head, "/x")]);
    assert_eq!(name(&s, Head, "/x").as_deref(), Some("a2"));
    // GET is no fallback for other methods.
    let s = release(&[(Get, "/x")]);
    assert_eq!(name(&s, Post, "/x"), None);
}

#[test]
fn hosts_select_groups() {
    let r = Router::build(&release(&[]), BASE).unwrap();
    let g1 = r.host("api.example.com").map(|h| h.group).unwrap();
    assert_eq!(r.group_id(g1), "g1");
    assert_eq!(r.host("API.EXAMPLE.com:8443").map(|h| h.group), Some(g1));
    assert_eq!(r.host("g1.gw.example.net").map(|h| h.group), Some(g1));
    let g2 = r.host("G2.gw.example.net.:80").map(|h| h.group).unwrap();
    assert_eq!(r.group_id(g2), "g2");
    assert_eq!(r.host("g3.gw.example.net").map(|h| h.group), None);
    assert_eq!(r.host("example.com").map(|h| h.group), None);
}

#[test]
fn environments_are_case_insensitive() {
    let r = Router::build(&release(&[]), BASE).unwrap();
    let pre = r.environment("pre").unwrap();
    assert_eq!(r.environment("Pre"), Some(pre));
    assert_eq!(r.environment_name(pre), "PRE");
    assert_eq!(r.environment("staging"), None);
    assert_eq!(r.environment(""), None);
    assert_eq!(r.environment(&"x".repeat(100)), None);
}

#[test]
fn a_router_assembled_after_a_change_reuses_the_groups_it_did_not_touch() {
    let s = snapshot(vec![
        deployment("g1", "RELEASE", "kept", Get, "/x", 0),
        deployment("g2", "RELEASE", "old", Get, "/y", 1),
    ]);
    let first = Router::build(&s, BASE).unwrap();
    let g1 = first.host("api.example.com").map(|h| h.group).unwrap();
    let g2 = first.host("g2.gw.example.net").map(|h| h.group).unwrap();
    let environments = first.environments().clone();
    let changed = [deployment("g2", "RELEASE", "new", Get, "/z", 2)];
    let g2_routes =
        GroupRoutes::build("g2", &environments, changed.iter().map(|d| (7, d))).unwrap();
    let kept = first.group_routes(g1).unwrap().clone();
    let second = Router::assemble(
        &s.groups,
        environments.clone(),
        vec![kept.clone(), std::sync::Arc::new(g2_routes)],
        BASE,
    )
    .unwrap();
    assert!(std::sync::Arc::ptr_eq(
        second.group_routes(g1).unwrap(),
        &kept
    ));
    let rel = second.environment("RELEASE").unwrap();
    assert_eq!(second.find(g1, rel, Get, "/x").unwrap().deployment, 0);
    assert!(second.find(g2, rel, Get, "/y").is_none());
    assert_eq!(second.find(g2, rel, Get, "/z").unwrap().deployment, 7);

    // Routes laid out for other environments are refused, not routed wrongly.
    let fewer = Environments::new(&s.environments[..1]);
    let narrow = GroupRoutes::build("g2", &fewer, changed.iter().map(|d| (7, d))).unwrap();
    let refused = Router::assemble(
        &s.groups,
        environments,
        vec![kept, std::sync::Arc::new(narrow)],
        BASE,
    );
    assert!(matches!(refused, Err(RouteError::Internal(_))));
}

#[test]
fn groups_and_environments_do_not_share_routes() {
    let s = snapshot(vec![
        deployment("g1", "release", "rel", Get, "/x", 0),
        deployment("g1", "TEST", "test", Get, "/x", 1),
        deployment("g2", "RELEASE", "other", Get, "/y", 2),
    ]);
    let r = Router::build(&s, BASE).unwrap();
    let g1 = r.host("api.example.com").map(|h| h.group).unwrap();
    let g2 = r.host("g2.gw.example.net").map(|h| h.group).unwrap();
    let rel = r.environment("RELEASE").unwrap();
    let test = r.environment("TEST").unwrap();
    let pre = r.environment("PRE").unwrap();
    assert_eq!(r.find(g1, rel, Get, "/x").unwrap().deployment, 0);
    assert_eq!(r.find(g1, test, Get, "/x").unwrap().deployment, 1);
    assert!(r.find(g1, pre, Get, "/x").is_none());
    assert!(r.find(g1, rel, Get, "/y").is_none());
    assert_eq!(r.find(g2, rel, Get, "/y").unwrap().deployment, 2);
}

#[test]
fn deployments_of_unknown_groups_or_environments_are_skipped() {
    let s = snapshot(vec![
        deployment("nope", "RELEASE", "a", Get, "/x", 0),
        deployment("g1", "GONE", "b", Get, "/x", 1),
    ]);
    let r = Router::build(&s, BASE).unwrap();
    assert_eq!(name(&s, Get, "/x"), None);
    assert_eq!(r.environment("GONE"), None);
}

#[test]
fn ids_from_another_router_find_nothing() {
    let r = Router::build(&release(&[(Get, "/x")]), BASE).unwrap();
    assert!(r.find(GroupId(9), EnvId(0), Get, "/x").is_none());
    assert!(r.find(GroupId(0), EnvId(9), Get, "/x").is_none());
    assert_eq!(r.group_id(GroupId(9)), "");
    assert_eq!(r.environment_name(EnvId(9)), "");
}

#[test]
fn same_pattern_and_method_conflicts_naming_both_apis() {
    for path in ["=/x", "^~/x", "/x", "/u/{id}", "/f/{proxy+}", "~^/x$"] {
        let (first, second, reason) = conflict(&release(&[(Get, path), (Get, path)]));
        assert_eq!((first.as_str(), second.as_str()), ("a0", "a1"), "{path}");
        assert!(reason.contains("GET"), "{reason}");
    }
}

#[test]
fn params_differing_only_in_names_conflict() {
    let (first, second, reason) = conflict(&release(&[(Get, "/u/{id}"), (Get, "/u/{name}")]));
    assert_eq!((first.as_str(), second.as_str()), ("a0", "a1"));
    assert!(reason.contains("/u/{}"), "{reason}");
}

#[test]
fn conflict_message_names_both_apis() {
    let err = Router::build(&release(&[(Any, "/x"), (Any, "/x")]), BASE).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("`a0`") && text.contains("`a1`"), "{text}");
}

#[test]
fn same_pattern_with_other_method_or_environment_is_no_conflict() {
    let s = snapshot(vec![
        deployment("g1", "RELEASE", "a", Get, "/x", 0),
        deployment("g1", "RELEASE", "b", Post, "/x", 1),
        deployment("g1", "RELEASE", "c", Any, "/x", 2),
        deployment("g1", "TEST", "d", Get, "/x", 3),
        deployment("g2", "RELEASE", "e", Get, "/x", 4),
        deployment("g1", "RELEASE", "f", Get, "=/x", 5),
    ]);
    Router::build(&s, BASE).unwrap();
}

#[test]
fn invalid_path_names_the_api() {
    let err = Router::build(&release(&[(Get, "no-slash")]), BASE).unwrap_err();
    assert!(
        matches!(err, RouteError::InvalidPath { ref api, .. } if api == "a0"),
        "{err}"
    );
}

#[test]
fn domain_on_two_groups_is_refused() {
    let mut s = release(&[]);
    s.groups[1].domains = s.groups[0].domains.clone();
    assert!(matches!(
        Router::build(&s, BASE),
        Err(RouteError::DomainConflict { .. })
    ));
}
