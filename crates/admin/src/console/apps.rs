//! The console's apps: the list and the create form, and an app's page with its key pairs
//! (AppSecrets only on an explicit reveal), AppCodes and authorizations. Every change is the
//! REST API's own service function.

use askama::Template;
use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Redirect, Response};
use http::StatusCode;
use pylon_model::AppSpec;
use serde::Deserialize;

use super::frame::{
    Confirmed, Console, Pager, Posted, SignedIn, date, error_page, paginate, render,
};
use super::pages::{ListQuery, failed};
use crate::apps::{NewAppCode, NewAppKey, add_app_code, add_app_key, create_app, delete_app_key};
use crate::error::ApiError;

struct AppRow {
    id: String,
    name: String,
    description: String,
    created: String,
}

#[derive(Default)]
struct AppForm {
    name: String,
    description: String,
    name_error: Option<String>,
}

#[derive(Template)]
#[template(path = "console/apps.html")]
struct AppsPage {
    csrf: Option<String>,
    rows: Vec<AppRow>,
    pager: Pager,
    form: AppForm,
}

pub(crate) async fn apps(s: Console, signed: SignedIn, Query(q): Query<ListQuery>) -> Response {
    apps_page(&s, signed, q, AppForm::default(), StatusCode::OK).await
}

async fn apps_page(
    s: &Console,
    signed: SignedIn,
    q: ListQuery,
    form: AppForm,
    status: StatusCode,
) -> Response {
    let all = match s.store.list_apps().await {
        Ok(apps) => apps,
        Err(e) => return failed(&e.into(), &signed.csrf),
    };
    let (apps, pager) = paginate(all, "/console/apps", &q.q, q.page, |a, q| {
        a.spec.name.to_lowercase().contains(q) || a.id.contains(q)
    });
    let rows = apps
        .into_iter()
        .map(|a| AppRow {
            created: date(a.created_at),
            id: a.id,
            name: a.spec.name,
            description: a.spec.description,
        })
        .collect();
    render(
        status,
        &AppsPage {
            csrf: Some(signed.csrf),
            rows,
            pager,
            form,
        },
    )
}

#[derive(Deserialize)]
pub(crate) struct CreateAppForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
}

pub(crate) async fn create(
    s: Console,
    Posted { signed, form: f }: Posted<CreateAppForm>,
) -> Response {
    let spec = AppSpec {
        name: f.name.clone(),
        description: f.description.clone(),
    };
    let (status, message) = match create_app(&s, spec).await {
        Ok(created) => {
            return Redirect::to(&format!("/console/apps/{}", created.app.id)).into_response();
        }
        Err(ApiError::Validation(v)) => (StatusCode::UNPROCESSABLE_ENTITY, v.message),
        Err(e @ ApiError::Conflict(_)) => (StatusCode::CONFLICT, e.to_string()),
        Err(e) => return failed(&e, &signed.csrf),
    };
    let form = AppForm {
        name: f.name,
        description: f.description,
        name_error: Some(message),
    };
    apps_page(&s, signed, ListQuery::default(), form, status).await
}

struct KeyRow {
    app_key: String,
    created: String,
}

struct CodeRow {
    code: String,
    created: String,
}

struct GrantRow {
    id: String,
    api_id: String,
    api_name: String,
    group_id: String,
    group_name: String,
    environment: String,
    expires: String,
}

#[derive(Template)]
#[template(path = "console/app.html")]
struct AppPage {
    csrf: Option<String>,
    id: String,
    name: String,
    description: String,
    created: String,
    keys: Vec<KeyRow>,
    codes: Vec<CodeRow>,
    grants: Vec<GrantRow>,
}

pub(crate) async fn app(s: Console, signed: SignedIn, Path(id): Path<String>) -> Response {
    let loaded = async {
        let app = s.store.get_app(&id).await?;
        let keys = s.store.list_app_keys(&app.id).await?;
        let codes = s.store.list_app_codes(&app.id).await?;
        let grants = s
            .store
            .list_authorizations(Some(&app.id), None, None)
            .await?;
        // Names, not ids: an app holds a handful of grants, one lookup each.
        let mut named = Vec::with_capacity(grants.len());
        for g in grants {
            let api = s.store.get_api(&g.spec.api_id).await?;
            let group = s.store.get_group(&g.group_id).await?;
            named.push((g, api.spec.name, group.name));
        }
        Ok::<_, pylon_store::StoreError>((app, keys, codes, named))
    };
    let (app, keys, codes, grants) = match loaded.await {
        Ok(all) => all,
        Err(e) => return failed(&e.into(), &signed.csrf),
    };
    render(
        StatusCode::OK,
        &AppPage {
            csrf: Some(signed.csrf),
            keys: keys
                .into_iter()
                .map(|k| KeyRow {
                    app_key: k.app_key,
                    created: date(k.created_at),
                })
                .collect(),
            codes: codes
                .into_iter()
                .map(|c| CodeRow {
                    code: c.code,
                    created: date(c.created_at),
                })
                .collect(),
            grants: grants
                .into_iter()
                .map(|(g, api_name, group_name)| GrantRow {
                    id: g.id,
                    api_name,
                    group_name,
                    expires: g
                        .spec
                        .expires_at
                        .map(date)
                        .unwrap_or_else(|| "never".into()),
                    api_id: g.spec.api_id,
                    group_id: g.group_id,
                    environment: g.spec.environment,
                })
                .collect(),
            created: date(app.created_at),
            id: app.id,
            name: app.spec.name,
            description: app.spec.description,
        },
    )
}

/// Back to the app's page after a change.
fn back_to(id: &str) -> Response {
    Redirect::to(&format!("/console/apps/{id}")).into_response()
}

pub(crate) async fn add_key(
    s: Console,
    Path(id): Path<String>,
    Posted { signed, .. }: Posted<Confirmed>,
) -> Response {
    match add_app_key(&s, &id, NewAppKey::default()).await {
        Ok(_) => back_to(&id),
        Err(e) => failed(&e, &signed.csrf),
    }
}

pub(crate) async fn delete_key(
    s: Console,
    Path((id, key)): Path<(String, String)>,
    Posted { signed, .. }: Posted<Confirmed>,
) -> Response {
    match delete_app_key(&s, &id, &key).await {
        Ok(()) => back_to(&id),
        Err(e) => failed(&e, &signed.csrf),
    }
}

#[derive(Template)]
#[template(path = "console/secret.html")]
struct Secret {
    value: String,
}

/// An AppSecret, asked for explicitly (a POST with the CSRF token, so neither a link, a
/// prefetch nor a cache can show it), as the cell that replaces the button.
pub(crate) async fn reveal_secret(
    s: Console,
    Path((id, key)): Path<(String, String)>,
    Posted { signed, .. }: Posted<Confirmed>,
) -> Response {
    let pair = async {
        let app = s.store.get_app(&id).await?;
        s.store.get_app_key(&app.id, &key).await
    };
    match pair.await {
        Ok(pair) => match pair.app_secret {
            Some(value) => render(StatusCode::OK, &Secret { value }),
            None => error_page(
                StatusCode::NOT_FOUND,
                "Not found",
                "that key pair has no secret",
                Some(signed.csrf),
            ),
        },
        Err(e) => failed(&e.into(), &signed.csrf),
    }
}

pub(crate) async fn add_code(
    s: Console,
    Path(id): Path<String>,
    Posted { signed, .. }: Posted<Confirmed>,
) -> Response {
    match add_app_code(&s, &id, NewAppCode::default()).await {
        Ok(_) => back_to(&id),
        Err(e) => failed(&e, &signed.csrf),
    }
}
