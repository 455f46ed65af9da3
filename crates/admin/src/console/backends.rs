//! The console's backend services: the list and the create form, and a service's page with a
//! tab per environment (TEST, PRE, RELEASE, ...) holding that environment's definition and the
//! published APIs that use it. Changing or deleting a definition that published APIs use
//! first shows them and asks for confirmation, as Alibaba's console does; deleting it then
//! unpublishes them there. Every change is the REST API's own service function.

use askama::Template;
use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Redirect, Response};
use http::StatusCode;
use pylon_model::{BackendDefinition, BackendKind, BackendSpec};
use serde::Deserialize;

use super::frame::{Console, Pager, Posted, SignedIn, date, paginate, query_escape, render};
use super::pages::{ListQuery, failed};
use crate::backends::{
    create_backend, delete_backend_definition, kind_name, put_backend_definition,
};
use crate::error::ApiError;

struct BackendRow {
    id: String,
    name: String,
    kind: String,
    created: String,
}

#[derive(Template)]
#[template(path = "console/backends.html")]
struct BackendsPage {
    csrf: Option<String>,
    rows: Vec<BackendRow>,
    pager: Pager,
    name: String,
    error: Option<String>,
}

pub(crate) async fn backends(s: Console, signed: SignedIn, Query(q): Query<ListQuery>) -> Response {
    list_page(&s, signed, q, String::new(), None, StatusCode::OK).await
}

