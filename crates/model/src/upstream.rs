//! Upstreams: named private targets (Alibaba's VPC access authorization, AWS's VPC link).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::BackendTls;
use crate::error::{ValidationError, check, non_empty_name};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSpec {
    /// Unique name; backends and `${stageVariables.x}` refer to an upstream by name or id.
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// One or more `host:port` instances, balanced round-robin with failover on connect error.
    pub targets: Vec<String>,
    /// Host header sent to the targets instead of the target address.
    #[serde(default)]
    pub host_header: Option<String>,
    /// Reach the targets over TLS, verified as this says (`{}`: the system's trust roots,
    /// for the `host_header` or the target's host). Absent: plain HTTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<BackendTls>,
}

impl UpstreamSpec {
    pub fn validate(&self) -> Result<(), ValidationError> {
        non_empty_name(&self.name, "name", 60)?;
        check(
            !self.targets.is_empty(),
            "targets",
            "at least one `host:port` target is required",
        )?;
        for (i, t) in self.targets.iter().enumerate() {
            let valid = t.rsplit_once(':').is_some_and(|(host, port)| {
                !host.is_empty() && !host.contains('/') && port.parse::<u16>().is_ok_and(|p| p > 0)
            });
            check(
                valid,
                &format!("targets[{i}]"),
                format!("`{t}` is not `host:port`"),
            )?;
        }
        if let Some(h) = &self.host_header {
            check(
                !h.trim().is_empty() && !h.contains(['/', ' ']),
                "host_header",
                "must be a host name, optionally with :port",
            )?;
        }
        if let Some(tls) = &self.tls {
            tls.validate("tls")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Upstream {
    pub id: String,
    #[serde(flatten)]
    pub spec: UpstreamSpec,
    pub created_at: i64,
    pub updated_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(targets: &[&str]) -> UpstreamSpec {
        UpstreamSpec {
            name: "vpc".into(),
            description: String::new(),
            targets: targets.iter().map(|s| s.to_string()).collect(),
            host_header: None,
            tls: None,
        }
    }

    #[test]
    fn targets_must_be_host_port() {
        assert!(
            spec(&["10.0.0.1:80", "svc.internal:8080", "[::1]:80"])
                .validate()
                .is_ok()
        );
        assert_eq!(
            spec(&["10.0.0.1"]).validate().unwrap_err().field,
            "targets[0]"
        );
        assert!(spec(&[]).validate().is_err());
        assert!(spec(&["http://x:80"]).validate().is_err());
    }
}
