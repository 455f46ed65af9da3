//! Reading an uploaded certificate: the PEM chain and key parsed with the same code the HTTPS
//! listener loads them with, so what the admin API accepts is what the listener can serve.

use std::sync::Arc;

use rustls::SignatureAlgorithm;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use x509_cert::Certificate as X509;
use x509_cert::der::Decode;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

/// Why an uploaded chain or key cannot be served; each names what to fix.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CertificateError {
    #[error("no PEM `CERTIFICATE` block found")]
    NoCertificate,
    #[error("{0}")]
    BadCertificate(String),
    #[error("no PEM private key block found (PKCS#8, PKCS#1 RSA or SEC1 EC)")]
    NoKey,
    #[error("{0}")]
    UnsupportedKey(String),
    #[error("the key does not belong to the first certificate of the chain")]
    KeyMismatch,
    #[error("expired at {0} (UTC)")]
    Expired(String),
    #[error("not valid before {0} (UTC)")]
    NotYetValid(String),
    #[error("lists no DNS name (subject alternative name or common name)")]
    NoNames,
}

impl CertificateError {
    /// The uploaded field at fault: `certificate` or `private_key`.
    pub fn field(&self) -> &'static str {
        match self {
            CertificateError::NoKey
            | CertificateError::UnsupportedKey(_)
            | CertificateError::KeyMismatch => "private_key",
            _ => "certificate",
        }
    }
}

/// What a valid certificate says, for the admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    /// DNS subject alternative names (or the common name when there are none), lowercase.
    pub names: Vec<String>,
    pub subject: String,
    pub issuer: String,
    /// `RSA`, `ECDSA` or `Ed25519`.
    pub key_type: &'static str,
    /// Unix milliseconds.
    pub not_before: i64,
    pub not_after: i64,
}

/// Checks that `key_pem` is a supported key for the first certificate of `chain_pem`, that the
/// certificate is valid at `now_ms` and lists at least one name; returns what it says.
pub fn inspect(
    chain_pem: &str,
    key_pem: &str,
    now_ms: i64,
) -> Result<CertificateInfo, CertificateError> {
    let (certified, info) = load(chain_pem, key_pem)?;
    drop(certified);
    if now_ms > info.not_after {
        return Err(CertificateError::Expired(utc(info.not_after)));
    }
    if now_ms < info.not_before {
        return Err(CertificateError::NotYetValid(utc(info.not_before)));
    }
    Ok(info)
}

/// The chain and key as the listener serves them, and what the certificate says. Validity is
/// not checked here: a certificate that expires while served is still presented (clients
/// judge it), as nginx does, rather than failing handshakes with no certificate at all.
pub(crate) fn load(
    chain_pem: &str,
    key_pem: &str,
) -> Result<(Arc<CertifiedKey>, CertificateInfo), CertificateError> {
    let chain = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CertificateError::BadCertificate(format!("not valid PEM: {e}")))?;
    let Some(leaf) = chain.first() else {
        return Err(CertificateError::NoCertificate);
    };
    let parsed = X509::from_der(leaf.as_ref())
        .map_err(|e| CertificateError::BadCertificate(format!("not an X.509 certificate: {e}")))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => CertificateError::NoKey,
        other => CertificateError::UnsupportedKey(format!("not valid PEM: {other}")),
    })?;
    let signing = rustls::crypto::ring::sign::any_supported_type(&key).map_err(|e| {
        CertificateError::UnsupportedKey(format!(
            "not an RSA (2048 bits or more), ECDSA P-256/P-384 or Ed25519 key: {e}"
        ))
    })?;
    let key_type = match signing.algorithm() {
        SignatureAlgorithm::RSA => "RSA",
        SignatureAlgorithm::ECDSA => "ECDSA",
        SignatureAlgorithm::ED25519 => "Ed25519",
        _ => "other",
    };
    let certified = CertifiedKey::new(chain, signing);
    certified
        .keys_match()
        .map_err(|_| CertificateError::KeyMismatch)?;
    let tbs = &parsed.tbs_certificate;
    let mut names = dns_names(&parsed)?;
    if names.is_empty() {
        names = common_name(&parsed).into_iter().collect();
    }
    if names.is_empty() {
        return Err(CertificateError::NoNames);
    }
    let millis = |d: std::time::Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    let info = CertificateInfo {
        names,
        subject: tbs.subject.to_string(),
        issuer: tbs.issuer.to_string(),
        key_type,
        not_before: millis(tbs.validity.not_before.to_unix_duration()),
        not_after: millis(tbs.validity.not_after.to_unix_duration()),
    };
    Ok((Arc::new(certified), info))
}

