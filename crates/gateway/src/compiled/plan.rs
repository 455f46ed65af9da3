//! `ApiPlan`: one deployment compiled for the data plane: parameter plans, constant and system
//! parameters as ready headers and encoded query pieces, and the resolved backend.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue};
use pylon_model::{
    AppCodeMode, AuthType, Authorization, BackendDefinition, Deployment, Location, Protocol,
    RequestMode, SystemParameterKind,
};

use super::access::Grants;
use super::params::ParamPlan;
use super::path::BackendPath;
use crate::backend::resolve::{Unservable, render_template};
use crate::backend::{Resolver, Target};
use crate::observe::metrics::registry::{ApiMetrics, Metrics};
use crate::policy::kind::Binding;
use crate::policy::state::PolicyStates;
use crate::policy::{self, Policies};
use crate::urlencoded::append_pair;

#[derive(Debug)]
pub(crate) enum SystemTarget {
    Header(HeaderName),
    /// The encoded parameter name.
    Query(String),
}

#[derive(Debug)]
pub(crate) struct SystemPlan {
    pub(crate) kind: SystemParameterKind,
    pub(crate) target: SystemTarget,
    /// The value when it is the same for every request (API id and name, stage, app id).
    pub(crate) fixed: Option<String>,
}

#[derive(Debug)]
pub(crate) struct BackendPlan {
    pub(crate) target: Target,
    pub(crate) path: BackendPath,
    /// `None`: the request's method.
    pub(crate) method: Option<http::Method>,
    pub(crate) timeout: Duration,
}

/// How the API authenticates, as the authenticate phase reads it.
#[derive(Debug)]
pub(crate) struct AuthPlan {
    pub(crate) kind: AuthType,
    pub(crate) app_code: AppCodeMode,
    pub(crate) forward_credentials: bool,
    /// Query parameters that carry credentials (AppCode, a JWT), dropped before the backend
    /// unless credentials are forwarded.
    pub(crate) credential_query: Vec<String>,
    pub(crate) jwt: Option<Box<super::jwt::JwtPlan>>,
}

impl AuthPlan {
    fn compile(
        auth: &pylon_model::AuthConfig,
        jwks: &super::jwt::JwksRegistry,
    ) -> Result<Self, String> {
        let mut credential_query = Vec::new();
        if !auth.forward_credentials {
            if auth.app_code == AppCodeMode::HeaderAndQuery {
                credential_query.extend(
                    pylon_auth::appcode::QUERY_NAMES
                        .iter()
                        .map(|n| n.to_string()),
                );
            }
            if let Some(q) = auth.jwt.as_ref().and_then(|j| j.token_query.as_ref()) {
                credential_query.push(q.clone());
            }
        }
        let jwt = match (&auth.auth_type, &auth.jwt) {
            (AuthType::Jwt, Some(config)) => {
                Some(Box::new(super::jwt::JwtPlan::compile(config, jwks)?))
            }
            _ => None,
        };
        Ok(AuthPlan {
            kind: auth.auth_type,
            app_code: auth.app_code,
            forward_credentials: auth.forward_credentials,
            credential_query,
            jwt,
        })
    }
}

#[derive(Debug)]
pub(crate) struct ApiPlan {
    pub(crate) api_id: String,
    pub(crate) api_name: String,
    /// The API's own method and path pattern, for traces.
    pub(crate) request_method: String,
    pub(crate) request_path: String,
    pub(crate) environment: String,
    pub(crate) mode: RequestMode,
    /// `request.allow_encoded_slashes`: path values may carry `%2F`, `%5C` and `\`.
    pub(crate) allow_encoded_slashes: bool,
    pub(crate) protocols: Protocols,
    pub(crate) websocket: WebSocketLimits,
    pub(crate) auth: AuthPlan,
    /// The apps that may call this API in this environment.
    pub(crate) grants: Grants,
    /// Compiled policies, run in priority order.
    pub(crate) policies: Policies,
    pub(crate) params: Vec<ParamPlan>,
    /// Some parameter is read from a form body: buffer form-encoded bodies.
    pub(crate) reads_form: bool,
    /// Some value is written into a form body.
    pub(crate) writes_form: bool,
    pub(crate) constant_headers: Vec<(HeaderName, HeaderValue)>,
    /// Encoded `a=1&b=2`.
    pub(crate) constant_query: String,
    pub(crate) constant_form: String,
    /// A constant `Host` header replaces the backend's host.
    pub(crate) sets_host: bool,
    pub(crate) system: Vec<SystemPlan>,
    /// Headers only the gateway writes (JWT claim headers, system parameters): a client's
    /// copy is dropped, so a backend never takes a spoofed one for the gateway's.
    pub(crate) reserved_headers: Vec<HeaderName>,
    /// Likewise for query parameters (system parameters, constants, credentials), decoded.
    pub(crate) reserved_query: Vec<String>,
    pub(crate) backend: Result<BackendPlan, Unservable>,
    /// This API's series in this environment: requests only add to them.
    pub(crate) metrics: Arc<ApiMetrics>,
}

