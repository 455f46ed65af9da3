//! JWT authentication: the bearer token is verified against the API's inline keys, then its
//! JWK Set; a token naming a key neither holds makes the set refresh (rate-limited) once.

use http::HeaderValue;
use pylon_auth::jwt::JwtError;

use crate::context::Routed;
use crate::error::{AuthError, GatewayError};

pub(crate) async fn authenticate(routed: &mut Routed<'_, '_>) -> Result<(), GatewayError> {
    let plan = routed.plan();
    let jwt = plan
        .auth
        .jwt
        .as_deref()
        .ok_or_else(|| GatewayError::Internal("JWT settings did not compile".into()))?;
    let parts = routed.ctx.parts;
    let fail = |e| GatewayError::Auth(AuthError::Jwt(e));
    let token = jwt
        .verifier
        .token(&parts.headers, parts.uri.query())
        .ok_or(fail(JwtError::Missing))?;
    let now_s = u64::try_from(crate::context::now_ms() / 1000).unwrap_or(0);
    let mut result = jwt.verifier.verify(&jwt.inline, &token, now_s);
    if matches!(result, Err(JwtError::UnknownKey))
        && let Some(source) = &jwt.jwks
    {
        if let Some(keys) = source.keys.load_full() {
            result = jwt.verifier.verify(&keys, &token, now_s);
        }
        if matches!(result, Err(JwtError::UnknownKey)) {
            source.refresh().await;
            if let Some(keys) = source.keys.load_full() {
                result = jwt.verifier.verify(&keys, &token, now_s);
            }
        }
    }
    let claims = result.map_err(fail)?;
    // The subject is the user a throttle's per-user limit counts.
    routed.ctx.caller.user = claims
        .get("sub")
        .and_then(serde_json::Value::as_str)
        .map(Into::into);
    for (claim, header) in &jwt.claims {
        let text = match claims.get(claim) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Null) | None => continue,
            Some(other) => other.to_string(),
        };
        if let Ok(value) = HeaderValue::try_from(text) {
            routed
                .ctx
                .caller
                .identity_headers
                .push((header.clone(), value));
        }
    }
    Ok(())
}
