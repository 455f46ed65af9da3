//! TLS towards backends, compiled at publish time: the client configuration (trust roots or a
//! CA bundle, an optional client certificate, ALPN `h2` then `http/1.1`), the name sent in SNI
//! and verified, and a key that keeps connections of different settings in different pools.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, OnceLock};

use pylon_model::{BackendTls, ServedCertificate};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// How one backend's connections are made secure.
pub(crate) struct TlsConnect {
    pub(crate) connector: tokio_rustls::TlsConnector,
    /// ALPN `http/1.1` only: for WebSocket upgrades, which HTTP/2 does not carry here.
    pub(crate) connector_http1: tokio_rustls::TlsConnector,
    pub(crate) server_name: ServerName<'static>,
    /// The name the certificate is checked against, or why nothing is checked (debug trace).
    pub(crate) verified: String,
    /// Hash of the settings: equal for the same settings in every snapshot.
    pub(crate) key: u64,
}

impl std::fmt::Debug for TlsConnect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConnect")
            .field("verified", &self.verified)
            .finish_non_exhaustive()
    }
}

/// The certificates a backend may present as its client certificate, by name.
#[derive(Default)]
pub(crate) struct ClientCertificates {
    by_name: HashMap<String, ClientCertificate>,
}

struct ClientCertificate {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    /// Part of the settings key: a replaced certificate gets new connections.
    updated_at: i64,
}

impl ClientCertificates {
    pub(crate) fn build(served: &[ServedCertificate]) -> Self {
        let mut by_name = HashMap::new();
        for c in served {
            let chain = CertificateDer::pem_slice_iter(c.certificate.as_bytes())
                .collect::<Result<Vec<_>, _>>();
            let key = PrivateKeyDer::from_pem_slice(c.private_key.as_bytes());
            if let (Ok(chain), Ok(key)) = (chain, key) {
                by_name.insert(
                    c.name.clone(),
                    ClientCertificate {
                        chain,
                        key,
                        updated_at: c.updated_at,
                    },
                );
            }
        }
        ClientCertificates { by_name }
    }
}

pub(crate) fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// The system's trust roots, read once per process (a failure too, so a machine without roots
/// does not rescan its certificate store per compile or fetch). HTTPS backends, JWK Sets and
/// the OTLP exporter all verify against them.
pub(crate) fn system_roots() -> Result<Arc<RootCertStore>, String> {
    static ROOTS: OnceLock<Result<Arc<RootCertStore>, String>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            for e in &found.errors {
                tracing::warn!(error = %e, "loading the system's trust roots");
            }
            let mut roots = RootCertStore::empty();
            let (added, ignored) = roots.add_parsable_certificates(found.certs);
            if ignored > 0 {
                tracing::warn!(
                    ignored,
                    "some of the system's trust roots could not be parsed"
                );
            }
            if added == 0 {
                let why = match found.errors.first() {
                    Some(e) => format!(": {e}"),
                    None => String::new(),
                };
                return Err(format!(
                    "no trusted root certificates were found (the system store, or \
                     SSL_CERT_FILE / SSL_CERT_DIR; an HTTPS backend may give a ca_bundle){why}"
                ));
            }
            tracing::debug!(roots = added, "TLS client roots loaded");
            Ok(Arc::new(roots))
        })
        .clone()
}

/// Compiles `tls` for a backend whose default name (URL host, Host header) is `default_name`.
pub(crate) fn compile(
    tls: &BackendTls,
    default_name: &str,
    certificates: &ClientCertificates,
) -> Result<Arc<TlsConnect>, String> {
    let name = tls.server_name.as_deref().unwrap_or(default_name);
    let name = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(name);
    let server_name = ServerName::try_from(name.to_string())
        .map_err(|_| format!("TLS server name `{name}` is not a host name or IP address"))?;
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS client configuration: {e}"))?;
    let (builder, verified) = if tls.insecure {
        let verifier = Arc::new(AnyCertificate(provider()));
        let builder = builder
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        (builder, "not verified (insecure)".to_string())
    } else {
        let roots = match &tls.ca_bundle {
            Some(bundle) => Arc::new(ca_bundle(bundle)?),
            None => system_roots()?,
        };
        (builder.with_root_certificates(roots), name.to_string())
    };
    let mut hasher = std::hash::DefaultHasher::new();
    tls.hash(&mut hasher);
    name.hash(&mut hasher);
    let mut config = match &tls.client_certificate {
        None => builder.with_no_client_auth(),
        Some(wanted) => {
            let cert = certificates.by_name.get(wanted).ok_or_else(|| {
                format!("client certificate `{wanted}` does not exist (pylon certificate list)")
            })?;
            cert.updated_at.hash(&mut hasher);
            builder
                .with_client_auth_cert(cert.chain.clone(), cert.key.clone_key())
                .map_err(|e| format!("client certificate `{wanted}`: {e}"))?
        }
    };
    let mut http1 = config.clone();
    http1.alpn_protocols = vec![b"http/1.1".to_vec()];
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    if tls.insecure {
        tracing::warn!(
            server_name = name,
            "a backend's TLS certificate is not verified (tls.insecure)"
        );
    }
    Ok(Arc::new(TlsConnect {
        connector: tokio_rustls::TlsConnector::from(Arc::new(config)),
        connector_http1: tokio_rustls::TlsConnector::from(Arc::new(http1)),
        server_name,
        verified,
        key: hasher.finish(),
    }))
}

/// Checks a CA bundle as compiling it would: for the admin API, when it is configured.
pub fn check_ca_bundle(bundle: &str) -> Result<(), String> {
    ca_bundle(bundle).map(|_| ())
}

fn ca_bundle(bundle: &str) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(bundle.as_bytes()) {
        let cert = cert.map_err(|e| format!("ca_bundle is not valid PEM: {e}"))?;
        roots
            .add(cert)
            .map_err(|e| format!("ca_bundle holds a certificate that cannot be a root: {e}"))?;
    }
    if roots.is_empty() {
        return Err("ca_bundle holds no certificate".into());
    }
    Ok(roots)
}

/// `tls.insecure`: any certificate is accepted; the handshake's signatures are still checked
/// against the key it carries, so the session is at least bound to that key.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_give_stable_keys_and_names_are_checked() {
        let ca = rcgen::generate_simple_self_signed(vec!["ca.test".to_string()]).unwrap();
        let tls = BackendTls {
            ca_bundle: Some(ca.cert.pem()),
            ..Default::default()
        };
        let none = ClientCertificates::default();
        let a = compile(&tls, "api.internal", &none).unwrap();
        let b = compile(&tls, "api.internal", &none).unwrap();
        let c = compile(&tls, "other.internal", &none).unwrap();
        assert_eq!(a.key, b.key);
        assert_ne!(a.key, c.key);
        assert_eq!(a.verified, "api.internal");
        assert!(compile(&tls, "[::1]", &none).is_ok());
        assert!(compile(&tls, "bad name!", &none).is_err());
        let missing = BackendTls {
            client_certificate: Some("nope".into()),
            ..tls.clone()
        };
        let e = compile(&missing, "api.internal", &none).unwrap_err();
        assert!(e.contains("`nope` does not exist"), "{e}");
        assert!(
            check_ca_bundle("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----")
                .is_err()
        );
        assert!(check_ca_bundle(&ca.cert.pem()).is_ok());
    }
}
