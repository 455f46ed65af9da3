//! `/v1/apps`: apps (API callers), their AppKey/AppSecret pairs and their AppCodes.
//!
//! An AppSecret leaves the server in three answers only: creating the app, adding a key, and
//! `GET .../keys/{app_key}/secret`. Nothing here logs a request or response body.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use http::StatusCode;
use pylon_model::{App, AppCode, AppKey, AppSpec};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::JsonBody;
use crate::{AppState, new_id, now_ms};

/// An app with its key pairs: secrets shown after creation, hidden on `GET`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AppWithKeys {
    #[serde(flatten)]
    pub app: App,
    pub keys: Vec<AppKey>,
}

/// The optional body of `POST /v1/apps/{app}/keys`: import a pair made elsewhere (e.g. when
/// moving from another gateway). A value left out is generated.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAppKey {
    #[serde(default)]
    pub app_key: Option<String>,
    #[serde(default)]
    pub app_secret: Option<String>,
}

/// The optional body of `POST /v1/apps/{app}/codes`; the code is generated when left out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAppCode {
    #[serde(default)]
    pub code: Option<String>,
}

/// Random bytes from the OS RNG. `uuid`'s v4 generator is that RNG; its version and variant
/// bits are skipped, so every byte taken is uniformly random.
fn random_bytes(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n + 13);
    while out.len() < n {
        let uuid = uuid::Uuid::new_v4();
        let b = uuid.as_bytes();
        out.extend_from_slice(&b[..6]);
        out.extend_from_slice(&b[9..]);
    }
    out.truncate(n);
    out
}

fn random_hex(chars: usize) -> String {
    let mut hex: String = random_bytes(chars.div_ceil(2))
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    hex.truncate(chars);
    hex
}

/// 32 characters from `[A-Za-z0-9]`, without modulo bias (bytes >= 248 are drawn again).
fn random_secret() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(32);
    while out.len() < 32 {
        for b in random_bytes(32) {
            if b < 248 && out.len() < 32 {
                out.push(ALPHABET[usize::from(b) % ALPHABET.len()] as char);
            }
        }
    }
    out
}

/// A credential given by the caller: printable, no spaces, and safe in a header or a query.
fn check_credential(value: &str, field: &str, min: usize, max: usize) -> ApiResult<()> {
    if value.len() < min || value.len() > max {
        return Err(ApiError::invalid(
            field,
            format!("must be {min} to {max} characters long"),
        ));
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(ApiError::invalid(
            field,
            "may only hold letters, digits, `-`, `_` and `.`",
        ));
    }
    Ok(())
}

/// An optional JSON body: empty means `T::default()`; anything else must be valid JSON.
fn optional_body<T: DeserializeOwned + Default>(body: &Bytes) -> ApiResult<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
}

fn new_key(app_id: &str, app_key: String, app_secret: String) -> AppKey {
    AppKey {
        app_id: app_id.to_string(),
        app_key,
        app_secret: Some(app_secret),
        created_at: now_ms(),
    }
}

#[utoipa::path(get, path = "/v1/apps", tag = "apps",
    responses((status = 200, body = Vec<App>), (status = 401, body = ErrorBody)))]
pub(crate) async fn list(State(s): State<AppState>) -> ApiResult<Json<Vec<App>>> {
    Ok(Json(s.store.list_apps().await?))
}

