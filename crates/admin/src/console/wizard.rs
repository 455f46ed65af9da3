//! The four-step API form (basic information, request, backend, response) as data: read from
//! a submitted form, read from an API's draft, and written as the REST API's own document.
//! Written over the draft it edits, so every field the form does not ask for (parameter
//! constraints, CORS, WebSocket, a backend's TLS) is kept as it was.

use pylon_model::ApiSpec;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::error::ApiError;

/// Rows a table of the form may hold; more are ignored (a form is not a way to grow memory).
const MAX_ROWS: usize = 64;

/// A request parameter, and (step 3) where mapping mode sends it.
#[derive(Default, Clone)]
pub(crate) struct ParamRow {
    /// The name the draft had: its other fields are kept under the new name.
    pub(crate) was: String,
    pub(crate) name: String,
    pub(crate) location: String,
    pub(crate) ty: String,
    pub(crate) required: String,
    pub(crate) backend_name: String,
    pub(crate) backend_location: String,
}

/// A fixed value sent to the backend.
#[derive(Default, Clone)]
pub(crate) struct ConstantRow {
    pub(crate) name: String,
    pub(crate) location: String,
    pub(crate) value: String,
    pub(crate) description: String,
}

/// A value the gateway knows about the call, sent to the backend.
#[derive(Default, Clone)]
pub(crate) struct SystemRow {
    pub(crate) kind: String,
    pub(crate) name: String,
    pub(crate) location: String,
}

/// An error code the API documents.
#[derive(Default, Clone)]
pub(crate) struct ErrorRow {
    pub(crate) code: String,
    pub(crate) message: String,
    pub(crate) description: String,
}

/// Every field of the form; the steps not shown travel as hidden inputs.
#[derive(Default, Clone)]
pub(crate) struct Wizard {
    pub(crate) step: u8,
    /// `next`, `back`, `rows` (the same step with a blank row more) or `finish`.
    pub(crate) go: String,
    // 1. Basic information.
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) auth: String,
    pub(crate) app_code: String,
    // 2. Request.
    pub(crate) protocols: String,
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) mode: String,
    pub(crate) params: Vec<ParamRow>,
    // 3. Backend.
    /// `http`, `upstream`, `service`, `mock`, or `kept`: a definition the form has no fields
    /// for (a function), left as the draft has it.
    pub(crate) backend_kind: String,
    /// What `kept` keeps, for the page to name it.
    pub(crate) kept: String,
    pub(crate) backend_id: String,
    pub(crate) url: String,
    pub(crate) upstream: String,
    pub(crate) mock_status: String,
    pub(crate) mock_body: String,
    pub(crate) backend_path: String,
    pub(crate) backend_method: String,
    pub(crate) timeout_ms: String,
    pub(crate) constants: Vec<ConstantRow>,
    pub(crate) system: Vec<SystemRow>,
    // 4. Response.
    pub(crate) content_type: String,
    pub(crate) success_example: String,
    pub(crate) failure_example: String,
    pub(crate) errors: Vec<ErrorRow>,
}

/// A value's name on the wire (`"pass_through"`, `"header_and_query"`…).
fn wire<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    }
}

/// Row `i` of `rows`, made when the form names it first.
fn row<T: Default>(rows: &mut Vec<T>, i: usize) -> &mut T {
    if rows.len() <= i {
        rows.resize_with(i + 1, T::default);
    }
    &mut rows[i]
}

/// `p3_name` as (`'p'`, 3, `"name"`).
fn row_key(key: &str) -> Option<(char, usize, &str)> {
    let table = key.chars().next().filter(|c| "pcse".contains(*c))?;
    let (index, field) = key[1..].split_once('_')?;
    let index: usize = index.parse().ok()?;
    (index < MAX_ROWS).then_some((table, index, field))
}

impl Wizard {
    /// A new API's form, on its first step.
    pub(crate) fn fresh() -> Self {
        let mut w = Wizard {
            step: 1,
            auth: "app".into(),
            app_code: "header".into(),
            protocols: "HTTP,HTTPS".into(),
            method: "GET".into(),
            mode: "pass_through".into(),
            backend_kind: "http".into(),
            backend_path: "/".into(),
            timeout_ms: "10000".into(),
            content_type: "application/json".into(),
            ..Wizard::default()
        };
        w.tidy();
        w
    }

