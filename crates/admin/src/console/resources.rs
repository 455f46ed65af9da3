//! The console's pages for policies and hosted functions, which it edits as JSON: a list
//! (searchable, paged) with an editor for a new one, and a page each with its whole definition
//! in an editor, so every field round-trips, including ones no form knows. Every change is the
//! REST API's own handler, so the same checks refuse it and say why. Secret values are never
//! shown: a function's secrets are listed by name and replaced only when new values are typed.

use std::collections::BTreeMap;

use askama::Template;
use axum::Json;
use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Redirect, Response};
use http::StatusCode;
use pylon_model::PolicyBindingSpec;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::frame::{
    Confirmed, Console, Pager, Posted, SignedIn, date, paginate, query_escape, reason, render,
};
use super::pages::{ListQuery, failed};
use crate::error::ApiError;
use crate::extract::JsonBody;

/// A kind of resource the console edits as JSON.
pub(crate) struct Kind {
    /// "Policies".
    pub(crate) title: &'static str,
    /// "policy".
    pub(crate) one: &'static str,
    pub(crate) about: &'static str,
    /// "/console/policies".
    pub(crate) path: &'static str,
    /// What the editor for a new one starts with.
    pub(crate) example: &'static str,
}

const POLICIES: Kind = Kind {
    title: "Policies",
    one: "policy",
    about: "Reusable behaviour (CORS, IP access control, throttling and quotas) bound to an API \
            in an environment. A bound policy applies at once, without a republish.",
    path: "/console/policies",
    example: "{\n  \"name\": \"web-cors\",\n  \"kind\": \"cors\",\n  \"config\": {\n    \
              \"allow_origins\": [\"https://shop.example.com\"]\n  }\n}",
};

const FUNCTIONS: Kind = Kind {
    title: "Hosted functions",
    one: "function",
    about: "Functions Pylon runs itself with the AWS Lambda Runtime API, for `function` \
            backends (`pylon serve --allow-hosted-functions`). Secret values are never shown.",
    path: "/console/functions",
    example: "{\n  \"name\": \"hello\",\n  \"command\": [\"python3\", \"-m\", \"awslambdaric\"],\n  \
              \"handler\": \"app.handler\",\n  \"working_dir\": \"hello\",\n  \
              \"environment\": {},\n  \"timeout_ms\": 3000,\n  \"max_concurrency\": 4,\n  \
              \"memory_mb\": 256\n}",
};

/// One resource in a list: its name and page, a short summary, when it changed.
struct Row {
    id: String,
    name: String,
    summary: String,
    updated: String,
}

#[derive(Template)]
#[template(path = "console/resources.html")]
struct ListPage {
    csrf: Option<String>,
    kind: &'static Kind,
    rows: Vec<Row>,
    pager: Pager,
    /// The new resource's editor: what was typed, and why it was refused.
    json: String,
    error: Option<String>,
}

/// A policy bound to an API in an environment.
struct BindingRow {
    api_id: String,
    api: String,
    environment: String,
}

/// A policy's bindings, and what it could be bound to.
struct Bindings {
    rows: Vec<BindingRow>,
    apis: Vec<(String, String)>,
    environments: Vec<String>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "console/resource.html")]
struct OnePage {
    csrf: Option<String>,
    kind: &'static Kind,
    id: String,
    name: String,
    summary: String,
    updated: String,
    json: String,
    error: Option<String>,
    /// A function's secrets, by name.
    secrets: Option<Vec<String>>,
    bindings: Option<Bindings>,
    message: Option<String>,
}

