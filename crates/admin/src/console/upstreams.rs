//! The console's upstreams (Alibaba's VPC access authorizations, AWS's VPC links): the list, a
//! form to create one, and an upstream's page to change its targets and Host header. TLS
//! settings have no form: the page's JSON editor takes the whole definition, so no field is
//! lost by a form that does not know it.

use askama::Template;
use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Redirect, Response};
use http::StatusCode;
use pylon_model::{Upstream, UpstreamSpec};
use serde::Deserialize;

use super::frame::{Console, Pager, Posted, SignedIn, date, paginate, render};
use super::pages::{ListQuery, failed};
use crate::error::ApiError;
use crate::upstreams::{create_upstream, update_upstream};

struct UpstreamRow {
    id: String,
    name: String,
    targets: String,
    host_header: String,
    updated: String,
}

/// The form's fields, as typed.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct UpstreamForm {
    name: String,
    description: String,
    /// One `host:port` per line.
    targets: String,
    host_header: String,
}

impl UpstreamForm {
    fn of(u: &Upstream) -> Self {
        UpstreamForm {
            name: u.spec.name.clone(),
            description: u.spec.description.clone(),
            targets: u.spec.targets.join("\n"),
            host_header: u.spec.host_header.clone().unwrap_or_default(),
        }
    }

    /// The definition these fields give, keeping `tls` (which the form does not show).
    fn spec(&self, tls: Option<pylon_model::BackendTls>) -> UpstreamSpec {
        let host = self.host_header.trim();
        UpstreamSpec {
            name: self.name.trim().to_string(),
            description: self.description.clone(),
            targets: self
                .targets
                .split(['\n', ',', ' '])
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect(),
            host_header: (!host.is_empty()).then(|| host.to_string()),
            tls,
        }
    }
}

#[derive(Template)]
#[template(path = "console/upstreams.html")]
struct UpstreamsPage {
    csrf: Option<String>,
    rows: Vec<UpstreamRow>,
    pager: Pager,
    form: UpstreamForm,
    error: Option<(String, String)>,
}

impl UpstreamsPage {
    /// The shared form posts to the list: it creates.
    fn form_target(&self) -> Option<&str> {
        None
    }

    fn error_for(&self, field: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|(f, _)| f == field || (field == "targets" && f.starts_with("targets")))
            .map(|(_, m)| m.as_str())
    }
}

pub(crate) async fn upstreams(
    s: Console,
    signed: SignedIn,
    Query(q): Query<ListQuery>,
) -> Response {
    list_page(&s, signed, q, UpstreamForm::default(), None, StatusCode::OK).await
}

async fn list_page(
    s: &Console,
    signed: SignedIn,
    q: ListQuery,
    form: UpstreamForm,
    error: Option<(String, String)>,
    status: StatusCode,
) -> Response {
    let all = match s.store.list_upstreams().await {
        Ok(all) => all,
        Err(e) => return failed(&e.into(), &signed.csrf),
    };
    let (upstreams, pager) = paginate(all, "/console/upstreams", &q.q, q.page, |u, q| {
        u.spec.name.to_lowercase().contains(q) || u.spec.targets.iter().any(|t| t.contains(q))
    });
    let rows = upstreams
        .into_iter()
        .map(|u| UpstreamRow {
            updated: date(u.updated_at),
            targets: u.spec.targets.join(", "),
            host_header: u.spec.host_header.unwrap_or_default(),
            id: u.id,
            name: u.spec.name,
        })
        .collect();
    render(
        status,
        &UpstreamsPage {
            csrf: Some(signed.csrf),
            rows,
            pager,
            form,
            error,
        },
    )
}

/// A refusal: the field it names (for a validation error) and the message.
fn refusal(e: &ApiError) -> Option<(StatusCode, (String, String))> {
    match e {
        ApiError::Validation(v) => Some((
            StatusCode::UNPROCESSABLE_ENTITY,
            (v.field.clone(), v.message.clone()),
        )),
        ApiError::Conflict(m) => Some((StatusCode::CONFLICT, ("name".into(), m.clone()))),
        _ => None,
    }
}