    /// The form as a draft fills it, on its first step.
    pub(crate) fn of(spec: &ApiSpec) -> Self {
        use pylon_model::{BackendDefinition, BackendTarget};
        let r = &spec.request;
        let b = &spec.backend;
        let mut w = Wizard {
            step: 1,
            name: spec.name.clone(),
            description: spec.description.clone(),
            auth: wire(&spec.auth.auth_type),
            app_code: wire(&spec.auth.app_code),
            protocols: r
                .protocols
                .iter()
                .map(|p| wire(p).to_uppercase())
                .collect::<Vec<_>>()
                .join(","),
            method: wire(&r.method).to_uppercase(),
            path: r.path.clone(),
            mode: wire(&r.mode),
            params: spec
                .parameters
                .iter()
                .map(|p| ParamRow {
                    was: p.name.clone(),
                    name: p.name.clone(),
                    location: wire(&p.location),
                    ty: wire(&p.param_type),
                    required: if p.required { "yes" } else { "no" }.into(),
                    backend_name: p.backend_name.clone().unwrap_or_default(),
                    backend_location: p.backend_location.map(|l| wire(&l)).unwrap_or_default(),
                })
                .collect(),
            backend_path: b.path.clone(),
            backend_method: b
                .method
                .map(|m| wire(&m).to_uppercase())
                .unwrap_or_default(),
            timeout_ms: b.timeout_ms.to_string(),
            constants: spec
                .constant_parameters
                .iter()
                .map(|c| ConstantRow {
                    name: c.name.clone(),
                    location: wire(&c.location),
                    value: c.value.clone(),
                    description: c.description.clone(),
                })
                .collect(),
            system: spec
                .system_parameters
                .iter()
                .map(|p| SystemRow {
                    kind: wire(&p.kind),
                    name: p.name.clone(),
                    location: wire(&p.location),
                })
                .collect(),
            content_type: spec.response.content_type.clone().unwrap_or_default(),
            success_example: spec.response.success_example.clone().unwrap_or_default(),
            failure_example: spec.response.failure_example.clone().unwrap_or_default(),
            errors: spec
                .response
                .error_codes
                .iter()
                .map(|e| ErrorRow {
                    code: e.code.clone(),
                    message: e.message.clone(),
                    description: e.description.clone(),
                })
                .collect(),
            ..Wizard::default()
        };
        match &b.service {
            BackendTarget::BackendId(id) => {
                w.backend_kind = "service".into();
                w.backend_id = id.clone();
            }
            BackendTarget::Inline(BackendDefinition::Http { url, .. }) => {
                w.backend_kind = "http".into();
                w.url = url.clone();
            }
            BackendTarget::Inline(BackendDefinition::Upstream { upstream, .. }) => {
                w.backend_kind = "upstream".into();
                w.upstream = upstream.clone();
            }
            BackendTarget::Inline(BackendDefinition::Mock { status, body, .. }) => {
                w.backend_kind = "mock".into();
                w.mock_status = status.to_string();
                w.mock_body = body.clone();
            }
            BackendTarget::Inline(other) => {
                w.backend_kind = "kept".into();
                w.kept = serde_json::to_value(other)
                    .ok()
                    .and_then(|v| v.get("type").and_then(Value::as_str).map(str::to_string))
                    .unwrap_or_default();
            }
        }
        w.tidy();
        w
    }

