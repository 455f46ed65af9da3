//! The console's APIs: the four-step wizard that defines one (basic information, request,
//! backend, response), and an API's page: what each environment serves, a banner and a diff
//! while the draft differs, publish with a note, unpublish, the history with rollback, and
//! authorizing an app. Every change is the REST API's own service function.

use std::collections::BTreeMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Redirect, Response};
use http::StatusCode;
use pylon_model::{ApiSpec, AuthorizationSpec, PublishRequest};
use serde::Deserialize;
use serde_json::{Value, json};

use super::diff::{DiffLine, diff};
use super::frame::{Console, SignedIn, date, query_escape, render};
use super::pages::failed;
use crate::apis::{create_api, load_api};
use crate::authorizations::grant_authorization;
use crate::deployments::{RollbackRequest, publish_api, rollback_api, unpublish_api};
use crate::error::ApiError;

/// Every field of the wizard; the steps not shown travel as hidden inputs.
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub(crate) struct Wizard {
    #[serde(rename = "_csrf")]
    csrf: String,
    step: u8,
    /// `next`, `back` or `create`.
    go: String,
    // 1. Basic information.
    name: String,
    description: String,
    auth: String,
    app_code: String,
    // 2. Request.
    protocols: String,
    method: String,
    path: String,
    mode: String,
    p0_name: String,
    p0_location: String,
    p0_type: String,
    p0_required: String,
    p1_name: String,
    p1_location: String,
    p1_type: String,
    p1_required: String,
    p2_name: String,
    p2_location: String,
    p2_type: String,
    p2_required: String,
    // 3. Backend.
    backend_kind: String,
    backend_id: String,
    url: String,
    upstream: String,
    mock_status: String,
    mock_body: String,
    backend_path: String,
    backend_method: String,
    timeout_ms: String,
    // 4. Response.
    content_type: String,
    success_example: String,
    failure_example: String,
}

impl Wizard {
    fn fresh() -> Self {
        Wizard {
            step: 1,
            auth: "app".into(),
            app_code: "header".into(),
            protocols: "HTTP,HTTPS".into(),
            method: "GET".into(),
            mode: "pass_through".into(),
            backend_kind: "http".into(),
            backend_path: "/".into(),
            timeout_ms: "10000".into(),
            content_type: "application/json".into(),
            ..Wizard::default()
        }
    }

    fn params(&self) -> [(&str, &str, &str, &str); 3] {
        [
            (
                &self.p0_name,
                &self.p0_location,
                &self.p0_type,
                &self.p0_required,
            ),
            (
                &self.p1_name,
                &self.p1_location,
                &self.p1_type,
                &self.p1_required,
            ),
            (
                &self.p2_name,
                &self.p2_location,
                &self.p2_type,
                &self.p2_required,
            ),
        ]
        .map(|(n, l, t, r)| (n.as_str(), l.as_str(), t.as_str(), r.as_str()))
    }

    /// The API's definition as the REST API takes it: the same document, the same checks.
    fn spec(&self) -> Result<ApiSpec, ApiError> {
        let non_empty = |v: &str| (!v.trim().is_empty()).then(|| v.trim().to_string());
        let parameters: Vec<Value> = self
            .params()
            .iter()
            .filter(|(name, ..)| !name.trim().is_empty())
            .map(|(name, location, ty, required)| {
                json!({"name": name.trim(), "location": location, "type": ty,
                       "required": *required == "yes"})
            })
            .collect();
        let inline = |definition: Value| json!({ "inline": definition });
        let service = match self.backend_kind.as_str() {
            "service" => json!({ "backend_id": self.backend_id.trim() }),
            "upstream" => inline(json!({"type": "upstream", "upstream": self.upstream.trim()})),
            "mock" => inline(json!({"type": "mock",
                "status": self.mock_status.trim().parse::<u16>().unwrap_or(200),
                "body": self.mock_body})),
            _ => inline(json!({"type": "http", "url": self.url.trim()})),
        };
        let timeout_ms = self.timeout_ms.trim().parse::<u64>().map_err(|_| {
            ApiError::invalid(
                "backend.timeout_ms",
                "must be a whole number of milliseconds",
            )
        })?;
        let mut backend = json!({"service": service, "path": self.backend_path.trim(),
                                 "timeout_ms": timeout_ms});
        if let Some(m) = non_empty(&self.backend_method) {
            backend["method"] = json!(m);
        }
        let document = json!({
            "name": self.name.trim(),
            "description": self.description,
            "auth": {"type": self.auth, "app_code": if self.auth == "app" { self.app_code.as_str() } else { "off" }},
            "request": {
                "protocols": self.protocols.split(',').collect::<Vec<_>>(),
                "method": self.method,
                "path": self.path.trim(),
                "mode": self.mode,
            },
            "parameters": parameters,
            "backend": backend,
            "response": {
                "content_type": non_empty(&self.content_type),
                "success_example": non_empty(&self.success_example),
                "failure_example": non_empty(&self.failure_example),
            },
        });
        serde_json::from_value(document).map_err(|e| ApiError::BadRequest(e.to_string()))
    }
}