/// The editor's text for a resource: the REST API's document minus what the server sets.
fn editable<T: Serialize>(item: &T, also_drop: &[&str]) -> String {
    let mut doc = serde_json::to_value(item).unwrap_or(Value::Null);
    if let Some(map) = doc.as_object_mut() {
        for key in ["id", "created_at", "updated_at"].iter().chain(also_drop) {
            map.remove(*key);
        }
    }
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// Whether the API refused what was typed (shown next to the editor) rather than failed.
fn refused_input(e: &ApiError) -> bool {
    e.status().is_client_error() && !matches!(e, ApiError::NotFound(_))
}

/// The typed text as the REST API's body; a parse error is the API's 400.
fn parsed<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, ApiError> {
    serde_json::from_str(text).map_err(|e| ApiError::BadRequest(format!("not valid JSON: {e}")))
}

#[derive(Deserialize)]
pub(crate) struct JsonForm {
    #[serde(default)]
    json: String,
    /// A function's new secrets, `NAME=value` a line; empty keeps the sealed ones.
    #[serde(default)]
    secrets: String,
}

#[derive(Deserialize, Default)]
pub(crate) struct DoneQuery {
    #[serde(default)]
    pub(crate) done: Option<String>,
}

fn list_page(
    signed: SignedIn,
    kind: &'static Kind,
    q: &ListQuery,
    rows: Vec<Row>,
    typed: Option<(String, String)>,
) -> Response {
    let (rows, pager) = paginate(rows, kind.path, &q.q, q.page, |r, q| {
        r.name.to_lowercase().contains(q) || r.summary.to_lowercase().contains(q)
    });
    let (status, json, error) = match typed {
        Some((json, error)) => (StatusCode::UNPROCESSABLE_ENTITY, json, Some(error)),
        None => (StatusCode::OK, kind.example.to_string(), None),
    };
    render(
        status,
        &ListPage {
            csrf: Some(signed.csrf),
            kind,
            rows,
            pager,
            json,
            error,
        },
    )
}

/// To a resource's page, saying what was done.
fn done(kind: &Kind, id: &str, what: &str) -> Response {
    Redirect::to(&format!("{}/{id}?done={}", kind.path, query_escape(what))).into_response()
}

// Policies.

async fn policy_rows(s: &Console) -> Result<Vec<Row>, ApiError> {
    Ok(s.store
        .list_policies()
        .await?
        .into_iter()
        .map(|p| Row {
            summary: format!("{} · {}", p.spec.config.kind(), p.spec.description),
            updated: date(p.updated_at),
            name: p.spec.name,
            id: p.id,
        })
        .collect())
}

pub(crate) async fn policies(s: Console, signed: SignedIn, Query(q): Query<ListQuery>) -> Response {
    match policy_rows(&s).await {
        Ok(rows) => list_page(signed, &POLICIES, &q, rows, None),
        Err(e) => failed(&e, &signed.csrf),
    }
}

pub(crate) async fn create_policy(
    s: Console,
    Posted { signed, form: f }: Posted<JsonForm>,
) -> Response {
    let created = match parsed(&f.json) {
        Ok(input) => crate::policies::create(s.clone(), JsonBody(input)).await,
        Err(e) => Err(e),
    };
    match created {
        Ok((_, Json(p))) => done(&POLICIES, &p.id, "Created"),
        Err(e) if refused_input(&e) => match policy_rows(&s).await {
            Ok(rows) => list_page(
                signed,
                &POLICIES,
                &ListQuery::default(),
                rows,
                Some((f.json, reason(&e))),
            ),
            Err(e) => failed(&e, &signed.csrf),
        },
        Err(e) => failed(&e, &signed.csrf),
    }
}

async fn policy_page(
    s: &Console,
    signed: SignedIn,
    id: &str,
    typed: Option<(String, String)>,
    binding_error: Option<String>,
    message: Option<String>,
) -> Response {
    let loaded = async {
        let p = s.store.get_policy(id).await?;
        let bound = s.store.list_policy_bindings(&p.id).await?;
        let environments = s.store.list_environments().await?;
        // Every API by group and name, for the binding form; the bound ones by id.
        let mut apis = Vec::new();
        for g in s.store.list_groups().await? {
            for a in s.store.list_apis(&g.id).await? {
                apis.push((a.id, format!("{} / {}", g.name, a.spec.name)));
            }
        }
        Ok::<_, pylon_store::StoreError>((p, bound, environments, apis))
    };
    let (p, bound, environments, apis) = match loaded.await {
        Ok(all) => all,
        Err(e) => return failed(&e.into(), &signed.csrf),
    };
    let names: BTreeMap<&str, &str> = apis.iter().map(|(i, n)| (i.as_str(), n.as_str())).collect();
    let rows = bound
        .into_iter()
        .map(|b| BindingRow {
            api: names
                .get(b.api_id.as_str())
                .map_or_else(|| b.api_id.clone(), |n| n.to_string()),
            api_id: b.api_id,
            environment: b.environment,
        })
        .collect();
    let status = if typed.is_some() || binding_error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let (json, error) = match typed {
        Some((json, error)) => (json, Some(error)),
        None => (editable(&p, &[]), None),
    };
    render(
        status,
        &OnePage {
            csrf: Some(signed.csrf),
            kind: &POLICIES,
            summary: format!("a {} policy", p.spec.config.kind()),
            updated: date(p.updated_at),
            id: p.id,
            name: p.spec.name,
            json,
            error,
            secrets: None,
            bindings: Some(Bindings {
                rows,
                apis,
                environments: environments.into_iter().map(|e| e.name).collect(),
                error: binding_error,
            }),
            message,
        },
    )
}

pub(crate) async fn policy(
    s: Console,
    signed: SignedIn,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Response {
    policy_page(&s, signed, &id, None, None, q.done).await
}

pub(crate) async fn update_policy(
    s: Console,
    Path(id): Path<String>,
    Posted { signed, form: f }: Posted<JsonForm>,
) -> Response {
    let updated = match parsed(&f.json) {
        Ok(input) => crate::policies::update(s.clone(), Path(id.clone()), JsonBody(input)).await,
        Err(e) => Err(e),
    };
    match updated {
        Ok(Json(p)) => done(
            &POLICIES,
            &p.id,
            "Saved: bound APIs use it from the next request",
        ),
        Err(e) if refused_input(&e) => {
            policy_page(&s, signed, &id, Some((f.json, reason(&e))), None, None).await
        }
        Err(e) => failed(&e, &signed.csrf),
    }
}

#[derive(Deserialize)]
pub(crate) struct BindForm {
    #[serde(default)]
    api_id: String,
    #[serde(default)]
    environment: String,
}

pub(crate) async fn bind_policy(
    s: Console,
    Path(id): Path<String>,
    Posted { signed, form: f }: Posted<BindForm>,
) -> Response {
    let spec = PolicyBindingSpec {
        api_id: f.api_id,
        environment: f.environment,
    };
    match crate::policies::bind(s.clone(), Path(id.clone()), JsonBody(spec)).await {
        Ok((_, Json(b))) => done(&POLICIES, &id, &format!("Bound in {}", b.environment)),
        Err(e) if refused_input(&e) => {
            policy_page(&s, signed, &id, None, Some(reason(&e)), None).await
        }
        Err(e) => failed(&e, &signed.csrf),
    }
}

pub(crate) async fn unbind_policy(
    s: Console,
    Path((id, api, env)): Path<(String, String, String)>,
    Posted { signed, .. }: Posted<Confirmed>,
) -> Response {
    match crate::policies::unbind(s, Path((id.clone(), api, env.clone()))).await {
        Ok(_) => done(&POLICIES, &id, &format!("Unbound in {env}")),
        Err(e) => failed(&e, &signed.csrf),
    }
}

pub(crate) async fn delete_policy(
    s: Console,
    Path(id): Path<String>,
    Posted { signed, .. }: Posted<Confirmed>,
) -> Response {
    let result = crate::policies::delete(s, Path(id.clone())).await;
    super::deletes::finish(
        &signed,
        result,
        POLICIES.path,
        &format!("{}/{id}", POLICIES.path),
    )
}

// Hosted functions.

async fn function_rows(s: &Console) -> Result<Vec<Row>, ApiError> {
    Ok(s.store
        .list_functions()
        .await?
        .into_iter()
        .map(|f| Row {
            summary: format!("{} · {}", f.handler, f.command.join(" ")),
            updated: date(f.updated_at),
            name: f.name,
            id: f.id,
        })
        .collect())
}

pub(crate) async fn functions(
    s: Console,
    signed: SignedIn,
    Query(q): Query<ListQuery>,
) -> Response {
    match function_rows(&s).await {
        Ok(rows) => list_page(signed, &FUNCTIONS, &q, rows, None),
        Err(e) => failed(&e, &signed.csrf),
    }
}

/// `NAME=value` a line as a map; a line without `=` is refused.
fn secret_lines(text: &str) -> Result<BTreeMap<String, String>, ApiError> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| match l.split_once('=') {
            Some((k, v)) => Ok((k.trim().to_string(), v.to_string())),
            None => Err(ApiError::invalid("secrets", "write one NAME=value a line")),
        })
        .collect()
}

