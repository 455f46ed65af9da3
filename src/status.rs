//! The status listener: `/healthz` (the process answers), `/readyz` (a snapshot is served and
//! the store answers) and `/metrics` (the Prometheus exposition), without a token, for probes,
//! load balancers and Prometheus.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use pylon_gateway::Gateway;
use pylon_store::Store;
use serde_json::{Value, json};

/// A store that does not answer within this is not ready.
const STORE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone)]
struct Status {
    store: Store,
    gateway: Arc<Gateway>,
}

pub fn router(store: Store, gateway: Arc<Gateway>) -> axum::Router {
    axum::Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(Status { store, gateway })
}

async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn metrics(State(s): State<Status>) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, pylon_gateway::METRICS_CONTENT_TYPE)],
        s.gateway.metrics() + &crate::allocations::exposition(),
    )
}

async fn readyz(State(s): State<Status>) -> (StatusCode, Json<Value>) {
    let not_ready = |reason: String| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "not ready", "reason": reason})),
        )
    };
    if !s.gateway.is_ready() {
        return not_ready("no published state is compiled".into());
    }
    match tokio::time::timeout(STORE_TIMEOUT, s.store.ping()).await {
        Ok(Ok(())) => (
            StatusCode::OK,
            Json(json!({"status": "ready", "revision": s.store.revision().served})),
        ),
        Ok(Err(e)) => not_ready(format!("the store does not answer: {e}")),
        Err(_) => not_ready(format!(
            "the store did not answer within {} s",
            STORE_TIMEOUT.as_secs()
        )),
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    async fn get_json(app: &axum::Router, path: &str) -> (StatusCode, Value) {
        let request = http::Request::get(path).body(Body::empty()).unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    /// A store in a temporary directory (kept while the returned guard lives) and a gateway
    /// serving nothing.
    async fn fixture() -> (tempfile::TempDir, Store, Arc<Gateway>) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite(
            &dir.path().join("pylon.db"),
            pylon_store::SecretKey::generate(),
        )
        .await
        .unwrap();
        let gateway = Gateway::new(pylon_gateway::GatewayConfig {
            base_domain: "pylon.test".into(),
            limits: Default::default(),
            tracing: None,
            access_log: pylon_gateway::AccessLogSink::off(),
            functions: None,
        });
        (dir, store, gateway)
    }

    #[tokio::test]
    async fn ready_while_the_store_answers_and_not_after() {
        let (_dir, store, gateway) = fixture().await;
        let app = router(store.clone(), gateway);
        assert_eq!(get_json(&app, "/healthz").await.0, StatusCode::OK);
        let (status, body) = get_json(&app, "/readyz").await;
        assert_eq!(
            (status, body["status"].as_str()),
            (StatusCode::OK, Some("ready"))
        );
        store.close().await;
        let (status, body) = get_json(&app, "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(body["reason"].as_str().unwrap().contains("store"), "{body}");
        assert_eq!(get_json(&app, "/healthz").await.0, StatusCode::OK);
    }

    #[tokio::test]
    async fn metrics_are_served_as_prometheus_text() {
        let (_dir, store, gateway) = fixture().await;
        gateway.set_revision(3);
        let app = router(store, gateway);
        let request = http::Request::get("/metrics").body(Body::empty()).unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()[CONTENT_TYPE],
            "text/plain; version=0.0.4; charset=utf-8"
        );
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        assert!(
            text.lines().any(|l| l == "pylon_config_revision 3"),
            "{text}"
        );
    }
}
