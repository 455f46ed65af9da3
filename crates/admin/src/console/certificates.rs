//! The console's TLS certificates: a list, a form to upload one (chain and private key as
//! PEM), and a page each to replace it (a renewal) or delete it. The REST API's own handlers
//! check the chain and key; the private key is sealed and never shown, nor sent back on a
//! refused form.

use askama::Template;
use axum::Json;
use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Redirect, Response};
use http::StatusCode;
use pylon_model::{Certificate, CertificateSpec};
use serde::Deserialize;

use super::frame::{
    Confirmed, Console, Pager, Posted, SignedIn, date, paginate, query_escape, reason, render,
};
use super::pages::{ListQuery, failed};
use super::resources::DoneQuery;
use crate::error::ApiError;
use crate::extract::JsonBody;

const PATH: &str = "/console/certificates";

/// The upload form; the key is never filled back in.
#[derive(Deserialize, Default)]
pub(crate) struct CertForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    certificate: String,
    #[serde(default)]
    private_key: String,
    /// A checkbox: present when ticked.
    #[serde(default)]
    default: Option<String>,
}

impl CertForm {
    fn spec(&self) -> CertificateSpec {
        CertificateSpec {
            name: self.name.trim().to_string(),
            description: self.description.clone(),
            certificate: self.certificate.clone(),
            private_key: self.private_key.clone(),
            default: self.default.is_some(),
        }
    }

    /// The form as shown again: what was typed, without the key.
    fn shown(self) -> Self {
        CertForm {
            private_key: String::new(),
            ..self
        }
    }

    fn of(c: &Certificate) -> Self {
        CertForm {
            name: c.name.clone(),
            description: c.description.clone(),
            default: c.default.then(|| "on".to_string()),
            ..CertForm::default()
        }
    }
}

struct Row {
    id: String,
    name: String,
    domains: String,
    expires: String,
    default: bool,
}

#[derive(Template)]
#[template(path = "console/certificates.html")]
struct ListPage {
    csrf: Option<String>,
    rows: Vec<Row>,
    pager: Pager,
    form: CertForm,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "console/certificate.html")]
struct OnePage {
    csrf: Option<String>,
    id: String,
    c: Certificate,
    not_before: String,
    expires: String,
    form: CertForm,
    error: Option<String>,
    message: Option<String>,
}

async fn list(
    s: &Console,
    signed: SignedIn,
    q: &ListQuery,
    form: CertForm,
    error: Option<String>,
) -> Response {
    let all = match s.store.list_certificates().await {
        Ok(all) => all,
        Err(e) => return failed(&e.into(), &signed.csrf),
    };
    let rows = all
        .into_iter()
        .map(|c| Row {
            domains: c.domains.join(", "),
            expires: date(c.expires_at),
            default: c.default,
            name: c.name,
            id: c.id,
        })
        .collect();
    let (rows, pager) = paginate(rows, PATH, &q.q, q.page, |r: &Row, q| {
        r.name.to_lowercase().contains(q) || r.domains.to_lowercase().contains(q)
    });
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = ListPage {
        csrf: Some(signed.csrf),
        rows,
        pager,
        form,
        error,
    };
    render(status, &page)
}

pub(crate) async fn certificates(
    s: Console,
    signed: SignedIn,
    Query(q): Query<ListQuery>,
) -> Response {
    list(&s, signed, &q, CertForm::default(), None).await
}

fn done(id: &str, what: &str) -> Response {
    Redirect::to(&format!("{PATH}/{id}?done={}", query_escape(what))).into_response()
}

pub(crate) async fn create(s: Console, Posted { signed, form: f }: Posted<CertForm>) -> Response {
    match crate::certificates::create(s.clone(), JsonBody(f.spec())).await {
        Ok((_, Json(c))) => done(&c.id, "Uploaded: served to new handshakes at once"),
        Err(e) if e.status().is_client_error() => {
            let q = ListQuery::default();
            list(&s, signed, &q, f.shown(), Some(reason(&e))).await
        }
        Err(e) => failed(&e, &signed.csrf),
    }
}

async fn one(
    s: &Console,
    signed: SignedIn,
    id: &str,
    refused: Option<(CertForm, String)>,
    message: Option<String>,
) -> Response {
    let c = match s.store.get_certificate(id).await {
        Ok(c) => c,
        Err(e) => return failed(&e.into(), &signed.csrf),
    };
    let (status, form, error) = match refused {
        Some((form, error)) => (StatusCode::UNPROCESSABLE_ENTITY, form, Some(error)),
        None => (StatusCode::OK, CertForm::of(&c), None),
    };
    let page = OnePage {
        csrf: Some(signed.csrf),
        id: c.id.clone(),
        not_before: date(c.not_before),
        expires: date(c.expires_at),
        c,
        form,
        error,
        message,
    };
    render(status, &page)
}

pub(crate) async fn certificate(
    s: Console,
    signed: SignedIn,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Response {
    one(&s, signed, &id, None, q.done).await
}

/// A renewal: chain and key replaced at once.
pub(crate) async fn replace(
    s: Console,
    Path(id): Path<String>,
    Posted { signed, form: f }: Posted<CertForm>,
) -> Response {
    match crate::certificates::update(s.clone(), Path(id.clone()), JsonBody(f.spec())).await {
        Ok(Json(c)) => done(&c.id, "Replaced: new handshakes get the new chain"),
        Err(e) if e.status().is_client_error() && !matches!(e, ApiError::NotFound(_)) => {
            one(&s, signed, &id, Some((f.shown(), reason(&e))), None).await
        }
        Err(e) => failed(&e, &signed.csrf),
    }
}

pub(crate) async fn delete(
    s: Console,
    Path(id): Path<String>,
    Posted { signed, .. }: Posted<Confirmed>,
) -> Response {
    let result = crate::certificates::delete(s, Path(id.clone())).await;
    super::deletes::finish(&signed, result, PATH, &format!("{PATH}/{id}"))
}
