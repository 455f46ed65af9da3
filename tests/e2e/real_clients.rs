//! The cloud gateways' real clients calling Pylon: Alibaba's official Node.js SDK and Python
//! signing demo, a Tencent key-pair signer, and JWTs minted here. The clients are installed by
//! `tests/e2e/clients/install.sh` (run by `.ci/run`, and here once per test process when needed:
//! a failed install fails the tests with the installer's output).

mod alibaba;
mod alibaba_errors;
mod jwt;
mod tencent;
mod websocket;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::Method;
use serde_json::{Value, json};

use crate::harness::{Backend, Pylon, http_api};

pub(crate) const CLIENTS_SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/clients");

/// Where install.sh put the clients.
pub(crate) struct Installed {
    dir: PathBuf,
    python_aliyun: PathBuf,
    python_tencent: PathBuf,
    pub(crate) python_websockets: PathBuf,
    /// PyPI awslambdaric, the AWS Lambda runtime interface client.
    pub(crate) python_lambda: PathBuf,
}

impl Installed {
    /// Where npm put the Node SDK (`aliyun-api-gateway`).
    pub(crate) fn node_modules(&self) -> PathBuf {
        self.dir.join("node").join("node_modules")
    }
}

static INSTALLED: OnceLock<Result<Installed, String>> = OnceLock::new();