    /// The form as submitted: scalar fields by name, table rows as `p0_name`, `c1_value`….
    pub(crate) fn from_form(pairs: Vec<(String, String)>) -> Self {
        let mut w = Wizard::default();
        for (key, v) in pairs {
            if let Some((table, i, field)) = row_key(&key) {
                match (table, field) {
                    ('p', "was") => row(&mut w.params, i).was = v,
                    ('p', "name") => row(&mut w.params, i).name = v,
                    ('p', "location") => row(&mut w.params, i).location = v,
                    ('p', "type") => row(&mut w.params, i).ty = v,
                    ('p', "required") => row(&mut w.params, i).required = v,
                    ('p', "backend_name") => row(&mut w.params, i).backend_name = v,
                    ('p', "backend_location") => row(&mut w.params, i).backend_location = v,
                    ('c', "name") => row(&mut w.constants, i).name = v,
                    ('c', "location") => row(&mut w.constants, i).location = v,
                    ('c', "value") => row(&mut w.constants, i).value = v,
                    ('c', "description") => row(&mut w.constants, i).description = v,
                    ('s', "kind") => row(&mut w.system, i).kind = v,
                    ('s', "name") => row(&mut w.system, i).name = v,
                    ('s', "location") => row(&mut w.system, i).location = v,
                    ('e', "code") => row(&mut w.errors, i).code = v,
                    ('e', "message") => row(&mut w.errors, i).message = v,
                    ('e', "description") => row(&mut w.errors, i).description = v,
                    _ => {}
                }
                continue;
            }
            let slot = match key.as_str() {
                "step" => {
                    w.step = v.parse().unwrap_or(1);
                    continue;
                }
                "go" => &mut w.go,
                "name" => &mut w.name,
                "description" => &mut w.description,
                "auth" => &mut w.auth,
                "app_code" => &mut w.app_code,
                "protocols" => &mut w.protocols,
                "method" => &mut w.method,
                "path" => &mut w.path,
                "mode" => &mut w.mode,
                "backend_kind" => &mut w.backend_kind,
                "kept" => &mut w.kept,
                "backend_id" => &mut w.backend_id,
                "url" => &mut w.url,
                "upstream" => &mut w.upstream,
                "mock_status" => &mut w.mock_status,
                "mock_body" => &mut w.mock_body,
                "backend_path" => &mut w.backend_path,
                "backend_method" => &mut w.backend_method,
                "timeout_ms" => &mut w.timeout_ms,
                "content_type" => &mut w.content_type,
                "success_example" => &mut w.success_example,
                "failure_example" => &mut w.failure_example,
                _ => continue,
            };
            *slot = v;
        }
        w.step = w.step.clamp(1, 4);
        w.tidy();
        w
    }

    /// Blank rows dropped, then one blank row at the end of each table to fill in.
    pub(crate) fn tidy(&mut self) {
        self.params.retain(|p| !p.name.trim().is_empty());
        self.constants.retain(|c| !c.name.trim().is_empty());
        self.system.retain(|p| !p.name.trim().is_empty());
        self.errors.retain(|e| !e.code.trim().is_empty());
        self.add_rows();
    }

    /// A blank row at the end of each table.
    pub(crate) fn add_rows(&mut self) {
        if self.params.len() < MAX_ROWS {
            self.params.push(ParamRow {
                location: "query".into(),
                ty: "string".into(),
                required: "no".into(),
                ..ParamRow::default()
            });
        }
        if self.constants.len() < MAX_ROWS {
            self.constants.push(ConstantRow {
                location: "header".into(),
                ..ConstantRow::default()
            });
        }
        if self.system.len() < MAX_ROWS {
            self.system.push(SystemRow {
                kind: "client_ip".into(),
                location: "header".into(),
                ..SystemRow::default()
            });
        }
        if self.errors.len() < MAX_ROWS {
            self.errors.push(ErrorRow::default());
        }
    }

