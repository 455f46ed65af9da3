//! Console sessions: a random id in an `HttpOnly`, `SameSite=Strict` cookie names a session held
//! here, in memory (a restart signs everyone out), with its expiry and the CSRF token every
//! state change must carry. The admin token itself is only ever read from the sign-in form.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::HeaderMap;
use http::header::COOKIE;

/// The session cookie's name.
pub(crate) const COOKIE_NAME: &str = "pylon_console";
/// Where the cookie is sent: the console only, never the `/v1` API.
const COOKIE_PATH: &str = "/console";
/// Sessions held at most; the oldest go first past it (a flood of sign-ins cannot grow memory).
const MAX_SESSIONS: usize = 1024;

/// A signed-in browser.
#[derive(Clone)]
pub(crate) struct Session {
    /// What every form and state-changing request must echo (`_csrf`).
    pub(crate) csrf: String,
    expires: Instant,
}

pub(crate) struct Sessions {
    ttl: Duration,
    live: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    pub(crate) fn new(ttl: Duration) -> Self {
        Sessions {
            ttl,
            live: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Starts a session; its id, for the cookie.
    pub(crate) fn start(&self) -> String {
        let id = random_token();
        let session = Session {
            csrf: random_token(),
            expires: Instant::now() + self.ttl,
        };
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        live.retain(|_, s| s.expires > now);
        if live.len() >= MAX_SESSIONS
            && let Some(oldest) = live
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| k.clone())
        {
            live.remove(&oldest);
        }
        live.insert(id.clone(), session);
        id
    }

    /// The live session the request's cookie names, if any.
    pub(crate) fn find(&self, headers: &HeaderMap) -> Option<(String, Session)> {
        let id = cookie(headers, COOKIE_NAME)?;
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        match live.get(id) {
            Some(s) if s.expires > Instant::now() => Some((id.to_string(), s.clone())),
            Some(_) => {
                live.remove(id);
                None
            }
            None => None,
        }
    }

    pub(crate) fn end(&self, id: &str) {
        self.live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }
}

/// `Set-Cookie` for a new session: `Secure` when the console was reached over TLS.
pub(crate) fn set_cookie(id: &str, ttl: Duration, secure: bool) -> String {
    format!(
        "{COOKIE_NAME}={id}; Path={COOKIE_PATH}; Max-Age={}; HttpOnly; SameSite=Strict{}",
        ttl.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

/// `Set-Cookie` that removes the session cookie.
pub(crate) fn clear_cookie() -> String {
    format!("{COOKIE_NAME}=; Path={COOKIE_PATH}; Max-Age=0; HttpOnly; SameSite=Strict")
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// 32 random bytes, hex: session ids and CSRF tokens.
fn random_token() -> String {
    let a = uuid::Uuid::new_v4();
    let b = uuid::Uuid::new_v4();
    format!("{}{}", a.simple(), b.simple())
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn with_cookie(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn a_session_is_found_by_its_cookie_until_it_expires_or_ends() {
        let sessions = Sessions::new(Duration::from_millis(50));
        let id = sessions.start();
        let headers = with_cookie(&format!("other=1; {COOKIE_NAME}={id}"));
        let (found, session) = sessions.find(&headers).unwrap();
        assert_eq!(found, id);
        assert_eq!(session.csrf.len(), 64);
        assert!(
            sessions
                .find(&with_cookie(&format!("{COOKIE_NAME}=guess")))
                .is_none()
        );
        std::thread::sleep(Duration::from_millis(60));
        assert!(sessions.find(&headers).is_none(), "expired");
        let id = sessions.start();
        sessions.end(&id);
        assert!(
            sessions
                .find(&with_cookie(&format!("{COOKIE_NAME}={id}")))
                .is_none()
        );
    }

    #[test]
    fn cookies_are_http_only_and_strict() {
        let c = set_cookie("abc", Duration::from_secs(60), false);
        assert_eq!(
            c,
            "pylon_console=abc; Path=/console; Max-Age=60; HttpOnly; SameSite=Strict"
        );
        assert!(set_cookie("abc", Duration::from_secs(60), true).ends_with("; Secure"));
    }
}
