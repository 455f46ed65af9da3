//! Test harness: snapshots built in code, a real `Gateway` on a free loopback port, real hyper
//! backends, and a plain HTTP client.
#![allow(dead_code)]

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use pylon_gateway::{Gateway, GatewayConfig};
use pylon_model::{
    Backend, BackendEnvironment, Deployment, Environment, Group, Snapshot, StageVariables, Upstream,
};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub const BASE_DOMAIN: &str = "api.test";
pub const GROUP: &str = "a1b2c3";
pub const HOST: &str = "a1b2c3.api.test";

/// A snapshot under construction: one group, the built-in environments.
pub struct SnapshotBuilder {
    pub snapshot: Snapshot,
    next_id: u32,
}

impl SnapshotBuilder {
    pub fn new() -> Self {
        let group: Group = serde_json::from_value(json!({
            "id": GROUP, "name": "shop", "domains": [{"name": "shop.example.com"}],
            "created_at": 0, "updated_at": 0
        }))
        .unwrap();
        let environments = ["RELEASE", "PRE", "TEST"]
            .iter()
            .map(|n| Environment {
                name: n.to_string(),
                description: String::new(),
                builtin: true,
            })
            .collect();
        Self {
            snapshot: Snapshot {
                groups: vec![group],
                environments,
                ..Snapshot::default()
            },
            next_id: 0,
        }
    }

    /// Publishes an API (its spec as JSON) to `environment`.
    pub fn api(mut self, environment: &str, spec: Value) -> Self {
        self.next_id += 1;
        let id = format!("api{}", self.next_id);
        let mut api = spec;
        let obj = api.as_object_mut().unwrap();
        obj.insert("id".into(), json!(id));
        obj.insert("group_id".into(), json!(GROUP));
        obj.insert("created_at".into(), json!(self.next_id));
        obj.insert("updated_at".into(), json!(self.next_id));
        let deployment: Deployment = serde_json::from_value(json!({
            "id": format!("dep{}", self.next_id), "api_id": id, "group_id": GROUP,
            "environment": environment, "version": 1, "note": "", "api": api,
            "created_at": 0, "active": true
        }))
        .unwrap();
        self.snapshot.deployments.push(deployment);
        self
    }

    pub fn upstream(mut self, id: &str, name: &str, targets: &[String]) -> Self {
        let u: Upstream = serde_json::from_value(json!({
            "id": id, "name": name, "targets": targets, "created_at": 0, "updated_at": 0
        }))
        .unwrap();
        self.snapshot.upstreams.push(u);
        self
    }

    pub fn backend(mut self, id: &str, environment: &str, definition: Value) -> Self {
        if !self.snapshot.backends.iter().any(|b| b.id == id) {
            let kind = definition["type"].clone();
            let b: Backend = serde_json::from_value(json!({
                "id": id, "name": id, "type": kind, "created_at": 0, "updated_at": 0
            }))
            .unwrap();
            self.snapshot.backends.push(b);
        }
        self.snapshot.backend_definitions.push(BackendEnvironment {
            backend_id: id.into(),
            environment: environment.into(),
            definition: serde_json::from_value(definition).unwrap(),
            updated_at: 0,
        });
        self
    }

    pub fn stage_variable(mut self, environment: &str, name: &str, value: &str) -> Self {
        match self
            .snapshot
            .stage_variables
            .iter_mut()
            .find(|s| s.environment == environment)
        {
            Some(s) => {
                s.variables.insert(name.into(), value.into());
            }
            None => self.snapshot.stage_variables.push(StageVariables {
                group_id: GROUP.into(),
                environment: environment.into(),
                variables: [(name.to_string(), value.to_string())].into(),
            }),
        }
        self
    }

    /// An app with one key pair and one AppCode.
    pub fn app(mut self, id: &str, app_key: &str, app_secret: &str, app_code: &str) -> Self {
        self.snapshot.apps.push(pylon_model::AppCredentials {
            app_id: id.into(),
            name: id.into(),
            keys: vec![(app_key.into(), app_secret.into())],
            codes: vec![app_code.into()],
        });
        self
    }

