//! Throttling policies against the real binary: exact limits under concurrent connections,
//! per-app / per-address / special limits with their headers, live edits, and calendar quotas
//! for AWS-style API-key callers, with the policies' clock moved by `--clock-offset` to the
//! last seconds of a period.

use std::collections::BTreeMap;
use std::time::Duration;

use http::Method;
use serde_json::{Value, json};

use crate::harness::{Backend, Pylon, Reply, http_api};

/// Seconds to add to the clock so the policies' time of day (UTC) is `second_of_day` now.
fn offset_to(second_of_day: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    (second_of_day - now.rem_euclid(86_400))
        .rem_euclid(86_400)
        .to_string()
}

/// Seconds to add so the policies' clock is `second` seconds into a minute now.
fn offset_to_second(second: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    (second - now.rem_euclid(60)).rem_euclid(60).to_string()
}

async fn policy(pylon: &Pylon, name: &str, config: Value) {
    pylon
        .ok(
            Method::POST,
            "/v1/policies",
            json!({"name": name, "kind": "throttle", "config": config}),
        )
        .await;
}

async fn bind(pylon: &Pylon, name: &str, api: &str) {
    pylon
        .ok(
            Method::POST,
            &format!("/v1/policies/{name}/bindings"),
            json!({"api_id": api, "environment": "RELEASE"}),
        )
        .await;
}

