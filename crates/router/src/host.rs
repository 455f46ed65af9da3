//! Host header to group: custom domains (exact, or a leading `*.` wildcard) and each group's
//! default subdomain `<group-id>.<base-domain>`.

use foldhash::HashMap;
use std::collections::hash_map::Entry;

use pylon_model::Group;

use crate::RouteError;
use crate::lookup::{EnvId, GroupId, HostMatch};

/// Longest host name DNS allows, plus room for a trailing dot.
const MAX_HOST_LEN: usize = 255;

/// Host names, already lowercase and without port or trailing dot, to groups (and to the
/// environment of a domain bound to one).
#[derive(Debug, Default)]
pub(crate) struct HostTable {
    exact: HashMap<Box<[u8]>, HostMatch>,
    /// `*.example.com` is stored under `example.com`.
    wildcard: HashMap<Box<[u8]>, HostMatch>,
    stage_paths: bool,
}

impl HostTable {
    /// `environment` resolves a domain's bound environment; a domain bound to an environment
    /// the snapshot does not hold serves nothing (it must not fall back to all of them).
    pub(crate) fn build(
        groups: &[Group],
        base_domain: &str,
        environment: impl Fn(&str) -> Option<EnvId>,
    ) -> Result<Self, RouteError> {
        let mut table = HostTable::default();
        let base = base_domain.trim().trim_matches('.');
        for (index, group) in groups.iter().enumerate() {
            let id = GroupId(index as u32);
            for domain in &group.domains {
                let bound = match domain.environment.as_deref() {
                    None => None,
                    Some(name) => match environment(name) {
                        Some(env) => Some(env),
                        None => continue,
                    },
                };
                table.stage_paths |= domain.stage_path.is_some();
                let to = HostMatch {
                    group: id,
                    environment: bound,
                    stage_path: domain.stage_path,
                    aws_errors: domain.error_format == pylon_model::ErrorFormat::Aws,
                };
                let name = domain
                    .name
                    .trim()
                    .trim_end_matches('.')
                    .to_ascii_lowercase();
                match name.strip_prefix("*.") {
                    Some(suffix) => table.bind(true, suffix, to, groups)?,
                    None => table.bind(false, &name, to, groups)?,
                }
            }
            // Without a base domain there is no default subdomain to serve.
            if !base.is_empty() {
                let to = HostMatch {
                    group: id,
                    environment: None,
                    stage_path: None,
                    aws_errors: false,
                };
                table.bind(false, &group.default_domain(base), to, groups)?;
            }
        }
        Ok(table)
    }

    fn bind(
        &mut self,
        wildcard: bool,
        name: &str,
        to: HostMatch,
        groups: &[Group],
    ) -> Result<(), RouteError> {
        let map = if wildcard {
            &mut self.wildcard
        } else {
            &mut self.exact
        };
        match map.entry(name.as_bytes().into()) {
            Entry::Vacant(slot) => {
                slot.insert(to);
                Ok(())
            }
            // A group listing the same domain twice is harmless.
            Entry::Occupied(slot) if slot.get().group == to.group => Ok(()),
            Entry::Occupied(slot) => Err(RouteError::DomainConflict {
                domain: if wildcard {
                    format!("*.{name}")
                } else {
                    name.to_string()
                },
                first_group: groups[slot.get().group.0 as usize].id.clone(),
                second_group: groups[to.group.0 as usize].id.clone(),
            }),
        }
    }

    pub(crate) fn has_stage_paths(&self) -> bool {
        self.stage_paths
    }

    /// Exact names win; then the most specific wildcard. A wildcard covers any depth of
    /// subdomains (`*.example.com` serves `a.b.example.com` too, as nginx's `*.` does), but
    /// never the bare `example.com`.
    pub(crate) fn lookup(&self, host: &str) -> Option<HostMatch> {
        let mut buf = [0u8; MAX_HOST_LEN];
        let host = normalize_host(host.as_bytes(), &mut buf)?;
        if let Some(found) = self.exact.get(host) {
            return Some(*found);
        }
        if self.wildcard.is_empty() {
            return None;
        }
        let mut rest = host;
        while let Some(dot) = rest.iter().position(|&b| b == b'.') {
            rest = &rest[dot + 1..];
            if let Some(found) = self.wildcard.get(rest) {
                return Some(*found);
            }
        }
        None
    }
}