    /// Grants `app_id` the `n`th API published (`api1`, `api2`, ...) in `environment`.
    pub fn grant(
        mut self,
        app_id: &str,
        api_id: &str,
        environment: &str,
        expires_at: Option<i64>,
    ) -> Self {
        let n = self.snapshot.authorizations.len();
        self.snapshot.authorizations.push(
            serde_json::from_value(json!({
                "id": format!("grant{n}"), "group_id": GROUP, "app_id": app_id,
                "api_id": api_id, "environment": environment, "expires_at": expires_at,
                "created_at": 0
            }))
            .unwrap(),
        );
        self
    }

    pub fn build(self) -> Snapshot {
        self.snapshot
    }
}

/// A simple API spec: `method path` -> inline http backend `url` + `backend_path`.
pub fn http_api(name: &str, method: &str, path: &str, url: &str, backend_path: &str) -> Value {
    json!({
        "name": name,
        "request": {"method": method, "path": path},
        "backend": {"service": {"inline": {"type": "http", "url": url}}, "path": backend_path}
    })
}

pub struct RunningGateway {
    pub gateway: Arc<Gateway>,
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    pub task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl RunningGateway {
    pub async fn start(snapshot: &Snapshot) -> Self {
        let gateway = Gateway::new(GatewayConfig {
            base_domain: BASE_DOMAIN.into(),
            limits: Default::default(),
            tracing: None,
            access_log: pylon_gateway::AccessLogSink::off(),
            functions: None,
        });
        gateway.apply(snapshot).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(gateway.clone().serve(listener, async move {
            let _ = rx.await;
        }));
        Self {
            gateway,
            addr,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Fires the shutdown signal; returns the serve task to await.
    pub fn shutdown(&mut self) -> tokio::task::JoinHandle<std::io::Result<()>> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.take().unwrap()
    }
}

pub type TestClient = Client<HttpConnector, Full<Bytes>>;

pub fn client() -> TestClient {
    Client::builder(TokioExecutor::new()).build(HttpConnector::new())
}

pub struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
    }
}

pub async fn send(client: &TestClient, request: Request<Full<Bytes>>) -> Answer {
    let response = client.request(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Answer {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body,
    }
}

pub async fn get(gw: &RunningGateway, host: &str, path: &str) -> Answer {
    let request = Request::get(gw.url(path))
        .header("host", host)
        .body(Full::new(Bytes::new()))
        .unwrap();
    send(&client(), request).await
}

/// Serves `handler` on a free loopback port until the test ends.
pub async fn backend<F, Fut>(handler: F) -> SocketAddr
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let handler = handler.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let handler = handler.clone();
                    async move { Ok::<_, Infallible>(handler(req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// A backend that answers with what it received, as JSON; `name` tells backends apart.
pub async fn echo_backend(name: &'static str) -> SocketAddr {
    backend(move |req: Request<Incoming>| async move {
        let (parts, body) = req.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        let headers: serde_json::Map<String, Value> = parts
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or("?"))))
            .collect();
        let answer = json!({
            "backend": name,
            "method": parts.method.as_str(),
            "uri": parts.uri.to_string(),
            "headers": headers,
            "body": String::from_utf8_lossy(&body),
        });
        Response::builder()
            .header("content-type", "application/json")
            .header("x-backend", name)
            .body(Full::new(Bytes::from(answer.to_string())))
            .unwrap()
    })
    .await
}

/// A backend that waits `delay` before answering `name`.
pub async fn slow_backend(delay: Duration, name: &'static str) -> SocketAddr {
    backend(move |_req: Request<Incoming>| async move {
        tokio::time::sleep(delay).await;
        Response::new(Full::new(Bytes::from(name)))
    })
    .await
}

/// A loopback port with nothing listening.
pub async fn closed_port() -> SocketAddr {
    // Bound but never listening, and kept for the process: connections are refused, and the
    // port is never handed to another socket (a test's gateway once got a port just freed here
    // and proxied to itself).
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = socket.local_addr().unwrap();
    std::mem::forget(socket);
    addr
}

/// Checks the shape every gateway error has.
pub fn assert_gateway_error(answer: &Answer, status: u16, message: &str) {
    assert_eq!(answer.status, status, "body: {:?}", answer.body);
    assert_eq!(answer.header("x-ca-error-message"), message);
    let id = answer.header("x-ca-request-id").to_string();
    assert_eq!(id.len(), 36);
    let code = answer.header("x-ca-error-code").to_string();
    let json = answer.json();
    assert_eq!(json["message"], message);
    assert_eq!(json["code"], code.as_str());
    assert_eq!(json["request_id"], id.as_str());
}
