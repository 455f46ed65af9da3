//! The console's pages: one handler per page or form, each a thin layer over the same service
//! functions the REST API calls.

use std::collections::BTreeMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use http::header::{HOST, ORIGIN, SET_COOKIE};
use http::{HeaderValue, StatusCode};
use pylon_model::GroupSpec;
use serde::Deserialize;

use super::frame::{
    Confirmed, Console, Pager, Posted, SignedIn, date, error_page, paginate, render,
};
use super::session::{clear_cookie, set_cookie};
use crate::auth::constant_time_eq;
use crate::domains::DomainRequest;
use crate::error::ApiError;
use crate::groups::{GroupView, create_group as create_group_service};

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage {
    csrf: Option<String>,
    error: Option<&'static str>,
}

/// An admin-API error as a page.
pub(crate) fn failed(e: &ApiError, csrf: &str) -> Response {
    let status = e.status();
    let title = match status {
        StatusCode::NOT_FOUND => "Not found",
        s if s.is_client_error() => "Refused",
        _ => "Something failed",
    };
    error_page(status, title, &e.to_string(), Some(csrf.to_string()))
}

pub(crate) async fn login_page(s: Console, headers: HeaderMap) -> Response {
    if s.sessions.find(&headers).is_some() {
        return Redirect::to("/console").into_response();
    }
    render(
        StatusCode::OK,
        &LoginPage {
            csrf: None,
            error: None,
        },
    )
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    token: String,
}

/// Signs in with the admin token. A form posted from another site is refused: the browser
/// names the page it came from in `Origin`.
pub(crate) async fn login(s: Console, headers: HeaderMap, Form(form): Form<LoginForm>) -> Response {
    if !same_origin(&headers) {
        return error_page(
            StatusCode::FORBIDDEN,
            "Refused",
            "The sign-in form was posted from another site.",
            None,
        );
    }
    if !constant_time_eq(form.token.trim().as_bytes(), s.config.token.as_bytes()) {
        return render(
            StatusCode::UNAUTHORIZED,
            &LoginPage {
                csrf: None,
                error: Some("That is not the admin token."),
            },
        );
    }
    let id = s.sessions.start();
    let cookie = set_cookie(&id, s.sessions.ttl(), over_tls(&headers));
    let mut response = Redirect::to("/console").into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(SET_COOKIE, v);
    }
    response
}

/// `Origin`, when the browser sends one, names this host.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    origin
        .split_once("://")
        .is_some_and(|(_, rest)| !host.is_empty() && rest == host)
}

/// Whether the browser reached the console over HTTPS: its `Origin` says so, or the
/// TLS-terminating proxy in front of the admin listener does (`X-Forwarded-Proto`). The
/// session cookie is then `Secure`, so the browser never sends it over plain HTTP.
fn over_tls(headers: &HeaderMap) -> bool {
    let said = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    said("origin").is_some_and(|o| o.starts_with("https://"))
        || said("x-forwarded-proto").is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

pub(crate) async fn logout(s: Console, Posted { signed, .. }: Posted<Confirmed>) -> Response {
    s.sessions.end(&signed.id);
    let mut response = Redirect::to("/console/login").into_response();
    response.headers_mut().insert(
        SET_COOKIE,
        HeaderValue::from_str(&clear_cookie()).unwrap_or(HeaderValue::from_static("")),
    );
    response
}

struct EnvironmentRow {
    name: String,
    description: String,
    published: usize,
}

struct TrafficRow {
    group: String,
    api: String,
    environment: String,
    requests: u64,
    errors: u64,
    /// Requests and errors a second since the page was last viewed, when it was.
    rates: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "console/home.html")]
struct HomePage {
    csrf: Option<String>,
    groups: usize,
    apis: usize,
    environments: Vec<EnvironmentRow>,
    /// `None` when this admin API runs without a gateway.
    traffic: Option<Vec<TrafficRow>>,
}