/// `clients` concurrent clients, each on its own connections, send `each` requests.
async fn hammer(pylon: &Pylon, group: &str, clients: usize, each: usize) -> Vec<Reply> {
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (gateway, host) = (pylon.gateway, format!("{group}.{}", pylon.base_domain));
            tokio::spawn(async move {
                let mut replies = Vec::with_capacity(each);
                for _ in 0..each {
                    let headers = [("host".to_string(), host.clone())];
                    let url = format!("http://{gateway}/a");
                    replies.push(
                        crate::harness::send(Method::GET, &url, &headers, Default::default()).await,
                    );
                }
                replies
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all
}

/// Checks one full window's worth of replies: exactly `limit` admitted, each with its own
/// `X-RateLimit-Remaining` (so all in one window), the rest refused as the API's flow control.
/// Returns the refusals' `Retry-After`.
fn exactly_admitted(replies: &[Reply], limit: usize) -> u64 {
    let admitted: Vec<&Reply> = replies.iter().filter(|r| r.status == 200).collect();
    assert_eq!(admitted.len(), limit, "admitted in one window");
    let mut remaining: Vec<usize> = admitted
        .iter()
        .map(|r| r.header("x-ratelimit-remaining").parse().unwrap())
        .collect();
    remaining.sort_unstable();
    assert_eq!(remaining, (0..limit).collect::<Vec<_>>());
    assert!(
        admitted
            .iter()
            .all(|r| r.header("x-ratelimit-limit") == limit.to_string())
    );
    let mut retry = 0;
    for r in replies.iter().filter(|r| r.status != 200) {
        r.assert_error(403, "Throttled by API Flow Control");
        assert_eq!(r.header("x-ca-error-code"), "T403AP");
        let after: u64 = r.header("retry-after").parse().unwrap();
        assert!((1..=60).contains(&after), "{after}");
        retry = retry.max(after);
    }
    retry
}

#[tokio::test]
async fn concurrent_clients_get_exactly_the_limit_per_window() {
    let backend = Backend::start("b").await;
    // 45 s into a minute: the first window has 15 s left for the setup and the first round.
    let pylon = Pylon::start_with(&["--clock-offset", &offset_to_second(45)], false).await;
    let g = pylon.create_group("shop").await;
    let api = pylon
        .create_api(&g, http_api("a", "GET", "/a", &backend.url(), "/"))
        .await;
    pylon.publish(&g, &api, "RELEASE").await;
    policy(
        &pylon,
        "hundred",
        json!({"unit": "minute", "api_limit": 100, "rate_limit_headers": true}),
    )
    .await;
    bind(&pylon, "hundred", &api).await;

    let hits = backend.hits();
    let first = hammer(&pylon, &g, 16, 25).await;
    let retry = exactly_admitted(&first, 100);
    assert_eq!(
        backend.hits() - hits,
        100,
        "refused calls never reach the backend"
    );

    // The next window admits the limit again: the 300 refusals counted nowhere.
    tokio::time::sleep(Duration::from_millis(retry * 1000 + 300)).await;
    let second = hammer(&pylon, &g, 16, 25).await;
    exactly_admitted(&second, 100);
    assert_eq!(backend.hits() - hits, 200);
}

#[tokio::test]
async fn app_address_and_special_limits_apply_and_edits_take_effect_at_once() {
    let backend = Backend::start("b").await;
    // Noon (UTC) for the policies: a day's window does not end during the test.
    let pylon = Pylon::start_with(&["--clock-offset", &offset_to(12 * 3600)], false).await;
    let g = pylon.create_group("shop").await;
    let mut spec = http_api("a", "GET", "/a", &backend.url(), "/");
    spec["auth"] = json!({"type": "app", "app_code": "header"});
    let api = pylon.create_api(&g, spec).await;
    pylon.publish(&g, &api, "RELEASE").await;
    let mut codes = BTreeMap::new();
    for name in ["plain", "vip"] {
        let app = pylon
            .ok(Method::POST, "/v1/apps", json!({"name": name}))
            .await;
        let id = app["id"].as_str().unwrap().to_string();
        codes.insert(name, pylon.app_code(&id).await);
        pylon.grant(&id, &api, "RELEASE").await;
        if name == "vip" {
            codes.insert("vip-id", id);
        }
    }
    policy(
        &pylon,
        "per-app",
        json!({"unit": "day", "app_limit": 2, "ip_limit": 5, "rate_limit_headers": true,
               "special": [{"app_id": codes["vip-id"], "limit": 4}]}),
    )
    .await;
    bind(&pylon, "per-app", &api).await;
    let call = |app: &'static str| {
        let (pylon, g, code) = (&pylon, g.clone(), codes[app].clone());
        async move {
            let auth = format!("APPCODE {code}");
            pylon
                .call(&g, Method::GET, "/a", &[("authorization", &auth)], "")
                .await
        }
    };

    let first = call("plain").await;
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(first.header("x-ratelimit-limit"), "2");
    assert_eq!(first.header("x-ratelimit-remaining"), "1");
    let reset: u64 = first.header("x-ratelimit-reset").parse().unwrap();
    assert!(
        (43_000..=43_200).contains(&reset),
        "noon: about 12 h left, got {reset}"
    );
    assert_eq!(call("plain").await.status, 200);
    let refused = call("plain").await;
    refused.assert_error(403, "Throttled by APP Flow Control");
    assert_eq!(refused.header("x-ca-error-code"), "T403AA");
    assert!(refused.headers.get("x-ratelimit-limit").is_none());
    // The special limit: 4 for the VIP app, then the address's 5 is reached first.
    for _ in 0..3 {
        assert_eq!(call("vip").await.status, 200);
    }
    let by_address = call("vip").await;
    by_address.assert_error(403, "Throttled by IP Flow Control");
    assert_eq!(by_address.header("x-ca-error-code"), "T403IP");

    // Raising the address limit is in force when the admin call returns.
    pylon
        .ok(
            Method::PUT,
            "/v1/policies/per-app",
            json!({"name": "per-app", "kind": "throttle",
                   "config": {"unit": "day", "app_limit": 2, "ip_limit": 50,
                              "special": [{"app_id": codes["vip-id"], "limit": 4}]}}),
        )
        .await;
    let vip = call("vip").await;
    assert_eq!(vip.status, 200, "{}", vip.text());
    // The counts went on across the edit, and the headers went with the setting.
    assert!(vip.headers.get("x-ratelimit-limit").is_none());
    call("vip")
        .await
        .assert_error(403, "Throttled by APP Flow Control");

    // Online debugging shows the throttle's decision.
    let answer = pylon
        .ok(
            Method::POST,
            "/v1/debug",
            json!({"group_id": g, "api_id": api, "environment": "RELEASE",
                   "app_id": codes["vip-id"], "headers": {"authorization": format!("APPCODE {}", codes["vip"])}, "sign": false}),
        )
        .await;
    assert_eq!(
        answer["trace"]["policies"],
        json!([{"kind": "throttle", "decision": "refused: Throttled by APP Flow Control"}]),
        "{answer}"
    );

    let (status, body) = pylon
        .admin(
            Method::DELETE,
            &format!("/v1/policies/per-app/bindings/{api}/RELEASE"),
            None,
        )
        .await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(call("plain").await.status, 200, "unbound: no limit");
}

#[tokio::test]
async fn quotas_end_at_midnight_in_their_time_zone_for_api_key_callers() {
    let backend = Backend::start("b").await;
    // 15:59:50 UTC is 23:59:50 in Shanghai: ten seconds before its day ends.
    let pylon = Pylon::start_with(
        &["--clock-offset", &offset_to(15 * 3600 + 59 * 60 + 50)],
        false,
    )
    .await;
    let g = pylon.create_group("usage").await;
    let app = pylon
        .ok(Method::POST, "/v1/apps", json!({"name": "customer"}))
        .await;
    let app_id = app["id"].as_str().unwrap().to_string();
    let key = pylon.app_code(&app_id).await;
    let mut apis = Vec::new();
    for (name, zone) in [("shanghai", "Asia/Shanghai"), ("utc", "UTC")] {
        let mut spec = http_api(name, "GET", &format!("/{name}"), &backend.url(), "/");
        spec["auth"] = json!({"type": "api-key"});
        let api = pylon.create_api(&g, spec).await;
        pylon.publish(&g, &api, "RELEASE").await;
        pylon.grant(&app_id, &api, "RELEASE").await;
        policy(
            &pylon,
            name,
            json!({"unit": "second", "quota": {"limit": 2, "period": "day", "time_zone": zone}}),
        )
        .await;
        bind(&pylon, name, &api).await;
        apis.push(api);
    }
    let call = |path: &'static str, key: Option<&str>| {
        let (pylon, g) = (&pylon, g.clone());
        let headers: Vec<(&str, String)> = key
            .map(|k| ("x-api-key", k.to_string()))
            .into_iter()
            .collect();
        async move {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            pylon.call(&g, Method::GET, path, &headers, "").await
        }
    };

    // AWS's refusals for a missing or unknown key, and the key never reaches the backend.
    for wrong in [None, Some("not-a-key")] {
        let refused = call("/utc", wrong).await;
        assert_eq!(refused.status, 403);
        assert_eq!(refused.json(), json!({"message": "Forbidden"}));
        assert_eq!(refused.header("x-amzn-errortype"), "ForbiddenException");
        assert!(!refused.header("x-amzn-requestid").is_empty());
    }
    let admitted = call("/utc", Some(&key)).await;
    assert_eq!(admitted.status, 200, "{}", admitted.text());
    assert!(admitted.json()["headers"].get("x-api-key").is_none());

    assert_eq!(call("/utc", Some(&key)).await.status, 200);
    for _ in 0..2 {
        assert_eq!(call("/shanghai", Some(&key)).await.status, 200);
    }
    let mut wait = 0;
    for path in ["/shanghai", "/utc"] {
        let exhausted = call(path, Some(&key)).await;
        assert_eq!(exhausted.status, 429, "{path}: {}", exhausted.text());
        assert_eq!(exhausted.json(), json!({"message": "Limit Exceeded"}));
        assert_eq!(
            exhausted.header("x-amzn-errortype"),
            "LimitExceededException"
        );
        assert_eq!(exhausted.header("x-ca-error-code"), "T403QE");
        let after: u64 = exhausted.header("retry-after").parse().unwrap();
        if path == "/shanghai" {
            assert!(after <= 10, "Shanghai's day ends within 10 s: {after}");
            wait = after;
        } else {
            assert!(after > 8 * 3600 - 20, "UTC's day ends in 8 h: {after}");
        }
    }

    // Past Shanghai's midnight: its quota starts again, UTC's day goes on.
    tokio::time::sleep(Duration::from_millis(wait * 1000 + 300)).await;
    assert_eq!(call("/shanghai", Some(&key)).await.status, 200);
    assert_eq!(call("/utc", Some(&key)).await.status, 429);
}