#[utoipa::path(post, path = "/v1/apps", tag = "apps", request_body = AppSpec,
    responses((status = 201, body = AppWithKeys,
            description = "the app and its first key pair, AppSecret included: keep it now"),
        (status = 409, body = ErrorBody, description = "the name is taken"),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn create(
    State(s): State<AppState>,
    JsonBody(spec): JsonBody<AppSpec>,
) -> ApiResult<(StatusCode, Json<AppWithKeys>)> {
    Ok((StatusCode::CREATED, Json(create_app(&s, spec).await?)))
}

/// Creates an app with its first key pair: `POST /v1/apps` and the console's form.
pub(crate) async fn create_app(s: &AppState, spec: AppSpec) -> ApiResult<AppWithKeys> {
    spec.validate()?;
    let now = now_ms();
    let app = App {
        id: new_id(),
        spec,
        created_at: now,
        updated_at: now,
    };
    let key = new_key(&app.id, random_hex(24), random_secret());
    s.store.create_app(&app, &key).await?;
    s.changed().await?;
    Ok(AppWithKeys {
        app,
        keys: vec![key],
    })
}

#[utoipa::path(get, path = "/v1/apps/{app}", tag = "apps",
    params(("app" = String, Path, description = "id or name")),
    responses((status = 200, body = AppWithKeys, description = "the app; AppSecrets hidden"),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    State(s): State<AppState>,
    Path(app): Path<String>,
) -> ApiResult<Json<AppWithKeys>> {
    let app = s.store.get_app(&app).await?;
    let keys = s.store.list_app_keys(&app.id).await?;
    Ok(Json(AppWithKeys { app, keys }))
}

#[utoipa::path(delete, path = "/v1/apps/{app}", tag = "apps",
    params(("app" = String, Path, description = "id or name")),
    responses((status = 204, description = "deleted with its keys, codes and authorizations"),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn delete(
    State(s): State<AppState>,
    Path(app): Path<String>,
) -> ApiResult<StatusCode> {
    let app = s.store.get_app(&app).await?;
    s.store.delete_app(&app.id).await?;
    s.changed().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v1/apps/{app}/keys", tag = "apps",
    params(("app" = String, Path, description = "id or name")),
    responses((status = 200, body = Vec<AppKey>, description = "AppSecrets hidden"),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn list_keys(
    State(s): State<AppState>,
    Path(app): Path<String>,
) -> ApiResult<Json<Vec<AppKey>>> {
    let app = s.store.get_app(&app).await?;
    Ok(Json(s.store.list_app_keys(&app.id).await?))
}

#[utoipa::path(post, path = "/v1/apps/{app}/keys", tag = "apps",
    request_body(content = Option<NewAppKey>,
        description = "optional; an empty body generates both values"),
    params(("app" = String, Path, description = "id or name")),
    responses((status = 201, body = AppKey, description = "the new pair, AppSecret included"),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "the AppKey is taken"),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn add_key(
    State(s): State<AppState>,
    Path(app): Path<String>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<AppKey>)> {
    let input: NewAppKey = optional_body(&body)?;
    Ok((
        StatusCode::CREATED,
        Json(add_app_key(&s, &app, input).await?),
    ))
}

/// Adds a key pair to `app` (id or name): the REST API's and the console's.
pub(crate) async fn add_app_key(s: &AppState, app: &str, input: NewAppKey) -> ApiResult<AppKey> {
    let app = s.store.get_app(app).await?;
    if let Some(k) = &input.app_key {
        check_credential(k, "app_key", 8, 64)?;
    }
    if let Some(secret) = &input.app_secret {
        check_credential(secret, "app_secret", 16, 128)?;
    }
    let key = new_key(
        &app.id,
        input.app_key.unwrap_or_else(|| random_hex(24)),
        input.app_secret.unwrap_or_else(random_secret),
    );
    s.store.add_app_key(&key).await?;
    s.changed().await?;
    Ok(key)
}

#[utoipa::path(get, path = "/v1/apps/{app}/keys/{app_key}/secret", tag = "apps",
    params(("app" = String, Path, description = "id or name"), ("app_key" = String, Path)),
    responses((status = 200, body = AppKey, description = "the pair, AppSecret included"),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn get_secret(
    State(s): State<AppState>,
    Path((app, app_key)): Path<(String, String)>,
) -> ApiResult<Json<AppKey>> {
    let app = s.store.get_app(&app).await?;
    Ok(Json(s.store.get_app_key(&app.id, &app_key).await?))
}

#[utoipa::path(delete, path = "/v1/apps/{app}/keys/{app_key}", tag = "apps",
    params(("app" = String, Path, description = "id or name"), ("app_key" = String, Path)),
    responses((status = 204, description = "deleted; requests signed with it fail at once"),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_key(
    State(s): State<AppState>,
    Path((app, app_key)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    delete_app_key(&s, &app, &app_key).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes one key pair of `app`: requests signed with it fail at once.
pub(crate) async fn delete_app_key(s: &AppState, app: &str, app_key: &str) -> ApiResult<()> {
    let app = s.store.get_app(app).await?;
    s.store.delete_app_key(&app.id, app_key).await?;
    s.changed().await
}

#[utoipa::path(get, path = "/v1/apps/{app}/codes", tag = "apps",
    params(("app" = String, Path, description = "id or name")),
    responses((status = 200, body = Vec<AppCode>), (status = 404, body = ErrorBody)))]
pub(crate) async fn list_codes(
    State(s): State<AppState>,
    Path(app): Path<String>,
) -> ApiResult<Json<Vec<AppCode>>> {
    let app = s.store.get_app(&app).await?;
    Ok(Json(s.store.list_app_codes(&app.id).await?))
}

#[utoipa::path(post, path = "/v1/apps/{app}/codes", tag = "apps",
    request_body(content = Option<NewAppCode>,
        description = "optional; an empty body generates the code"),
    params(("app" = String, Path, description = "id or name")),
    responses((status = 201, body = AppCode), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "the code is taken"),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn add_code(
    State(s): State<AppState>,
    Path(app): Path<String>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<AppCode>)> {
    let input: NewAppCode = optional_body(&body)?;
    Ok((
        StatusCode::CREATED,
        Json(add_app_code(&s, &app, input).await?),
    ))
}

/// Adds an AppCode to `app` (id or name): the REST API's and the console's.
pub(crate) async fn add_app_code(s: &AppState, app: &str, input: NewAppCode) -> ApiResult<AppCode> {
    let app = s.store.get_app(app).await?;
    if let Some(code) = &input.code {
        check_credential(code, "code", 16, 128)?;
    }
    let code = AppCode {
        app_id: app.id,
        code: input.code.unwrap_or_else(|| random_hex(32)),
        created_at: now_ms(),
    };
    s.store.add_app_code(&code).await?;
    s.changed().await?;
    Ok(code)
}

#[utoipa::path(delete, path = "/v1/apps/{app}/codes/{code}", tag = "apps",
    params(("app" = String, Path, description = "id or name"), ("code" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_code(
    State(s): State<AppState>,
    Path((app, code)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let app = s.store.get_app(&app).await?;
    s.store.delete_app_code(&app.id, &code).await?;
    s.changed().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_values_have_the_documented_shape() {
        let key = random_hex(24);
        assert_eq!(key.len(), 24);
        assert!(
            key.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        let code = random_hex(32);
        assert_eq!(code.len(), 32);
        let secret = random_secret();
        assert_eq!(secret.len(), 32);
        assert!(secret.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(random_secret(), secret);
        assert_ne!(random_hex(24), key);
    }

    #[test]
    fn given_credentials_are_checked() {
        assert!(check_credential("abcdefgh", "app_key", 8, 64).is_ok());
        let short = check_credential("abc", "app_key", 8, 64).unwrap_err();
        assert_eq!(short.body().field.as_deref(), Some("app_key"));
        assert!(check_credential("abcd efgh", "code", 4, 64).is_err());
        assert!(check_credential("abcd&efgh", "code", 4, 64).is_err());
    }

    #[test]
    fn empty_bodies_mean_defaults() {
        let empty: NewAppKey = optional_body(&Bytes::new()).unwrap();
        assert_eq!(empty, NewAppKey::default());
        let given: NewAppCode = optional_body(&Bytes::from_static(b"{\"code\":\"x\"}")).unwrap();
        assert_eq!(given.code.as_deref(), Some("x"));
        assert!(optional_body::<NewAppCode>(&Bytes::from_static(b"{\"nope\":1}")).is_err());
    }
}