pub(crate) async fn home(s: Console, signed: SignedIn) -> Response {
    let snapshot = match s.store.load_snapshot().await {
        Ok(snapshot) => snapshot,
        Err(e) => return failed(&e.into(), &signed.csrf),
    };
    let mut published: BTreeMap<String, usize> = BTreeMap::new();
    for d in &snapshot.deployments {
        *published
            .entry(d.environment.to_ascii_uppercase())
            .or_default() += 1;
    }
    let mut total_apis = 0;
    for g in &snapshot.groups {
        total_apis += s.store.list_apis(&g.id).await.map(|a| a.len()).unwrap_or(0);
    }
    let environments = snapshot
        .environments
        .iter()
        .map(|e| EnvironmentRow {
            name: e.name.clone(),
            description: e.description.clone(),
            published: published.get(&e.name).copied().unwrap_or(0),
        })
        .collect();
    let names: BTreeMap<&str, &str> = snapshot
        .groups
        .iter()
        .map(|g| (g.id.as_str(), g.name.as_str()))
        .collect();
    let traffic =
        s.gateway.as_ref().map(|gateway| {
            let now = super::traffic::parse(&gateway.metrics());
            let previous = s.traffic.swap(now.clone());
            let mut rows: Vec<TrafficRow> =
                now.iter()
                    .map(|(key, c)| {
                        let rates = previous.as_ref().filter(|(secs, _)| *secs > 0.0).map(
                            |(secs, before)| {
                                let b = before.get(key).copied().unwrap_or_default();
                                let per_second = |now: u64, then: u64| {
                                    format!("{:.2}", now.saturating_sub(then) as f64 / secs)
                                };
                                (
                                    per_second(c.requests, b.requests),
                                    per_second(c.errors, b.errors),
                                )
                            },
                        );
                        TrafficRow {
                            group: names
                                .get(key.0.as_str())
                                .copied()
                                .unwrap_or(&key.0)
                                .to_string(),
                            api: key.1.clone(),
                            environment: key.2.clone(),
                            requests: c.requests,
                            errors: c.errors,
                            rates,
                        }
                    })
                    .collect();
            rows.sort_by_key(|r| std::cmp::Reverse(r.requests));
            rows.truncate(50);
            rows
        });
    render(
        StatusCode::OK,
        &HomePage {
            csrf: Some(signed.csrf),
            traffic,
            groups: snapshot.groups.len(),
            apis: total_apis,
            environments,
        },
    )
}

struct GroupRow {
    id: String,
    name: String,
    default_domain: String,
    domains: usize,
    created: String,
}

#[derive(Default)]
struct GroupForm {
    name: String,
    description: String,
}

#[derive(Default)]
struct GroupErrors {
    name: Option<String>,
    description: Option<String>,
}

#[derive(Template)]
#[template(path = "console/groups.html")]
struct GroupsPage {
    csrf: Option<String>,
    rows: Vec<GroupRow>,
    pager: Pager,
    form: GroupForm,
    errors: GroupErrors,
    form_error: Option<String>,
}

#[derive(Deserialize, Default)]
pub(crate) struct ListQuery {
    #[serde(default)]
    pub(crate) q: String,
    #[serde(default)]
    pub(crate) page: Option<usize>,
}

pub(crate) async fn groups(
    s: Console,
    signed: SignedIn,
    Query(query): Query<ListQuery>,
) -> Response {
    groups_page(
        &s,
        signed,
        query,
        GroupForm::default(),
        GroupErrors::default(),
        None,
    )
    .await
}

async fn groups_page(
    s: &Console,
    signed: SignedIn,
    query: ListQuery,
    form: GroupForm,
    errors: GroupErrors,
    form_error: Option<(StatusCode, String)>,
) -> Response {
    let all = match s.store.list_groups().await {
        Ok(groups) => groups,
        Err(e) => return failed(&e.into(), &signed.csrf),
    };
    let (groups, pager) = paginate(all, "/console/groups", &query.q, query.page, |g, q| {
        g.name.to_lowercase().contains(q)
            || g.id.contains(q)
            || g.description.to_lowercase().contains(q)
    });
    let rows = groups
        .into_iter()
        .map(|g| {
            let view = GroupView::new(g, &s.config.base_domain);
            GroupRow {
                domains: view.group.domains.len(),
                created: date(view.group.created_at),
                id: view.group.id,
                name: view.group.name,
                default_domain: view.default_domain,
            }
        })
        .collect();
    let (status, form_error) = match form_error {
        Some((status, message)) => (status, Some(message)),
        None => (StatusCode::OK, None),
    };
    render(
        status,
        &GroupsPage {
            csrf: Some(signed.csrf),
            rows,
            pager,
            form,
            errors,
            form_error,
        },
    )
}

#[derive(Deserialize)]
pub(crate) struct CreateGroupForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
}