/// The typed definition, with the typed secrets when there are any (which replace the sealed
/// ones, as a PUT with `secrets` does).
fn function_body(f: &JsonForm) -> Result<Value, ApiError> {
    let mut body: Value = parsed(&f.json)?;
    if let Some(map) = body.as_object_mut() {
        // The secrets' names, as the editor shows them, are not a value to send back.
        map.remove("secrets");
        if !f.secrets.trim().is_empty() {
            map.insert(
                "secrets".into(),
                serde_json::to_value(secret_lines(&f.secrets)?).unwrap_or_default(),
            );
        }
    }
    Ok(body)
}

pub(crate) async fn create_function(
    s: Console,
    Posted { signed, form: f }: Posted<JsonForm>,
) -> Response {
    let created = match function_body(&f)
        .and_then(|b| serde_json::from_value(b).map_err(|e| ApiError::BadRequest(e.to_string())))
    {
        Ok(spec) => crate::functions::create(s.clone(), JsonBody(spec)).await,
        Err(e) => Err(e),
    };
    match created {
        Ok((_, Json(function))) => done(&FUNCTIONS, &function.id, "Created"),
        Err(e) if refused_input(&e) => match function_rows(&s).await {
            Ok(rows) => list_page(
                signed,
                &FUNCTIONS,
                &ListQuery::default(),
                rows,
                Some((f.json, reason(&e))),
            ),
            Err(e) => failed(&e, &signed.csrf),
        },
        Err(e) => failed(&e, &signed.csrf),
    }
}

