//! The console's APIs: the four-step wizard that defines one (basic information, request,
//! backend, response), and an API's page: what each environment serves, a banner and a diff
//! while the draft differs, publish with a note, unpublish, the history with rollback, and
//! authorizing an app. Every change is the REST API's own service function.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Redirect, Response};
use http::StatusCode;
use pylon_model::{Api, ApiSpec, AuthorizationSpec, PublishRequest};
use serde::Deserialize;
use serde_json::json;

use super::diff::{DiffLine, diff};
use super::frame::{Console, Posted, SignedIn, date, query_escape, reason, render};
use super::pages::failed;
use super::wizard::{Wizard, step_of};
use crate::apis::{create_api, load_api, update_api};
use crate::authorizations::grant_authorization;
use crate::deployments::{RollbackRequest, publish_api, rollback_api, unpublish_api};
use crate::error::ApiError;

struct Choice {
    value: String,
    label: String,
}

#[derive(Template)]
#[template(path = "console/api_wizard.html")]
struct WizardPage {
    csrf: Option<String>,
    group_id: String,
    group_name: String,
    /// The API being edited (id and name); none for a new one.
    editing: Option<(String, String)>,
    w: Wizard,
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

    fn action(&self) -> String {
        match &self.editing {
            Some((id, _)) => format!("/console/groups/{}/apis/{id}/edit", self.group_id),
            None => format!("/console/groups/{}/apis/new", self.group_id),
        }
    }
}

const LOCATIONS: [&str; 5] = ["query", "path", "header", "form", "body"];
const SYSTEM_KINDS: [&str; 8] = [
    "client_ip",
    "request_id",
    "domain",
    "stage",
    "api_id",
    "api_name",
    "user_agent",
    "app_id",
];

async fn wizard_page(
    s: &Console,
    signed: SignedIn,
    group_id: &str,
    editing: Option<(String, String)>,
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
    let page = WizardPage {
        csrf: Some(signed.csrf),
        group_id: group.id,
        group_name: group.name,
        editing,
        w,
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
    wizard_page(
        &s,
        signed,
        &gid,
        None,
        Wizard::fresh(),
        None,
        StatusCode::OK,
    )
    .await
}

/// The same four steps over an API's draft.
pub(crate) async fn edit_api(
    s: Console,
    signed: SignedIn,
    Path((gid, aid)): Path<(String, String)>,
) -> Response {
    let api = match load_api(&s, &gid, &aid).await {
        Ok(api) => api,
        Err(e) => return failed(&e, &signed.csrf),
    };
    let editing = Some((api.id.clone(), api.spec.name.clone()));
    let w = Wizard::of(&api.spec);
    wizard_page(&s, signed, &gid, editing, w, None, StatusCode::OK).await
}

/// A step of the wizard for a new API: on to the next, back, or (on the last) create it.
pub(crate) async fn wizard_step(
    s: Console,
    Path(gid): Path<String>,
    Posted {
        signed,
        form: pairs,
    }: Posted<Vec<(String, String)>>,
) -> Response {
    step(s, signed, gid, None, Wizard::from_form(pairs)).await
}

/// A step of the wizard over an API's draft; the last saves the draft.
pub(crate) async fn edit_step(
    s: Console,
    Path((gid, aid)): Path<(String, String)>,
    Posted {
        signed,
        form: pairs,
    }: Posted<Vec<(String, String)>>,
) -> Response {
    let api = match load_api(&s, &gid, &aid).await {
        Ok(api) => api,
        Err(e) => return failed(&e, &signed.csrf),
    };
    step(s, signed, gid, Some(api), Wizard::from_form(pairs)).await
}

async fn step(
    s: Console,
    signed: SignedIn,
    gid: String,
    editing: Option<Api>,
    mut w: Wizard,
) -> Response {
    let names = editing
        .as_ref()
        .map(|api| (api.id.clone(), api.spec.name.clone()));
    match w.go.as_str() {
        "back" => w.step = w.step.saturating_sub(1).max(1),
        "rows" => w.add_rows(),
        "finish" => {
            let saved = match &editing {
                Some(api) => {
                    let draft = serde_json::to_value(&api.spec).unwrap_or_default();
                    match w.spec(draft) {
                        Ok(spec) => update_api(&s, &gid, &api.id, spec).await,
                        Err(e) => Err(e),
                    }
                }
                None => match w.spec(json!({})) {
                    Ok(spec) => create_api(&s, gid.clone(), spec).await,
                    Err(e) => Err(e),
                },
            };
            let (status, error) = match saved {
                Ok(api) if editing.is_some() => {
                    return done(&gid, &api.id, "Saved the draft: publish it to serve it");
                }
                Ok(api) => {
                    let to = format!("/console/groups/{gid}/apis/{}", api.id);
                    return Redirect::to(&to).into_response();
                }
                Err(ApiError::Validation(v)) => {
                    let (step, input) = step_of(&v.field);
                    w.step = step;
                    (StatusCode::UNPROCESSABLE_ENTITY, (input, v.message))
                }
                Err(e @ (ApiError::Conflict(_) | ApiError::BadRequest(_))) => {
                    w.step = 1;
                    (e.status(), ("name", e.to_string()))
                }
                Err(e) => return failed(&e, &signed.csrf),
            };
            return wizard_page(&s, signed, &gid, names, w, Some(error), status).await;
        }
        _ => w.step = (w.step + 1).clamp(1, 4),
    }
    wizard_page(&s, signed, &gid, names, w, None, StatusCode::OK).await
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
    Path((gid, aid)): Path<(String, String)>,
    Posted { signed, form: f }: Posted<EnvForm>,
) -> Response {
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
    Path((gid, aid)): Path<(String, String)>,
    Posted { signed, form: f }: Posted<EnvForm>,
) -> Response {
    match unpublish_api(&s, &gid, &aid, &f.environment).await {
        Ok(()) => done(&gid, &aid, &format!("Unpublished from {}", f.environment)),
        Err(e) => refused(&s, signed, &gid, &aid, e).await,
    }
}

pub(crate) async fn rollback(
    s: Console,
    Path((gid, aid)): Path<(String, String)>,
    Posted { signed, form: f }: Posted<EnvForm>,
) -> Response {
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
    Path((gid, aid)): Path<(String, String)>,
    Posted { signed, form: f }: Posted<AuthorizeForm>,
) -> Response {
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
}

#[derive(Deserialize)]
pub(crate) struct DraftForm {
    #[serde(default)]
    json: String,
}

/// The draft's whole definition from the editor: every field, the ones the wizard does not
/// ask for included (`PUT .../apis/{id}`'s own service function).
pub(crate) async fn save_draft(
    s: Console,
    Path((gid, aid)): Path<(String, String)>,
    Posted { signed, form: f }: Posted<DraftForm>,
) -> Response {
    let saved = match serde_json::from_str::<ApiSpec>(&f.json) {
        Ok(spec) => update_api(&s, &gid, &aid, spec).await,
        Err(e) => Err(ApiError::BadRequest(format!("not an API definition: {e}"))),
    };
    match saved {
        Ok(_) => done(&gid, &aid, "Saved the draft: publish it to serve it"),
        Err(e @ (ApiError::Validation(_) | ApiError::BadRequest(_) | ApiError::Conflict(_))) => {
            let status = e.status();
            let why = reason(&e);
            let q = ApiQuery::default();
            editor_page(&s, signed, &gid, &aid, q, status, Some((f.json, why))).await
        }
        Err(e) => failed(&e, &signed.csrf),
    }
}