/// The REST API's `POST /v1/groups`, from a form: its validation errors land next to their
/// field.
pub(crate) async fn create_group(
    s: Console,
    Posted { signed, form }: Posted<CreateGroupForm>,
) -> Response {
    let spec = GroupSpec {
        name: form.name.clone(),
        description: form.description.clone(),
    };
    let kept = GroupForm {
        name: form.name,
        description: form.description,
    };
    match create_group_service(&s, spec).await {
        Ok(view) => Redirect::to(&format!("/console/groups/{}", view.group.id)).into_response(),
        Err(ApiError::Validation(v)) => {
            let mut errors = GroupErrors::default();
            match v.field.as_str() {
                "description" => errors.description = Some(v.message),
                _ => errors.name = Some(v.message),
            }
            let query = ListQuery::default();
            let status = Some((
                StatusCode::UNPROCESSABLE_ENTITY,
                "Check the fields below.".into(),
            ));
            groups_page(&s, signed, query, kept, errors, status).await
        }
        Err(e @ ApiError::Conflict(_)) => {
            let errors = GroupErrors {
                name: Some(e.to_string()),
                ..GroupErrors::default()
            };
            groups_page(
                &s,
                signed,
                ListQuery::default(),
                kept,
                errors,
                Some((StatusCode::CONFLICT, "The group was not created.".into())),
            )
            .await
        }
        Err(e) => failed(&e, &signed.csrf),
    }
}

struct DomainRow {
    name: String,
    environment: String,
    certificate: String,
}

struct StageVariablesRow {
    environment: String,
    /// `name=value` a line, for the editor.
    text: String,
}

struct ApiRow {
    id: String,
    name: String,
    request: String,
    /// Per environment, in `environment_names` order: the published version, and whether the
    /// draft differs from it.
    versions: Vec<String>,
}

#[derive(Template)]
#[template(path = "console/group.html")]
struct GroupPage {
    csrf: Option<String>,
    /// The API list's search and page.
    pager: Pager,
    /// Why binding a domain was refused.
    domain_error: Option<String>,
    environment_names: Vec<String>,
    apis: Vec<ApiRow>,
    id: String,
    name: String,
    description: String,
    default_domain: String,
    created: String,
    domains: Vec<DomainRow>,
    stage_variables: Vec<StageVariablesRow>,
}

