//! Who may call, compiled at publish: every app's keys and codes by value, each API's grants by
//! app, and its CORS answer as ready header values.

use std::collections::HashMap;

use http::HeaderValue;
use pylon_auth::alibaba::SigningKey;
use pylon_model::{AppCredentials, Authorization, CorsConfig};

/// Index of an app in [`Apps::ids`].
pub(crate) type AppIdx = u32;

/// One AppKey (or Tencent secret id) and what verifying its requests needs.
pub(crate) struct AppKey {
    pub(crate) app: AppIdx,
    /// The AppSecret as is, for Tencent HMAC, whose hash the request chooses.
    pub(crate) secret: Box<[u8]>,
    /// The AppSecret already keyed into HMAC, for Alibaba signatures.
    pub(crate) alibaba: SigningKey,
}

/// Every app's credentials, looked up by the value a request presents.
#[derive(Default)]
pub(crate) struct Apps {
    by_key: HashMap<Box<str>, AppKey>,
    by_code: HashMap<Box<str>, AppIdx>,
    ids: Vec<String>,
}

impl Apps {
    pub(crate) fn build(apps: &[AppCredentials]) -> Self {
        let mut out = Apps::default();
        for (i, app) in apps.iter().enumerate() {
            let Ok(idx) = AppIdx::try_from(i) else { break };
            out.ids.push(app.app_id.clone());
            for (key, secret) in &app.keys {
                let entry = AppKey {
                    app: idx,
                    secret: secret.as_bytes().into(),
                    alibaba: SigningKey::new(secret.as_bytes()),
                };
                out.by_key.insert(key.as_str().into(), entry);
            }
            for code in &app.codes {
                out.by_code.insert(code.as_str().into(), idx);
            }
        }
        out
    }

    pub(crate) fn by_key(&self, app_key: &str) -> Option<&AppKey> {
        self.by_key.get(app_key)
    }

    pub(crate) fn by_code(&self, code: &str) -> Option<AppIdx> {
        self.by_code.get(code).copied()
    }

    pub(crate) fn id(&self, idx: AppIdx) -> &str {
        self.ids.get(idx as usize).map_or("", String::as_str)
    }
}

/// The apps granted one API in one environment, by app id, with each grant's expiry (epoch
/// ms). Keyed by id rather than by [`AppIdx`], so that apps changing (a new key, a new app)
/// leaves the compiled APIs as they are.
#[derive(Debug, Default)]
pub(crate) struct Grants {
    by_app: HashMap<Box<str>, Option<i64>>,
}

impl Grants {
    pub(crate) fn build(authorizations: &[&Authorization]) -> Self {
        let by_app = authorizations
            .iter()
            .map(|a| (a.spec.app_id.as_str().into(), a.spec.expires_at))
            .collect();
        Grants { by_app }
    }

    /// Expiry is checked here, per request, so a grant ends at its time without a republish.
    pub(crate) fn allows(&self, app_id: &str, now_ms: i64) -> bool {
        match self.by_app.get(app_id) {
            Some(expiry) => expiry.is_none_or(|t| now_ms < t),
            None => false,
        }
    }
}

/// An API's CORS policy with its response headers made once.
#[derive(Debug)]
pub(crate) struct CorsPlan {
    any_origin: bool,
    origins: Vec<String>,
    /// Upper-case methods a preflight may ask for; empty: the API's own method(s).
    methods: Vec<String>,
    pub(crate) allow_methods: HeaderValue,
    /// `None`: any header (the preflight's request is echoed).
    pub(crate) allow_headers: Option<HeaderValue>,
    pub(crate) expose_headers: Option<HeaderValue>,
    pub(crate) credentials: bool,
    pub(crate) max_age: Option<HeaderValue>,
}

impl CorsPlan {
    pub(crate) fn compile(config: &CorsConfig, api_method: &str) -> Result<Self, String> {
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
        Ok(CorsPlan {
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

    pub(crate) fn allows_origin(&self, origin: &str) -> bool {
        self.any_origin || self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
    }

    /// The `Access-Control-Allow-Origin` value: `*` when any origin may call without
    /// credentials, else the origin itself.
    pub(crate) fn echo_origin(&self) -> bool {
        !self.any_origin || self.credentials
    }

    /// Whether a preflight may ask for `method` (the router already matched it to this API).
    pub(crate) fn allows_method(&self, method: &str) -> bool {
        self.methods.is_empty() || self.methods.iter().any(|m| m == method)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(id: &str, key: &str, secret: &str, code: &str) -> AppCredentials {
        AppCredentials {
            app_id: id.into(),
            name: id.into(),
            keys: vec![(key.into(), secret.into())],
            codes: vec![code.into()],
        }
    }

    #[test]
    fn apps_are_found_by_key_and_code() {
        let apps = Apps::build(&[creds("a1", "k1", "s1", "c1"), creds("a2", "k2", "s2", "c2")]);
        let key = apps.by_key("k2").unwrap();
        assert_eq!((apps.id(key.app), &key.secret[..]), ("a2", &b"s2"[..]));
        assert_eq!(apps.id(apps.by_code("c1").unwrap()), "a1");
        assert!(apps.by_key("nope").is_none());
        assert!(apps.by_code("k1").is_none());
    }

    #[test]
    fn grants_name_their_apps_and_end_at_expiry() {
        let grant = |app: &str, expires_at: Option<i64>| -> Authorization {
            serde_json::from_value(serde_json::json!({
                "id": "x", "group_id": "g", "app_id": app, "api_id": "api1",
                "environment": "RELEASE", "expires_at": expires_at, "created_at": 0
            }))
            .unwrap()
        };
        let all = [grant("a1", None), grant("a2", Some(1000))];
        let grants = Grants::build(&all.iter().collect::<Vec<_>>());
        assert!(grants.allows("a1", i64::MAX));
        assert!(grants.allows("a2", 999));
        assert!(!grants.allows("a2", 1000));
        assert!(!grants.allows("a3", 0));
    }

    #[test]
    fn cors_plan_defaults_to_the_api_method_and_echoes_listed_origins() {
        let config: CorsConfig = serde_json::from_value(serde_json::json!({
            "allow_origins": ["https://app.example"], "allow_headers": ["X-Ca-Key", "Content-Type"],
            "allow_credentials": true, "max_age_seconds": 600
        }))
        .unwrap();
        let plan = CorsPlan::compile(&config, "POST").unwrap();
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
