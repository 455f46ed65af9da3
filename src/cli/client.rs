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
        if let Some(step) = value.get("next_step") {
            message = in_cli_terms(&message, step);
        }
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

/// The admin API names the REST call that fixes a refusal (`next_step.request`, spelled as in
/// the message); a CLI user is better told the command. An action this CLI does not know keeps
/// the REST wording, which is still correct.
fn in_cli_terms(message: &str, step: &Value) -> String {
    let text = |field: &str| step.get(field).and_then(Value::as_str).unwrap_or("");
    let request = text("request");
    if request.is_empty() || !message.contains(request) {
        return message.to_string();
    }
    let command = match text("action") {
        "define_backend" => {
            let how = match text("backend_type") {
                "upstream" => "--upstream <UPSTREAM>",
                "mock" => "--mock-status <STATUS>",
                _ => "--url http://<HOST:PORT>",
            };
            format!(
                "`pylon backend set-env {} {} {how}`",
                shell_word(text("backend_name")),
                shell_word(text("environment"))
            )
        }
        "confirm" => "--confirm".to_string(),
        _ => return message.to_string(),
    };
    message.replace(request, &command)
}

/// `word`, quoted for a POSIX shell when it needs to be.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.,:/@%+=".contains(&b));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rest_calls_in_errors_become_cli_commands() {
        let step = json!({
            "action": "define_backend",
            "request": "PUT /v1/backends/b1/environments/TEST",
            "backend_id": "b1",
            "backend_name": "shop files",
            "backend_type": "upstream",
            "environment": "TEST",
        });
        assert_eq!(
            in_cli_terms(
                "backend service `shop files` (b1) has no definition in environment TEST; \
                 define it with PUT /v1/backends/b1/environments/TEST first",
                &step
            ),
            "backend service `shop files` (b1) has no definition in environment TEST; \
             define it with `pylon backend set-env 'shop files' TEST --upstream <UPSTREAM>` first"
        );
        let confirm = json!({"action": "confirm", "request": "?confirm=true"});
        assert_eq!(
            in_cli_terms(
                "unpublishes 1 API(s) there: a; repeat with ?confirm=true",
                &confirm
            ),
            "unpublishes 1 API(s) there: a; repeat with --confirm"
        );
        let unknown = json!({"action": "something_new", "request": "POST /v1/x"});
        assert_eq!(in_cli_terms("do POST /v1/x", &unknown), "do POST /v1/x");
    }
}