async fn function_page(
    s: &Console,
    signed: SignedIn,
    id: &str,
    typed: Option<(String, String)>,
    message: Option<String>,
) -> Response {
    let f = match s.store.get_function(id).await {
        Ok(f) => f,
        Err(e) => return failed(&e.into(), &signed.csrf),
    };
    let status = if typed.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let (json, error) = match typed {
        Some((json, error)) => (json, Some(error)),
        None => (editable(&f, &["secrets"]), None),
    };
    render(
        status,
        &OnePage {
            csrf: Some(signed.csrf),
            kind: &FUNCTIONS,
            summary: format!(
                "runs `{}` with handler `{}`",
                f.command.join(" "),
                f.handler
            ),
            updated: date(f.updated_at),
            id: f.id,
            name: f.name,
            json,
            error,
            secrets: Some(f.secrets),
            bindings: None,
            message,
        },
    )
}

pub(crate) async fn function(
    s: Console,
    signed: SignedIn,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Response {
    function_page(&s, signed, &id, None, q.done).await
}

pub(crate) async fn update_function(
    s: Console,
    Path(id): Path<String>,
    Posted { signed, form: f }: Posted<JsonForm>,
) -> Response {
    let updated = match function_body(&f) {
        Ok(body) => crate::functions::update(s.clone(), Path(id.clone()), JsonBody(body)).await,
        Err(e) => Err(e),
    };
    match updated {
        Ok(Json(function)) => done(
            &FUNCTIONS,
            &function.id,
            "Saved: its workers restart with it",
        ),
        Err(e) if refused_input(&e) => {
            function_page(&s, signed, &id, Some((f.json, reason(&e))), None).await
        }
        Err(e) => failed(&e, &signed.csrf),
    }
}

pub(crate) async fn delete_function(
    s: Console,
    Path(id): Path<String>,
    Posted { signed, .. }: Posted<Confirmed>,
) -> Response {
    let result = crate::functions::delete(s, Path(id.clone())).await;
    super::deletes::finish(
        &signed,
        result,
        FUNCTIONS.path,
        &format!("{}/{id}", FUNCTIONS.path),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_editor_leaves_out_what_the_server_sets() {
        let doc = serde_json::json!({"id": "x", "name": "n", "created_at": 1, "updated_at": 2,
                                     "secrets": ["A"]});
        let text = editable(&doc, &["secrets"]);
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            serde_json::json!({"name": "n"})
        );
    }

    #[test]
    fn secrets_are_name_value_lines() {
        let map = secret_lines("A=1\n\nB = x=y\n").unwrap();
        assert_eq!(map.get("A").map(String::as_str), Some("1"));
        assert_eq!(map.get("B").map(String::as_str), Some(" x=y"));
        assert!(secret_lines("no equals").is_err());
    }
}
