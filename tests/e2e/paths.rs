//! The path rule (docs/paths.md) against the real gateway, over raw sockets so that no client
//! library cleans the request up first: no spelling of a dot segment, encoded slash or broken
//! escape reaches a backend outside the API's backend path.

use percent_encoding::percent_decode_str;
use serde_json::{Value, json};

use crate::harness::{Backend, Pylon, RawReply, raw_request};

struct Site {
    pylon: Pylon,
    host: String,
    _backend: Backend,
}

async fn site() -> Site {
    let pylon = Pylon::start().await;
    let backend = Backend::start("b").await;
    let g = pylon.create_group("paths").await;
    let url = backend.url();
    let inline = |name: &str, path: &str, backend_path: &str, extra: Value| {
        let mut spec = json!({
            "name": name,
            "request": {"method": "GET", "path": path},
            "backend": {"service": {"inline": {"type": "http", "url": url}}, "path": backend_path},
        });
        if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
            for (k, v) in extra {
                if k == "request" {
                    for (rk, rv) in v.as_object().unwrap() {
                        spec["request"][rk] = rv.clone();
                    }
                } else {
                    spec.insert(k.clone(), v.clone());
                }
            }
        }
        spec
    };
    let apis = [
        inline("files", "/files/{path+}", "/static/{path+}", json!({})),
        inline("user", "/user/{id}", "/users/{id}/profile", json!({})),
        inline("pre", "^~/pre", "/prefix", json!({})),
        inline("plain", "/plain", "/plainbase/", json!({})),
        inline(
            "doc",
            "/doc",
            "/docs/{name}",
            json!({"parameters": [{"name": "name", "location": "query", "required": true,
                                   "backend_location": "path"}]}),
        ),
        inline(
            "raw",
            "/raw/{id}",
            "/raw/{id}",
            json!({"request": {"allow_encoded_slashes": true}}),
        ),
    ];
    for spec in apis {
        let api = pylon.create_api(&g, spec).await;
        pylon.publish(&g, &api, "RELEASE").await;
    }
    let host = format!("{g}.{}", pylon.base_domain);
    Site {
        pylon,
        host,
        _backend: backend,
    }
}

impl Site {
    async fn get(&self, target: &str) -> RawReply {
        let request = format!(
            "GET {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.host
        );
        raw_request(self.pylon.gateway, request.as_bytes()).await
    }
}

/// What the backend saw, decoded once as a backend would.
fn backend_path(reply: &RawReply) -> String {
    let echo: Value = serde_json::from_slice(&reply.body).unwrap();
    let raw = echo["path"].as_str().unwrap().to_string();
    percent_decode_str(&raw).decode_utf8_lossy().into_owned()
}

fn has_dot_segment(path: &str) -> bool {
    path.split(['/', '\\']).any(|s| {
        let head = s.split(';').next().unwrap_or("");
        head == "." || head == ".."
    })
}

