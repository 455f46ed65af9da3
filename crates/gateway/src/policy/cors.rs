//! CORS: a preflight `OPTIONS` is answered by the gateway, before authentication and without
//! the backend; actual responses (the backend's and the gateway's own errors) gain the
//! `Access-Control-*` headers so a browser lets the page read them.

use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use pylon_model::{CorsConfig, Method};

use super::kind::{Binding, Policy, PolicyRequest};
use crate::error::GatewayError;
use crate::request::body::GatewayBody;
use crate::request::headers::X_CA_REQUEST_ID;
use crate::response::Fields;

/// APISIX's priority for its CORS plugin: it answers preflights before anything else runs.
const PRIORITY: i32 = 4000;

/// The method a preflight announces, if `parts` is one.
pub(crate) fn preflight_method(parts: &Parts) -> Option<Method> {
    if parts.method != http::Method::OPTIONS || !parts.headers.contains_key(ORIGIN) {
        return None;
    }
    let announced = parts.headers.get(ACCESS_CONTROL_REQUEST_METHOD)?;
    Method::from_request(announced.to_str().ok()?.trim())
}

/// An API's CORS policy with its response headers made once.
#[derive(Debug)]
pub(crate) struct CorsPolicy {
    any_origin: bool,
    origins: Vec<String>,
    /// Upper-case methods a preflight may ask for; empty: the API's own method(s).
    methods: Vec<String>,
    allow_methods: HeaderValue,
    /// `None`: any header (the preflight's request is echoed).
    allow_headers: Option<HeaderValue>,
    expose_headers: Option<HeaderValue>,
    credentials: bool,
    max_age: Option<HeaderValue>,
}

impl CorsPolicy {
    pub(crate) fn compile(config: &CorsConfig, binding: &Binding<'_>) -> Result<Self, String> {
        let api_method = binding.api_method;
        let value = |parts: &[String], what: &str| {
            HeaderValue::try_from(parts.join(", "))
                .map_err(|_| format!("CORS {what} are not a valid header value"))
        };
        let methods: Vec<String> = config
            .allow_methods
            .iter()
            .map(|m| m.trim().to_ascii_uppercase())
            .collect();
        let allow_methods = if methods.is_empty() {
            if api_method == "ANY" {
                HeaderValue::from_static("GET, POST, PUT, DELETE, PATCH, HEAD, OPTIONS")
            } else {
                value(&[api_method.to_string()], "methods")?
            }
        } else {
            value(&methods, "methods")?
        };
        let any_header = config.allow_headers.iter().any(|h| h == "*");
        Ok(CorsPolicy {
            any_origin: config.allow_origins.iter().any(|o| o == "*"),
            origins: config.allow_origins.clone(),
            methods,
            allow_methods,
            allow_headers: if any_header || config.allow_headers.is_empty() {
                None
            } else {
                Some(value(&config.allow_headers, "headers")?)
            },
            expose_headers: if config.expose_headers.is_empty() {
                None
            } else {
                Some(value(&config.expose_headers, "expose headers")?)
            },
            credentials: config.allow_credentials,
            max_age: config.max_age_seconds.map(HeaderValue::from),
        })
    }

    fn allows_origin(&self, origin: &str) -> bool {
        self.any_origin || self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
    }

    /// The `Access-Control-Allow-Origin` value: `*` when any origin may call without
    /// credentials, else the origin itself.
    fn echo_origin(&self) -> bool {
        !self.any_origin || self.credentials
    }

    /// Whether a preflight may ask for `method` (the router already matched it to this API).
    fn allows_method(&self, method: &str) -> bool {
        self.methods.is_empty() || self.methods.iter().any(|m| m == method)
    }