    /// The API's definition as the REST API takes it, written over `draft` (an empty object
    /// for a new API): the same document, the same checks.
    pub(crate) fn spec(&self, draft: Value) -> Result<ApiSpec, ApiError> {
        let text = |v: &str| Value::String(v.trim().to_string());
        let optional = |v: &str| match v.trim() {
            "" => Value::Null,
            v => Value::String(v.to_string()),
        };
        let mut doc = object(draft);
        doc.insert("name".into(), text(&self.name));
        doc.insert(
            "description".into(),
            Value::String(self.description.clone()),
        );

        let auth = member(&mut doc, "auth");
        auth.insert("type".into(), text(&self.auth));
        let app_code = if self.auth == "app" {
            self.app_code.as_str()
        } else {
            "off"
        };
        auth.insert("app_code".into(), text(app_code));

        let request = member(&mut doc, "request");
        let protocols: Vec<&str> = self.protocols.split(',').map(str::trim).collect();
        request.insert("protocols".into(), json!(protocols));
        request.insert("method".into(), text(&self.method));
        request.insert("path".into(), text(&self.path));
        request.insert("mode".into(), text(&self.mode));

        let previous: Vec<Value> = match doc.remove("parameters") {
            Some(Value::Array(all)) => all,
            _ => Vec::new(),
        };
        let parameters: Vec<Value> = self
            .params
            .iter()
            .filter(|p| !p.name.trim().is_empty())
            .map(|p| {
                let kept = previous
                    .iter()
                    .find(|old| !p.was.is_empty() && old["name"] == p.was.as_str())
                    .cloned();
                let mut param = object(kept.unwrap_or(Value::Null));
                param.insert("name".into(), text(&p.name));
                param.insert("location".into(), text(&p.location));
                param.insert("type".into(), text(&p.ty));
                param.insert("required".into(), Value::Bool(p.required == "yes"));
                param.insert("backend_name".into(), optional(&p.backend_name));
                param.insert("backend_location".into(), optional(&p.backend_location));
                Value::Object(param)
            })
            .collect();
        doc.insert("parameters".into(), Value::Array(parameters));

        let timeout_ms = self.timeout_ms.trim().parse::<u64>().map_err(|_| {
            ApiError::invalid(
                "backend.timeout_ms",
                "must be a whole number of milliseconds",
            )
        })?;
        let backend = member(&mut doc, "backend");
        backend.insert("path".into(), text(&self.backend_path));
        backend.insert("method".into(), optional(&self.backend_method));
        backend.insert("timeout_ms".into(), json!(timeout_ms));
        self.write_service(backend)?;

        let constants: Vec<Value> = self
            .constants
            .iter()
            .filter(|c| !c.name.trim().is_empty())
            .map(|c| {
                json!({"name": c.name.trim(), "location": c.location, "value": c.value,
                       "description": c.description})
            })
            .collect();
        doc.insert("constant_parameters".into(), Value::Array(constants));
        let system: Vec<Value> = self
            .system
            .iter()
            .filter(|p| !p.name.trim().is_empty())
            .map(|p| json!({"kind": p.kind, "name": p.name.trim(), "location": p.location}))
            .collect();
        doc.insert("system_parameters".into(), Value::Array(system));

        let errors: Vec<Value> = self
            .errors
            .iter()
            .filter(|e| !e.code.trim().is_empty())
            .map(|e| {
                json!({"code": e.code.trim(), "message": e.message,
                       "description": e.description})
            })
            .collect();
        let response = member(&mut doc, "response");
        response.insert("content_type".into(), optional(&self.content_type));
        response.insert("success_example".into(), optional(&self.success_example));
        response.insert("failure_example".into(), optional(&self.failure_example));
        response.insert("error_codes".into(), Value::Array(errors));

        serde_json::from_value(Value::Object(doc)).map_err(|e| ApiError::BadRequest(e.to_string()))
    }

    /// The backend step's service, over the one the draft has when it is of the same type
    /// (keeping, say, an `https` backend's TLS settings).
    fn write_service(&self, backend: &mut Map<String, Value>) -> Result<(), ApiError> {
        let service = member(backend, "service");
        if self.backend_kind == "kept" {
            return if service.contains_key("inline") {
                Ok(())
            } else {
                Err(ApiError::invalid(
                    "backend.service",
                    "choose the backend's type",
                ))
            };
        }
        if self.backend_kind == "service" {
            *service = Map::new();
            service.insert("backend_id".into(), json!(self.backend_id.trim()));
            return Ok(());
        }
        let mut inline = match service.remove("inline") {
            Some(Value::Object(old)) if old.get("type") == Some(&json!(self.backend_kind)) => old,
            _ => Map::new(),
        };
        service.clear();
        inline.insert("type".into(), json!(self.backend_kind));
        match self.backend_kind.as_str() {
            "upstream" => {
                inline.insert("upstream".into(), json!(self.upstream.trim()));
            }
            "mock" => {
                let status = match self.mock_status.trim() {
                    "" => 200,
                    s => s.parse::<u16>().map_err(|_| {
                        ApiError::invalid("backend.service.inline.status", "must be a status code")
                    })?,
                };
                inline.insert("status".into(), json!(status));
                inline.insert("body".into(), json!(self.mock_body));
            }
            _ => {
                inline.insert("url".into(), json!(self.url.trim()));
            }
        }
        service.insert("inline".into(), Value::Object(inline));
        Ok(())
    }
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// `doc[key]` as an object, made (or replaced) when it is not one.
fn member<'a>(doc: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let slot = doc.entry(key).or_insert_with(|| json!({}));
    if !slot.is_object() {
        *slot = json!({});
    }
    match slot {
        Value::Object(map) => map,
        _ => unreachable!("made an object above"),
    }
}

