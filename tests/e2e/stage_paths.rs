//! Domains that take the environment from the path: AWS's `/<stage>/...` with AWS's error
//! shape, and Tencent's `/release|/prepub|/test/...`.

use http::{Method, StatusCode};
use serde_json::json;

use crate::harness::*;

async fn call(pylon: &Pylon, host: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    let mut all = vec![("host".to_string(), host.to_string())];
    all.extend(headers.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    send(
        Method::GET,
        &format!("http://{}{path}", pylon.gateway),
        &all,
        Default::default(),
    )
    .await
}

/// An AWS error: status, `{"message"}` and `x-amzn-ErrorType`, with a request id.
fn assert_aws(reply: &Reply, status: u16, message: &str, kind: &str) {
    assert_eq!(reply.status.as_u16(), status, "{}", reply.text());
    assert_eq!(reply.json(), json!({"message": message}));
    assert_eq!(reply.header("x-amzn-errortype"), kind);
    assert!(!reply.header("x-amzn-requestid").is_empty());
    assert!(reply.headers.get("x-ca-error-message").is_none());
}

#[tokio::test]
async fn an_aws_style_domain_takes_the_stage_from_the_path_and_answers_like_aws() {
    let pylon = Pylon::start().await;
    let backend = Backend::start("b").await;
    let group = pylon.create_group("aws").await;
    cli_ok(
        &pylon,
        &[
            "group",
            "add-domain",
            "aws",
            "api.aws.test",
            "--stage-path",
            "aws",
            "--error-format",
            "aws",
        ],
    )
    .await;
    let orders = pylon
        .create_api(
            &group,
            http_api("orders", "GET", "/orders", &backend.url(), "/orders"),
        )
        .await;
    pylon.publish(&group, &orders, "RELEASE").await;
    let beta = pylon
        .create_api(
            &group,
            http_api("beta", "GET", "/beta", &backend.url(), "/beta"),
        )
        .await;
    pylon.publish(&group, &beta, "TEST").await;

    let reply = call(&pylon, "api.aws.test", "/RELEASE/orders?x=1", &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["path"], "/orders", "the stage is cut off");
    assert_eq!(reply.json()["query"], "x=1");
    // The path picks the environment, whatever X-Ca-Stage says.
    let reply = call(
        &pylon,
        "api.aws.test",
        "/TEST/beta",
        &[("x-ca-stage", "RELEASE")],
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["path"], "/beta");

    let not_there = call(&pylon, "api.aws.test", "/RELEASE/beta", &[]).await;
    assert_aws(
        &not_there,
        403,
        "Missing Authentication Token",
        "MissingAuthenticationTokenException",
    );
    // Stage names match case-sensitively, as AWS matches them.
    let lower = call(&pylon, "api.aws.test", "/release/orders", &[]).await;
    assert_aws(&lower, 403, "Forbidden", "ForbiddenException");
    let bare = call(&pylon, "api.aws.test", "/RELEASE", &[]).await;
    assert_aws(
        &bare,
        403,
        "Missing Authentication Token",
        "MissingAuthenticationTokenException",
    );
    assert_eq!(backend.hits(), 2);

    // The same group on its default domain is not in stage-path mode.
    let reply = pylon.get(&group, "/orders").await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn a_tencent_style_domain_maps_release_prepub_and_test() {
    let pylon = Pylon::start().await;
    let backend = Backend::start("b").await;
    let group = pylon.create_group("tc").await;
    pylon
        .add_domain(
            &group,
            json!({"name": "service.tc.test", "stage_path": "tencent"}),
        )
        .await;
    let api = pylon
        .create_api(
            &group,
            http_api("orders", "GET", "/orders/{id}", &backend.url(), "/o/{id}"),
        )
        .await;
    pylon.publish(&group, &api, "PRE").await;

    let reply = call(&pylon, "service.tc.test", "/prepub/orders/7", &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["path"], "/o/7");
    call(&pylon, "service.tc.test", "/release/orders/7", &[])
        .await
        .assert_error(400, "API Not Found");
    let unknown = call(&pylon, "service.tc.test", "/PRE/orders/7", &[]).await;
    unknown.assert_error(400, "Invalid Url");
    assert_eq!(unknown.header("x-ca-error-code"), "D400SN");

    // Bound to one environment and reading it from the path: refused when configured.
    let (status, body) = pylon
        .admin(
            Method::POST,
            &format!("/v1/groups/{group}/domains"),
            Some(json!({"name": "x.tc.test", "stage_path": "tencent", "environment": "TEST"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "stage_path");
}
