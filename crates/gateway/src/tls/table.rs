//! Which certificate a handshake gets: a table from host name to loaded chain and key, built
//! when certificates or domains change and swapped in whole, so a new or replaced certificate
//! serves the next handshake while connections already open keep theirs.
//!
//! For a ClientHello naming `host`: the certificate bound to the custom domain `host`, else
//! one listing `host`, else one listing `*.parent` (one label below), else the default
//! certificate; with no SNI, the default certificate. Nothing found: the handshake is refused
//! with an alert, before any certificate is sent. Between certificates listing the same name,
//! the one that expires last wins (the newer of two during a rotation).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use pylon_model::{Group, ServedCertificate};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::certificate;

/// One certificate, loaded.
struct Loaded {
    id: String,
    name: String,
    updated_at: i64,
    default: bool,
    names: Vec<String>,
    not_after: i64,
    key: Arc<CertifiedKey>,
}

#[derive(Default)]
pub(crate) struct CertificateTable {
    exact: HashMap<Box<str>, Arc<CertifiedKey>>,
    /// By the parent of `*.parent`.
    wildcard: HashMap<Box<str>, Arc<CertifiedKey>>,
    default: Option<Arc<CertifiedKey>>,
}

impl CertificateTable {
    fn build(loaded: &[Loaded], groups: &[Group]) -> CertificateTable {
        let mut table = CertificateTable::default();
        let mut expiry: HashMap<(bool, &str), i64> = HashMap::new();
        for c in loaded {
            for name in &c.names {
                let (wild, key) = split_wildcard(name);
                let later = expiry.get(&(wild, key)).is_none_or(|at| c.not_after > *at);
                if later {
                    expiry.insert((wild, key), c.not_after);
                    table.map(wild).insert(key.into(), c.key.clone());
                }
            }
            if c.default {
                table.default = Some(c.key.clone());
            }
        }
        for domain in groups.iter().flat_map(|g| &g.domains) {
            let Some(bound) = &domain.certificate else {
                continue;
            };
            let Some(c) = loaded.iter().find(|c| c.name == *bound) else {
                continue;
            };
            let (wild, key) = split_wildcard(&domain.name);
            table.map(wild).insert(key.into(), c.key.clone());
        }
        table
    }

    fn map(&mut self, wildcard: bool) -> &mut HashMap<Box<str>, Arc<CertifiedKey>> {
        if wildcard {
            &mut self.wildcard
        } else {
            &mut self.exact
        }
    }

    pub(crate) fn resolve(&self, server_name: Option<&str>) -> Option<Arc<CertifiedKey>> {
        let Some(name) = server_name else {
            return self.default.clone();
        };
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        self.exact
            .get(name.as_str())
            .or_else(|| {
                let (_, parent) = name.split_once('.')?;
                self.wildcard.get(parent)
            })
            .or(self.default.as_ref())
            .cloned()
    }
}

/// `*.parent` as (true, `parent`); any other name as (false, the name).
fn split_wildcard(name: &str) -> (bool, &str) {
    match name.strip_prefix("*.") {
        Some(parent) => (true, parent),
        None => (false, name),
    }
}

/// The gateway's certificates: what is loaded, and the table handshakes read.
#[derive(Default)]
pub(crate) struct Certificates {
    loaded: Mutex<Vec<Loaded>>,
    table: Arc<ArcSwap<CertificateTable>>,
}

impl Certificates {
    /// Rebuilds the table for `groups`; with `served`, first loads the certificates that are
    /// new or changed since the last call (the others keep their loaded keys) and forgets the
    /// ones gone.
    pub(crate) fn apply(&self, served: Option<&[ServedCertificate]>, groups: &[Group]) {
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(served) = served {
            let mut previous = std::mem::take(&mut *loaded);
            for s in served {
                let kept = previous
                    .iter()
                    .position(|l| l.id == s.id && l.updated_at == s.updated_at)
                    .map(|at| previous.swap_remove(at));
                let next = match kept {
                    Some(mut l) => {
                        l.default = s.default;
                        l.name.clone_from(&s.name);
                        Some(l)
                    }
                    None => match certificate::load(&s.certificate, &s.private_key) {
                        Ok((key, info)) => Some(Loaded {
                            id: s.id.clone(),
                            name: s.name.clone(),
                            updated_at: s.updated_at,
                            default: s.default,
                            names: info.names,
                            not_after: info.not_after,
                            key,
                        }),
                        Err(e) => {
                            tracing::error!(certificate = s.name, error = %e, "certificate not served");
                            None
                        }
                    },
                };
                loaded.extend(next);
            }
        }
        self.table
            .store(Arc::new(CertificateTable::build(&loaded, groups)));
    }

