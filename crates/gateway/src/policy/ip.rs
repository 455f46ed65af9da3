//! IP access control: an allow or deny list of addresses and CIDR ranges, for every caller and
//! per app, on the client's address (`request::client`: the peer's, or what a trusted proxy
//! says it is; a header from anyone else is never believed).

use std::collections::HashMap;
use std::net::IpAddr;

use http::{HeaderMap, Response};
use ipnet::IpNet;
use pylon_model::{IpAction, IpControlConfig, parse_ip_range};

use super::kind::{Binding, Policy, PolicyRequest};
use crate::error::GatewayError;
use crate::request::body::GatewayBody;

/// Before every other policy (CORS is 4000): a refused address gets no CORS answer and
/// costs no counter.
const PRIORITY: i32 = 5000;

#[derive(Debug)]
pub(crate) struct IpControlPolicy {
    action: IpAction,
    every_caller: Vec<IpNet>,
    /// By app id.
    per_app: HashMap<String, Vec<IpNet>>,
}

impl IpControlPolicy {
    pub(crate) fn compile(
        config: &IpControlConfig,
        _binding: &Binding<'_>,
    ) -> Result<Self, String> {
        let parse = |list: &[String]| -> Result<Vec<IpNet>, String> {
            list.iter().map(|a| parse_ip_range(a)).collect()
        };
        let mut per_app: HashMap<String, Vec<IpNet>> = HashMap::new();
        for app in &config.apps {
            let nets: Vec<IpNet> = parse(&app.addresses)?;
            per_app.entry(app.app_id.clone()).or_default().extend(nets);
        }
        Ok(IpControlPolicy {
            action: config.action,
            every_caller: parse(&config.addresses)?,
            per_app,
        })
    }

    /// Whether the address is listed, for every caller or for the calling app.
    fn listed(&self, ip: IpAddr, app_id: Option<&str>) -> bool {
        let within = |nets: &[IpNet]| nets.iter().any(|n| n.contains(&ip));
        within(&self.every_caller)
            || app_id
                .and_then(|id| self.per_app.get(id))
                .is_some_and(|nets| within(nets))
    }
}

impl Policy for IpControlPolicy {
    fn kind(&self) -> &'static str {
        "ip-control"
    }

    fn priority(&self) -> i32 {
        PRIORITY
    }

    fn on_request(
        &self,
        request: &PolicyRequest<'_>,
        _response_headers: &mut HeaderMap,
    ) -> Result<Option<Response<GatewayBody>>, GatewayError> {
        let ip = request.client;
        let listed = self.listed(ip, request.app_id);
        let admitted = match self.action {
            IpAction::Allow => listed,
            IpAction::Deny => !listed,
        };
        if admitted {
            Ok(None)
        } else {
            Err(GatewayError::IpDenied(ip))
        }
    }
}

#[cfg(test)]
mod tests {
    use pylon_model::AppAddresses;

    use super::*;
    use crate::policy::state::PolicyStates;
    use crate::request::id::RequestId;

    fn policy(action: IpAction, addresses: &[&str], apps: &[(&str, &[&str])]) -> IpControlPolicy {
        let config = IpControlConfig {
            action,
            addresses: addresses.iter().map(|a| a.to_string()).collect(),
            apps: apps
                .iter()
                .map(|(id, list)| AppAddresses {
                    app_id: id.to_string(),
                    addresses: list.iter().map(|a| a.to_string()).collect(),
                })
                .collect(),
        };
        let states = PolicyStates::default();
        let binding = Binding {
            policy: "p",
            api_id: "a",
            environment: "RELEASE",
            api_method: "GET",
            states: &states,
        };
        IpControlPolicy::compile(&config, &binding).unwrap()
    }

    /// Whether a request from `peer`, by `app`, is admitted.
    fn admits(p: &IpControlPolicy, peer: &str, app: Option<&str>) -> bool {
        let (parts, ()) = http::Request::get("/x")
            .header("x-forwarded-for", "10.9.9.9")
            .body(())
            .unwrap()
            .into_parts();
        let id = RequestId::generate();
        let request = PolicyRequest {
            method: &parts.method,
            uri: &parts.uri,
            headers: &parts.headers,
            peer: peer.parse().unwrap(),
            client: peer
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .ip()
                .to_canonical(),
            app_id: app,
            user: None,
            api_id: "a",
            environment: "RELEASE",
            request_id: &id,
            preflight: false,
        };
        match p.on_request(&request, &mut HeaderMap::new()) {
            Ok(None) => true,
            Err(GatewayError::IpDenied(_)) => false,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_allow_list_admits_only_its_addresses_and_ranges() {
        let p = policy(
            IpAction::Allow,
            &["192.0.2.7", "10.0.0.0/8", "2001:db8::/32"],
            &[("app1", &["198.51.100.0/24"])],
        );
        assert!(admits(&p, "192.0.2.7:1000", None));
        assert!(!admits(&p, "192.0.2.8:1000", None));
        assert!(admits(&p, "10.200.3.4:1000", None));
        assert!(admits(&p, "[2001:db8::1]:1000", None));
        assert!(!admits(&p, "[2001:db9::1]:1000", None));
        // An IPv4 client seen through an IPv6 socket is the IPv4 address.
        assert!(admits(&p, "[::ffff:10.1.1.1]:1000", None));
        // Per app: only that app gains the range.
        assert!(admits(&p, "198.51.100.9:1000", Some("app1")));
        assert!(!admits(&p, "198.51.100.9:1000", Some("app2")));
        assert!(!admits(&p, "198.51.100.9:1000", None));
        // `X-Forwarded-For: 10.9.9.9` is on every request above and never counts.
        assert!(!admits(&p, "203.0.113.1:1000", None));
    }

    #[test]
    fn a_deny_list_refuses_only_its_addresses() {
        let p = policy(
            IpAction::Deny,
            &["203.0.113.0/24", "::1"],
            &[("app1", &["192.0.2.1"])],
        );
        assert!(!admits(&p, "203.0.113.50:1", None));
        assert!(!admits(&p, "[::1]:1", None));
        assert!(admits(&p, "127.0.0.1:1", None));
        assert!(!admits(&p, "192.0.2.1:1", Some("app1")));
        assert!(admits(&p, "192.0.2.1:1", Some("app2")));
    }
}
