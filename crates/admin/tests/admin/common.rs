//! A router over a fresh temporary store, and helpers to call it.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use pylon_admin::{AdminConfig, OnChange};
use pylon_model::{Change, Snapshot};
use serde_json::{Value, json};
use tower::ServiceExt;

pub const TOKEN: &str = "test-token-0123456789";
pub const BASE_DOMAIN: &str = "gw.example.test";

pub struct Harness {
    pub app: axum::Router,
    /// The state after each change handed to `on_change`, in order.
    pub applied: Arc<Mutex<Vec<Snapshot>>>,
    _dir: tempfile::TempDir,
}

impl Harness {
    pub async fn new() -> Self {
        Self::with_gateway(|_| Ok(())).await
    }

    /// A harness whose gateway answers `apply` with `gateway`'s result.
    pub async fn with_gateway(
        gateway: impl Fn(&Snapshot) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = pylon_store::Store::open_sqlite(
            &dir.path().join("pylon.db"),
            pylon_store::SecretKey::generate(),
        )
        .await
        .unwrap();
        let applied = Arc::new(Mutex::new(Vec::<Snapshot>::new()));
        let sink = applied.clone();
        let on_change: OnChange = Arc::new(move |change: &Change, _revision| {
            let mut applied = sink.lock().unwrap();
            let mut next = applied.last().cloned().unwrap_or_default();
            next.patch(change);
            applied.push(next.clone());
            gateway(&next)
        });
        let config = AdminConfig {
            token: TOKEN.to_string(),
            base_domain: BASE_DOMAIN.to_string(),
            hosted_functions: true,
            console_session_ttl: pylon_admin::DEFAULT_SESSION_TTL,
        };
        Self {
            app: pylon_admin::router(store, config, on_change),
            applied,
            _dir: dir,
        }
    }

    pub async fn send(&self, req: Request<Body>) -> (StatusCode, http::HeaderMap, Value) {
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)))
        };
        (status, headers, body)
    }

    /// An authenticated call with an optional JSON body.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let builder = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
        let req = match body {
            Some(b) => builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b.to_string())),
            None => builder.body(Body::empty()),
        }
        .unwrap();
        let (status, _, body) = self.send(req).await;
        (status, body)
    }

    /// An authenticated call whose body is sent as is.
    pub async fn call_raw(&self, method: &str, path: &str, body: &str) -> (StatusCode, Value) {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let (status, _, body) = self.send(req).await;
        (status, body)
    }

    pub fn changes(&self) -> usize {
        self.applied.lock().unwrap().len()
    }

    pub fn last_snapshot(&self) -> Snapshot {
        self.applied.lock().unwrap().last().cloned().unwrap()
    }

    /// Creates a group and returns its id.
    pub async fn group(&self, name: &str) -> String {
        let (status, body) = self
            .call("POST", "/v1/groups", Some(json!({ "name": name })))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().unwrap().to_string()
    }

    /// Creates a mock backend service defined in `environments`; returns its id.
    pub async fn mock_backend(&self, name: &str, environments: &[&str]) -> String {
        let (status, body) = self
            .call(
                "POST",
                "/v1/backends",
                Some(json!({ "name": name, "type": "mock" })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let id = body["id"].as_str().unwrap().to_string();
        for env in environments {
            let (status, body) = self
                .call(
                    "PUT",
                    &format!("/v1/backends/{id}/environments/{env}"),
                    Some(json!({ "type": "mock", "body": format!("from {name}") })),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        id
    }

    /// Creates an API `GET path` on `backend_id`; returns its id.
    pub async fn api(&self, group: &str, name: &str, path: &str, backend_id: &str) -> String {
        let (status, body) = self
            .call(
                "POST",
                &format!("/v1/groups/{group}/apis"),
                Some(api_spec(name, path, backend_id)),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().unwrap().to_string()
    }

    pub async fn publish(&self, group: &str, api: &str, env: &str) -> (StatusCode, Value) {
        self.call(
            "POST",
            &format!("/v1/groups/{group}/apis/{api}/publish"),
            Some(json!({ "environment": env, "note": "test" })),
        )
        .await
    }
}

pub fn api_spec(name: &str, path: &str, backend_id: &str) -> Value {
    json!({
        "name": name,
        "request": { "method": "GET", "path": path },
        "backend": { "service": { "backend_id": backend_id }, "path": "/" }
    })
}