/// The transports an API is served on (`request.protocols`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Protocols {
    pub(crate) http: bool,
    pub(crate) https: bool,
    /// WebSocket upgrades, plain and over TLS.
    pub(crate) ws: bool,
    pub(crate) wss: bool,
    /// Plain-HTTP calls get a redirect to HTTPS instead of a refusal.
    pub(crate) https_redirect: bool,
}

/// `request.websocket`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WebSocketLimits {
    pub(crate) idle_timeout: std::time::Duration,
    pub(crate) max_connections: u64,
}

/// What compiling one deployment reads besides the deployment itself, resolved for its
/// group and environment by `compiled/mod.rs`.
pub(crate) struct PlanInputs<'i> {
    /// The backend service's definition in the environment, or the API's inline one.
    pub(crate) definition: Option<&'i BackendDefinition>,
    /// The group's stage variables in the environment.
    pub(crate) vars: &'i BTreeMap<String, String>,
    pub(crate) resolver: &'i Resolver,
    /// The grants for this API in this environment.
    pub(crate) authorizations: &'i [&'i Authorization],
    /// The policies bound to this API in this environment.
    pub(crate) bound: &'i [pylon_model::Policy],
    pub(crate) jwks: &'i super::jwt::JwksRegistry,
    pub(crate) states: &'i PolicyStates,
    pub(crate) metrics: &'i Metrics,
}

impl ApiPlan {
    pub(crate) fn compile(deployment: &Deployment, inputs: &PlanInputs<'_>) -> Self {
        let spec = &deployment.api.spec;
        let mut plan = ApiPlan {
            api_id: deployment.api_id.clone(),
            api_name: spec.name.clone(),
            request_method: spec.request.method.as_str().to_string(),
            request_path: spec.request.path.clone(),
            environment: deployment.environment.clone(),
            mode: spec.request.mode,
            allow_encoded_slashes: spec.request.allow_encoded_slashes,
            protocols: Protocols {
                http: spec.request.protocols.contains(&Protocol::Http),
                https: spec.request.protocols.contains(&Protocol::Https),
                ws: spec.request.protocols.contains(&Protocol::Ws),
                wss: spec.request.protocols.contains(&Protocol::Wss),
                https_redirect: spec.request.https_redirect,
            },
            websocket: WebSocketLimits {
                idle_timeout: std::time::Duration::from_millis(
                    spec.request.websocket.idle_timeout_ms,
                ),
                max_connections: u64::from(spec.request.websocket.max_connections),
            },
            auth: AuthPlan {
                kind: spec.auth.auth_type,
                app_code: spec.auth.app_code,
                forward_credentials: spec.auth.forward_credentials,
                credential_query: Vec::new(),
                jwt: None,
            },
            grants: Grants::build(inputs.authorizations),
            policies: Policies::default(),
            params: Vec::with_capacity(spec.parameters.len()),
            reads_form: false,
            writes_form: false,
            constant_headers: Vec::new(),
            constant_query: String::new(),
            constant_form: String::new(),
            sets_host: false,
            system: Vec::new(),
            reserved_headers: Vec::new(),
            reserved_query: Vec::new(),
            backend: Err(Unservable::Internal(String::new())),
            metrics: inputs
                .metrics
                .api(&deployment.group_id, &spec.name, &deployment.environment),
        };
        plan.backend = plan.fill(deployment, inputs);
        plan.reserve(spec);
        plan
    }

    /// Fills `reserved_headers` and `reserved_query` from what the plan writes itself.
    fn reserve(&mut self, spec: &pylon_model::ApiSpec) {
        let mut headers: Vec<HeaderName> = Vec::new();
        let mut query: Vec<String> = self.auth.credential_query.clone();
        if let Some(jwt) = &self.auth.jwt {
            headers.extend(jwt.claims.iter().map(|(_, h)| h.clone()));
        }
        for s in &spec.system_parameters {
            match s.location {
                Location::Query => query.push(s.name.clone()),
                _ => headers.extend(HeaderName::try_from(s.name.as_str()).ok()),
            }
        }
        query.extend(
            spec.constant_parameters
                .iter()
                .filter(|c| c.location == Location::Query)
                .map(|c| c.name.clone()),
        );
        headers.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        headers.dedup();
        query.sort();
        query.dedup();
        self.reserved_headers = headers;
        self.reserved_query = query;
    }

