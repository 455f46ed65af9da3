//! Environments by X-Ca-Stage or by a domain bound to one, custom environments, and stage
//! variables.

use bytes::Bytes;
use http::Method;
use serde_json::json;

use crate::harness::{Backend, Pylon, cli_json, http_api, send};

#[tokio::test]
async fn x_ca_stage_selects_the_environment() {
    let pylon = Pylon::start().await;
    let backend = Backend::start("b").await;
    let g = pylon.create_group("stages").await;
    pylon
        .ok(Method::POST, "/v1/environments", json!({"name": "staging"}))
        .await;
    for env in ["RELEASE", "PRE", "TEST", "STAGING"] {
        let api = pylon
            .create_api(
                &g,
                http_api(
                    &format!("api-{env}"),
                    "GET",
                    &format!("=/{}", env.to_lowercase()),
                    &backend.url(),
                    &format!("/{env}"),
                ),
            )
            .await;
        pylon.publish(&g, &api, env).await;
    }
    // Default RELEASE; the header is case-insensitive.
    assert_eq!(pylon.get(&g, "/release").await.json()["path"], "/RELEASE");
    for (stage, path) in [
        ("pre", "/pre"),
        ("Test", "/test"),
        ("STAGING", "/staging"),
        ("release", "/release"),
    ] {
        let r = pylon
            .call(&g, Method::GET, path, &[("x-ca-stage", stage)], "")
            .await;
        assert_eq!(r.status, 200, "{stage}: {}", r.text());
        assert_eq!(r.json()["path"], format!("/{}", stage.to_uppercase()));
    }
    // An API published only to TEST is not served in RELEASE.
    pylon
        .get(&g, "/test")
        .await
        .assert_error(400, "API Not Found");
    pylon
        .call(&g, Method::GET, "/release", &[("x-ca-stage", "NOPE")], "")
        .await
        .assert_error(400, "Invalid Url");
}

#[tokio::test]
async fn a_domain_bound_to_an_environment_serves_only_that_one() {
    let pylon = Pylon::start().await;
    let backend = Backend::start("b").await;
    let g = pylon.create_group("bound").await;
    for env in ["RELEASE", "TEST"] {
        let api = pylon
            .create_api(
                &g,
                http_api(
                    &format!("api-{env}"),
                    "GET",
                    "/x",
                    &backend.url(),
                    &format!("/{env}"),
                ),
            )
            .await;
        pylon.publish(&g, &api, env).await;
    }
    let bound = cli_json(
        &pylon,
        &[
            "group",
            "add-domain",
            &g,
            "test.shop.example",
            "--environment",
            "test",
        ],
    )
    .await;
    assert_eq!(
        bound,
        json!({"name": "test.shop.example", "environment": "TEST"})
    );
    let on = |host: &'static str, stage: Option<&'static str>| {
        let mut headers = vec![("host".to_string(), host.to_string())];
        if let Some(stage) = stage {
            headers.push(("x-ca-stage".into(), stage.into()));
        }
        let url = format!("http://{}/x", pylon.gateway);
        async move { send(Method::GET, &url, &headers, Bytes::new()).await }
    };
    // The bound domain serves TEST, with or without X-Ca-Stage, whatever it names.
    for stage in [None, Some("RELEASE"), Some("NOPE")] {
        let r = on("test.shop.example:80", stage).await;
        assert_eq!(r.status, 200, "{stage:?}: {}", r.text());
        assert_eq!(r.json()["path"], "/TEST", "{stage:?}");
    }
    // The group's other domains still choose by X-Ca-Stage.
    assert_eq!(pylon.get(&g, "/x").await.json()["path"], "/RELEASE");
    let r = pylon
        .call(&g, Method::GET, "/x", &[("x-ca-stage", "TEST")], "")
        .await;
    assert_eq!(r.json()["path"], "/TEST");
}

#[tokio::test]
async fn stage_variables_fill_backend_urls_per_environment() {
    let pylon = Pylon::start().await;
    let blue = Backend::start("blue").await;
    let green = Backend::start("green").await;
    let g = pylon.create_group("vars").await;
    pylon
        .ok(
            Method::PUT,
            &format!("/v1/groups/{g}/stage-variables/RELEASE"),
            json!({"variables": {"host": blue.addr.to_string(), "ver": "v1"}}),
        )
        .await;
    pylon
        .ok(
            Method::PUT,
            &format!("/v1/groups/{g}/stage-variables/TEST"),
            json!({"variables": {"host": green.addr.to_string(), "ver": "v2"}}),
        )
        .await;
    let api = pylon
        .create_api(
            &g,
            http_api(
                "vars",
                "GET",
                "/items/{id}",
                "http://${stageVariables.host}",
                "/${stageVariables.ver}/items/{id}",
            ),
        )
        .await;
    pylon.publish(&g, &api, "RELEASE").await;
    pylon.publish(&g, &api, "TEST").await;
    let r = pylon.get(&g, "/items/5").await.json();
    assert_eq!(
        (r["backend"].as_str(), r["path"].as_str()),
        (Some("blue"), Some("/v1/items/5"))
    );
    let r = pylon
        .call(&g, Method::GET, "/items/5", &[("x-ca-stage", "TEST")], "")
        .await
        .json();
    assert_eq!(
        (r["backend"].as_str(), r["path"].as_str()),
        (Some("green"), Some("/v2/items/5"))
    );

    // AWS's rules for names and values.
    let (status, body) = pylon
        .admin(
            Method::PUT,
            &format!("/v1/groups/{g}/stage-variables/RELEASE"),
            Some(json!({"variables": {"bad-name": "x"}})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["field"].as_str().unwrap().contains("bad-name"));
    let (status, _) = pylon
        .admin(
            Method::PUT,
            &format!("/v1/groups/{g}/stage-variables/RELEASE"),
            Some(json!({"variables": {"ok": "has space"}})),
        )
        .await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn builtin_environments_cannot_be_removed() {
    let pylon = Pylon::start().await;
    let (status, _) = pylon
        .admin(Method::DELETE, "/v1/environments/RELEASE", None)
        .await;
    assert_eq!(status, 409);
    pylon
        .ok(Method::POST, "/v1/environments", json!({"name": "canary"}))
        .await;
    let envs = pylon.ok(Method::GET, "/v1/environments", json!(null)).await;
    let names: Vec<&str> = envs
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    for n in ["RELEASE", "PRE", "TEST", "CANARY"] {
        assert!(names.contains(&n), "{names:?}");
    }
    pylon
        .ok(Method::DELETE, "/v1/environments/CANARY", json!(null))
        .await;
}