#[tokio::test]
async fn each_jwt_subject_has_its_own_user_limit() {
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    const SECRET: &str = "throttle-jwt-secret-0123456789";
    let backend = Backend::start("b").await;
    let pylon = Pylon::start_with(&["--clock-offset", &offset_to(12 * 3600)], false).await;
    let g = pylon.create_group("users").await;
    let mut spec = http_api("a", "GET", "/a", &backend.url(), "/");
    spec["auth"] = json!({"type": "jwt", "jwt": {"algorithms": ["HS256"],
        "keys": [{"algorithm": "HS256", "secret": SECRET}]}});
    let api = pylon.create_api(&g, spec).await;
    pylon.publish(&g, &api, "RELEASE").await;
    policy(&pylon, "per-user", json!({"unit": "day", "user_limit": 2})).await;
    bind(&pylon, "per-user", &api).await;
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let call = |sub: &'static str| {
        let token = encode(
            &Header::new(Algorithm::HS256),
            &json!({"sub": sub, "exp": exp}),
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap();
        let (pylon, g) = (&pylon, g.clone());
        async move {
            let bearer = format!("Bearer {token}");
            pylon
                .call(&g, Method::GET, "/a", &[("authorization", &bearer)], "")
                .await
        }
    };
    for _ in 0..2 {
        assert_eq!(call("alice").await.status, 200);
    }
    let refused = call("alice").await;
    refused.assert_error(403, "Throttled by USER Flow Control");
    assert_eq!(refused.header("x-ca-error-code"), "T403US");
    assert_eq!(
        call("bob").await.status,
        200,
        "another subject counts apart"
    );
}