    fn fill(
        &mut self,
        deployment: &Deployment,
        inputs: &PlanInputs<'_>,
    ) -> Result<BackendPlan, Unservable> {
        let PlanInputs {
            definition,
            vars,
            resolver,
            bound,
            jwks,
            states,
            ..
        } = *inputs;
        let spec = &deployment.api.spec;
        let internal = Unservable::Internal;
        self.auth = AuthPlan::compile(&spec.auth, jwks).map_err(internal)?;
        for p in &spec.parameters {
            self.params.push(ParamPlan::compile(p).map_err(internal)?);
        }
        self.reads_form = self.params.iter().any(|p| p.location == Location::Form);
        for p in bound {
            let binding = Binding {
                policy: &p.id,
                api_id: &self.api_id,
                environment: &self.environment,
                api_method: spec.request.method.as_str(),
                states,
            };
            let compiled = policy::compile(&p.spec.config, &binding)
                .map_err(|e| internal(format!("policy `{}`: {e}", p.spec.name)))?;
            self.policies.add(compiled);
        }
        // A bound CORS policy stands in for the API's inline one.
        let bound_cors = bound.iter().any(|p| p.spec.config.kind() == "cors");
        if let (Some(cors), false) = (&spec.cors, bound_cors) {
            let binding = Binding {
                policy: "cors",
                api_id: &self.api_id,
                environment: &self.environment,
                api_method: spec.request.method.as_str(),
                states,
            };
            let config = pylon_model::PolicyConfig::Cors(cors.clone());
            let cors = policy::compile(&config, &binding).map_err(internal)?;
            self.policies.add(cors);
        }
        for c in &spec.constant_parameters {
            match c.location {
                Location::Header => {
                    let name = HeaderName::try_from(c.name.as_str()).map_err(|_| {
                        internal(format!("constant `{}` is not a header name", c.name))
                    })?;
                    let value = HeaderValue::try_from(c.value.as_str()).map_err(|_| {
                        internal(format!("constant `{}` is not a header value", c.name))
                    })?;
                    self.sets_host |= name == http::header::HOST;
                    self.constant_headers.push((name, value));
                }
                Location::Query => append_pair(&mut self.constant_query, &c.name, &c.value),
                Location::Form => append_pair(&mut self.constant_form, &c.name, &c.value),
                // Validation keeps constants out of the path and body.
                Location::Path | Location::Body => {}
            }
        }
        self.writes_form = !self.constant_form.is_empty()
            || self
                .params
                .iter()
                .any(|p| p.target.location == Location::Form);
        for s in &spec.system_parameters {
            let target = match s.location {
                Location::Query => SystemTarget::Query(
                    percent_encoding::utf8_percent_encode(&s.name, crate::urlencoded::COMPONENT)
                        .to_string(),
                ),
                _ => SystemTarget::Header(HeaderName::try_from(s.name.as_str()).map_err(|_| {
                    internal(format!(
                        "system parameter `{}` is not a header name",
                        s.name
                    ))
                })?),
            };
            let fixed = match s.kind {
                SystemParameterKind::ApiId => Some(self.api_id.clone()),
                SystemParameterKind::ApiName => Some(self.api_name.clone()),
                SystemParameterKind::Stage => Some(self.environment.clone()),
                _ => None,
            };
            self.system.push(SystemPlan {
                kind: s.kind,
                target,
                fixed,
            });
        }

        let definition = definition.ok_or_else(|| {
            internal(format!(
                "backend of API `{}` has no definition in environment {}",
                self.api_name, self.environment
            ))
        })?;
        let target = Target::compile(definition, vars, resolver)?;
        let rendered = render_template(&spec.backend.path, vars, "backend path")?;
        let path = BackendPath::parse(&rendered, &self.params);
        let method = match spec.backend.method {
            Some(pylon_model::Method::Any) | None => None,
            Some(m) => Some(
                http::Method::from_bytes(m.as_str().as_bytes())
                    .map_err(|_| internal(format!("backend method {} is invalid", m.as_str())))?,
            ),
        };
        Ok(BackendPlan {
            target,
            path,
            method,
            timeout: Duration::from_millis(spec.backend.timeout_ms.max(1)),
        })
    }
}