async fn list_page(
    s: &Console,
    signed: SignedIn,
    q: ListQuery,
    name: String,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let all = match s.store.list_backends().await {
        Ok(all) => all,
        Err(e) => return failed(&e.into(), &signed.csrf),
    };
    let (backends, pager) = paginate(all, "/console/backends", &q.q, q.page, |b, q| {
        b.spec.name.to_lowercase().contains(q) || b.id.contains(q)
    });
    let rows = backends
        .into_iter()
        .map(|b| BackendRow {
            kind: kind_name(&b.spec),
            created: date(b.created_at),
            id: b.id,
            name: b.spec.name,
        })
        .collect();
    render(
        status,
        &BackendsPage {
            csrf: Some(signed.csrf),
            rows,
            pager,
            name,
            error,
        },
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct CreateForm {
    name: String,
    kind: String,
}

pub(crate) async fn create(s: Console, Posted { signed, form: f }: Posted<CreateForm>) -> Response {
    let kind = match f.kind.as_str() {
        "upstream" => BackendKind::Upstream,
        "mock" => BackendKind::Mock,
        "function" => BackendKind::Function,
        _ => BackendKind::Http,
    };
    let spec = BackendSpec {
        name: f.name.clone(),
        kind,
        description: String::new(),
    };
    match create_backend(&s, spec).await {
        Ok(b) => Redirect::to(&format!("/console/backends/{}", b.id)).into_response(),
        Err(e @ (ApiError::Validation(_) | ApiError::Conflict(_))) => {
            let status = e.status();
            list_page(
                &s,
                signed,
                ListQuery::default(),
                f.name,
                Some(e.to_string()),
                status,
            )
            .await
        }
        Err(e) => failed(&e, &signed.csrf),
    }
}

/// What a confirmation is asked for.
struct Pending {
    /// `change` or `delete`.
    action: &'static str,
    /// The definition to save (for a change).
    json: String,
    apis: Vec<String>,
}

#[derive(Template)]
#[template(path = "console/backend.html")]
struct BackendPage {
    csrf: Option<String>,
    id: String,
    name: String,
    kind: String,
    environments: Vec<String>,
    env: String,
    defined: bool,
    json: String,
    apis: Vec<String>,
    pending: Option<Pending>,
    error: Option<String>,
    message: Option<String>,
}

#[derive(Deserialize, Default)]
pub(crate) struct TabQuery {
    #[serde(default)]
    env: Option<String>,
    #[serde(default)]
    done: Option<String>,
}

pub(crate) async fn backend(
    s: Console,
    signed: SignedIn,
    Path(id): Path<String>,
    Query(q): Query<TabQuery>,
) -> Response {
    let env = q.env.unwrap_or_default();
    page(
        &s,
        signed,
        &id,
        &env,
        Extra {
            message: q.done,
            ..Extra::default()
        },
    )
    .await
}

/// What a page shows beyond the stored state.
#[derive(Default)]
struct Extra {
    pending: Option<Pending>,
    error: Option<String>,
    message: Option<String>,
    /// What was typed, shown again after a refusal.
    json: Option<String>,
    status: Option<StatusCode>,
}

async fn page(s: &Console, signed: SignedIn, id: &str, env: &str, extra: Extra) -> Response {
    let loaded = async {
        let backend = s.store.get_backend(id).await?;
        let environments = s.store.list_environments().await?;
        Ok::<_, pylon_store::StoreError>((backend, environments))
    };
    let (backend, environments) = match loaded.await {
        Ok(all) => all,
        Err(e) => return failed(&e.into(), &signed.csrf),
    };
    let names: Vec<String> = environments.into_iter().map(|e| e.name).collect();
    // TEST first, as Alibaba's console opens on it.
    let env = names
        .iter()
        .find(|n| n.eq_ignore_ascii_case(env))
        .or_else(|| names.iter().find(|n| *n == "TEST"))
        .or_else(|| names.first())
        .cloned()
        .unwrap_or_default();
    let definition = s.store.get_backend_definition(&backend.id, &env).await.ok();
    let apis = match apis_using(s, &backend.id, &env).await {
        Ok(apis) => apis,
        Err(e) => return failed(&e, &signed.csrf),
    };
    let json = extra.json.unwrap_or_else(|| match &definition {
        Some(d) => serde_json::to_string_pretty(&d.definition).unwrap_or_default(),
        None => format!("{{\n  \"type\": \"{}\"\n}}", kind_name(&backend.spec)),
    });
    render(
        extra.status.unwrap_or(StatusCode::OK),
        &BackendPage {
            csrf: Some(signed.csrf),
            kind: kind_name(&backend.spec),
            id: backend.id,
            name: backend.spec.name,
            environments: names,
            env,
            defined: definition.is_some(),
            json,
            apis,
            pending: extra.pending,
            error: extra.error,
            message: extra.message,
        },
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct DefinitionForm {
    json: String,
    /// `yes` once the affected APIs were shown and confirmed.
    confirm: String,
}

/// The published APIs that use the environment's definition, by name.
async fn apis_using(s: &Console, id: &str, env: &str) -> Result<Vec<String>, ApiError> {
    let apis = s.store.apis_served_by_backend(id, env).await?;
    Ok(apis.into_iter().map(|(_, name)| name).collect())
}

/// The published APIs a change or delete of the definition would touch and the user has not
/// confirmed yet: none once the form says `confirm=yes`.
async fn unconfirmed(
    s: &Console,
    id: &str,
    env: &str,
    form: &DefinitionForm,
) -> Result<Vec<String>, ApiError> {
    if form.confirm == "yes" {
        return Ok(Vec::new());
    }
    apis_using(s, id, env).await
}

/// Back to the environment's tab, saying what was done.
fn back(id: &str, env: &str, done: &str) -> Response {
    let done = query_escape(done);
    Redirect::to(&format!("/console/backends/{id}?env={env}&done={done}")).into_response()
}

/// Saves an environment's definition; when published APIs use it, only once confirmed.
pub(crate) async fn save(
    s: Console,
    Path((id, env)): Path<(String, String)>,
    Posted { signed, form: f }: Posted<DefinitionForm>,
) -> Response {
    let definition: BackendDefinition = match serde_json::from_str(&f.json) {
        Ok(d) => d,
        Err(e) => {
            let extra = Extra {
                error: Some(format!("not a backend definition: {e}")),
                json: Some(f.json),
                status: Some(StatusCode::UNPROCESSABLE_ENTITY),
                ..Extra::default()
            };
            return page(&s, signed, &id, &env, extra).await;
        }
    };
    let apis = match unconfirmed(&s, &id, &env, &f).await {
        Ok(apis) => apis,
        Err(e) => return failed(&e, &signed.csrf),
    };
    if !apis.is_empty() {
        let pending = Pending {
            action: "change",
            json: f.json.clone(),
            apis,
        };
        let extra = Extra {
            pending: Some(pending),
            json: Some(f.json),
            ..Extra::default()
        };
        return page(&s, signed, &id, &env, extra).await;
    }
    match put_backend_definition(&s, &id, &env, definition).await {
        Ok(d) => back(
            &id,
            &d.environment,
            &format!("Saved the {} definition", d.environment),
        ),
        Err(e @ (ApiError::Validation(_) | ApiError::Conflict(_) | ApiError::NotFound(_))) => {
            let extra = Extra {
                status: Some(e.status()),
                error: Some(e.to_string()),
                json: Some(f.json),
                ..Extra::default()
            };
            page(&s, signed, &id, &env, extra).await
        }
        Err(e) => failed(&e, &signed.csrf),
    }
}

/// Deletes an environment's definition; when published APIs use it, only once confirmed,
/// and then they are unpublished there.
pub(crate) async fn delete(
    s: Console,
    Path((id, env)): Path<(String, String)>,
    Posted { signed, form: f }: Posted<DefinitionForm>,
) -> Response {
    let apis = match unconfirmed(&s, &id, &env, &f).await {
        Ok(apis) => apis,
        Err(e) => return failed(&e, &signed.csrf),
    };
    if !apis.is_empty() {
        let pending = Pending {
            action: "delete",
            json: String::new(),
            apis,
        };
        let extra = Extra {
            pending: Some(pending),
            ..Extra::default()
        };
        return page(&s, signed, &id, &env, extra).await;
    }
    match delete_backend_definition(&s, &id, &env, true).await {
        Ok(deleted) => {
            let names: Vec<&str> = deleted
                .unpublished
                .iter()
                .map(|a| a.name.as_str())
                .collect();
            let done = if names.is_empty() {
                format!("Deleted the {env} definition")
            } else {
                format!(
                    "Deleted the {env} definition and unpublished {}",
                    names.join(", ")
                )
            };
            back(&id, &env, &done)
        }
        Err(e) => failed(&e, &signed.csrf),
    }
}
