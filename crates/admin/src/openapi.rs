//! The OpenAPI 3 document of the admin API, generated from the handlers' annotations, and the
//! one unauthenticated endpoint that serves it.

use std::sync::LazyLock;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::{
    apis, apps, authorizations, backends, certificates, debug, deployments, domains, environments,
    functions, groups, policies, stage_variables, upstreams,
};

pub(crate) const PATH: &str = "/v1/openapi.json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Pylon admin API",
        description = "Configure Pylon: groups and their domains, TLS certificates, environments, upstreams, hosted functions, backend services, APIs \
                       and their deployments, apps and their authorizations, policies and \
                       their bindings. Every call but this document's needs \
                       `Authorization: Bearer <token>`."
    ),
    paths(
        serve,
        groups::list, groups::create, groups::get, groups::update, groups::delete,
        domains::list, domains::create, domains::delete,
        certificates::list, certificates::create, certificates::get, certificates::update,
        certificates::delete,
        environments::list, environments::create, environments::delete,
        stage_variables::get, stage_variables::put,
        upstreams::list, upstreams::create, upstreams::get, upstreams::update, upstreams::delete,
        functions::list, functions::create, functions::get, functions::update, functions::delete,
        backends::list, backends::create, backends::get, backends::update, backends::delete,
        backends::list_definitions, backends::get_definition, backends::put_definition,
        backends::delete_definition,
        apis::list, apis::create, apis::get, apis::update, apis::delete,
        deployments::publish, deployments::unpublish, deployments::rollback, deployments::list,
        deployments::list_active_in_group,
        apps::list, apps::create, apps::get, apps::delete,
        apps::list_keys, apps::add_key, apps::get_secret, apps::delete_key,
        apps::list_codes, apps::add_code, apps::delete_code,
        authorizations::grant, authorizations::list, authorizations::revoke,
        authorizations::list_for_app, authorizations::list_for_api,
        policies::list, policies::create, policies::get, policies::update, policies::delete,
        policies::list_bindings, policies::bind, policies::unbind, policies::list_for_api,
        debug::debug,
    ),
    modifiers(&BearerScheme),
    security(("bearer" = [])),
)]
struct AdminDoc;

/// Declares the `bearer` security scheme that every operation (but the document's) requires.
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The admin API's OpenAPI document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    AdminDoc::openapi()
}

/// Rendered once: the document never changes while the process runs.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    openapi()
        .to_json()
        .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
});

#[utoipa::path(get, path = "/v1/openapi.json", tag = "meta", security(()),
    responses((status = 200, description = "this OpenAPI document", content_type = "application/json")))]
pub(crate) async fn serve() -> Response {
    let mut response = DOCUMENT.as_str().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// (path, lowercase method) pairs the document describes.
    fn documented() -> BTreeSet<(String, String)> {
        let doc = serde_json::to_value(openapi()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        let mut out = BTreeSet::new();
        for (path, item) in paths {
            for method in [
                "get", "put", "post", "delete", "patch", "head", "options", "trace",
            ] {
                if item.get(method).is_some() {
                    out.insert((path.clone(), method.to_string()));
                }
            }
        }
        out
    }

    #[test]
    fn document_lists_exactly_the_registered_routes() {
        let mut registered: BTreeSet<(String, String)> = crate::routes::table()
            .entries()
            .iter()
            .map(|(p, m)| (p.to_string(), m.as_str().to_ascii_lowercase()))
            .collect();
        registered.insert((PATH.to_string(), "get".to_string()));
        let documented = documented();
        let missing: Vec<_> = registered.difference(&documented).collect();
        let extra: Vec<_> = documented.difference(&registered).collect();
        assert!(
            missing.is_empty(),
            "routes not in the document: {missing:?}"
        );
        assert!(extra.is_empty(), "documented but not routed: {extra:?}");
    }

    #[test]
    fn document_declares_bearer_auth_except_for_itself() {
        let doc = serde_json::to_value(openapi()).unwrap();
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
        assert_eq!(doc["security"][0]["bearer"], serde_json::json!([]));
        assert_eq!(
            doc["paths"][PATH]["get"]["security"],
            serde_json::json!([{}])
        );
        assert!(doc["openapi"].as_str().unwrap().starts_with('3'));
    }

    #[test]
    fn document_describes_the_request_bodies() {
        let doc = serde_json::to_value(openapi()).unwrap();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for name in [
            "ApiSpec",
            "GroupSpec",
            "BackendDefinition",
            "PublishRequest",
            "AppSpec",
            "AppWithKeys",
            "AuthorizationSpec",
            "AuthorizationView",
            "PolicySpec",
            "PolicyBindingSpec",
            "BoundPolicy",
            "IpControlConfig",
            "ThrottleConfig",
            "QuotaConfig",
            "SpecialLimit",
            "ErrorBody",
        ] {
            assert!(schemas.contains_key(name), "schema {name} missing");
        }
    }

    #[test]
    fn every_schema_reference_resolves() {
        fn refs<'v>(v: &'v serde_json::Value, out: &mut Vec<&'v str>) {
            match v {
                serde_json::Value::Object(m) => {
                    if let Some(serde_json::Value::String(r)) = m.get("$ref") {
                        out.push(r);
                    }
                    m.values().for_each(|v| refs(v, out));
                }
                serde_json::Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let doc = serde_json::to_value(openapi()).unwrap();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(!found.is_empty());
        for r in found {
            let name = r.strip_prefix("#/components/schemas/").unwrap_or(r);
            assert!(schemas.contains_key(name), "dangling reference {r}");
        }
    }
}
