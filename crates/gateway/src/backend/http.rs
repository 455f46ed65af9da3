//! HTTP URL backends: one `http://host:port/base` per environment, called over the worker's
//! pooled client with the API's timeout on the response head.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use ::http::HeaderValue;
use ::http::uri::Authority;
use pylon_model::BackendTls;

use super::client::{BackendRequest, HttpClient};
use super::deadline;
use super::pool::Endpoint;
use super::resolve::{Unservable, render_template};
use super::send::{self, Attempts, Sent};
use super::tls::{self, ClientCertificates};
use crate::error::GatewayError;
use crate::request::body::{BackendBody, ForwardBody};
use crate::request::outgoing::Outgoing;
use crate::response::Answer;

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
    /// Resolves the configured URL for one environment; an `https://` URL is reached over
    /// TLS as `tls` says (the system's trust roots, for the URL's host, when absent).
    pub(crate) fn compile(
        url: &str,
        tls: Option<&BackendTls>,
        vars: &BTreeMap<String, String>,
        certificates: &ClientCertificates,
    ) -> Result<Self, Unservable> {
        let url = render_template(url, vars, "backend URL")?;
        let (mut target, https) = parse_http_url(&url)?;
        if https {
            let settings = tls.cloned().unwrap_or_default();
            let connect = tls::compile(&settings, target.endpoint.authority().host(), certificates)
                .map_err(|e| Unservable::Internal(format!("backend URL `{url}`: {e}")))?;
            target.endpoint =
                Endpoint::with_tls(target.endpoint.authority().clone(), Some(connect));
        }
        Ok(target)
    }

    pub(crate) async fn call<'p>(
        &'p self,
        client: &HttpClient,
        timeout: Duration,
        sets_host: bool,
        out: Outgoing<'_>,
    ) -> Result<(Answer<BackendBody>, Sent<'p>), GatewayError> {
        let until = deadline::after(timeout);
        let path = send::path(out.path_and_query)?;
        let body = Attempts::new(out.body, false)
            .next()
            .unwrap_or(ForwardBody::Full(None));
        let host = (!sets_host).then_some(&self.host);
        let req = BackendRequest {
            method: &out.method,
            path,
            headers: &out.headers,
            host,
            body,
        };
        match deadline::within(until, client.send(&self.endpoint, req)).await {
            Ok(Ok((response, negotiated))) => {
                Ok((response, Sent::new(&self.endpoint, host, negotiated)))
            }
            Ok(Err(e)) => Err(send::failed(|| self.label.clone(), &e)),
            Err(_) => Err(GatewayError::BackendTimeout {
                target: self.label.clone(),
                timeout_ms: timeout.as_millis() as u64,
            }),
        }
    }
}

/// Splits `http://host:port/base` (or `https://`) into the authority, with the scheme's
/// default port when none is given, and the base path; says whether it is `https`.
pub(crate) fn parse_http_url(url: &str) -> Result<(HttpTarget, bool), Unservable> {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    // `ws://` and `wss://` name the same servers as `http://` and `https://`: a WebSocket is
    // an upgraded HTTP/1.1 request.
    let (rest, https) = if lower.starts_with("http://") {
        (&url[7..], false)
    } else if lower.starts_with("https://") {
        (&url[8..], true)
    } else if lower.starts_with("ws://") {
        (&url[5..], false)
    } else if lower.starts_with("wss://") {
        (&url[6..], true)
    } else {
        return Err(Unservable::Internal(format!(
            "backend URL `{url}` must start with http://, https://, ws:// or wss://"
        )));
    };
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let mut authority = Authority::from_str(authority)
        .map_err(|_| Unservable::Internal(format!("backend URL `{url}` has no valid host")))?;
    // The Host header as the URL has it; the connection needs a port.
    let host = HeaderValue::from_str(authority.as_str())
        .map_err(|_| Unservable::Internal(format!("backend URL `{url}` has no valid host")))?;
    if authority.port().is_none() {
        let port = if https { 443 } else { 80 };
        authority = Authority::try_from(format!("{}:{port}", authority.as_str()))
            .map_err(|_| Unservable::Internal(format!("backend URL `{url}` has no valid host")))?;
    }
    let base_path = path.split(['?', '#']).next().unwrap_or("");
    let target = HttpTarget {
        label: url.to_string(),
        endpoint: Endpoint::new(authority),
        base_path: base_path.trim_end_matches('/').to_string(),
        host,
    };
    Ok((target, https))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_urls_split_into_authority_and_base_path() {
        let (
            HttpTarget {
                endpoint,
                base_path,
                host,
                ..
            },
            https,
        ) = parse_http_url("HTTP://127.0.0.1:8080/base/").unwrap();
        assert_eq!(endpoint.authority().as_str(), "127.0.0.1:8080");
        assert_eq!(base_path, "/base");
        assert_eq!(host, "127.0.0.1:8080");
        assert!(!https);
        let (target, _) = parse_http_url("http://backend.internal").unwrap();
        assert_eq!(target.base_path, "");
        assert_eq!(target.endpoint.authority().as_str(), "backend.internal:80");
        assert_eq!(target.host, "backend.internal");
        let (target, https) = parse_http_url("https://api.example.com/v1").unwrap();
        assert!(https);
        assert_eq!(target.endpoint.authority().as_str(), "api.example.com:443");
    }

    #[test]
    fn unsupported_urls_are_internal_errors() {
        assert!(parse_http_url("ftp://x").is_err());
        assert!(parse_http_url("http://bad host/").is_err());
    }
}
