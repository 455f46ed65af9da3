//! TLS on the client side of the gateway: uploaded certificates read (`certificate`), the
//! table a handshake picks one from by SNI (`table`), and the rustls configuration of the
//! HTTPS listener: TLS 1.2 and 1.3 only, ALPN `h2` then `http/1.1`, session tickets.

pub(crate) mod certificate;
pub(crate) mod table;

use std::sync::Arc;

use rustls::ServerConfig;
use rustls::server::ResolvesServerCert;

/// The HTTPS listener's configuration; certificates come from `resolver` per handshake.
pub(crate) fn server_config(
    resolver: Arc<dyn ResolvesServerCert>,
) -> Result<Arc<ServerConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    // Stateless resumption, as nginx offers by default: a returning client skips the
    // certificate exchange and signature.
    config.ticketer = rustls::crypto::ring::Ticketer::new()?;
    Ok(Arc::new(config))
}
