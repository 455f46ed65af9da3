//! JWT verification compiled at publish: the inline keys decoded once, the claims to forward
//! as header names, and the API's JWK Set source. Sources are shared across snapshots by URL,
//! so a republish keeps the fetched keys; a source is fetched when a token names a key it does
//! not hold, at most once per [`REFRESH_INTERVAL`], and never once per request.
//!
//! `https://` sources are fetched with rustls (the ring provider) trusting the system's roots,
//! as `rustls-native-certs` finds them (`SSL_CERT_FILE` / `SSL_CERT_DIR` override the platform
//! store). The TLS client configuration is built once per process, at the first https fetch.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use http::HeaderName;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::HttpsConnectorBuilder;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connect, HttpConnector};
use hyper_util::rt::TokioExecutor;
use pylon_auth::jwt::{KeySet, Verifier};
use pylon_model::JwtConfig;

/// The least time between two fetches of one JWK Set.
pub(crate) const REFRESH_INTERVAL: Duration = Duration::from_secs(10);
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_JWKS_BYTES: usize = 1024 * 1024;

pub(crate) struct JwtPlan {
    pub(crate) verifier: Verifier,
    pub(crate) inline: KeySet,
    pub(crate) jwks: Option<Arc<JwksSource>>,
    /// (claim, header) pairs to send to the backend.
    pub(crate) claims: Vec<(String, HeaderName)>,
}

impl std::fmt::Debug for JwtPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtPlan")
            .field("jwks", &self.jwks.as_ref().map(|s| &s.url))
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

impl JwtPlan {
    pub(crate) fn compile(config: &JwtConfig, registry: &JwksRegistry) -> Result<Self, String> {
        let inline = KeySet::from_config(config)?;
        let claims = config
            .claims_to_headers
            .iter()
            .map(|c| {
                HeaderName::try_from(c.header.as_str())
                    .map(|h| (c.claim.clone(), h))
                    .map_err(|_| format!("`{}` is not a header name", c.header))
            })
            .collect::<Result<_, _>>()?;
        Ok(JwtPlan {
            verifier: Verifier::new(config),
            inline,
            jwks: config.jwks_url.as_deref().map(|url| registry.source(url)),
            claims,
        })
    }
}

/// The JWK Set sources of every snapshot, by URL.
#[derive(Default)]
pub(crate) struct JwksRegistry {
    sources: Mutex<HashMap<String, Arc<JwksSource>>>,
}

impl JwksRegistry {
    fn source(&self, url: &str) -> Arc<JwksSource> {
        let mut sources = self.sources.lock().unwrap_or_else(|p| p.into_inner());
        sources
            .entry(url.to_string())
            .or_insert_with(|| {
                Arc::new(JwksSource {
                    url: url.to_string(),
                    keys: ArcSwapOption::empty(),
                    last_fetch: tokio::sync::Mutex::new(None),
                })
            })
            .clone()
    }
}

pub(crate) struct JwksSource {
    pub(crate) url: String,
    pub(crate) keys: ArcSwapOption<KeySet>,
    /// Held while fetching, so concurrent requests wait for one fetch instead of each fetching.
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
}

impl JwksSource {
    /// Fetches the set again unless it was fetched within [`REFRESH_INTERVAL`]; concurrent
    /// callers share one fetch. A failed fetch keeps the keys held before.
    pub(crate) async fn refresh(&self) {
        let mut last = self.last_fetch.lock().await;
        if last.is_some_and(|t| t.elapsed() < REFRESH_INTERVAL) {
            return;
        }
        *last = Some(Instant::now());
        match tokio::time::timeout(FETCH_TIMEOUT, fetch(&self.url)).await {
            Ok(Ok(body)) => {
                let mut set = KeySet::default();
                match set.add_jwks(&body) {
                    Ok(n) => {
                        tracing::info!(url = %self.url, keys = n, "JWK Set fetched");
                        self.keys.store(Some(Arc::new(set)));
                    }
                    Err(e) => tracing::warn!(url = %self.url, error = %e, "JWK Set is invalid"),
                }
            }
            Ok(Err(e)) => {
                tracing::warn!(url = %self.url, error = %e, "fetching the JWK Set failed")
            }
            Err(_) => tracing::warn!(url = %self.url, "fetching the JWK Set timed out"),
        }
    }
}

async fn fetch(url: &str) -> Result<Bytes, String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("bad URL: {e}"))?;
    match uri.scheme_str() {
        Some("http") => {
            let client = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
            get(client, uri).await
        }
        Some("https") => {
            let config = tls_client_config()?;
            let connector = HttpsConnectorBuilder::new()
                .with_tls_config(config.as_ref().clone())
                .https_only()
                .enable_http1()
                .build();
            get(Client::builder(TokioExecutor::new()).build(connector), uri).await
        }
        _ => Err("a JWK Set URL must be http:// or https://".into()),
    }
}

async fn get<C>(client: Client<C, Empty<Bytes>>, uri: http::Uri) -> Result<Bytes, String>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    let response = client.get(uri).await.map_err(|e| error_chain(&e))?;
    if !response.status().is_success() {
        return Err(format!("answered {}", response.status()));
    }
    Limited::new(response.into_body(), MAX_JWKS_BYTES)
        .collect()
        .await
        .map(|b| b.to_bytes())
        .map_err(|e| e.to_string())
}

/// An error and its sources, so a TLS failure says why ("invalid peer certificate: ...") and
/// not only "client error (Connect)". Backend calls describe their failures with it too; it
/// lives here, in a module that imports nothing of the crate, so that using it adds no cycle.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The TLS client configuration for https JWK Sets, built once per process: rustls with the
/// ring provider and the system's trust roots. A failure is kept too (and reported by every
/// https fetch), so a machine without roots does not rescan its certificate store per fetch.
pub(crate) fn tls_client_config() -> Result<Arc<rustls::ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let config = build_tls_client_config();
            if let Err(e) = &config {
                tracing::error!(error = %e, "no TLS client for https JWK Sets");
            }
            config
        })
        .clone()
}

fn build_tls_client_config() -> Result<Arc<rustls::ClientConfig>, String> {
    let roots = crate::backend::tls::system_roots()?;
    let config = rustls::ClientConfig::builder_with_provider(crate::backend::tls::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS client configuration: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_chain_names_every_cause() {
        #[derive(Debug, thiserror::Error)]
        #[error("client error (Connect)")]
        struct Outer(#[source] std::io::Error);
        let e = Outer(std::io::Error::other("invalid peer certificate"));
        assert_eq!(
            error_chain(&e),
            "client error (Connect): invalid peer certificate"
        );
    }
}
