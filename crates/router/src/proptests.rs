//! Properties of lookup over hostile paths: a router holding every match class answers any
//! path without a panic; what it captures is part of the path; the unmatched rest of a prefix
//! match is the path's own suffix; and an exact route serves only its own path.

use proptest::prelude::*;
use proptest::test_runner::Config;

use pylon_model::Method;

use crate::Router;
use crate::testutil::{BASE, release};

fn config() -> Config {
    Config {
        failure_persistence: None,
        ..Config::default()
    }
}

/// Built once: the property is about lookups, and a build compiles a regular expression.
fn router() -> &'static (Router, pylon_model::Snapshot) {
    static ROUTER: std::sync::OnceLock<(Router, pylon_model::Snapshot)> =
        std::sync::OnceLock::new();
    ROUTER.get_or_init(build)
}

fn build() -> (Router, pylon_model::Snapshot) {
    let s = release(&[
        (Method::Get, "=/exact"),
        (Method::Get, "^~/static"),
        (Method::Get, "/user/{id}"),
        (Method::Get, "/user/{id}/books/{book}"),
        (Method::Any, "/files/{path+}"),
        (Method::Get, "/{x}/{rest+}"),
        (Method::Get, "/plain"),
        (Method::Get, "~^/re/(?P<n>[0-9]+)/(?P<tail>.*)$"),
    ]);
    (Router::build(&s, BASE).unwrap(), s)
}

fn path() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => prop::sample::select(vec![
            "/", "//", ".", "..", "%2f", "%2F", "%", "%zz", "\\", ";", "exact", "static", "user",
            "books", "files", "plain", "re", "1", "42", "a", "{", "}", "*", ":id", "+",
        ])
        .prop_map(String::from),
        1 => any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..16).prop_map(|p| format!("/{}", p.concat()))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_path_is_answered_and_captures_come_from_it(
        path in path(),
        method in prop::sample::select(Method::CONCRETE.to_vec()),
    ) {
        let (router, snapshot) = router();
        let g = router.host("api.example.com").map(|h| h.group).unwrap();
        let e = router.environment("RELEASE").unwrap();
        if let Some(found) = router.find(g, e, method, &path) {
            prop_assert!(found.deployment < snapshot.deployments.len());
            for (_, value) in &found.params {
                prop_assert!(path.contains(value), "{:?} not in {}", value, path);
            }
            prop_assert!(path.ends_with(found.rest), "rest {:?} of {}", found.rest, path);
            let api = &snapshot.deployments[found.deployment].api.spec;
            if api.request.path == "=/exact" {
                prop_assert_eq!(path.as_str(), "/exact");
            }
            if api.request.path == "^~/static" {
                prop_assert!(path.starts_with("/static"));
            }
        }
    }
}
