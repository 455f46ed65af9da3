//! `ApiPlan`: one deployment compiled for the data plane: parameter plans, constant and system
//! parameters as ready headers and encoded query pieces, and the resolved backend.

use std::collections::BTreeMap;
use std::time::Duration;

use http::{HeaderName, HeaderValue};
use pylon_model::{
    AuthType, BackendDefinition, Deployment, Location, RequestMode, SystemParameterKind,
};

use super::params::ParamPlan;
use super::path::BackendPath;
use super::target::{Resolver, TargetPlan, Unservable, render_template};
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
    pub(crate) target: TargetPlan,
    pub(crate) path: BackendPath,
    /// `None`: the request's method.
    pub(crate) method: Option<http::Method>,
    pub(crate) timeout: Duration,
}

#[derive(Debug)]
pub(crate) struct ApiPlan {
    pub(crate) api_id: String,
    pub(crate) api_name: String,
    pub(crate) environment: String,
    pub(crate) mode: RequestMode,
    pub(crate) auth: AuthType,
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
    pub(crate) backend: Result<BackendPlan, Unservable>,
}

impl ApiPlan {
    pub(crate) fn compile(
        deployment: &Deployment,
        definition: Option<&BackendDefinition>,
        vars: &BTreeMap<String, String>,
        resolver: &Resolver<'_>,
    ) -> Self {
        let spec = &deployment.api.spec;
        let mut plan = ApiPlan {
            api_id: deployment.api_id.clone(),
            api_name: spec.name.clone(),
            environment: deployment.environment.clone(),
            mode: spec.request.mode,
            auth: spec.auth.auth_type,
            params: Vec::with_capacity(spec.parameters.len()),
            reads_form: false,
            writes_form: false,
            constant_headers: Vec::new(),
            constant_query: String::new(),
            constant_form: String::new(),
            sets_host: false,
            system: Vec::new(),
            backend: Err(Unservable::Internal(String::new())),
        };
        plan.backend = plan.fill(deployment, definition, vars, resolver);
        plan
    }

    fn fill(
        &mut self,
        deployment: &Deployment,
        definition: Option<&BackendDefinition>,
        vars: &BTreeMap<String, String>,
        resolver: &Resolver<'_>,
    ) -> Result<BackendPlan, Unservable> {
        let spec = &deployment.api.spec;
        let internal = Unservable::Internal;
        for p in &spec.parameters {
            self.params.push(ParamPlan::compile(p).map_err(internal)?);
        }
        self.reads_form = self.params.iter().any(|p| p.location == Location::Form);
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
                SystemParameterKind::AppId => Some(String::new()),
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
        let target = resolver.resolve(definition, vars)?;
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