    /// What the HTTPS listener's handshakes ask.
    pub(crate) fn resolver(&self) -> Arc<dyn ResolvesServerCert> {
        Arc::new(Resolver(self.table.clone()))
    }
}

struct Resolver(Arc<ArcSwap<CertificateTable>>);

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Resolver")
    }
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.0.load().resolve(hello.server_name())
    }
}

#[cfg(test)]
mod tests {
    use pylon_model::Domain;

    use super::*;
    use crate::tls::certificate::tests::self_signed;

    fn served(id: &str, names: &[&str], default: bool) -> ServedCertificate {
        let (certificate, private_key) = self_signed(names);
        ServedCertificate {
            id: id.into(),
            name: format!("cert-{id}"),
            certificate,
            private_key,
            default,
            updated_at: 1,
        }
    }

    fn leaf(key: Option<Arc<CertifiedKey>>) -> Option<Vec<u8>> {
        key.map(|k| k.cert[0].as_ref().to_vec())
    }

    #[test]
    fn exact_then_wildcard_then_default_and_no_sni_gets_the_default_only() {
        let certs = Certificates::default();
        let exact = served("a", &["api.example.com"], false);
        let wild = served("b", &["*.example.com"], false);
        certs.apply(Some(&[exact, wild]), &[]);
        let table = certs.table.load();
        let by = |n: &str| leaf(table.resolve(Some(n)));
        assert!(by("api.example.com").is_some());
        assert_ne!(by("api.example.com"), by("www.example.com"));
        assert_eq!(by("www.example.com"), by("WWW.Example.com."));
        assert_eq!(by("a.b.example.com"), None, "a wildcard covers one label");
        assert_eq!(by("example.com"), None);
        assert_eq!(table.resolve(None).map(|_| ()), None, "no SNI, no default");

        certs.apply(
            Some(&[
                served("a", &["api.example.com"], false),
                served("c", &["fallback.test"], true),
            ]),
            &[],
        );
        let table = certs.table.load();
        assert!(table.resolve(None).is_some());
        assert_eq!(
            leaf(table.resolve(Some("unknown.test"))),
            leaf(table.resolve(None))
        );
        assert_eq!(
            leaf(table.resolve(Some("www.example.com"))),
            leaf(table.resolve(None)),
            "the removed wildcard is gone"
        );
    }

    #[test]
    fn a_bound_domain_wins_over_other_certificates_listing_it() {
        let certs = Certificates::default();
        let a = served("a", &["api.example.com"], false);
        let b = served("b", &["*.example.com"], false);
        let group = Group {
            id: "g".into(),
            name: "g".into(),
            description: String::new(),
            domains: vec![Domain {
                name: "api.example.com".into(),
                certificate: Some("cert-b".into()),
                ..Default::default()
            }],
            created_at: 0,
            updated_at: 0,
        };
        certs.apply(Some(&[a, b]), &[]);
        let unbound = leaf(certs.table.load().resolve(Some("api.example.com")));
        certs.apply(None, std::slice::from_ref(&group));
        let table = certs.table.load();
        let bound = leaf(table.resolve(Some("api.example.com")));
        assert_ne!(bound, unbound);
        assert_eq!(bound, leaf(table.resolve(Some("www.example.com"))));
    }

    #[test]
    fn an_unchanged_certificate_keeps_its_loaded_key() {
        let certs = Certificates::default();
        let a = served("a", &["api.example.com"], false);
        certs.apply(Some(std::slice::from_ref(&a)), &[]);
        let first = certs.table.load().resolve(Some("api.example.com")).unwrap();
        certs.apply(Some(std::slice::from_ref(&a)), &[]);
        let second = certs.table.load().resolve(Some("api.example.com")).unwrap();
        assert!(Arc::ptr_eq(&first, &second));
    }
}
