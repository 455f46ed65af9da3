//! Lookup cost with 2,000 APIs in each match class of one group and environment, so every
//! class is measured with the others present (a regex hit first misses four full tiers).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use pylon_model::{
    Api, ApiSpec, AuthConfig, BackendConfig, BackendTarget, Deployment, Domain, Environment, Group,
    Method, RequestConfig, RequestMode, ResponseDoc, Snapshot,
};
use pylon_router::Router;

const PER_CLASS: usize = 2_000;

fn deployment(index: usize, method: Method, path: String) -> Deployment {
    Deployment {
        id: format!("d{index}"),
        api_id: format!("a{index}"),
        group_id: "g1".into(),
        environment: "RELEASE".into(),
        version: 1,
        note: String::new(),
        api: Api {
            id: format!("a{index}"),
            group_id: "g1".into(),
            spec: ApiSpec {
                name: format!("api-{index}"),
                description: String::new(),
                request: RequestConfig {
                    protocols: Vec::new(),
                    method,
                    path,
                    regex_priority: 0,
                    allow_encoded_slashes: false,
                    https_redirect: false,
                    websocket: Default::default(),
                    mode: RequestMode::PassThrough,
                },
                parameters: Vec::new(),
                backend: BackendConfig {
                    service: BackendTarget::BackendId("b".into()),
                    path: "/".into(),
                    method: None,
                    timeout_ms: 1000,
                },
                constant_parameters: Vec::new(),
                system_parameters: Vec::new(),
                auth: AuthConfig::default(),
                cors: None,
                response: ResponseDoc::default(),
            },
            created_at: index as i64,
            updated_at: index as i64,
        },
        created_at: index as i64,
        active: true,
    }
}

fn snapshot() -> Snapshot {
    let mut paths = Vec::new();
    for i in 0..PER_CLASS {
        paths.push(format!("=/exact/{i}/item"));
        paths.push(format!("^~/prefix/{i}/"));
        // Half whole-segment, half greedy, in two trees' worth of depths.
        if i % 2 == 0 {
            paths.push(format!("/params/{i}/{{id}}/detail"));
        } else {
            paths.push(format!("/params/{i}/{{proxy+}}"));
        }
        paths.push(format!("/plain/{i}/list"));
        paths.push(format!("~^/regex/{i}/(?P<n>[0-9]+)$"));
    }
    let deployments = paths
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let method = if i % 3 == 0 { Method::Any } else { Method::Get };
            deployment(i, method, p)
        })
        .collect();
    Snapshot {
        groups: vec![Group {
            id: "g1".into(),
            name: "g1".into(),
            description: String::new(),
            domains: vec![Domain {
                name: "api.example.com".into(),
                environment: None,
                ..Default::default()
            }],
            created_at: 0,
            updated_at: 0,
        }],
        environments: vec![Environment {
            name: "RELEASE".into(),
            description: String::new(),
            builtin: true,
        }],
        deployments,
        ..Snapshot::default()
    }
}

fn lookup(c: &mut Criterion) {
    let snapshot = snapshot();
    let router = Router::build(&snapshot, "gw.example.net").unwrap();
    let g = router.host("api.example.com").map(|h| h.group).unwrap();
    let e = router.environment("release").unwrap();
    let cases = [
        ("exact", "/exact/1234/item"),
        ("prefix", "/prefix/1234/some/rest"),
        ("params", "/params/1234/42/detail"),
        ("params_greedy", "/params/1235/a/b/c"),
        ("plain", "/plain/1234/list/more"),
        ("regex", "/regex/1234/42"),
        ("miss", "/nothing/here/at/all"),
    ];
    for (name, path) in cases {
        let found = router.find(g, e, Method::Get, path);
        assert_eq!(found.is_some(), name != "miss", "{name}");
        c.bench_function(&format!("find_{name}"), |b| {
            b.iter(|| {
                router
                    .find(g, e, Method::Get, black_box(path))
                    .map(|m| m.deployment)
            })
        });
    }
    c.bench_function("group_and_environment", |b| {
        b.iter(|| {
            (
                router.host(black_box("API.example.com:443")),
                router.environment(black_box("Release")),
            )
        })
    });
    c.bench_function("build_10000_apis", |b| {
        b.iter(|| {
            Router::build(black_box(&snapshot), "gw.example.net").map(|r| r.group_id(g).len())
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = lookup
}
criterion_main!(benches);