/// The step that holds a field the API refused, and the input it names.
fn step_of(field: &str) -> (u8, &'static str) {
    match field {
        f if f.starts_with("request.path") => (2, "path"),
        f if f.starts_with("request") || f.starts_with("parameters") => (2, "method"),
        f if f.starts_with("backend.path") => (3, "backend_path"),
        f if f.starts_with("backend.timeout") => (3, "timeout_ms"),
        f if f.ends_with(".url") => (3, "url"),
        f if f.ends_with(".upstream") => (3, "upstream"),
        f if f.starts_with("backend") => (3, "backend_kind"),
        f if f.starts_with("response") => (4, "content_type"),
        f if f.starts_with("auth") => (1, "auth"),
        _ => (1, "name"),
    }
}

struct Choice {
    value: String,
    label: String,
}

/// One row of the parameter table.
struct ParamRow {
    name: String,
    location: String,
    ty: String,
    required: String,
}

#[derive(Template)]
#[template(path = "console/api_wizard.html")]
struct WizardPage {
    csrf: Option<String>,
    group_id: String,
    group_name: String,
    w: Wizard,
    params: Vec<ParamRow>,
    /// The input an error is next to, and the error.
    error: Option<(&'static str, String)>,
    backends: Vec<Choice>,
    upstreams: Vec<Choice>,
}

impl WizardPage {
    fn error_for(&self, input: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|(i, _)| *i == input)
            .map(|(_, m)| m.as_str())
    }
}

