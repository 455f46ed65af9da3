//! Serves one pass-through API on `127.0.0.1:<port>` in front of a backend URL, for quick local
//! load tests: `cargo run --release -p pylon-gateway --example pass_through -- 18080 http://127.0.0.1:18081`.
//! Requests must carry `Host: bench.local`.

use pylon_gateway::{Gateway, GatewayConfig};
use pylon_model::Snapshot;
use serde_json::json;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let port = args.next().unwrap_or_else(|| "18080".into());
    let backend = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:18081".into());
    let snapshot: Snapshot = serde_json::from_value(json!({
        "groups": [{"id": "b1", "name": "bench", "domains": [{"name": "bench.local"}],
            "created_at": 0, "updated_at": 0}],
        "environments": [{"name": "RELEASE", "builtin": true}],
        "stage_variables": [], "upstreams": [], "backends": [], "backend_definitions": [],
        "deployments": [{"id": "d1", "api_id": "a1", "group_id": "b1", "environment": "RELEASE",
            "version": 1, "note": "", "created_at": 0,
            "api": {"id": "a1", "group_id": "b1", "name": "all", "created_at": 0, "updated_at": 0,
                "request": {"method": "ANY", "path": "^~/"},
                "backend": {"service": {"inline": {"type": "http", "url": backend}}, "path": "/"}}}]
    }))
    .map_err(std::io::Error::other)?;
    let gateway = Gateway::new(GatewayConfig {
        base_domain: "gw.local".into(),
        limits: Default::default(),
        tracing: None,
        access_log: pylon_gateway::AccessLogSink::off(),
        functions: None,
    });
    gateway.apply(&snapshot).map_err(std::io::Error::other)?;
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    gateway
        .serve(listener, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}
