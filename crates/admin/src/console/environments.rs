//! The console's environments: the built-in RELEASE, PRE and TEST, and any a team adds, each
//! with the APIs published there. Created and deleted with the REST API's own handlers.

use askama::Template;
use axum::Json;
use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Redirect, Response};
use http::StatusCode;
use pylon_model::EnvironmentSpec;
use serde::Deserialize;

use super::frame::{Confirmed, Console, Posted, SignedIn, render};
use super::pages::failed;
use super::resources::DoneQuery;
use crate::extract::JsonBody;

struct Row {
    name: String,
    description: String,
    builtin: bool,
    published: usize,
}

#[derive(Template)]
#[template(path = "console/environments.html")]
struct Page {
    csrf: Option<String>,
    rows: Vec<Row>,
    form: NewEnvironment,
    error: Option<String>,
    message: Option<String>,
}

#[derive(Deserialize, Default)]
pub(crate) struct NewEnvironment {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
}

async fn page(
    s: &Console,
    signed: SignedIn,
    form: NewEnvironment,
    error: Option<String>,
    message: Option<String>,
) -> Response {
    let snapshot = match s.store.load_snapshot().await {
        Ok(snapshot) => snapshot,
        Err(e) => return failed(&e.into(), &signed.csrf),
    };
    let rows = snapshot
        .environments
        .iter()
        .map(|e| Row {
            published: snapshot
                .deployments
                .iter()
                .filter(|d| d.environment == e.name)
                .count(),
            name: e.name.clone(),
            description: e.description.clone(),
            builtin: e.builtin,
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = Page {
        csrf: Some(signed.csrf),
        rows,
        form,
        error,
        message,
    };
    render(status, &page)
}

pub(crate) async fn environments(
    s: Console,
    signed: SignedIn,
    Query(q): Query<DoneQuery>,
) -> Response {
    page(&s, signed, NewEnvironment::default(), None, q.done).await
}

pub(crate) async fn create(
    s: Console,
    Posted { signed, form: f }: Posted<NewEnvironment>,
) -> Response {
    let spec = EnvironmentSpec {
        name: f.name.clone(),
        description: f.description.clone(),
    };
    match crate::environments::create(s.clone(), JsonBody(spec)).await {
        Ok((_, Json(e))) => {
            Redirect::to(&format!("/console/environments?done=Created%20{}", e.name))
                .into_response()
        }
        Err(e) if e.status().is_client_error() => {
            let why = e.to_string();
            page(&s, signed, f, Some(why), None).await
        }
        Err(e) => failed(&e, &signed.csrf),
    }
}

pub(crate) async fn delete(
    s: Console,
    Path(name): Path<String>,
    Posted { signed, .. }: Posted<Confirmed>,
) -> Response {
    let result = crate::environments::delete(s, Path(name)).await;
    super::deletes::finish(
        &signed,
        result,
        "/console/environments",
        "/console/environments",
    )
}
