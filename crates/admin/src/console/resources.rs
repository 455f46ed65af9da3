//! The console's pages for the resources it has no forms for yet: policies, TLS certificates
//! and hosted functions. Each lists what is configured, searchable and paged, with every
//! resource's whole definition as the admin API returns it (never a private key or a secret
//! value: the API does not return them either); changes go through the CLI or the REST API.

use askama::Template;
use axum::extract::Query;
use axum::response::Response;
use http::StatusCode;
use serde::Serialize;

use super::frame::{Console, Pager, SignedIn, date, paginate, render};
use super::pages::{ListQuery, failed};

/// One resource in a list: its name, a short summary, when it changed, and its definition.
struct Row {
    name: String,
    summary: String,
    updated: String,
    json: String,
}

#[derive(Template)]
#[template(path = "console/resources.html")]
struct ResourcesPage {
    csrf: Option<String>,
    title: &'static str,
    /// What the resource is, in a sentence.
    about: &'static str,
    /// The CLI command that changes them.
    command: &'static str,
    path: &'static str,
    rows: Vec<Row>,
    pager: Pager,
}

fn row<T: Serialize>(name: String, summary: String, updated: i64, item: &T) -> Row {
    Row {
        name,
        summary,
        updated: date(updated),
        json: serde_json::to_string_pretty(item).unwrap_or_default(),
    }
}

fn page(
    signed: SignedIn,
    q: ListQuery,
    rows: Vec<Row>,
    meta: (&'static str, &'static str, &'static str, &'static str),
) -> Response {
    let (title, about, command, path) = meta;
    let (rows, pager) = paginate(rows, path, &q.q, q.page, |r, q| {
        r.name.to_lowercase().contains(q) || r.summary.to_lowercase().contains(q)
    });
    render(
        StatusCode::OK,
        &ResourcesPage {
            csrf: Some(signed.csrf),
            title,
            about,
            command,
            path,
            rows,
            pager,
        },
    )
}

pub(crate) async fn policies(s: Console, signed: SignedIn, Query(q): Query<ListQuery>) -> Response {
    let all = match s.store.list_policies().await {
        Ok(all) => all,
        Err(e) => return failed(&e.into(), &signed.csrf),
    };
    let rows = all
        .iter()
        .map(|p| {
            let kind = serde_json::to_value(&p.spec.config)
                .ok()
                .and_then(|v| v.get("kind").and_then(|t| t.as_str()).map(str::to_string))
                .unwrap_or_default();
            row(p.spec.name.clone(), kind, p.updated_at, p)
        })
        .collect();
    let meta = (
        "Policies",
        "Reusable behaviour (CORS, IP access control, throttling and quotas) bound to an API in an environment.",
        "pylon policy",
        "/console/policies",
    );
    page(signed, q, rows, meta)
}

pub(crate) async fn certificates(
    s: Console,
    signed: SignedIn,
    Query(q): Query<ListQuery>,
) -> Response {
    let all = match s.store.list_certificates().await {
        Ok(all) => all,
        Err(e) => return failed(&e.into(), &signed.csrf),
    };
    let rows = all
        .iter()
        .map(|c| {
            let summary = format!(
                "{} · {} · expires {}{}",
                c.domains.join(", "),
                c.key_type,
                date(c.expires_at),
                if c.default { " · default" } else { "" }
            );
            row(c.name.clone(), summary, c.updated_at, c)
        })
        .collect();
    let meta = (
        "Certificates",
        "TLS certificates the HTTPS listener serves, picked by SNI. Private keys are sealed and never shown.",
        "pylon certificate",
        "/console/certificates",
    );
    page(signed, q, rows, meta)
}

pub(crate) async fn functions(
    s: Console,
    signed: SignedIn,
    Query(q): Query<ListQuery>,
) -> Response {
    let all = match s.store.list_functions().await {
        Ok(all) => all,
        Err(e) => return failed(&e.into(), &signed.csrf),
    };
    let rows = all
        .iter()
        .map(|f| {
            let summary = format!("{} · {}", f.handler, f.command.join(" "));
            row(f.name.clone(), summary, f.updated_at, f)
        })
        .collect();
    let meta = (
        "Hosted functions",
        "Functions Pylon runs itself with the AWS Lambda Runtime API, for `function` backends. Secret values are never shown.",
        "pylon function",
        "/console/functions",
    );
    page(signed, q, rows, meta)
}