pub(crate) async fn create(
    s: Console,
    Posted { signed, form: f }: Posted<UpstreamForm>,
) -> Response {
    match create_upstream(&s, f.spec(None)).await {
        Ok(u) => Redirect::to(&format!("/console/upstreams/{}", u.id)).into_response(),
        Err(e) => match refusal(&e) {
            Some((status, error)) => {
                list_page(&s, signed, ListQuery::default(), f, Some(error), status).await
            }
            None => failed(&e, &signed.csrf),
        },
    }
}

#[derive(Template)]
#[template(path = "console/upstream.html")]
struct UpstreamPage {
    csrf: Option<String>,
    id: String,
    form: UpstreamForm,
    json: String,
    error: Option<(String, String)>,
    message: Option<&'static str>,
}

impl UpstreamPage {
    /// The shared form posts to this upstream: it saves.
    fn form_target(&self) -> Option<&str> {
        Some(&self.id)
    }

    fn error_for(&self, field: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|(f, _)| f == field || (field == "targets" && f.starts_with("targets")))
            .map(|(_, m)| m.as_str())
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct Saved {
    #[serde(default)]
    saved: Option<String>,
}

pub(crate) async fn upstream(
    s: Console,
    signed: SignedIn,
    Path(id): Path<String>,
    Query(q): Query<Saved>,
) -> Response {
    let u = match s.store.get_upstream(&id).await {
        Ok(u) => u,
        Err(e) => return failed(&e.into(), &signed.csrf),
    };
    let message = q
        .saved
        .map(|_| "Saved: the gateway uses it for the next request.");
    detail_page(
        signed,
        &u,
        UpstreamForm::of(&u),
        None,
        message,
        StatusCode::OK,
    )
}

fn detail_page(
    signed: SignedIn,
    u: &Upstream,
    form: UpstreamForm,
    error: Option<(String, String)>,
    message: Option<&'static str>,
    status: StatusCode,
) -> Response {
    render(
        status,
        &UpstreamPage {
            csrf: Some(signed.csrf),
            id: u.id.clone(),
            json: serde_json::to_string_pretty(&u.spec).unwrap_or_default(),
            form,
            error,
            message,
        },
    )
}

pub(crate) async fn update(
    s: Console,
    Path(id): Path<String>,
    Posted { signed, form: f }: Posted<UpstreamForm>,
) -> Response {
    let current = match s.store.get_upstream(&id).await {
        Ok(u) => u,
        Err(e) => return failed(&e.into(), &signed.csrf),
    };
    let spec = f.spec(current.spec.tls.clone());
    save(&s, signed, current, spec, f).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct JsonForm {
    json: String,
}

/// The whole definition as JSON: every field, the ones without a form included.
pub(crate) async fn update_json(
    s: Console,
    Path(id): Path<String>,
    Posted { signed, form: f }: Posted<JsonForm>,
) -> Response {
    let current = match s.store.get_upstream(&id).await {
        Ok(u) => u,
        Err(e) => return failed(&e.into(), &signed.csrf),
    };
    match serde_json::from_str::<UpstreamSpec>(&f.json) {
        Ok(spec) => {
            let form = UpstreamForm::of(&current);
            save(&s, signed, current, spec, form).await
        }
        Err(e) => {
            let form = UpstreamForm::of(&current);
            let error = Some((
                "json".to_string(),
                format!("not an upstream definition: {e}"),
            ));
            detail_page(
                signed,
                &current,
                form,
                error,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
    }
}

async fn save(
    s: &Console,
    signed: SignedIn,
    current: Upstream,
    spec: UpstreamSpec,
    form: UpstreamForm,
) -> Response {
    match update_upstream(s, &current.id, spec).await {
        Ok(u) => Redirect::to(&format!("/console/upstreams/{}?saved=1", u.id)).into_response(),
        Err(e) => match refusal(&e) {
            Some((status, error)) => detail_page(signed, &current, form, Some(error), None, status),
            None => failed(&e, &signed.csrf),
        },
    }
}