pub(crate) async fn group(
    s: Console,
    signed: SignedIn,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Response {
    group_page(&s, signed, &id, q, None, StatusCode::OK).await
}

async fn group_page(
    s: &Console,
    signed: SignedIn,
    id: &str,
    q: ListQuery,
    domain_error: Option<String>,
    status: StatusCode,
) -> Response {
    let group = match s.store.get_group(id).await {
        Ok(g) => g,
        Err(e) => return failed(&e.into(), &signed.csrf),
    };
    let environments = match s.store.list_environments().await {
        Ok(e) => e,
        Err(e) => return failed(&e.into(), &signed.csrf),
    };
    let all = match s.store.list_apis(&group.id).await {
        Ok(apis) => apis,
        Err(e) => return failed(&e.into(), &signed.csrf),
    };
    // Searched and paged before the versions are read: one page's worth of lookups.
    let (apis, pager) = paginate(all, "", &q.q, q.page, |a, q| {
        a.spec.name.to_lowercase().contains(q)
            || a.spec.request.path.to_lowercase().contains(q)
            || a.id.contains(q)
    });
    let mut api_rows = Vec::with_capacity(apis.len());
    for api in apis {
        let history = match s.store.list_deployments(&api.id, None).await {
            Ok(h) => h,
            Err(e) => return failed(&e.into(), &signed.csrf),
        };
        let versions = environments
            .iter()
            .map(
                |e| match history.iter().find(|d| d.active && d.environment == e.name) {
                    Some(d) if d.api.spec != api.spec => format!("v{} (draft differs)", d.version),
                    Some(d) => format!("v{}", d.version),
                    None => "–".into(),
                },
            )
            .collect();
        api_rows.push(ApiRow {
            request: format!(
                "{} {}",
                format!("{:?}", api.spec.request.method).to_uppercase(),
                api.spec.request.path
            ),
            id: api.id,
            name: api.spec.name,
            versions,
        });
    }
    let environment_names: Vec<String> = environments.iter().map(|e| e.name.clone()).collect();
    let mut stage_variables = Vec::with_capacity(environments.len());
    for e in environments {
        let variables = match s.store.get_stage_variables(&group.id, &e.name).await {
            Ok(v) => v.variables,
            Err(e) => return failed(&e.into(), &signed.csrf),
        };
        let text = variables
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("\n");
        stage_variables.push(StageVariablesRow {
            environment: e.name,
            text,
        });
    }
    let view = GroupView::new(group, &s.config.base_domain);
    render(
        status,
        &GroupPage {
            csrf: Some(signed.csrf),
            pager,
            domain_error,
            environment_names,
            apis: api_rows,
            domains: view
                .group
                .domains
                .iter()
                .map(|d| DomainRow {
                    name: d.name.clone(),
                    environment: d
                        .environment
                        .clone()
                        .unwrap_or_else(|| "every (X-Ca-Stage)".into()),
                    certificate: d.certificate.clone().unwrap_or_else(|| "–".into()),
                })
                .collect(),
            created: date(view.group.created_at),
            id: view.group.id,
            name: view.group.name,
            description: view.group.description,
            default_domain: view.default_domain,
            stage_variables,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_matching_origin_may_post_the_sign_in_form() {
        let mut h = HeaderMap::new();
        h.insert(HOST, HeaderValue::from_static("127.0.0.1:9180"));
        assert!(same_origin(&h), "no Origin: not a cross-site form");
        h.insert(ORIGIN, HeaderValue::from_static("http://127.0.0.1:9180"));
        assert!(same_origin(&h));
        h.insert(ORIGIN, HeaderValue::from_static("https://evil.example"));
        assert!(!same_origin(&h));
    }

    #[test]
    fn the_cookie_is_secure_when_the_browser_came_over_tls() {
        let mut h = HeaderMap::new();
        h.insert(ORIGIN, HeaderValue::from_static("http://127.0.0.1:9180"));
        assert!(!over_tls(&h));
        h.insert("x-forwarded-proto", HeaderValue::from_static("HTTPS"));
        assert!(over_tls(&h), "behind a TLS-terminating proxy");
        let mut h = HeaderMap::new();
        h.insert(ORIGIN, HeaderValue::from_static("https://console.example"));
        assert!(over_tls(&h));
    }
}

#[derive(Deserialize)]
pub(crate) struct DomainForm {
    #[serde(default)]
    name: String,
    /// Empty: every environment (chosen by `X-Ca-Stage`).
    #[serde(default)]
    environment: String,
}

/// `POST /v1/groups/{id}/domains` from the group's page.
pub(crate) async fn bind_domain(
    s: Console,
    Path(id): Path<String>,
    Posted { signed, form: f }: Posted<DomainForm>,
) -> Response {
    let environment = f.environment.trim();
    let req = DomainRequest {
        name: f.name,
        environment: (!environment.is_empty()).then(|| environment.to_string()),
        certificate: None,
        stage_path: None,
        error_format: Default::default(),
    };
    match crate::domains::bind_domain(&s, &id, req).await {
        Ok(_) => Redirect::to(&format!("/console/groups/{id}")).into_response(),
        Err(e @ (ApiError::Validation(_) | ApiError::Conflict(_))) => {
            let q = ListQuery::default();
            group_page(&s, signed, &id, q, Some(e.to_string()), e.status()).await
        }
        Err(e) => failed(&e, &signed.csrf),
    }
}

#[derive(Deserialize)]
pub(crate) struct VariablesForm {
    /// `name=value` a line.
    #[serde(default)]
    variables: String,
}

/// `PUT /v1/groups/{id}/stage-variables/{env}` from the group's page.
pub(crate) async fn save_stage_variables(
    s: Console,
    Path((id, env)): Path<(String, String)>,
    Posted { signed, form: f }: Posted<VariablesForm>,
) -> Response {
    let mut variables = BTreeMap::new();
    for line in f.variables.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match line.split_once('=') {
            Some((k, v)) => {
                variables.insert(k.trim().to_string(), v.trim().to_string());
            }
            None => {
                let why = format!("{env}: `{line}` is not written name=value");
                let q = ListQuery::default();
                return group_page(
                    &s,
                    signed,
                    &id,
                    q,
                    Some(why),
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await;
            }
        }
    }
    let req = crate::stage_variables::StageVariablesRequest { variables };
    match crate::stage_variables::put_stage_variables(&s, id.clone(), &env, req).await {
        Ok(_) => Redirect::to(&format!("/console/groups/{id}#variables-{env}")).into_response(),
        Err(e @ (ApiError::Validation(_) | ApiError::NotFound(_))) => {
            let why = format!("{env}: {e}");
            let q = ListQuery::default();
            group_page(&s, signed, &id, q, Some(why), e.status()).await
        }
        Err(e) => failed(&e, &signed.csrf),
    }
}
