//! Who may call, compiled at publish: every app's keys and codes by value, and each API's
//! grants by app.

use pylon_auth::alibaba::SigningKey;
use pylon_model::{AppCredentials, Authorization};

use crate::fast_hash::FastMap;

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
    by_key: FastMap<Box<str>, AppKey>,
    by_code: FastMap<Box<str>, AppIdx>,
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
    by_app: FastMap<Box<str>, Option<i64>>,
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
}