fn dns_names(cert: &X509) -> Result<Vec<String>, CertificateError> {
    let san = cert.tbs_certificate.get::<SubjectAltName>().map_err(|e| {
        CertificateError::BadCertificate(format!("unreadable subject alt names: {e}"))
    })?;
    let mut names: Vec<String> = san
        .map(|(_, san)| san.0)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|name| match name {
            GeneralName::DnsName(dns) => {
                Some(dns.as_str().trim_end_matches('.').to_ascii_lowercase())
            }
            _ => None,
        })
        .collect();
    names.dedup();
    Ok(names)
}

/// The subject's common name, when it looks like a host name (old certificates without SANs).
fn common_name(cert: &X509) -> Option<String> {
    let cn = x509_cert::der::oid::db::rfc4519::COMMON_NAME;
    let value = cert
        .tbs_certificate
        .subject
        .0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .find(|atv| atv.oid == cn)?;
    let text = std::str::from_utf8(value.value.value()).ok()?;
    let name = text.trim_end_matches('.').to_ascii_lowercase();
    let plausible = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'*'));
    plausible.then_some(name)
}

fn utc(ms: i64) -> String {
    let seconds = ms.div_euclid(1000);
    jiff::Timestamp::from_second(seconds).map_or_else(|_| ms.to_string(), |t| t.to_string())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A self-signed certificate for `names` and its key, both PEM.
    pub(crate) fn self_signed(names: &[&str]) -> (String, String) {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let rcgen::CertifiedKey { cert, signing_key } =
            rcgen::generate_simple_self_signed(names).unwrap();
        (cert.pem(), signing_key.serialize_pem())
    }

    const NOW: i64 = 1_800_000_000_000;

    #[test]
    fn a_matching_chain_and_key_say_their_names_issuer_and_validity() {
        let (chain, key) = self_signed(&["api.example.com", "*.example.com"]);
        let info = inspect(&chain, &key, NOW).unwrap();
        assert_eq!(info.names, ["api.example.com", "*.example.com"]);
        assert_eq!(info.key_type, "ECDSA");
        assert!(info.issuer.contains("rcgen"), "{}", info.issuer);
        assert!(info.not_after > NOW);
    }

    #[test]
    fn every_key_kind_loads() {
        for alg in [
            &rcgen::PKCS_ED25519,
            &rcgen::PKCS_ECDSA_P384_SHA384,
            &rcgen::PKCS_ECDSA_P256_SHA256,
        ] {
            let key = rcgen::KeyPair::generate_for(alg).unwrap();
            let cert = rcgen::CertificateParams::new(vec!["k.example.com".to_string()])
                .unwrap()
                .self_signed(&key)
                .unwrap();
            let info = inspect(&cert.pem(), &key.serialize_pem(), NOW).unwrap();
            assert!(["Ed25519", "ECDSA"].contains(&info.key_type));
        }
    }

    #[test]
    fn a_key_of_another_certificate_is_refused() {
        let (chain, _) = self_signed(&["a.example.com"]);
        let (_, other_key) = self_signed(&["a.example.com"]);
        assert_eq!(
            inspect(&chain, &other_key, NOW),
            Err(CertificateError::KeyMismatch)
        );
    }

    #[test]
    fn garbage_and_missing_blocks_are_named() {
        let (chain, key) = self_signed(&["a.example.com"]);
        assert_eq!(
            inspect("hello", &key, NOW),
            Err(CertificateError::NoCertificate)
        );
        assert_eq!(inspect(&chain, "hello", NOW), Err(CertificateError::NoKey));
        let broken = chain.replace("MII", "M!I");
        assert!(matches!(
            inspect(&broken, &key, NOW),
            Err(CertificateError::BadCertificate(_))
        ));
    }

    #[test]
    fn an_expired_or_future_certificate_is_refused() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["old.example.com".into()]).unwrap();
        params.not_before = rcgen::date_time_ymd(2001, 1, 1);
        params.not_after = rcgen::date_time_ymd(2002, 1, 1);
        let cert = params.self_signed(&key).unwrap();
        let e = inspect(&cert.pem(), &key.serialize_pem(), NOW).unwrap_err();
        assert_eq!(e.to_string(), "expired at 2002-01-01T00:00:00Z (UTC)");
        let e = inspect(&cert.pem(), &key.serialize_pem(), 0).unwrap_err();
        assert!(matches!(e, CertificateError::NotYetValid(_)), "{e}");
    }

    #[test]
    fn a_certificate_without_names_is_refused() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        let cert = params.self_signed(&key).unwrap();
        assert_eq!(
            inspect(&cert.pem(), &key.serialize_pem(), NOW),
            Err(CertificateError::NoNames)
        );
    }
}
