//! Forward-phase tests: backend paths, prefix rests, and whole requests built for both
//! request modes.
use super::*;
use crate::compiled::params::plans;
use crate::compiled::{Carried, Compiled};
use crate::pipeline::{route, validate};

fn parts(uri: &str, headers: &[(&str, &str)]) -> Parts {
    let mut b = http::Request::builder().uri(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap().into_parts().0
}

#[test]
fn backend_path_slots_take_encoded_values_and_raw_path_params() {
    let params = plans(
        r#"[{"name":"q","location":"query","backend_name":"uid","backend_location":"path"},
            {"name":"id","location":"path"}]"#,
    );
    let path = BackendPath::parse("/v1/{uid}/{id}/{proxy+}", &params);
    let request = parts("/x?q=a+b%2Fc", &[]);
    let route_params = [("id", "7%20x"), ("proxy", "deep/er%20path")];
    let values = validate::collect(&params, &request, &route_params, None).unwrap();
    let mut out = String::from("/base");
    render_path(&mut out, &path, &values, &route_params).unwrap();
    assert_eq!(out, "/base/v1/a%20b%2Fc/7%20x/deep/er%20path");
}

#[test]
fn the_rest_of_a_prefix_match_is_appended_without_doubling_slashes() {
    let cases = [
        ("/assets", "/css/a.css", "/assets/css/a.css"),
        ("/assets/", "/css/a.css", "/assets/css/a.css"),
        ("/u", "test", "/utest"),
        ("/u", "", "/u"),
    ];
    for (base, rest, expected) in cases {
        let mut out = base.to_string();
        append_rest(&mut out, rest);
        assert_eq!(out, expected);
    }
}

/// What `build` made of a request: its path and its headers as a map.
struct Built {
    path_and_query: String,
    headers: http::HeaderMap,
}

/// Runs route, validate and forward for one API on a request.
fn forward(api: serde_json::Value, request: Parts) -> Built {
    let snapshot: pylon_model::Snapshot = serde_json::from_value(serde_json::json!({
        "groups": [{"id": "g1", "name": "g", "created_at": 0, "updated_at": 0}],
        "environments": [{"name": "RELEASE", "builtin": true}],
        "stage_variables": [{"group_id": "g1", "environment": "RELEASE",
            "variables": {"ver": "v3"}}],
        "upstreams": [], "backends": [], "backend_definitions": [],
        "deployments": [{"id": "d1", "api_id": "a1", "group_id": "g1",
            "environment": "RELEASE", "version": 1, "note": "", "created_at": 0,
            "api": api}]
    }))
    .unwrap();
    let compiled = Compiled::build(&snapshot, "gw.test", &Carried::default()).unwrap();
    let peer = crate::request::client::Peer::new("192.0.2.1:5000".parse().unwrap());
    let mut ctx = RequestContext::new(
        &compiled,
        &request,
        Default::default(),
        &peer,
        None,
        &crate::observe::log::sink::OFF,
    );
    let route = route::route(&mut ctx).unwrap();
    let plan = route.plan;
    let backend = plan.backend.as_ref().unwrap();
    // No body: an empty incoming body cannot be built here, and none is needed.
    let body = RequestBody::Buffered {
        bytes: Bytes::new(),
        is_form: true,
    };
    let mut routed = Routed::new(&mut ctx, route, body);
    routed.values = validate::validate(&routed, None).unwrap();
    let out = build(&mut routed, backend, "").unwrap();
    Built {
        headers: out.headers.to_map(),
        path_and_query: out.path_and_query,
    }
}

fn api(mode: &str, parameters: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "id": "a1", "group_id": "g1", "name": "api", "created_at": 0, "updated_at": 0,
        "request": {"method": "GET", "path": "/items/{id}", "mode": mode},
        "parameters": parameters,
        "backend": {"service": {"inline": {"type": "http", "url": "http://10.0.0.1:80"}},
            "path": "/${stageVariables.ver}/items/{id}"}
    })
}

#[test]
fn mapping_renames_and_moves_parameters_and_drops_the_rest() {
    let out = forward(
        api(
            "mapping",
            serde_json::json!([
                {"name": "id", "location": "path"},
                {"name": "q", "location": "query", "backend_name": "X-Q", "backend_location": "header"},
                {"name": "X-Token", "location": "header", "backend_name": "token", "backend_location": "query"},
                {"name": "keep", "location": "query"}
            ]),
        ),
        parts(
            "http://g1.gw.test/items/5?q=hello&keep=1&drop=2",
            &[
                ("x-token", "t 1"),
                ("x-other", "gone"),
                ("accept", "text/plain"),
            ],
        ),
    );
    assert_eq!(out.path_and_query, "/v3/items/5?token=t%201&keep=1");
    assert_eq!(out.headers["x-q"], "hello");
    assert_eq!(out.headers["accept"], "text/plain");
    assert!(out.headers.get("x-other").is_none());
    assert!(out.headers.get("x-token").is_none());
    assert_eq!(out.headers["x-forwarded-for"], "192.0.2.1");
    assert_eq!(out.headers["x-forwarded-host"], "g1.gw.test");
}

#[test]
fn pass_through_keeps_the_request_and_adds_moved_values() {
    let out = forward(
        api(
            "pass_through",
            serde_json::json!([
                {"name": "q", "location": "query", "backend_name": "X-Q", "backend_location": "header"},
                {"name": "page", "location": "query", "default": "1"}
            ]),
        ),
        parts(
            "http://g1.gw.test/items/5?q=hello&other=2",
            &[("x-other", "kept"), ("connection", "close")],
        ),
    );
    assert_eq!(out.path_and_query, "/v3/items/5?q=hello&other=2&page=1");
    assert_eq!(out.headers["x-q"], "hello");
    assert_eq!(out.headers["x-other"], "kept");
    assert!(out.headers.get("connection").is_none());
    assert!(out.headers.get("host").is_none());
}
