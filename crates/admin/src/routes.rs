//! The route table: every authenticated `/v1` endpoint, registered in one place and recorded so
//! the OpenAPI document can be checked against it.

use axum::handler::Handler;
use axum::routing::{MethodFilter, on};
use http::Method;

use crate::error::ApiError;
use crate::{
    AppState, apis, apps, authorizations, backends, certificates, debug, deployments, domains,
    environments, functions, groups, policies, stage_variables, upstreams,
};

/// An axum router plus the (path, method) pairs it was given.
pub(crate) struct RouteTable {
    router: axum::Router<AppState>,
    entries: Vec<(&'static str, Method)>,
}

impl RouteTable {
    fn new() -> Self {
        Self {
            router: axum::Router::new(),
            entries: Vec::new(),
        }
    }

    fn add<H, T>(mut self, method: Method, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = if method == Method::GET {
            MethodFilter::GET
        } else if method == Method::POST {
            MethodFilter::POST
        } else if method == Method::PUT {
            MethodFilter::PUT
        } else {
            MethodFilter::DELETE
        };
        // Same path, another method: axum merges the method routers.
        self.router = self.router.route(path, on(filter, handler));
        self.entries.push((path, method));
        self
    }

    fn get<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Self {
        self.add(Method::GET, path, h)
    }
    fn post<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Self {
        self.add(Method::POST, path, h)
    }
    fn put<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Self {
        self.add(Method::PUT, path, h)
    }
    fn delete<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, h: H) -> Self {
        self.add(Method::DELETE, path, h)
    }

    pub(crate) fn into_router(self) -> axum::Router<AppState> {
        self.router
    }

    #[cfg(test)]
    pub(crate) fn entries(&self) -> &[(&'static str, Method)] {
        &self.entries
    }
}

/// Every authenticated endpoint.
pub(crate) fn table() -> RouteTable {
    RouteTable::new()
        .get("/v1/groups", groups::list)
        .post("/v1/groups", groups::create)
        .get("/v1/groups/{group_id}", groups::get)
        .put("/v1/groups/{group_id}", groups::update)
        .delete("/v1/groups/{group_id}", groups::delete)
        .get("/v1/groups/{group_id}/domains", domains::list)
        .post("/v1/groups/{group_id}/domains", domains::create)
        .delete("/v1/groups/{group_id}/domains/{domain}", domains::delete)
        .get("/v1/environments", environments::list)
        .post("/v1/environments", environments::create)
        .delete("/v1/environments/{name}", environments::delete)
        .get(
            "/v1/groups/{group_id}/stage-variables/{environment}",
            stage_variables::get,
        )
        .put(
            "/v1/groups/{group_id}/stage-variables/{environment}",
            stage_variables::put,
        )
        .get("/v1/certificates", certificates::list)
        .post("/v1/certificates", certificates::create)
        .get("/v1/certificates/{id}", certificates::get)
        .put("/v1/certificates/{id}", certificates::update)
        .delete("/v1/certificates/{id}", certificates::delete)
        .get("/v1/upstreams", upstreams::list)
        .post("/v1/upstreams", upstreams::create)
        .get("/v1/upstreams/{id}", upstreams::get)
        .put("/v1/upstreams/{id}", upstreams::update)
        .delete("/v1/upstreams/{id}", upstreams::delete)
        .get("/v1/functions", functions::list)
        .post("/v1/functions", functions::create)
        .get("/v1/functions/{id}", functions::get)
        .put("/v1/functions/{id}", functions::update)
        .delete("/v1/functions/{id}", functions::delete)
        .get("/v1/backends", backends::list)
        .post("/v1/backends", backends::create)
        .get("/v1/backends/{id}", backends::get)
        .put("/v1/backends/{id}", backends::update)
        .delete("/v1/backends/{id}", backends::delete)
        .get("/v1/backends/{id}/environments", backends::list_definitions)
        .get(
            "/v1/backends/{id}/environments/{environment}",
            backends::get_definition,
        )
        .put(
            "/v1/backends/{id}/environments/{environment}",
            backends::put_definition,
        )
        .delete(
            "/v1/backends/{id}/environments/{environment}",
            backends::delete_definition,
        )
        .get("/v1/groups/{group_id}/apis", apis::list)
        .post("/v1/groups/{group_id}/apis", apis::create)
        .get("/v1/groups/{group_id}/apis/{api_id}", apis::get)
        .put("/v1/groups/{group_id}/apis/{api_id}", apis::update)
        .delete("/v1/groups/{group_id}/apis/{api_id}", apis::delete)
        .post(
            "/v1/groups/{group_id}/apis/{api_id}/publish",
            deployments::publish,
        )
        .post(
            "/v1/groups/{group_id}/apis/{api_id}/unpublish",
            deployments::unpublish,
        )
        .post(
            "/v1/groups/{group_id}/apis/{api_id}/rollback",
            deployments::rollback,
        )
        .get(
            "/v1/groups/{group_id}/apis/{api_id}/deployments",
            deployments::list,
        )
        .get(
            "/v1/groups/{group_id}/deployments",
            deployments::list_active_in_group,
        )
        .get("/v1/apps", apps::list)
        .post("/v1/apps", apps::create)
        .get("/v1/apps/{app}", apps::get)
        .delete("/v1/apps/{app}", apps::delete)
        .get("/v1/apps/{app}/keys", apps::list_keys)
        .post("/v1/apps/{app}/keys", apps::add_key)
        .get("/v1/apps/{app}/keys/{app_key}/secret", apps::get_secret)
        .delete("/v1/apps/{app}/keys/{app_key}", apps::delete_key)
        .get("/v1/apps/{app}/codes", apps::list_codes)
        .post("/v1/apps/{app}/codes", apps::add_code)
        .delete("/v1/apps/{app}/codes/{code}", apps::delete_code)
        .get("/v1/authorizations", authorizations::list)
        .post("/v1/authorizations", authorizations::grant)
        .delete("/v1/authorizations/{id}", authorizations::revoke)
        .get(
            "/v1/apps/{app}/authorizations",
            authorizations::list_for_app,
        )
        .get(
            "/v1/groups/{group_id}/apis/{api_id}/authorizations",
            authorizations::list_for_api,
        )
        .get("/v1/policies", policies::list)
        .post("/v1/policies", policies::create)
        .get("/v1/policies/{id}", policies::get)
        .put("/v1/policies/{id}", policies::update)
        .delete("/v1/policies/{id}", policies::delete)
        .get("/v1/policies/{id}/bindings", policies::list_bindings)
        .post("/v1/policies/{id}/bindings", policies::bind)
        .delete(
            "/v1/policies/{id}/bindings/{api_id}/{environment}",
            policies::unbind,
        )
        .get("/v1/apis/{api_id}/policies", policies::list_for_api)
        .post("/v1/debug", debug::debug)
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::NotFound("no such admin endpoint".into())
}

pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
