//! HTTP URL backends: one `http://host:port/base` per environment, called over the worker's
//! pooled client with the API's timeout on the response head.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use ::http::uri::Authority;
use ::http::{HeaderValue, Response};

use super::client::HttpClient;
use super::pool::Endpoint;
use super::resolve::{Unservable, render_template};
use super::send::{self, Attempts, Sent};
use crate::error::GatewayError;
use crate::request::body::{BackendBody, ForwardBody};
use crate::request::outgoing::Outgoing;

#[derive(Debug)]
pub(crate) struct HttpTarget {
    /// The URL as configured after substitution, for logs.
    pub(crate) label: String,
    pub(crate) endpoint: Endpoint,
    /// The URL's path, without a trailing `/`.
    pub(crate) base_path: String,
    pub(crate) host: HeaderValue,
}

impl HttpTarget {
    /// Resolves the configured URL for one environment.
    pub(crate) fn compile(url: &str, vars: &BTreeMap<String, String>) -> Result<Self, Unservable> {
        let url = render_template(url, vars, "backend URL")?;
        parse_http_url(&url)
    }

    pub(crate) async fn call<'p>(
        &'p self,
        client: &HttpClient,
        timeout: Duration,
        sets_host: bool,
        out: Outgoing,
    ) -> Result<(Response<BackendBody>, Sent<'p>), GatewayError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let path = send::path(out.path_and_query)?;
        let body = Attempts::new(out.body, false)
            .next()
            .unwrap_or(ForwardBody::Full(None));
        let host = (!sets_host).then_some(&self.host);
        let req = send::request(&out.method, path, out.headers, host, body);
        match tokio::time::timeout_at(deadline, client.send(&self.endpoint, req)).await {
            Ok(Ok(response)) => Ok((
                response,
                Sent {
                    authority: self.endpoint.authority(),
                    host,
                },
            )),
            Ok(Err(e)) => Err(send::failed(|| self.label.clone(), &e)),
            Err(_) => Err(GatewayError::BackendTimeout {
                target: self.label.clone(),
                timeout_ms: timeout.as_millis() as u64,
            }),
        }
    }
}

/// Splits `http://host:port/base` into the authority and the base path.
pub(crate) fn parse_http_url(url: &str) -> Result<HttpTarget, Unservable> {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let rest = if lower.starts_with("http://") {
        &url[7..]
    } else if lower.starts_with("https://") {
        return Err(Unservable::Internal(format!(
            "backend URL `{url}`: https backends are not supported yet"
        )));
    } else {
        return Err(Unservable::Internal(format!(
            "backend URL `{url}` must start with http://"
        )));
    };
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let authority = Authority::from_str(authority)
        .map_err(|_| Unservable::Internal(format!("backend URL `{url}` has no valid host")))?;
    let host = HeaderValue::from_str(authority.as_str())
        .map_err(|_| Unservable::Internal(format!("backend URL `{url}` has no valid host")))?;
    let base_path = path.split(['?', '#']).next().unwrap_or("");
    Ok(HttpTarget {
        label: url.to_string(),
        endpoint: Endpoint::new(authority),
        base_path: base_path.trim_end_matches('/').to_string(),
        host,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_urls_split_into_authority_and_base_path() {
        let HttpTarget {
            endpoint,
            base_path,
            host,
            ..
        } = parse_http_url("HTTP://127.0.0.1:8080/base/").unwrap();
        assert_eq!(endpoint.authority().as_str(), "127.0.0.1:8080");
        assert_eq!(base_path, "/base");
        assert_eq!(host, "127.0.0.1:8080");
        let HttpTarget { base_path, .. } = parse_http_url("http://backend.internal").unwrap();
        assert_eq!(base_path, "");
    }

    #[test]
    fn unsupported_urls_are_internal_errors() {
        assert!(matches!(
            parse_http_url("https://x"),
            Err(Unservable::Internal(m)) if m.contains("https")
        ));
        assert!(parse_http_url("ftp://x").is_err());
        assert!(parse_http_url("http://bad host/").is_err());
    }
}