/// Runs install.sh once per process; it returns at once when everything is in place.
pub(crate) fn installed() -> &'static Installed {
    let result = INSTALLED.get_or_init(|| {
        let out = std::process::Command::new("bash")
            .arg(format!("{CLIENTS_SRC}/install.sh"))
            .output()
            .map_err(|e| format!("cannot run install.sh: {e}"))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(format!(
                "tests/e2e/clients/install.sh failed ({}):\n{stdout}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let paths: BTreeMap<&str, &str> =
            stdout.lines().filter_map(|l| l.split_once('=')).collect();
        let path = |k: &str| {
            paths
                .get(k)
                .map(PathBuf::from)
                .ok_or_else(|| format!("install.sh printed no `{k}=`: {stdout}"))
        };
        Ok(Installed {
            dir: path("clients_dir")?,
            python_aliyun: path("python_aliyun")?,
            python_tencent: path("python_tencent")?,
            python_websockets: path("python_websockets")?,
            python_lambda: path("python_lambda")?,
        })
    });
    match result {
        Ok(i) => i,
        Err(e) => panic!("{e}"),
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Client {
    /// npm aliyun-api-gateway: `Client` or `SimpleClient` (input field `client`).
    AliyunNode,
    /// PyPI aliyun-api-gateway-sign (the official Python demo).
    AliyunPython,
    /// PyPI tencentcloud-apigateway-authorization, or hand-signed (input field `signer`).
    Tencent,
}

/// What a client script printed: the response as the client saw it.
#[derive(Debug)]
pub struct ClientReply {
    pub status: u16,
    pub headers: Value,
    pub body: Value,
}

impl ClientReply {
    pub fn header(&self, name: &str) -> &str {
        self.headers[name].as_str().unwrap_or("")
    }

    /// A 200 from the echo backend; returns what the backend received.
    pub fn echo(&self) -> &Value {
        assert_eq!(
            self.status,
            200,
            "error {:?} ({}): {}",
            self.header("x-ca-error-message"),
            self.header("x-ca-error-code"),
            self.body
        );
        assert!(
            self.body["backend"].is_string(),
            "not the backend: {}",
            self.body
        );
        &self.body
    }

    /// A gateway error with exactly this message and code.
    pub fn assert_error(&self, status: u16, message: &str, code: &str) {
        self.assert_error_prefix(status, message, code);
        assert_eq!(self.header("x-ca-error-message"), message);
    }

    /// A gateway error whose message starts with `prefix`.
    pub fn assert_error_prefix(&self, status: u16, prefix: &str, code: &str) {
        let message = self.header("x-ca-error-message");
        assert_eq!(
            (self.status, self.header("x-ca-error-code")),
            (status, code),
            "message {message:?}, body {}",
            self.body
        );
        assert!(
            message.starts_with(prefix),
            "message {message:?} should start with {prefix:?}"
        );
        let id = self.header("x-ca-request-id");
        assert!(!id.is_empty(), "no X-Ca-Request-Id");
        assert_eq!(self.body["request_id"], id, "body {}", self.body);
        assert_eq!(self.body["code"], code, "body {}", self.body);
        assert_eq!(self.body["message"], message, "body {}", self.body);
    }
}

/// Runs one client script with a JSON request description (see the scripts' headers).
pub async fn call(client: Client, input: Value) -> ClientReply {
    let i = installed();
    let (program, script) = match client {
        Client::AliyunNode => (PathBuf::from("node"), "aliyun-node.js"),
        Client::AliyunPython => (i.python_aliyun.clone(), "aliyun-py.py"),
        Client::Tencent => (i.python_tencent.clone(), "tencent-keypair.py"),
    };
    let run = tokio::process::Command::new(&program)
        .arg(format!("{CLIENTS_SRC}/{script}"))
        .arg(input.to_string())
        .env("PYLON_CLIENTS_DIR", &i.dir)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .unwrap_or_else(|_| panic!("{script} did not finish in 60 s"))
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{script} {input} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{script} printed no JSON ({e}): {stdout}"));
    ClientReply {
        status: v["status"].as_u64().unwrap_or(0) as u16,
        headers: v["headers"].clone(),
        body: v["body"].clone(),
    }
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// An app as the admin API created it, with its first key pair.
pub struct TestApp {
    pub id: String,
    pub key: String,
    pub secret: String,
}

/// A running Pylon whose group answers on `127.0.0.1` (bound as a custom domain), so the
/// clients call the gateway's own address: the Python demo and SimpleClient cannot set a Host.
/// SimpleClient cannot send `X-Ca-Stage` either: it reaches TEST through `localhost`, bound
/// to TEST with [`Setup::bind_domain`], as Alibaba's users bind a domain to an environment.
pub struct Setup {
    pub pylon: Pylon,
    pub backend: Backend,
    pub group: String,
}

impl Setup {
    pub async fn start() -> Setup {
        installed();
        let pylon = Pylon::start().await;
        let backend = Backend::start("echo").await;
        let group = pylon.create_group("real-clients").await;
        pylon
            .ok(
                Method::POST,
                &format!("/v1/groups/{group}/domains"),
                json!({"name": "127.0.0.1"}),
            )
            .await;
        Setup {
            pylon,
            backend,
            group,
        }
    }

    pub fn url(&self, path: &str) -> String {
        self.url_on("127.0.0.1", path)
    }

    /// The gateway's address under another name that resolves to it (`localhost`).
    pub fn url_on(&self, host: &str, path: &str) -> String {
        format!("http://{host}:{}{path}", self.pylon.gateway.port())
    }

    /// Binds `name` to the group as a domain serving only `environment`.
    pub async fn bind_domain(&self, name: &str, environment: &str) {
        self.pylon
            .ok(
                Method::POST,
                &format!("/v1/groups/{}/domains", self.group),
                json!({"name": name, "environment": environment}),
            )
            .await;
    }

    /// An API on `path` (backend path `/backend<path>`) with this `auth`, passing the app id and
    /// the environment to the backend as `X-App-Id` and `X-Stage`, published in `envs`.
    pub async fn api(
        &self,
        name: &str,
        method: &str,
        path: &str,
        auth: Value,
        envs: &[&str],
    ) -> String {
        let mut spec = http_api(
            name,
            method,
            path,
            &self.backend.url(),
            &format!("/backend{path}"),
        );
        spec["auth"] = auth;
        spec["system_parameters"] = json!([
            {"kind": "app_id", "name": "X-App-Id"},
            {"kind": "stage", "name": "X-Stage"},
        ]);
        let id = self.pylon.create_api(&self.group, spec).await;
        for env in envs {
            self.pylon.publish(&self.group, &id, env).await;
        }
        id
    }

    pub async fn app(&self, name: &str) -> TestApp {
        let a = self
            .pylon
            .ok(Method::POST, "/v1/apps", json!({"name": name}))
            .await;
        let key = &a["keys"][0];
        TestApp {
            id: a["id"].as_str().expect("app id").to_string(),
            key: key["app_key"].as_str().expect("AppKey").to_string(),
            secret: key["app_secret"].as_str().expect("AppSecret").to_string(),
        }
    }

    pub async fn app_code(&self, app: &TestApp) -> String {
        let c = self
            .pylon
            .ok(
                Method::POST,
                &format!("/v1/apps/{}/codes", app.id),
                json!({}),
            )
            .await;
        c["code"].as_str().expect("AppCode").to_string()
    }

    pub async fn grant(&self, app: &TestApp, api: &str, env: &str, expires_at: Option<i64>) {
        self.pylon
            .ok(
                Method::POST,
                "/v1/authorizations",
                json!({"app_id": app.id, "api_id": api, "environment": env, "expires_at": expires_at}),
            )
            .await;
    }
}

/// `a=1&b=x%20y` -> {a: "1", b: "x y"} (`+` is a space, as in forms).
pub fn decode_pairs(s: &str) -> BTreeMap<String, String> {
    fn decode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < b.len() => {
                    let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
                    out.push(u8::from_str_radix(hex, 16).unwrap());
                    i += 2;
                }
                c => out.push(c),
            }
            i += 1;
        }
        String::from_utf8(out).unwrap()
    }
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

pub fn pairs(items: &[(&str, &str)]) -> BTreeMap<String, String> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The client's credentials never reach the backend unless the API forwards them.
pub fn assert_no_credentials(echo: &Value) {
    let h = &echo["headers"];
    for name in [
        "authorization",
        "x-ca-key",
        "x-ca-signature",
        "x-ca-signature-headers",
        "x-ca-signature-method",
    ] {
        assert!(h.get(name).is_none(), "{name} was forwarded: {h}");
    }
}
