//! The console's online debugging: pick the environment and the app, fill the API's declared
//! parameters, send the request through the gateway's real pipeline (`POST /v1/debug`'s own
//! service function), and read the trace: route, parameters, caller, the backend request and
//! response, and the time of each phase.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::Path;
use axum::response::Response;
use http::StatusCode;
use pylon_gateway::DebugTrace;
use pylon_model::{Api, Location};

use super::frame::{Console, Posted, SignedIn, query_escape, render};
use super::pages::failed;
use crate::apis::load_api;
use crate::debug::{DebugRequest, run_debug};
use crate::error::ApiError;

struct ParamInput {
    /// The form field: `param.<name>`.
    field: String,
    name: String,
    location: String,
    required: bool,
    value: String,
}

#[derive(Template)]
#[template(path = "console/api_debug.html")]
struct DebugPage {
    csrf: Option<String>,
    group_id: String,
    id: String,
    name: String,
    method: String,
    path: String,
    environments: Vec<String>,
    environment: String,
    apps: Vec<(String, String)>,
    app: String,
    params: Vec<ParamInput>,
    body: String,
    error: Option<String>,
    signed: Option<String>,
    trace: Option<DebugTrace>,
}

/// What the form sent: the fixed fields, and one `param.<name>` per declared parameter.
type Fields = BTreeMap<String, String>;

fn field<'f>(fields: &'f Fields, name: &str) -> &'f str {
    fields.get(name).map(String::as_str).unwrap_or("")
}

async fn page(
    s: &Console,
    signed: SignedIn,
    gid: &str,
    aid: &str,
    fields: &Fields,
    outcome: Option<Result<crate::debug::DebugResponse, ApiError>>,
) -> Response {
    let api = match load_api(s, gid, aid).await {
        Ok(api) => api,
        Err(e) => return failed(&e, &signed.csrf),
    };
    let loaded = async {
        Ok::<_, pylon_store::StoreError>((
            s.store.list_environments().await?,
            s.store.list_apps().await?,
        ))
    };
    let (environments, apps) = match loaded.await {
        Ok(all) => all,
        Err(e) => return failed(&e.into(), &signed.csrf),
    };
    let params = inputs(&api, fields);
    let (error, signed_with, trace) = match outcome {
        None => (None, None, None),
        Some(Ok(r)) => (
            None,
            r.signed
                .map(|w| format!("{} with AppKey {}", w.scheme, w.app_key)),
            Some(r.trace),
        ),
        Some(Err(e)) => (Some(e.to_string()), None, None),
    };
    let environment = match field(fields, "environment") {
        "" => "RELEASE".to_string(),
        e => e.to_string(),
    };
    render(
        StatusCode::OK,
        &DebugPage {
            csrf: Some(signed.csrf),
            group_id: api.group_id.clone(),
            id: api.id.clone(),
            name: api.spec.name.clone(),
            method: api.spec.request.method.as_str().to_string(),
            path: match field(fields, "path") {
                "" => api.spec.request.path.clone(),
                p => p.to_string(),
            },
            environments: environments.into_iter().map(|e| e.name).collect(),
            environment,
            apps: apps.into_iter().map(|a| (a.id, a.spec.name)).collect(),
            app: field(fields, "app_id").to_string(),
            params,
            body: field(fields, "body").to_string(),
            error,
            signed: signed_with,
            trace,
        },
    )
}

/// An input per declared parameter, holding what was sent.
fn inputs(api: &Api, fields: &Fields) -> Vec<ParamInput> {
    api.spec
        .parameters
        .iter()
        .map(|p| {
            let field_name = format!("param.{}", p.name);
            ParamInput {
                value: field(fields, &field_name).to_string(),
                field: field_name,
                name: p.name.clone(),
                location: format!("{:?}", p.location).to_lowercase(),
                required: p.required,
            }
        })
        .collect()
}

pub(crate) async fn form(
    s: Console,
    signed: SignedIn,
    Path((gid, aid)): Path<(String, String)>,
) -> Response {
    page(&s, signed, &gid, &aid, &Fields::new(), None).await
}

/// The request the form describes, as `POST /v1/debug` takes it: each declared parameter goes
/// where the API reads it (its `{name}` in the path, the query, a header, the form body).
fn request(api: &Api, gid: &str, fields: &Fields) -> DebugRequest {
    let mut path = match field(fields, "path") {
        "" => api.spec.request.path.clone(),
        p => p.to_string(),
    };
    let mut query = Vec::new();
    let mut headers = BTreeMap::new();
    let mut form = Vec::new();
    for p in &api.spec.parameters {
        let value = field(fields, &format!("param.{}", p.name));
        if value.is_empty() {
            continue;
        }
        let encoded = || form_urlencoded_pair(&p.name, value);
        match p.location {
            Location::Path => path = path.replace(&format!("{{{}}}", p.name), value),
            Location::Query => query.push(encoded()),
            Location::Header => {
                headers.insert(p.name.clone(), value.to_string());
            }
            Location::Form | Location::Body => form.push(encoded()),
        }
    }
    let mut body = field(fields, "body").to_string();
    if !form.is_empty() && body.is_empty() {
        body = form.join("&");
        headers.insert(
            "content-type".into(),
            "application/x-www-form-urlencoded".into(),
        );
    }
    let app = field(fields, "app_id");
    DebugRequest {
        group_id: gid.to_string(),
        api_id: Some(api.id.clone()),
        environment: match field(fields, "environment") {
            "" => "RELEASE".into(),
            e => e.to_string(),
        },
        app_id: (!app.is_empty()).then(|| app.to_string()),
        sign: None,
        method: None,
        path: Some(path),
        query: (!query.is_empty()).then(|| query.join("&")),
        headers,
        body,
        https: None,
    }
}

fn form_urlencoded_pair(name: &str, value: &str) -> String {
    format!("{}={}", query_escape(name), query_escape(value))
}

pub(crate) async fn send(
    s: Console,
    Path((gid, aid)): Path<(String, String)>,
    Posted {
        signed,
        form: fields,
    }: Posted<Fields>,
) -> Response {
    let api = match load_api(&s, &gid, &aid).await {
        Ok(api) => api,
        Err(e) => return failed(&e, &signed.csrf),
    };
    let outcome = run_debug(&s, request(&api, &gid, &fields)).await;
    page(&s, signed, &gid, &aid, &fields, Some(outcome)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_parameters_go_where_the_api_reads_them() {
        let api: Api = serde_json::from_value(serde_json::json!({
            "id": "a1", "group_id": "g1", "created_at": 0, "updated_at": 0,
            "name": "get-user",
            "request": {"method": "GET", "path": "/users/{id}"},
            "parameters": [
                {"name": "id", "location": "path"},
                {"name": "lang", "location": "query"},
                {"name": "X-Trace", "location": "header"}
            ],
            "backend": {"service": {"inline": {"type": "mock"}}, "path": "/"}
        }))
        .unwrap();
        let fields = Fields::from([
            ("param.id".to_string(), "42".to_string()),
            ("param.lang".to_string(), "zh cn".to_string()),
            ("param.X-Trace".to_string(), "t1".to_string()),
            ("environment".to_string(), "TEST".to_string()),
        ]);
        let r = request(&api, "g1", &fields);
        assert_eq!(r.path.as_deref(), Some("/users/42"));
        assert_eq!(r.query.as_deref(), Some("lang=zh%20cn"));
        assert_eq!(r.headers["X-Trace"], "t1");
        assert_eq!(r.environment, "TEST");
        assert_eq!(r.app_id, None);
    }
}