#[tokio::test]
async fn no_spelling_of_a_traversal_leaves_the_backend_path() {
    let site = site().await;
    let attacks = [
        "/files/../../etc/passwd",
        "/files/%2e%2e/%2e%2e/etc/passwd",
        "/files/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "/files/..%2f..%2fetc/passwd",
        "/files/..%2F",
        "/files/..%5c..%5cwindows",
        "/files/..\\..\\windows",
        "/files/a/../../x",
        "/files/a/%2e%2e/%2e%2e/x",
        "/files/.%2e/x",
        "/files/%2e./x",
        "/files/..;/x",
        "/files/a/.;/x",
        "/files/%c0%ae%c0%ae/x",
        "/files/%e0%80%ae%e0%80%ae/x",
        "/files/%c0%af",
        "/files/a%00.txt",
        "/files/a%zz",
        "/files/a%2",
        "/files/%0d%0aX-Injected:1",
        "/files/a/%2e%2e%2f%2e%2e%2fx",
        "/files//..//../x",
        "/user/..",
        "/user/%2e%2e",
        "/user/..%2f..%2fadmin",
        "/user/.%2E",
        "/user/%2e%2e%5cadmin",
        "/pre/../x",
        "/pre..",
        "/pre../x",
        "/pre/..%2fx",
        "/pre%2f..%2fx",
        "/plain../secret",
        "/plain/..%2f..%2fsecret",
        "/doc?name=..",
        "/doc?name=.",
        "/doc?name=../x",
        "/doc?name=%2e%2e%2fx",
        "/doc?name=..%5Cx",
        "/doc?name=a%00",
        "/raw/..%2Fadmin",
        "/raw/%2e%2e%2fadmin",
        "/raw/a%2F..%2F..%2Fadmin",
        "http://evil.example/files/../x",
    ];
    for target in attacks {
        let reply = site.get(target).await;
        match reply.status {
            200 => {
                let seen = backend_path(&reply);
                assert!(
                    !has_dot_segment(&seen),
                    "{target}: backend saw a dot segment in {seen:?}"
                );
                let inside = [
                    "/static/",
                    "/users/",
                    "/prefix",
                    "/plainbase/",
                    "/docs/",
                    "/raw/",
                ]
                .iter()
                .any(|p| seen.starts_with(p));
                assert!(inside, "{target}: backend saw {seen:?}");
            }
            400 => {
                let message = reply.header("x-ca-error-message");
                assert!(
                    message.starts_with("Invalid Url")
                        || message.starts_with("API Not Found")
                        || message.starts_with("Invalid Domain"),
                    "{target}: {message:?}"
                );
                reply.assert_error(400, "");
            }
            other => panic!("{target}: status {other}: {}", reply.text()),
        }
    }
}

#[tokio::test]
async fn the_path_rule_says_what_it_refused() {
    let site = site().await;
    let cases = [
        ("/files/a%zz", "Invalid Url: invalid percent-encoding"),
        (
            "/files/a%00.txt",
            "Invalid Url: an encoded NUL or control character",
        ),
        (
            "/files/%c0%ae%c0%ae/x",
            "Invalid Url: the path does not decode to UTF-8",
        ),
        (
            "/files/../../etc/passwd",
            "Invalid Url: a `..` segment climbs above the root",
        ),
        (
            "/files/..%2f..%2fetc",
            "Invalid Url: parameter `path`: an encoded slash",
        ),
        (
            "/user/..%2f..%2fadmin",
            "Invalid Url: parameter `id`: an encoded slash",
        ),
        (
            "/raw/..%2Fadmin",
            "Invalid Url: parameter `id`: a dot segment",
        ),
        (
            "/doc?name=..",
            "Invalid Url: parameter `name`: a dot segment",
        ),
        ("/files/..;/x", "Invalid Url: a dot segment with parameters"),
        ("/pre../x", "Invalid Url: a dot segment"),
    ];
    for (target, message) in cases {
        site.get(target).await.assert_error(400, message);
    }
}

#[tokio::test]
async fn normal_spellings_still_reach_the_backend_normalised() {
    let site = site().await;
    let cases = [
        ("/files/a/../b.txt", "/static/b.txt"),
        ("/files/./a/./b", "/static/a/b"),
        ("/files/%7Euser/%41.txt", "/static/~user/A.txt"),
        ("/files/%e4%bd%a0.txt", "/static/%E4%BD%A0.txt"),
        ("/user/42", "/users/42/profile"),
        ("/user/x/../7", "/users/7/profile"),
        ("/pre/a/b", "/prefix/a/b"),
        ("/doc?name=readme.md", "/docs/readme.md"),
        ("/raw/a%2Fb", "/raw/a%2Fb"),
    ];
    for (target, expected) in cases {
        let reply = site.get(target).await;
        assert_eq!(reply.status, 200, "{target}: {}", reply.text());
        let echo: Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(echo["path"], expected, "{target}");
    }
}
