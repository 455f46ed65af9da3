//! Small snapshot builders for the router's tests.

use pylon_model::{
    Api, ApiSpec, AuthConfig, BackendConfig, BackendTarget, Deployment, Domain, Environment, Group,
    Method, RequestConfig, RequestMode, ResponseDoc, Snapshot,
};

pub(crate) const BASE: &str = "gw.example.net";

pub(crate) fn group(id: &str, domains: &[&str]) -> Group {
    Group {
        id: id.into(),
        name: format!("group {id}"),
        description: String::new(),
        domains: domains
            .iter()
            .map(|d| Domain {
                name: (*d).to_string(),
                environment: None,
                ..Default::default()
            })
            .collect(),
        created_at: 0,
        updated_at: 0,
    }
}

pub(crate) fn environment(name: &str) -> Environment {
    Environment {
        name: name.into(),
        description: String::new(),
        builtin: true,
    }
}

/// An API named `name` answering `method path`, published to `env` of `group`; created at
/// `created_at`.
pub(crate) fn deployment(
    group: &str,
    env: &str,
    name: &str,
    method: Method,
    path: &str,
    created_at: i64,
) -> Deployment {
    Deployment {
        id: format!("dep-{name}-{env}"),
        api_id: format!("api-{name}"),
        group_id: group.into(),
        environment: env.into(),
        version: 1,
        note: String::new(),
        api: Api {
            id: format!("api-{name}"),
            group_id: group.into(),
            spec: ApiSpec {
                name: name.into(),
                description: String::new(),
                request: RequestConfig {
                    protocols: Vec::new(),
                    method,
                    path: path.into(),
                    regex_priority: 0,
                    allow_encoded_slashes: false,
                    https_redirect: false,
                    websocket: Default::default(),
                    mode: RequestMode::PassThrough,
                },
                parameters: Vec::new(),
                backend: BackendConfig {
                    service: BackendTarget::BackendId("b1".into()),
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
            created_at,
            updated_at: created_at,
        },
        created_at,
        active: true,
    }
}

/// Groups `g1` (custom domain `api.example.com`) and `g2`; environments RELEASE, PRE, TEST;
/// and the deployments given.
pub(crate) fn snapshot(deployments: Vec<Deployment>) -> Snapshot {
    Snapshot {
        groups: vec![group("g1", &["api.example.com"]), group("g2", &[])],
        environments: ["RELEASE", "PRE", "TEST"]
            .into_iter()
            .map(environment)
            .collect(),
        deployments,
        ..Snapshot::default()
    }
}

/// APIs in g1/RELEASE, one per `(method, path)`, named by their position (`a0`, `a1`, ...) and
/// created in that order.
pub(crate) fn release(routes: &[(Method, &str)]) -> Snapshot {
    snapshot(
        routes
            .iter()
            .enumerate()
            .map(|(i, (m, p))| deployment("g1", "RELEASE", &format!("a{i}"), *m, p, i as i64))
            .collect(),
    )
}
