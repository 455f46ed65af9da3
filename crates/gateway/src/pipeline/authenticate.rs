//! Authenticate phase: establishes who calls, by the API's scheme: Alibaba APP signature or
//! AppCode (`app`), Tencent HMAC (`key-pair`), a bearer JWT (`jwt`), or an AWS API key
//! (`api-key`). The schemes themselves are pure functions in `pylon-auth`; this phase feeds
//! them the request and the compiled credentials, and turns their verdicts into wire errors.

use pylon_auth::nonce::NonceCheck;
use pylon_auth::{alibaba, appcode, tencent};
use pylon_model::{AppCodeMode, AuthType};

use crate::context::{Routed, now_ms};
use crate::error::{AuthError, GatewayError};
use crate::request::headers::X_API_KEY;

/// The request's body as far as authentication needs it.
pub(crate) struct BodyView<'b> {
    /// The whole body, when it was read (forms, and bodies with a Content-MD5 to check).
    pub(crate) bytes: Option<&'b [u8]>,
    /// The form body's text, when the request is a form.
    pub(crate) form: Option<&'b str>,
}

pub(crate) async fn authenticate(
    routed: &mut Routed<'_, '_>,
    body: BodyView<'_>,
) -> Result<(), GatewayError> {
    let plan = routed.plan();
    match plan.auth.kind {
        AuthType::None => Ok(()),
        AuthType::App => app(routed, &body),
        AuthType::KeyPair => key_pair(routed),
        // Boxed: a JWKS fetch's state is kilobytes, held by every request's future otherwise.
        AuthType::Jwt => Box::pin(super::jwt::authenticate(routed)).await,
        AuthType::ApiKey => api_key(routed),
    }
}

/// AWS: `x-api-key: <key>`, where the keys are the apps' AppCodes.
fn api_key(routed: &mut Routed<'_, '_>) -> Result<(), GatewayError> {
    let ctx = &mut *routed.ctx;
    let key = ctx
        .parts
        .headers
        .get(X_API_KEY)
        .and_then(|v| v.to_str().ok())
        .ok_or(GatewayError::Auth(AuthError::MissingApiKey))?;
    let app = ctx
        .compiled
        .apps
        .by_code(key.trim())
        .ok_or(GatewayError::Auth(AuthError::InvalidApiKey))?;
    ctx.caller.app = Some(app);
    Ok(())
}

/// Alibaba: an AppCode where the API accepts one, else the APP signature.
fn app(routed: &mut Routed<'_, '_>, body: &BodyView<'_>) -> Result<(), GatewayError> {
    let plan = routed.plan();
    let ctx = &mut *routed.ctx;
    let parts = ctx.parts;
    let apps = &ctx.compiled.apps;
    if plan.auth.app_code != AppCodeMode::Off {
        let query_allowed = plan.auth.app_code == AppCodeMode::HeaderAndQuery;
        if let Some(code) = appcode::extract(&parts.headers, parts.uri.query(), query_allowed) {
            let app = apps
                .by_code(&code)
                .ok_or(GatewayError::Auth(AuthError::InvalidAppCode))?;
            ctx.caller.app = Some(app);
            return Ok(());
        }
    }

    let credentials = alibaba::credentials(&parts.headers)
        .map_err(|e| GatewayError::Auth(AuthError::from(e)))?
        .ok_or(GatewayError::Auth(AuthError::MissingAppKey))?;
    let now = now_ms();
    alibaba::check_timestamp(credentials.timestamp, now)
        .map_err(|e| GatewayError::Auth(AuthError::from(e)))?;
    let key = apps
        .by_key(credentials.key)
        .ok_or(GatewayError::Auth(AuthError::InvalidAppKey))?;
    let string_to_sign = alibaba::string_to_sign(
        &parts.method,
        ctx.client_path,
        parts.uri.query(),
        body.form,
        &parts.headers,
        &credentials.signed_headers,
    );
    if !alibaba::verify(&key.alibaba, &credentials, &string_to_sign) {
        return Err(GatewayError::Auth(AuthError::InvalidSignature(
            string_to_sign,
        )));
    }
    // Only a correctly signed request spends its nonce: a forger cannot burn someone's nonces.
    if let Some(nonce) = credentials.nonce {
        let seen = ctx.compiled.nonces.check_and_insert(
            credentials.key,
            nonce,
            credentials.timestamp,
            now,
        );
        match seen {
            NonceCheck::Fresh => {}
            NonceCheck::Used => return Err(GatewayError::Auth(AuthError::NonceUsed)),
            NonceCheck::TooOld => return Err(GatewayError::Auth(AuthError::TimestampExpired)),
        }
    }
    if let Some(md5) = parts.headers.get(alibaba::CONTENT_MD5) {
        let expected = alibaba::content_md5(body.bytes.unwrap_or_default());
        if md5.as_bytes() != expected.as_bytes() {
            return Err(GatewayError::Auth(AuthError::InvalidContentMd5));
        }
    }
    ctx.caller.app = Some(key.app);
    Ok(())
}

/// Tencent: `Authorization: hmac id=..., algorithm=..., headers=..., signature=...`.
fn key_pair(routed: &mut Routed<'_, '_>) -> Result<(), GatewayError> {
    let ctx = &mut *routed.ctx;
    let headers = &ctx.parts.headers;
    let tencent_error = |e| GatewayError::Auth(AuthError::from(e));
    tencent::check_date(headers, now_ms()).map_err(tencent_error)?;
    let auth = tencent::parse_authorization(headers).map_err(tencent_error)?;
    let key = ctx
        .compiled
        .apps
        .by_key(auth.id)
        .ok_or(GatewayError::Auth(AuthError::UnknownHmacId))?;
    let verified = tencent::signing_string(headers, &auth.headers)
        .is_some_and(|s| tencent::verify(&key.secret, &auth, &s));
    if !verified {
        return Err(GatewayError::Auth(AuthError::HmacMismatch));
    }
    ctx.caller.user = Some(auth.id.into());
    ctx.caller.app = Some(key.app);
    Ok(())
}
