//! Test fixtures: a store on a temporary SQLite file and small records to put in it.

use pylon_model::{
    Api, App, AppKey, AppSpec, Backend, BackendDefinition, BackendEnvironment, BackendKind,
    BackendSpec, CorsConfig, Domain, Group, Policy, PolicyBinding, PolicyConfig, PolicySpec,
    Upstream, UpstreamSpec,
};
use tempfile::TempDir;

use crate::Store;

/// The directory must outlive the store.
pub(crate) async fn temp_store() -> (TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(&dir.path().join("pylon.db"), crate::SecretKey::generate())
        .await
        .unwrap();
    (dir, store)
}

pub(crate) fn group(id: &str, name: &str, created_at: i64) -> Group {
    Group {
        id: id.into(),
        name: name.into(),
        description: String::new(),
        domains: Vec::new(),
        created_at,
        updated_at: created_at,
    }
}

pub(crate) fn with_domains(mut g: Group, domains: &[&str]) -> Group {
    g.domains = domains
        .iter()
        .map(|d| Domain {
            name: d.to_string(),
            environment: None,
            ..Default::default()
        })
        .collect();
    g
}

/// An API in `group_id` whose backend is the backend service `backend` if given, else inline.
pub(crate) fn api(id: &str, group_id: &str, name: &str, backend: Option<&str>, at: i64) -> Api {
    let service = match backend {
        Some(b) => serde_json::json!({ "backend_id": b }),
        None => serde_json::json!({ "inline": { "type": "http", "url": "http://127.0.0.1:9000" } }),
    };
    serde_json::from_value(serde_json::json!({
        "id": id,
        "group_id": group_id,
        "name": name,
        "request": { "method": "GET", "path": format!("/{name}") },
        "backend": { "service": service, "path": "/" },
        "created_at": at,
        "updated_at": at,
    }))
    .unwrap()
}

pub(crate) fn upstream(id: &str, name: &str, at: i64) -> Upstream {
    Upstream {
        id: id.into(),
        spec: UpstreamSpec {
            name: name.into(),
            description: String::new(),
            targets: vec!["10.0.0.1:80".into()],
            host_header: None,
            tls: None,
        },
        created_at: at,
        updated_at: at,
    }
}

pub(crate) fn backend(id: &str, name: &str, kind: BackendKind, at: i64) -> Backend {
    Backend {
        id: id.into(),
        spec: BackendSpec {
            name: name.into(),
            kind,
            description: String::new(),
        },
        created_at: at,
        updated_at: at,
    }
}

pub(crate) fn http_definition(backend_id: &str, environment: &str) -> BackendEnvironment {
    BackendEnvironment {
        backend_id: backend_id.into(),
        environment: environment.into(),
        definition: BackendDefinition::Http {
            url: "http://127.0.0.1:9000".into(),
            tls: None,
        },
        updated_at: 1,
    }
}

pub(crate) fn upstream_definition(
    backend_id: &str,
    environment: &str,
    upstream: &str,
) -> BackendEnvironment {
    BackendEnvironment {
        backend_id: backend_id.into(),
        environment: environment.into(),
        definition: BackendDefinition::Upstream {
            upstream: upstream.into(),
            path_prefix: String::new(),
        },
        updated_at: 1,
    }
}

pub(crate) fn app(id: &str, name: &str, at: i64) -> App {
    App {
        id: id.into(),
        spec: AppSpec {
            name: name.into(),
            description: String::new(),
        },
        created_at: at,
        updated_at: at,
    }
}

/// A key pair of `app_id` whose secret is `secret-<app_key>`.
pub(crate) fn app_key(app_id: &str, key: &str, at: i64) -> AppKey {
    AppKey {
        app_id: app_id.into(),
        app_key: key.into(),
        app_secret: Some(format!("secret-{key}")),
        created_at: at,
    }
}

/// A CORS policy allowing `origin`.
pub(crate) fn cors_policy(id: &str, name: &str, origin: &str, at: i64) -> Policy {
    Policy {
        id: id.into(),
        spec: PolicySpec {
            name: name.into(),
            description: String::new(),
            config: PolicyConfig::Cors(CorsConfig {
                allow_origins: vec![origin.into()],
                allow_methods: Vec::new(),
                allow_headers: Vec::new(),
                expose_headers: Vec::new(),
                allow_credentials: false,
                max_age_seconds: None,
            }),
        },
        created_at: at,
        updated_at: at,
    }
}

pub(crate) fn binding(policy_id: &str, api_id: &str, environment: &str, at: i64) -> PolicyBinding {
    PolicyBinding {
        policy_id: policy_id.into(),
        api_id: api_id.into(),
        environment: environment.into(),
        created_at: at,
    }
}
