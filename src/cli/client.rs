//! A small JSON client for the admin API, on the hyper client the gateway already uses.

use anyhow::{Context, anyhow, bail};
use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{Client, connect::HttpConnector};
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

pub struct AdminClient {
    base: String,
    token: String,
    http: Client<HttpConnector, Full<Bytes>>,
}

/// An error the admin API answered with, shown to the user as it came.
#[derive(Debug, thiserror::Error)]
#[error("{status}: {message}")]
pub struct ApiFailure {
    pub status: StatusCode,
    pub message: String,
}

impl AdminClient {
    pub fn new(base: &str, token: String) -> anyhow::Result<Self> {
        let base = base.trim_end_matches('/').to_string();
        if !base.starts_with("http://") {
            bail!("--admin-url must be an http:// URL, got `{base}`");
        }
        let http = Client::builder(TokioExecutor::new()).build_http();
        Ok(Self { base, token, http })
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(Method::GET, path, None).await
    }

    pub async fn send(&self, method: Method, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.call(method, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<Value> {
        self.call(Method::DELETE, path, None).await
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let url = format!("{}{}", self.base, path);
        let payload = match body {
            Some(v) => Bytes::from(serde_json::to_vec(v)?),
            None => Bytes::new(),
        };
        let request = Request::builder()
            .method(method.clone())
            .uri(&url)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token))
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json")
            .body(Full::new(payload))
            .with_context(|| format!("invalid admin URL {url}"))?;
        let response = self.http.request(request).await.with_context(|| {
            format!(
                "cannot reach the admin API at {} (is `pylon serve` running?)",
                self.base
            )
        })?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        let value: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).map_err(|_| {
                anyhow!(
                    "{method} {path}: {status}: {}",
                    String::from_utf8_lossy(&bytes)
                )
            })?
        };
        if status.is_success() {
            return Ok(value);
        }
        let mut message = value
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("request failed")
            .to_string();
        if let Some(field) = value.get("field").and_then(Value::as_str) {
            message = format!("{field}: {message}");
        }
        if let Some(apis) = value.get("apis").and_then(Value::as_array) {
            let names: Vec<&str> = apis
                .iter()
                .filter_map(|a| a.get("name").and_then(Value::as_str))
                .collect();
            message = format!("{message} (APIs: {})", names.join(", "));
        }
        Err(ApiFailure { status, message }.into())
    }
}