/// Strips `:port` (also after a bracketed IPv6 literal), surrounding whitespace and a trailing
/// dot, and lowercases into `buf`, so a lookup does not allocate. `None` for names too long to
/// be a host. Bytes, not `str`: every request looks its host up, and the `str` searches and
/// the UTF-8 check of the result cost more than the hash look-up.
fn normalize_host<'b>(raw: &[u8], buf: &'b mut [u8; MAX_HOST_LEN]) -> Option<&'b [u8]> {
    let raw = raw.trim_ascii();
    let host = if raw.first() == Some(&b'[') {
        // `[::1]:8080`: the port, if any, follows the closing bracket.
        match raw.iter().position(|&b| b == b']') {
            Some(end) => &raw[..=end],
            None => raw,
        }
    } else {
        let digits = raw.iter().rev().take_while(|b| b.is_ascii_digit()).count();
        match (raw.len() - digits).checked_sub(1) {
            // A bare IPv6 literal has several colons and no port we could tell apart.
            Some(colon) if raw[colon] == b':' && !raw[..colon].contains(&b':') => &raw[..colon],
            _ => raw,
        }
    };
    let end = host
        .iter()
        .rposition(|&b| b != b'.')
        .map_or(0, |last| last + 1);
    let host = &host[..end];
    let out = buf.get_mut(..host.len())?;
    out.copy_from_slice(host);
    out.make_ascii_lowercase();
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pylon_model::Domain;

    fn group(id: &str, domains: &[&str]) -> Group {
        Group {
            id: id.into(),
            name: id.into(),
            description: String::new(),
            domains: domains
                .iter()
                .map(|d| Domain {
                    name: (*d).to_string(),
                    environment: None,
                    ..Default::default()
                })
                .collect(),
            created_at: 0,
            updated_at: 0,
        }
    }

    fn build(groups: &[Group], base_domain: &str) -> Result<HostTable, RouteError> {
        let envs = ["RELEASE", "TEST"];
        HostTable::build(groups, base_domain, |name| {
            envs.iter()
                .position(|e| *e == name)
                .map(|i| EnvId(i as u32))
        })
    }

    fn table() -> HostTable {
        build(
            &[
                group("aa01", &["api.example.com", "*.example.com"]),
                group("bb02", &["special.example.com", "*.deep.example.com"]),
            ],
            "gw.local",
        )
        .unwrap()
    }

    impl HostTable {
        fn group(&self, host: &str) -> Option<GroupId> {
            self.lookup(host).map(|m| m.group)
        }
    }

    #[test]
    fn a_host_header_is_normalised_before_it_is_looked_up() {
        let norm = |raw: &str| {
            let mut buf = [0u8; MAX_HOST_LEN];
            normalize_host(raw.as_bytes(), &mut buf)
                .map(|h| String::from_utf8_lossy(h).into_owned())
        };
        for (raw, want) in [
            ("API.Example.COM", "api.example.com"),
            ("api.example.com:8443", "api.example.com"),
            (" api.example.com.:80 ", "api.example.com"),
            ("api.example.com..", "api.example.com"),
            ("api.example.com:", "api.example.com"),
            ("api.example.com:80x", "api.example.com:80x"),
            ("[::1]:8080", "[::1]"),
            ("[::1]", "[::1]"),
            ("::1", "::1"),
            ("fe80::1:443", "fe80::1:443"),
            ("127.0.0.1:9000", "127.0.0.1"),
            ("", ""),
        ] {
            assert_eq!(norm(raw).as_deref(), Some(want), "{raw:?}");
        }
        assert_eq!(
            norm(&"a".repeat(MAX_HOST_LEN)).map(|h| h.len()),
            Some(MAX_HOST_LEN)
        );
        assert_eq!(norm(&"a".repeat(MAX_HOST_LEN + 1)), None);
    }

    #[test]
    fn a_domain_bound_to_an_environment_carries_it() {
        let mut g = group("aa01", &["api.example.com"]);
        for (name, env) in [("test.example.com", "TEST"), ("*.gone.example.com", "GONE")] {
            g.domains.push(Domain {
                name: name.into(),
                environment: Some(env.into()),
                ..Default::default()
            });
        }
        let t = build(&[g], "gw.local").unwrap();
        let bound = t.lookup("test.example.com").unwrap();
        assert_eq!(
            (bound.group, bound.environment),
            (GroupId(0), Some(EnvId(1)))
        );
        assert_eq!(t.lookup("api.example.com").unwrap().environment, None);
        assert_eq!(t.lookup("aa01.gw.local").unwrap().environment, None);
        // Bound to an environment that is not in the snapshot: served nowhere, not everywhere.
        assert_eq!(t.lookup("x.gone.example.com"), None);
    }

    #[test]
    fn custom_domains_select_their_group() {
        let t = table();
        assert_eq!(t.group("api.example.com"), Some(GroupId(0)));
        assert_eq!(t.group("special.example.com"), Some(GroupId(1)));
    }

    #[test]
    fn default_subdomain_selects_the_group() {
        let t = table();
        assert_eq!(t.group("aa01.gw.local"), Some(GroupId(0)));
        assert_eq!(t.group("bb02.gw.local:8080"), Some(GroupId(1)));
        assert_eq!(t.group("cc03.gw.local"), None);
    }

    #[test]
    fn port_case_and_trailing_dot_are_ignored() {
        let t = table();
        assert_eq!(t.group("API.Example.COM:443"), Some(GroupId(0)));
        assert_eq!(t.group("api.example.com."), Some(GroupId(0)));
        assert_eq!(t.group("api.example.com.:80"), Some(GroupId(0)));
    }

    #[test]
    fn ipv6_literal_port_is_stripped() {
        let t = build(&[group("aa01", &["[::1]"])], "").unwrap();
        assert_eq!(t.group("[::1]:8080"), Some(GroupId(0)));
        assert_eq!(t.group("[::1]"), Some(GroupId(0)));
        assert_eq!(t.group("::1"), None);
    }

    #[test]
    fn wildcard_matches_subdomains_and_exact_wins() {
        let t = table();
        assert_eq!(t.group("a.example.com"), Some(GroupId(0)));
        assert_eq!(t.group("a.b.example.com"), Some(GroupId(0)));
        // Most specific wildcard first.
        assert_eq!(t.group("x.deep.example.com"), Some(GroupId(1)));
        // Exact beats the wildcard that also covers it.
        assert_eq!(t.group("special.example.com"), Some(GroupId(1)));
        // The wildcard does not cover the bare domain.
        assert_eq!(t.group("example.com"), None);
    }

    #[test]
    fn unknown_hosts_find_nothing() {
        let t = table();
        assert_eq!(t.group("other.org"), None);
        assert_eq!(t.group(""), None);
        assert_eq!(t.group(&"a".repeat(300)), None);
    }

    #[test]
    fn one_domain_on_two_groups_is_a_conflict() {
        let err = build(
            &[
                group("aa01", &["api.x.com"]),
                group("bb02", &["API.x.com."]),
            ],
            "gw.local",
        )
        .unwrap_err();
        assert_eq!(
            err,
            RouteError::DomainConflict {
                domain: "api.x.com".into(),
                first_group: "aa01".into(),
                second_group: "bb02".into(),
            }
        );
    }

    #[test]
    fn no_base_domain_means_no_default_subdomains() {
        let t = build(&[group("aa01", &[])], "").unwrap();
        assert_eq!(t.group("aa01."), None);
        assert_eq!(t.group("aa01"), None);
    }
}