async fn wizard_page(
    s: &Console,
    signed: SignedIn,
    group_id: &str,
    w: Wizard,
    error: Option<(&'static str, String)>,
    status: StatusCode,
) -> Response {
    let loaded = async {
        let group = s.store.get_group(group_id).await?;
        let backends = s.store.list_backends().await?;
        let upstreams = s.store.list_upstreams().await?;
        Ok::<_, pylon_store::StoreError>((group, backends, upstreams))
    };
    let (group, backends, upstreams) = match loaded.await {
        Ok(all) => all,
        Err(e) => return failed(&e.into(), &signed.csrf),
    };
    let params = w
        .params()
        .iter()
        .map(|(name, location, ty, required)| ParamRow {
            name: name.to_string(),
            location: location.to_string(),
            ty: ty.to_string(),
            required: required.to_string(),
        })
        .collect();
    let page = WizardPage {
        csrf: Some(signed.csrf),
        group_id: group.id,
        group_name: group.name,
        w,
        params,
        error,
        backends: backends
            .into_iter()
            .map(|b| Choice {
                label: format!("{} ({:?})", b.spec.name, b.spec.kind).to_lowercase(),
                value: b.id,
            })
            .collect(),
        upstreams: upstreams
            .into_iter()
            .map(|u| Choice {
                label: u.spec.name.clone(),
                value: u.spec.name,
            })
            .collect(),
    };
    render(status, &page)
}

pub(crate) async fn new_api(s: Console, signed: SignedIn, Path(gid): Path<String>) -> Response {
    wizard_page(&s, signed, &gid, Wizard::fresh(), None, StatusCode::OK).await
}

/// A step of the wizard: on to the next, back, or (on the last) create the API.
pub(crate) async fn wizard_step(
    s: Console,
    signed: SignedIn,
    Path(gid): Path<String>,
    Form(mut w): Form<Wizard>,
) -> Response {
    if let Some(refused) = signed.refuse_without_csrf(&w.csrf) {
        return refused;
    }
    match w.go.as_str() {
        "back" => {
            w.step = w.step.saturating_sub(1).max(1);
            wizard_page(&s, signed, &gid, w, None, StatusCode::OK).await
        }
        "create" => {
            let created = match w.spec() {
                Ok(spec) => create_api(&s, gid.clone(), spec).await,
                Err(e) => Err(e),
            };
            match created {
                Ok(api) => {
                    Redirect::to(&format!("/console/groups/{gid}/apis/{}", api.id)).into_response()
                }
                Err(ApiError::Validation(v)) => {
                    let (step, input) = step_of(&v.field);
                    w.step = step;
                    let status = StatusCode::UNPROCESSABLE_ENTITY;
                    wizard_page(&s, signed, &gid, w, Some((input, v.message)), status).await
                }
                Err(e @ (ApiError::Conflict(_) | ApiError::BadRequest(_))) => {
                    w.step = 1;
                    let status = StatusCode::CONFLICT;
                    wizard_page(&s, signed, &gid, w, Some(("name", e.to_string())), status).await
                }
                Err(e) => failed(&e, &signed.csrf),
            }
        }
        _ => {
            w.step = (w.step + 1).clamp(1, 4);
            wizard_page(&s, signed, &gid, w, None, StatusCode::OK).await
        }
    }
}

struct Served {
    environment: String,
    version: Option<u32>,
    published: String,
    note: String,
    differs: bool,
}

struct HistoryRow {
    environment: String,
    version: u32,
    note: String,
    published: String,
    active: bool,
}

#[derive(Template)]
#[template(path = "console/api.html")]
struct ApiPage {
    csrf: Option<String>,
    group_id: String,
    group_name: String,
    id: String,
    name: String,
    method: String,
    path: String,
    auth: String,
    served: Vec<Served>,
    history: Vec<HistoryRow>,
    environments: Vec<String>,
    apps: Vec<(String, String)>,
    /// The environment whose published version the diff compares the draft with.
    diff_env: Option<String>,
    diff: Vec<DiffLine>,
    draft_json: String,
    /// Why the draft typed in the editor was refused.
    draft_error: Option<String>,
    message: Option<String>,
}

#[derive(Deserialize, Default)]
pub(crate) struct ApiQuery {
    #[serde(default)]
    diff: Option<String>,
    #[serde(default)]
    done: Option<String>,
}

pub(crate) async fn api(
    s: Console,
    signed: SignedIn,
    Path((gid, aid)): Path<(String, String)>,
    Query(q): Query<ApiQuery>,
) -> Response {
    api_page(&s, signed, &gid, &aid, q, StatusCode::OK).await
}

async fn api_page(
    s: &Console,
    signed: SignedIn,
    gid: &str,
    aid: &str,
    q: ApiQuery,
    status: StatusCode,
) -> Response {
    editor_page(s, signed, gid, aid, q, status, None).await
}

/// The API's page; `typed`: a draft the editor refused, shown again with why.
async fn editor_page(
    s: &Console,
    signed: SignedIn,
    gid: &str,
    aid: &str,
    q: ApiQuery,
    status: StatusCode,
    typed: Option<(String, String)>,
) -> Response {
    let (draft_typed, draft_error) = match typed {
        Some((json, why)) => (Some(json), Some(why)),
        None => (None, None),
    };
    let api = match load_api(s, gid, aid).await {
        Ok(api) => api,
        Err(e) => return failed(&e, &signed.csrf),
    };
    let loaded = async {
        let group = s.store.get_group(gid).await?;
        let environments = s.store.list_environments().await?;
        let history = s.store.list_deployments(&api.id, None).await?;
        let apps = s.store.list_apps().await?;
        Ok::<_, pylon_store::StoreError>((group, environments, history, apps))
    };
    let (group, environments, history, apps) = match loaded.await {
        Ok(all) => all,
        Err(e) => return failed(&e.into(), &signed.csrf),
    };
    let pretty = |spec: &ApiSpec| serde_json::to_string_pretty(spec).unwrap_or_default();
    let draft_json = pretty(&api.spec);
    let mut served = Vec::new();
    let mut published_json: BTreeMap<String, String> = BTreeMap::new();
    for e in &environments {
        let active = history.iter().find(|d| d.active && d.environment == e.name);
        let differs = active.is_some_and(|d| d.api.spec != api.spec);
        if let Some(d) = active {
            published_json.insert(e.name.clone(), pretty(&d.api.spec));
        }
        served.push(Served {
            environment: e.name.clone(),
            version: active.map(|d| d.version),
            published: active.map(|d| date(d.created_at)).unwrap_or_default(),
            note: active.map(|d| d.note.clone()).unwrap_or_default(),
            differs,
        });
    }
    let diff_env = q
        .diff
        .filter(|e| published_json.contains_key(e))
        .or_else(|| {
            served
                .iter()
                .find(|s| s.differs)
                .map(|s| s.environment.clone())
        });
    let diff_lines = diff_env
        .as_ref()
        .and_then(|e| published_json.get(e))
        .map(|published| diff(published, &draft_json))
        .unwrap_or_default();
    let page = ApiPage {
        csrf: Some(signed.csrf),
        group_id: group.id,
        group_name: group.name,
        id: api.id.clone(),
        name: api.spec.name.clone(),
        method: format!("{:?}", api.spec.request.method).to_uppercase(),
        path: api.spec.request.path.clone(),
        auth: format!("{:?}", api.spec.auth.auth_type).to_lowercase(),
        served,
        history: history
            .into_iter()
            .map(|d| HistoryRow {
                environment: d.environment,
                version: d.version,
                note: d.note,
                published: date(d.created_at),
                active: d.active,
            })
            .collect(),
        environments: environments.into_iter().map(|e| e.name).collect(),
        apps: apps.into_iter().map(|a| (a.id, a.spec.name)).collect(),
        diff_env,
        diff: diff_lines,
        draft_json: draft_typed.unwrap_or(draft_json),
        draft_error,
        message: q.done,
    };
    render(status, &page)
}

#[derive(Deserialize)]
pub(crate) struct EnvForm {
    #[serde(default, rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    environment: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    version: Option<u32>,
}

/// Back to the API's page, saying what was done.
fn done(gid: &str, aid: &str, what: &str) -> Response {
    let what = query_escape(what);
    Redirect::to(&format!("/console/groups/{gid}/apis/{aid}?done={what}")).into_response()
}

/// An API page showing why a change was refused.
async fn refused(s: &Console, signed: SignedIn, gid: &str, aid: &str, e: ApiError) -> Response {
    let status = e.status();
    let q = ApiQuery {
        diff: None,
        done: Some(format!("Refused: {e}")),
    };
    api_page(s, signed, gid, aid, q, status).await
}

pub(crate) async fn publish(
    s: Console,
    signed: SignedIn,
    Path((gid, aid)): Path<(String, String)>,
    Form(f): Form<EnvForm>,
) -> Response {
    if let Some(refused) = signed.refuse_without_csrf(&f.csrf) {
        return refused;
    }
    let req = PublishRequest {
        environment: f.environment,
        note: f.note,
    };
    match publish_api(&s, &gid, &aid, &req).await {
        Ok(d) => done(
            &gid,
            &aid,
            &format!("Published version {} to {}", d.version, d.environment),
        ),
        Err(e) => refused(&s, signed, &gid, &aid, e).await,
    }
}

pub(crate) async fn unpublish(
    s: Console,
    signed: SignedIn,
    Path((gid, aid)): Path<(String, String)>,
    Form(f): Form<EnvForm>,
) -> Response {
    if let Some(refused) = signed.refuse_without_csrf(&f.csrf) {
        return refused;
    }
    match unpublish_api(&s, &gid, &aid, &f.environment).await {
        Ok(()) => done(&gid, &aid, &format!("Unpublished from {}", f.environment)),
        Err(e) => refused(&s, signed, &gid, &aid, e).await,
    }
}

pub(crate) async fn rollback(
    s: Console,
    signed: SignedIn,
    Path((gid, aid)): Path<(String, String)>,
    Form(f): Form<EnvForm>,
) -> Response {
    if let Some(refused) = signed.refuse_without_csrf(&f.csrf) {
        return refused;
    }
    let req = RollbackRequest {
        environment: f.environment,
        version: f.version.unwrap_or(0),
    };
    match rollback_api(&s, &gid, &aid, &req).await {
        Ok(d) => done(
            &gid,
            &aid,
            &format!("{} serves version {} again", d.environment, d.version),
        ),
        Err(e) => refused(&s, signed, &gid, &aid, e).await,
    }
}

#[derive(Deserialize)]
pub(crate) struct AuthorizeForm {
    #[serde(default, rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    app_id: String,
    #[serde(default)]
    environment: String,
    /// `YYYY-MM-DD` (UTC midnight), or empty for no expiry.
    #[serde(default)]
    expires: String,
}

pub(crate) async fn authorize(
    s: Console,
    signed: SignedIn,
    Path((gid, aid)): Path<(String, String)>,
    Form(f): Form<AuthorizeForm>,
) -> Response {
    if let Some(refused) = signed.refuse_without_csrf(&f.csrf) {
        return refused;
    }
    let expires_at = match f.expires.trim() {
        "" => None,
        day => match epoch_ms_of_day(day) {
            Some(ms) => Some(ms),
            None => {
                let e = ApiError::invalid("expires_at", "write the expiry as YYYY-MM-DD");
                return refused(&s, signed, &gid, &aid, e).await;
            }
        },
    };
    let spec = AuthorizationSpec {
        app_id: f.app_id,
        api_id: aid.clone(),
        environment: f.environment.clone(),
        expires_at,
        description: String::new(),
    };
    match grant_authorization(&s, spec).await {
        Ok(_) => done(&gid, &aid, &format!("Authorized in {}", f.environment)),
        Err(e) => refused(&s, signed, &gid, &aid, e).await,
    }
}

/// Midnight UTC of `YYYY-MM-DD`, in epoch milliseconds.
fn epoch_ms_of_day(day: &str) -> Option<i64> {
    let mut parts = day.splitn(3, '-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Howard Hinnant's days-from-civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146_097 + doe - 719_468) * 86_400_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_utc_midnights() {
        assert_eq!(epoch_ms_of_day("1970-01-01"), Some(0));
        assert_eq!(epoch_ms_of_day("2026-12-01"), Some(1_796_083_200_000));
        assert_eq!(epoch_ms_of_day("2026-13-01"), None);
        assert_eq!(epoch_ms_of_day("soon"), None);
    }

    #[test]
    fn the_wizard_writes_the_rest_apis_document() {
        let mut w = Wizard::fresh();
        w.name = "get-user".into();
        w.path = "/users/{id}".into();
        w.url = "http://127.0.0.1:8000".into();
        w.backend_path = "/users/{id}".into();
        w.p0_name = "id".into();
        w.p0_location = "path".into();
        w.p0_type = "string".into();
        w.p0_required = "yes".into();
        let spec = w.spec().unwrap();
        assert_eq!(spec.parameters.len(), 1);
        assert!(spec.parameters[0].required);
        assert!(spec.validate().is_ok(), "{:?}", spec.validate());
        assert_eq!(step_of("request.path"), (2, "path"));
        assert_eq!(step_of("backend.service.inline.url"), (3, "url"));
    }
}

#[derive(Deserialize)]
pub(crate) struct DraftForm {
    #[serde(default, rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    json: String,
}

/// The draft's whole definition from the editor: every field, the ones the wizard does not
/// ask for included (`PUT .../apis/{id}`'s own service function).
pub(crate) async fn save_draft(
    s: Console,
    signed: SignedIn,
    Path((gid, aid)): Path<(String, String)>,
    Form(f): Form<DraftForm>,
) -> Response {
    if let Some(refused) = signed.refuse_without_csrf(&f.csrf) {
        return refused;
    }
    let saved = match serde_json::from_str::<ApiSpec>(&f.json) {
        Ok(spec) => crate::apis::update_api(&s, &gid, &aid, spec).await,
        Err(e) => Err(ApiError::BadRequest(format!("not an API definition: {e}"))),
    };
    match saved {
        Ok(_) => done(&gid, &aid, "Saved the draft: publish it to serve it"),
        Err(e @ (ApiError::Validation(_) | ApiError::BadRequest(_) | ApiError::Conflict(_))) => {
            let status = e.status();
            let why = match &e {
                ApiError::Validation(v) => format!("{}: {}", v.field, v.message),
                other => other.to_string(),
            };
            let q = ApiQuery::default();
            editor_page(&s, signed, &gid, &aid, q, status, Some((f.json, why))).await
        }
        Err(e) => failed(&e, &signed.csrf),
    }
}
