//! Backends: the compiled target of an API in one environment, one enum over the kinds, with
//! the one place that maps a configured definition to a kind (`Target::compile`) and the one
//! dispatch every request goes through (`Target::call`). A kind is one file beside this one.

pub(crate) mod client;
pub(crate) mod deadline;
pub(crate) mod function;
pub(crate) mod h1;
pub(crate) mod http;
pub(crate) mod mock;
pub(crate) mod pool;
pub(crate) mod resolve;
pub(crate) mod send;
pub(crate) mod tls;
pub(crate) mod upstream;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use pylon_functions::FunctionHost;
use pylon_model::{BackendDefinition, ServedCertificate, Upstream};

use self::client::HttpClient;
use self::function::{FunctionDefinition, FunctionTarget};
use self::http::HttpTarget;
use self::mock::MockPlan;
use self::resolve::Unservable;
use self::send::Sent;
use self::tls::ClientCertificates;
use self::upstream::{HealthRegistry, UpstreamTarget, Upstreams};
use crate::error::GatewayError;
use crate::request::body::{BackendBody, GatewayBody};
use crate::request::id::RequestId;
use crate::request::outgoing::Outgoing;
use crate::response::Answer;

/// An API's backend, resolved for one environment at publish time.
#[derive(Debug)]
pub(crate) enum Target {
    Http(HttpTarget),
    Upstream(UpstreamTarget),
    Mock(MockPlan),
    /// Invoked by the pipeline's function phase, which builds the event.
    Function(FunctionTarget),
}

/// What resolving targets needs from the snapshot, indexed once per full compile and kept for
/// the groups compiled after a partial change.
#[derive(Default)]
pub(crate) struct Resolver {
    pub(crate) upstreams: Upstreams,
    /// What `tls.client_certificate` may name.
    pub(crate) certificates: ClientCertificates,
    /// Where `hosted` functions run; `None` when hosting is off.
    pub(crate) functions: Option<Arc<FunctionHost>>,
}

impl Resolver {
    pub(crate) fn build(
        upstreams: &[Upstream],
        certificates: &[ServedCertificate],
        health: &HealthRegistry,
        functions: Option<Arc<FunctionHost>>,
    ) -> Self {
        let certificates = ClientCertificates::build(certificates);
        Resolver {
            upstreams: Upstreams::build(upstreams, &certificates, health),
            certificates,
            functions,
        }
    }
}

impl Target {
    /// The one mapping from a configured definition to a kind.
    pub(crate) fn compile(
        definition: &BackendDefinition,
        vars: &BTreeMap<String, String>,
        resolver: &Resolver,
    ) -> Result<Self, Unservable> {
        match definition {
            BackendDefinition::Http { url, tls } => {
                HttpTarget::compile(url, tls.as_ref(), vars, &resolver.certificates)
                    .map(Target::Http)
            }
            BackendDefinition::Upstream {
                upstream,
                path_prefix,
            } => UpstreamTarget::compile(upstream, path_prefix, vars, &resolver.upstreams)
                .map(Target::Upstream),
            BackendDefinition::Mock {
                status,
                headers,
                body,
            } => MockPlan::compile(*status, headers, body)
                .map(Target::Mock)
                .map_err(Unservable::Internal),
            BackendDefinition::Function {
                format,
                response_integration,
                url,
                upstream,
                hosted,
                name,
                tls,
                timeout_ms,
                payload_version,
            } => {
                let definition = FunctionDefinition {
                    format: *format,
                    integration: *response_integration,
                    url: url.as_deref(),
                    upstream: upstream.as_deref(),
                    hosted: hosted.as_deref(),
                    name: name.as_deref(),
                    tls: tls.as_ref(),
                    timeout_ms: *timeout_ms,
                    version: *payload_version,
                };
                FunctionTarget::compile(
                    &definition,
                    vars,
                    &resolver.certificates,
                    &resolver.upstreams,
                    resolver.functions.as_ref(),
                )
                .map(Target::Function)
            }
        }
    }

    /// The path the backend request's path is appended to, for the kinds that send a request;
    /// `None` for kinds that answer themselves, which get no backend request built.
    pub(crate) fn base_path(&self) -> Option<&str> {
        match self {
            Target::Http(t) => Some(&t.base_path),
            Target::Upstream(t) => Some(&t.base_path),
            // The event carries the request's query, headers and body as the forward phase
            // builds them; its path is the request's own.
            Target::Function(_) => Some(""),
            Target::Mock(_) => None,
        }
    }

    /// Where requests go, as the debug trace shows it.
    pub(crate) fn describe(&self) -> Cow<'_, str> {
        match self {
            Target::Http(t) => Cow::Borrowed(&t.label),
            Target::Upstream(t) => Cow::Owned(format!("upstream {}", t.upstream.name)),
            Target::Mock(_) => Cow::Borrowed(""),
            Target::Function(t) => Cow::Borrowed(&t.label),
        }
    }

    /// Answers the request: calls the backend (its response head; the body streams on) and
    /// says where it went, or answers without a network call (`Sent` is then `None`).
    /// `outgoing` is the request built for the kinds that have a `base_path`.
    pub(crate) async fn call<'p>(
        &'p self,
        client: &HttpClient,
        timeout: Duration,
        sets_host: bool,
        outgoing: Option<Outgoing<'_>>,
        request_id: &RequestId,
    ) -> Result<(Answer, Option<Sent<'p>>), GatewayError> {
        let streamed = |(response, sent): (Answer<BackendBody>, Sent<'p>)| {
            (response.map_body(GatewayBody::Stream), Some(sent))
        };
        // Matched on `self` alone: a tuple with `outgoing` would be a second copy of the
        // request in the future's state.
        let unsent = || {
            GatewayError::Internal(format!(
                "no backend request was sent to {}",
                self.describe()
            ))
        };
        match self {
            Target::Mock(mock) => Ok((mock.respond(request_id.header_value()), None)),
            Target::Http(t) => {
                let out = outgoing.ok_or_else(unsent)?;
                t.call(client, timeout, sets_host, out).await.map(streamed)
            }
            Target::Upstream(t) => {
                let out = outgoing.ok_or_else(unsent)?;
                t.call(client, timeout, sets_host, out).await.map(streamed)
            }
            Target::Function(_) => Err(unsent()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn resolver() -> Resolver {
        Resolver {
            upstreams: Upstreams::default(),
            certificates: Default::default(),
            functions: None,
        }
    }

    #[test]
    fn stage_variables_are_substituted_and_missing_ones_named() {
        let resolver = resolver();
        let vars = BTreeMap::from([("host".to_string(), "10.0.0.1:81".to_string())]);
        let def = BackendDefinition::Http {
            url: "http://${stageVariables.host}/v1".into(),
            tls: None,
        };
        match Target::compile(&def, &vars, &resolver).unwrap() {
            Target::Http(HttpTarget { endpoint, .. }) => {
                assert_eq!(endpoint.authority().as_str(), "10.0.0.1:81")
            }
            other => panic!("{other:?}"),
        }
        match Target::compile(&def, &BTreeMap::new(), &resolver) {
            Err(Unservable::Internal(m)) => assert!(m.contains("`host`")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_unknown_upstream_is_unavailable() {
        let def = BackendDefinition::Upstream {
            upstream: "nope".into(),
            path_prefix: String::new(),
        };
        assert!(matches!(
            Target::compile(&def, &BTreeMap::new(), &resolver()),
            Err(Unservable::Unavailable(_))
        ));
    }
}
