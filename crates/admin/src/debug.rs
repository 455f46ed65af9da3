//! `POST /v1/debug`: online debugging. Runs one request through the gateway's real pipeline
//! for a group, environment and (optionally) API, signed on an app's behalf when asked, and
//! answers with the gateway's trace of every phase.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use pylon_auth::{alibaba, tencent};
use pylon_model::{Api, AuthType};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::JsonBody;
use crate::{AppState, now_ms};

/// One request to run. Without `method` and `path`, the API's own are used (when its path has
/// no parameters).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DebugRequest {
    pub group_id: String,
    /// The API meant to serve the request: supplies the defaults and the signing scheme. The
    /// trace shows which API really matched.
    #[serde(default)]
    pub api_id: Option<String>,
    #[serde(default = "release")]
    pub environment: String,
    /// The app (id or name) whose credentials sign the request.
    #[serde(default)]
    pub app_id: Option<String>,
    /// Sign with the app's first AppKey by the API's scheme (`app` or `key-pair`), or send its
    /// first AppCode as `x-api-key` (`api-key`). Default: true when `app_id` is given.
    #[serde(default)]
    pub sign: Option<bool>,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    /// The raw query string, without `?`.
    #[serde(default)]
    pub query: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: String,
    /// Run it as a call that came over HTTPS (for an API's `protocols`). Default: when the
    /// API (`api_id`) is served over HTTPS only.
    #[serde(default)]
    pub https: Option<bool>,
}