    fn allow_origin(&self, headers: &mut Fields, origin: &HeaderValue) {
        if self.echo_origin() {
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            headers.append(VARY, HeaderValue::from_static("Origin"));
        } else {
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        }
        if self.credentials {
            headers.insert(
                ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
    }

    /// Answers a preflight: 204 with the policy, or 403 naming what the policy refuses.
    fn preflight(
        &self,
        request: &PolicyRequest<'_>,
        origin: &HeaderValue,
    ) -> Result<Response<GatewayBody>, GatewayError> {
        let origin_text = origin.to_str().unwrap_or("");
        if !self.allows_origin(origin_text) {
            return Err(GatewayError::CorsOrigin(origin_text.to_string()));
        }
        let method = request
            .headers
            .get(ACCESS_CONTROL_REQUEST_METHOD)
            .and_then(|m| m.to_str().ok())
            .unwrap_or("")
            .trim()
            .to_ascii_uppercase();
        if !self.allows_method(&method) {
            return Err(GatewayError::CorsMethod(method));
        }
        let mut headers = Fields::with_capacity(8);
        self.allow_origin(&mut headers, origin);
        headers.insert(ACCESS_CONTROL_ALLOW_METHODS, self.allow_methods.clone());
        let requested = request.headers.get(ACCESS_CONTROL_REQUEST_HEADERS);
        match (&self.allow_headers, requested) {
            (Some(listed), _) => {
                headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, listed.clone());
            }
            (None, Some(requested)) => {
                headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, requested.clone());
            }
            (None, None) => {}
        }
        if let Some(age) = &self.max_age {
            headers.insert(ACCESS_CONTROL_MAX_AGE, age.clone());
        }
        headers.insert(X_CA_REQUEST_ID, request.request_id.header_value());
        let mut response = Response::new(GatewayBody::empty());
        *response.status_mut() = StatusCode::NO_CONTENT;
        *response.headers_mut() = headers.into_map();
        Ok(response)
    }
}

impl Policy for CorsPolicy {
    fn kind(&self) -> &'static str {
        "cors"
    }

    fn priority(&self) -> i32 {
        PRIORITY
    }

    fn answers_preflight(&self) -> bool {
        true
    }

    fn on_request(
        &self,
        request: &PolicyRequest<'_>,
        _response_headers: &mut HeaderMap,
    ) -> Result<Option<Response<GatewayBody>>, GatewayError> {
        if !request.preflight {
            return Ok(None);
        }
        let Some(origin) = request.headers.get(ORIGIN) else {
            return Err(GatewayError::Internal("preflight without an origin".into()));
        };
        self.preflight(request, origin).map(Some)
    }

    /// Adds the policy's headers to an actual response when the request's origin is allowed.
    fn on_response(&self, request: &PolicyRequest<'_>, headers: &mut Fields) {
        let Some(origin) = request.headers.get(ORIGIN) else {
            return;
        };
        if request.preflight || !self.allows_origin(origin.to_str().unwrap_or("")) {
            return;
        }
        self.allow_origin(headers, origin);
        if let Some(expose) = &self.expose_headers {
            headers.insert(ACCESS_CONTROL_EXPOSE_HEADERS, expose.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::state::PolicyStates;

    #[test]
    fn cors_plan_defaults_to_the_api_method_and_echoes_listed_origins() {
        let config: CorsConfig = serde_json::from_value(serde_json::json!({
            "allow_origins": ["https://app.example"], "allow_headers": ["X-Ca-Key", "Content-Type"],
            "allow_credentials": true, "max_age_seconds": 600
        }))
        .unwrap();
        let states = PolicyStates::default();
        let binding = Binding {
            policy: "cors",
            api_id: "a1",
            environment: "RELEASE",
            api_method: "POST",
            states: &states,
        };
        let plan = CorsPolicy::compile(&config, &binding).unwrap();
        assert_eq!(plan.allow_methods, "POST");
        assert_eq!(
            plan.allow_headers.as_ref().unwrap(),
            "X-Ca-Key, Content-Type"
        );
        assert!(plan.allows_origin("https://APP.example"));
        assert!(!plan.allows_origin("https://evil.example"));
        assert!(plan.echo_origin());
        assert!(plan.allows_method("DELETE"));
        assert_eq!(plan.max_age.as_ref().unwrap(), "600");
    }
}
