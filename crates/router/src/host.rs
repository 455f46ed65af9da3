//! Host header to group: custom domains (exact, or a leading `*.` wildcard) and each group's
//! default subdomain `<group-id>.<base-domain>`.

use foldhash::HashMap;
use std::collections::hash_map::Entry;

use pylon_model::Group;

use crate::{GroupId, RouteError};

/// Longest host name DNS allows, plus room for a trailing dot.
const MAX_HOST_LEN: usize = 255;

/// Host names, already lowercase and without port or trailing dot, to groups.
#[derive(Debug, Default)]
pub(crate) struct HostTable {
    exact: HashMap<Box<str>, GroupId>,
    /// `*.example.com` is stored under `example.com`.
    wildcard: HashMap<Box<str>, GroupId>,
}

impl HostTable {
    pub(crate) fn build(groups: &[Group], base_domain: &str) -> Result<Self, RouteError> {
        let mut table = HostTable::default();
        let base = base_domain.trim().trim_matches('.');
        for (index, group) in groups.iter().enumerate() {
            let id = GroupId(index as u32);
            for domain in &group.domains {
                let name = domain
                    .name
                    .trim()
                    .trim_end_matches('.')
                    .to_ascii_lowercase();
                match name.strip_prefix("*.") {
                    Some(suffix) => table.bind(true, suffix, id, groups)?,
                    None => table.bind(false, &name, id, groups)?,
                }
            }
            // Without a base domain there is no default subdomain to serve.
            if !base.is_empty() {
                table.bind(false, &group.default_domain(base), id, groups)?;
            }
        }
        Ok(table)
    }

    fn bind(
        &mut self,
        wildcard: bool,
        name: &str,
        id: GroupId,
        groups: &[Group],
    ) -> Result<(), RouteError> {
        let map = if wildcard {
            &mut self.wildcard
        } else {
            &mut self.exact
        };
        match map.entry(name.into()) {
            Entry::Vacant(slot) => {
                slot.insert(id);
                Ok(())
            }
            // A group listing the same domain twice is harmless.
            Entry::Occupied(slot) if *slot.get() == id => Ok(()),
            Entry::Occupied(slot) => Err(RouteError::DomainConflict {
                domain: if wildcard {
                    format!("*.{name}")
                } else {
                    name.to_string()
                },
                first_group: groups[slot.get().0 as usize].id.clone(),
                second_group: groups[id.0 as usize].id.clone(),
            }),
        }
    }

    /// Exact names win; then the most specific wildcard. A wildcard covers any depth of
    /// subdomains (`*.example.com` serves `a.b.example.com` too, as nginx's `*.` does), but
    /// never the bare `example.com`.
    pub(crate) fn group(&self, host: &str) -> Option<GroupId> {
        let mut buf = [0u8; MAX_HOST_LEN];
        let host = normalize_host(host, &mut buf)?;
        if let Some(id) = self.exact.get(host) {
            return Some(*id);
        }
        if self.wildcard.is_empty() {
            return None;
        }
        let mut rest = host;
        while let Some((_, tail)) = rest.split_once('.') {
            if let Some(id) = self.wildcard.get(tail) {
                return Some(*id);
            }
            rest = tail;
        }
        None
    }
}

/// Strips `:port` (also after a bracketed IPv6 literal), surrounding whitespace and a trailing
/// dot, and lowercases into `buf`, so a lookup does not allocate. `None` for names too long to
/// be a host.
fn normalize_host<'b>(raw: &str, buf: &'b mut [u8; MAX_HOST_LEN]) -> Option<&'b str> {
    let raw = raw.trim();
    let host = if raw.starts_with('[') {
        // `[::1]:8080`: the port, if any, follows the closing bracket.
        match raw.find(']') {
            Some(end) => &raw[..=end],
            None => raw,
        }
    } else {
        match raw.rsplit_once(':') {
            // A bare IPv6 literal has several colons and no port we could tell apart.
            Some((name, port))
                if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) =>
            {
                name
            }
            _ => raw,
        }
    };
    let host = host.trim_end_matches('.');
    let out = buf.get_mut(..host.len())?;
    out.copy_from_slice(host.as_bytes());
    out.make_ascii_lowercase();
    // Lowercasing ASCII bytes keeps UTF-8 valid; this never fails.
    std::str::from_utf8(out).ok()
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
                })
                .collect(),
            created_at: 0,
            updated_at: 0,
        }
    }

    fn table() -> HostTable {
        HostTable::build(
            &[
                group("aa01", &["api.example.com", "*.example.com"]),
                group("bb02", &["special.example.com", "*.deep.example.com"]),
            ],
            "gw.local",
        )
        .unwrap()
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
        let t = HostTable::build(&[group("aa01", &["[::1]"])], "").unwrap();
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
        let err = HostTable::build(
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
        let t = HostTable::build(&[group("aa01", &[])], "").unwrap();
        assert_eq!(t.group("aa01."), None);
        assert_eq!(t.group("aa01"), None);
    }
}
