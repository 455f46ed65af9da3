//! The status listener: `/healthz` (the process answers) and `/readyz` (a snapshot is served
//! and the store answers), without a token, for probes and load balancers.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
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
        .with_state(Status { store, gateway })
}

async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
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

    #[tokio::test]
    async fn ready_while_the_store_answers_and_not_after() {
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
        });
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
}
