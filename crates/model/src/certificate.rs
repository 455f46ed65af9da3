//! TLS certificates: a PEM chain and its private key, served by the HTTPS listener to the
//! host names the chain lists (picked by SNI), or bound to a group's custom domain.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ValidationError, check, non_empty_name};

/// Longest PEM accepted for a chain or a key: a chain of a few certificates is a few KiB.
pub const MAX_PEM_LEN: usize = 64 * 1024;

/// What a user uploads to create or replace a certificate.
#[derive(Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CertificateSpec {
    /// Unique name of the resource (not a host name; the host names come from the chain).
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// PEM: the server certificate first, then the intermediates.
    pub certificate: String,
    /// PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC) for the first certificate: RSA (at
    /// least 2048 bits), ECDSA P-256/P-384 or Ed25519. Sealed at rest, never returned.
    pub private_key: String,
    /// Also served to clients that send no SNI (or a name no certificate lists). At most one
    /// certificate is the default.
    #[serde(default)]
    pub default: bool,
}

impl std::fmt::Debug for CertificateSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateSpec")
            .field("name", &self.name)
            .field("default", &self.default)
            .finish_non_exhaustive()
    }
}

impl CertificateSpec {
    /// The checks that need no parsing; the chain and key are inspected by the gateway.
    pub fn validate(&self) -> Result<(), ValidationError> {
        non_empty_name(&self.name, "name", 60)?;
        check(
            !self.certificate.trim().is_empty(),
            "certificate",
            "a PEM certificate chain is required",
        )?;
        check(
            !self.private_key.trim().is_empty(),
            "private_key",
            "a PEM private key is required",
        )?;
        check(
            self.certificate.len() <= MAX_PEM_LEN,
            "certificate",
            format!("must be at most {MAX_PEM_LEN} bytes"),
        )?;
        check(
            self.private_key.len() <= MAX_PEM_LEN,
            "private_key",
            format!("must be at most {MAX_PEM_LEN} bytes"),
        )
    }
}

/// A stored certificate as the admin API shows it: what the chain says, never the key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Certificate {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The chain as uploaded (PEM).
    pub certificate: String,
    /// Host names the server certificate is valid for (its DNS subject alternative names,
    /// or its common name when it has none), lowercase; `*.example.com` for wildcards.
    pub domains: Vec<String>,
    /// The server certificate's subject and issuer, as RFC 4514 strings.
    pub subject: String,
    pub issuer: String,
    /// `RSA`, `ECDSA` or `Ed25519`.
    pub key_type: String,
    /// Validity of the server certificate, Unix milliseconds.
    pub not_before: i64,
    pub expires_at: i64,
    #[serde(default)]
    pub default: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Certificate {
    /// Whether the chain is valid for `host` (lowercase): a listed name, or a wildcard
    /// `*.parent` for a host one label below `parent`.
    pub fn covers(&self, host: &str) -> bool {
        self.domains.iter().any(|name| name_covers(name, host))
    }
}

/// Whether certificate name `name` (`a.example.com` or `*.example.com`) is valid for `host`.
pub fn name_covers(name: &str, host: &str) -> bool {
    match name.strip_prefix("*.") {
        Some(parent) => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == parent),
        None => name == host,
    }
}

/// A certificate as the data plane loads it: the chain and the key in the clear.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct ServedCertificate {
    pub id: String,
    pub name: String,
    pub certificate: String,
    pub private_key: String,
    pub default: bool,
    /// Changes whenever the chain or key may have: the data plane reloads the key then.
    pub updated_at: i64,
}

impl std::fmt::Debug for ServedCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServedCertificate")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("default", &self.default)
            .field("updated_at", &self.updated_at)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_covers_one_label_only() {
        assert!(name_covers("*.example.com", "a.example.com"));
        assert!(!name_covers("*.example.com", "example.com"));
        assert!(!name_covers("*.example.com", "a.b.example.com"));
        assert!(!name_covers("*.example.com", ".example.com"));
        assert!(name_covers("api.example.com", "api.example.com"));
        assert!(!name_covers("api.example.com", "x.api.example.com"));
    }

    #[test]
    fn debug_never_prints_the_key() {
        let spec = CertificateSpec {
            name: "c".into(),
            description: String::new(),
            certificate: "chain".into(),
            private_key: "SECRET".into(),
            default: false,
        };
        assert!(!format!("{spec:?}").contains("SECRET"));
        let served = ServedCertificate {
            id: "i".into(),
            name: "c".into(),
            certificate: "chain".into(),
            private_key: "SECRET".into(),
            default: false,
            updated_at: 1,
        };
        assert!(!format!("{served:?}").contains("SECRET"));
    }
}
