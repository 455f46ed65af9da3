//! TLS towards a backend: how the backend's certificate is verified, the name asked for and
//! checked, and the client certificate offered (mutual TLS).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::MAX_PEM_LEN;
use crate::error::{ValidationError, check};

/// Set on an `https://` HTTP backend or on an upstream (whose targets are then reached over
/// TLS). Every field is optional: `{}` verifies against the system's trust roots, for the
/// URL's host (or the upstream's `host_header`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackendTls {
    /// PEM CA certificates that verify the backend's certificate, in place of the system's
    /// trust roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<String>,
    /// The name sent in SNI and the certificate must be valid for. Default: the URL's host,
    /// or the upstream's `host_header` (without a port), else the target's host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// Accepts any certificate the backend presents. For tests only: the gateway logs a
    /// warning for every backend set so.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,
    /// A certificate (by name, `pylon certificate add`) presented to the backend as the
    /// gateway's client certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate: Option<String>,
}

impl BackendTls {
    /// `field` prefixes the names in errors (e.g. `definition.tls`).
    pub fn validate(&self, field: &str) -> Result<(), ValidationError> {
        if let Some(bundle) = &self.ca_bundle {
            let f = format!("{field}.ca_bundle");
            check(
                bundle.contains("-----BEGIN CERTIFICATE-----"),
                &f,
                "must hold PEM CA certificates (`-----BEGIN CERTIFICATE-----`)",
            )?;
            check(
                bundle.len() <= MAX_PEM_LEN,
                &f,
                format!("must be at most {MAX_PEM_LEN} bytes"),
            )?;
            check(
                !self.insecure,
                &format!("{field}.insecure"),
                "a CA bundle verifies the backend; `insecure` would ignore it",
            )?;
        }
        if let Some(name) = &self.server_name {
            let ok = !name.is_empty()
                && name.len() <= 253
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b':'));
            check(
                ok,
                &format!("{field}.server_name"),
                format!("`{name}` is not a host name or IP address"),
            )?;
        }
        if let Some(name) = &self.client_certificate {
            check(
                !name.trim().is_empty(),
                &format!("{field}.client_certificate"),
                "must name a certificate",
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundles_names_and_insecure_are_checked() {
        let ok = BackendTls::default();
        assert!(ok.validate("tls").is_ok());
        let bad = BackendTls {
            ca_bundle: Some("nope".into()),
            ..Default::default()
        };
        assert_eq!(bad.validate("tls").unwrap_err().field, "tls.ca_bundle");
        let both = BackendTls {
            ca_bundle: Some("-----BEGIN CERTIFICATE-----".into()),
            insecure: true,
            ..Default::default()
        };
        assert_eq!(both.validate("tls").unwrap_err().field, "tls.insecure");
        let name = BackendTls {
            server_name: Some("a b".into()),
            ..Default::default()
        };
        assert_eq!(name.validate("tls").unwrap_err().field, "tls.server_name");
    }
}