/// The step that holds a field the API refused, and the input it names.
pub(crate) fn step_of(field: &str) -> (u8, &'static str) {
    match field {
        f if f.starts_with("request.path") => (2, "path"),
        f if f.starts_with("request") || f.starts_with("parameters") => (2, "method"),
        f if f.starts_with("backend.path") => (3, "backend_path"),
        f if f.starts_with("backend.timeout") => (3, "timeout_ms"),
        f if f.ends_with(".url") => (3, "url"),
        f if f.ends_with(".upstream") => (3, "upstream"),
        f if f.starts_with("backend") => (3, "backend_kind"),
        f if f.starts_with("constant_parameters") || f.starts_with("system_parameters") => {
            (3, "constants")
        }
        f if f.starts_with("response") => (4, "content_type"),
        f if f.starts_with("auth") => (1, "auth"),
        _ => (1, "name"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(all: &[(&str, &str)]) -> Vec<(String, String)> {
        all.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_new_api_is_the_rest_apis_document() {
        let mut w = Wizard::fresh();
        w.name = "get-user".into();
        w.path = "/users/{id}".into();
        w.url = "http://127.0.0.1:8000".into();
        w.backend_path = "/users/{id}".into();
        w.params[0] = ParamRow {
            name: "id".into(),
            location: "path".into(),
            ty: "string".into(),
            required: "yes".into(),
            ..ParamRow::default()
        };
        w.constants[0].name = "X-Source".into();
        w.constants[0].value = "pylon".into();
        w.system[0].name = "X-Client-Ip".into();
        w.errors[0].code = "404".into();
        w.errors[0].message = "no such user".into();
        let spec = w.spec(json!({})).unwrap();
        assert!(spec.validate().is_ok(), "{:?}", spec.validate());
        assert!(spec.parameters[0].required);
        assert_eq!(spec.constant_parameters[0].value, "pylon");
        assert_eq!(spec.system_parameters[0].name, "X-Client-Ip");
        assert_eq!(spec.response.error_codes[0].message, "no such user");
    }

    #[test]
    fn editing_keeps_what_the_form_does_not_ask_for() {
        let draft: ApiSpec = serde_json::from_value(json!({
            "name": "a", "request": {"method": "GET", "path": "/a/{id}", "regex_priority": 3},
            "parameters": [{"name": "id", "location": "path", "required": true,
                            "constraints": {"pattern": "[0-9]+"}, "description": "the id"}],
            "backend": {"service": {"inline": {"type": "http", "url": "https://10.0.0.1",
                        "tls": {"server_name": "api.internal"}}}, "path": "/a/{id}"},
            "cors": {"allow_origins": ["https://x.example"]},
        }))
        .unwrap();
        let mut w = Wizard::of(&draft);
        assert_eq!(
            (w.backend_kind.as_str(), w.url.as_str()),
            ("http", "https://10.0.0.1")
        );
        w.params[0].name = "user".into();
        w.url = "https://10.0.0.2".into();
        w.path = "/a/{user}".into();
        w.backend_path = "/a/{user}".into();
        let spec = w.spec(serde_json::to_value(&draft).unwrap()).unwrap();
        assert_eq!(spec.parameters[0].name, "user");
        assert_eq!(spec.parameters[0].description, "the id");
        assert_eq!(
            spec.parameters[0].constraints.pattern.as_deref(),
            Some("[0-9]+")
        );
        assert_eq!(spec.request.regex_priority, 3);
        assert!(spec.cors.is_some());
        let backend = serde_json::to_value(&spec.backend.service).unwrap();
        assert_eq!(backend["inline"]["url"], "https://10.0.0.2");
        assert_eq!(backend["inline"]["tls"]["server_name"], "api.internal");
    }

    #[test]
    fn rows_are_read_from_their_names_and_bounded() {
        let w = Wizard::from_form(pairs(&[
            ("step", "3"),
            ("p1_name", "b"),
            ("p0_name", "a"),
            ("p0_location", "path"),
            ("c0_name", ""),
            ("e99999999_code", "huge"),
            ("s0_name", "X-Ip"),
            ("s0_kind", "client_ip"),
        ]));
        assert_eq!(w.step, 3);
        let names: Vec<&str> = w.params.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["a", "b", ""], "filled rows, then one blank");
        assert_eq!(w.constants.len(), 1);
        assert_eq!(w.errors.len(), 1, "an index past the bound is dropped");
        assert_eq!(step_of("request.path"), (2, "path"));
        assert_eq!(step_of("backend.service.inline.url"), (3, "url"));
    }
}