#[tokio::test]
async fn each_tencent_key_id_is_a_user_of_its_own() {
    let backend = Backend::start("b").await;
    let pylon = Pylon::start_with(&["--clock-offset", &offset_to(12 * 3600)], false).await;
    let g = pylon.create_group("keys").await;
    let mut spec = http_api("a", "GET", "/a", &backend.url(), "/");
    spec["auth"] = json!({"type": "key-pair"});
    let api = pylon.create_api(&g, spec).await;
    pylon.publish(&g, &api, "RELEASE").await;
    let mut keys = Vec::new();
    for name in ["first", "second"] {
        let app = pylon
            .ok(Method::POST, "/v1/apps", json!({"name": name}))
            .await;
        let key = &app["keys"][0];
        keys.push((
            key["app_key"].as_str().unwrap().to_string(),
            key["app_secret"].as_str().unwrap().to_string(),
        ));
        pylon
            .grant(app["id"].as_str().unwrap(), &api, "RELEASE")
            .await;
    }
    policy(&pylon, "per-key", json!({"unit": "day", "user_limit": 1})).await;
    bind(&pylon, "per-key", &api).await;
    let call = |(id, secret): &(String, String)| {
        let mut headers = http::HeaderMap::new();
        pylon_auth::tencent::sign_request(
            &mut headers,
            id,
            secret,
            pylon_auth::tencent::Algorithm::Sha256,
            pylon_auth::now_ms(),
        )
        .unwrap();
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
            .collect();
        let (pylon, g) = (&pylon, g.clone());
        async move {
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            pylon.call(&g, Method::GET, "/a", &headers, "").await
        }
    };
    let first = call(&keys[0]).await;
    assert_eq!(first.status, 200, "{}", first.text());
    call(&keys[0])
        .await
        .assert_error(403, "Throttled by USER Flow Control");
    assert_eq!(
        call(&keys[1]).await.status,
        200,
        "another key id counts apart"
    );
}