fn release() -> String {
    "RELEASE".into()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DebugResponse {
    /// How the request was signed, if it was (`app` or `key-pair`, with the AppKey used;
    /// `api-key`, with the app's first AppCode as `x-api-key` and no AppKey).
    pub signed: Option<SignedWith>,
    /// The gateway's trace: route, parameters, caller, backend request and response, the
    /// response the client got, the error if any, and each phase's time.
    #[schema(value_type = Object)]
    pub trace: pylon_gateway::DebugTrace,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SignedWith {
    pub scheme: String,
    pub app_key: String,
}

#[utoipa::path(post, path = "/v1/debug", tag = "debug", request_body = DebugRequest,
    responses((status = 200, body = DebugResponse), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn debug(
    State(s): State<AppState>,
    JsonBody(req): JsonBody<DebugRequest>,
) -> ApiResult<Json<DebugResponse>> {
    Ok(Json(run_debug(&s, req).await?))
}

/// Runs one request through the gateway's pipeline and returns its trace: `POST /v1/debug`
/// and the console's debug form.
pub(crate) async fn run_debug(s: &AppState, req: DebugRequest) -> ApiResult<DebugResponse> {
    let Some(gateway) = s.gateway.clone() else {
        return Err(ApiError::Conflict(
            "online debugging needs the gateway, and this admin API runs without one".into(),
        ));
    };
    let group = s.store.get_group(&req.group_id).await?;
    let api = match &req.api_id {
        Some(id) => Some(served_api(s, &group.id, id, &req.environment).await?),
        None => None,
    };
    let method = match (&req.method, &api) {
        (Some(m), _) => m.to_ascii_uppercase(),
        (None, Some(api)) if api.spec.request.method.as_str() != "ANY" => {
            api.spec.request.method.as_str().to_string()
        }
        _ => "GET".into(),
    };
    let method = Method::from_bytes(method.as_bytes())
        .map_err(|_| ApiError::invalid("method", format!("`{method}` is not an HTTP method")))?;
    let path = match (&req.path, &api) {
        (Some(p), _) => p.clone(),
        (None, Some(api)) => literal_path(&api.spec.request.path).ok_or_else(|| {
            ApiError::invalid(
                "path",
                format!(
                    "the API's path `{}` has parameters or a pattern: give a concrete path",
                    api.spec.request.path
                ),
            )
        })?,
        (None, None) => return Err(ApiError::invalid("path", "give a path, or an api_id")),
    };
    if !path.starts_with('/') {
        return Err(ApiError::invalid("path", "must start with `/`"));
    }
    let query = req.query.as_deref().filter(|q| !q.is_empty());

    let mut headers = HeaderMap::new();
    for (k, v) in &req.headers {
        let name = HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| ApiError::invalid(format!("headers.{k}"), "not a header name"))?;
        let value = HeaderValue::from_str(v)
            .map_err(|_| ApiError::invalid(format!("headers.{k}"), "not a header value"))?;
        headers.append(name, value);
    }
    let host = format!("{}.{}", group.id, s.config.base_domain);
    headers.insert(
        http::header::HOST,
        HeaderValue::from_str(&host).map_err(|_| ApiError::Internal("bad host".into()))?,
    );
    let stage = HeaderValue::from_str(&req.environment)
        .map_err(|_| ApiError::invalid("environment", "not a header value"))?;
    headers.insert(HeaderName::from_static("x-ca-stage"), stage);

    let signed = match (&req.app_id, req.sign.unwrap_or(req.app_id.is_some())) {
        (Some(app), true) => {
            let scheme = api
                .as_ref()
                .map_or(AuthType::App, |a| a.spec.auth.auth_type);
            Some(
                sign(
                    s,
                    app,
                    scheme,
                    &method,
                    &path,
                    query,
                    &mut headers,
                    req.body.as_bytes(),
                )
                .await?,
            )
        }
        (None, true) => return Err(ApiError::invalid("app_id", "signing needs an app")),
        _ => None,
    };

    let uri = match query {
        Some(q) => format!("{path}?{q}"),
        None => path.clone(),
    };
    let mut request = http::Request::new(Bytes::from(req.body.clone()));
    *request.method_mut() = method;
    *request.uri_mut() = uri
        .parse()
        .map_err(|_| ApiError::invalid("path", "path and query do not form a URL"))?;
    *request.headers_mut() = headers;
    let https = req.https.unwrap_or_else(|| {
        api.as_ref().is_some_and(|a| {
            !a.spec
                .request
                .protocols
                .contains(&pylon_model::Protocol::Http)
        })
    });
    let trace = gateway.debug(request, https).await;
    Ok(DebugResponse { signed, trace })
}

/// The API as its environment serves it: the active deployment, or the draft when unpublished.
async fn served_api(s: &AppState, group_id: &str, api_id: &str, env: &str) -> ApiResult<Api> {
    let draft = crate::apis::load_api(s, group_id, api_id).await?;
    let deployments = s.store.list_deployments(&draft.id, Some(env)).await?;
    Ok(deployments
        .into_iter()
        .find(|d| d.active)
        .map(|d| d.api)
        .unwrap_or(draft))
}

/// The request path an API's pattern stands for, when it is one fixed path.
fn literal_path(pattern: &str) -> Option<String> {
    let path = pattern
        .strip_prefix('=')
        .or_else(|| pattern.strip_prefix("^~"))
        .unwrap_or(pattern);
    (path.starts_with('/') && !path.contains(['{', '}']) && !pattern.starts_with('~'))
        .then(|| path.to_string())
}

#[allow(clippy::too_many_arguments)]
async fn sign(
    s: &AppState,
    app: &str,
    scheme: AuthType,
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &mut HeaderMap,
    body: &[u8],
) -> ApiResult<SignedWith> {
    let app = s.store.get_app(app).await?;
    if scheme == AuthType::ApiKey {
        // An API key is the app's AppCode, sent as it is.
        let code = s
            .store
            .list_app_codes(&app.id)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| {
                ApiError::invalid(
                    "app_id",
                    format!(
                        "app `{}` has no AppCode to send as x-api-key; add one with `pylon app code add {}`",
                        app.id, app.spec.name
                    ),
                )
            })?;
        let value = HeaderValue::from_str(&code.code)
            .map_err(|_| ApiError::Internal("an AppCode is not a header value".into()))?;
        headers.insert(HeaderName::from_static("x-api-key"), value);
        return Ok(SignedWith {
            scheme: "api-key".into(),
            app_key: String::new(),
        });
    }
    let first = s
        .store
        .list_app_keys(&app.id)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::invalid("app_id", format!("app `{}` has no AppKey", app.id)))?;
    let key = s.store.get_app_key(&app.id, &first.app_key).await?;
    let secret = key.app_secret.unwrap_or_default();
    let bad = |_| ApiError::invalid("headers", "a signed value cannot be a header value");
    let scheme_name = match scheme {
        AuthType::KeyPair => {
            tencent::sign_request(
                headers,
                &key.app_key,
                &secret,
                tencent::Algorithm::Sha256,
                now_ms(),
            )
            .map_err(bad)?;
            "key-pair"
        }
        _ => {
            let nonce = uuid::Uuid::new_v4().to_string();
            alibaba::sign_request(
                method,
                path,
                query,
                headers,
                body,
                &key.app_key,
                &secret,
                now_ms(),
                &nonce,
            )
            .map_err(bad)?;
            "app"
        }
    };
    Ok(SignedWith {
        scheme: scheme_name.into(),
        app_key: key.app_key,
    })
}

#[cfg(test)]
mod tests {
    use super::literal_path;

    #[test]
    fn only_fixed_paths_are_used_as_defaults() {
        assert_eq!(literal_path("/users").as_deref(), Some("/users"));
        assert_eq!(literal_path("=/users").as_deref(), Some("/users"));
        assert_eq!(literal_path("^~/static").as_deref(), Some("/static"));
        assert_eq!(literal_path("/users/{id}"), None);
        assert_eq!(literal_path("~^/u/[0-9]+$"), None);
    }
}
