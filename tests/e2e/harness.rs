//! The end-to-end harness: runs the real `pylon` binary on a temporary data directory, real
//! HTTP backends on free loopback ports, and a small HTTP client to drive both.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{Client, connect::HttpConnector};
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const TOKEN: &str = "e2e-admin-token-0123456789";

/// A running `pylon serve`, killed when dropped.
pub struct Pylon {
    child: Option<Child>,
    pub data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    pub gateway: SocketAddr,
    /// The HTTPS listener, when started with `--tls-listen`.
    pub https: Option<SocketAddr>,
    pub admin: SocketAddr,
    /// `/healthz`, `/readyz` and `/metrics`.
    pub status: SocketAddr,
    pub base_domain: String,
    /// Everything the process printed on stdout so far.
    stdout: Arc<Mutex<String>>,
}

impl Pylon {
    pub async fn start() -> Pylon {
        let tmp = tempfile::tempdir().unwrap();
        let mut p = Self::start_in(tmp.path()).await;
        p._tmp = Some(tmp);
        p
    }

    pub async fn start_in(data_dir: &Path) -> Pylon {
        Self::spawn(data_dir, None, &[], Limits::default()).await
    }

    /// Like [`Pylon::start_in`], with the log at debug level appended to `log`, for tests that
    /// read what Pylon logs.
    pub async fn start_logged(data_dir: &Path, log: &Path) -> Pylon {
        Self::spawn(data_dir, Some(log), &[], Limits::default()).await
    }

    /// A fresh data directory, these extra `serve` arguments, and the log (debug level) in
    /// `<data-dir>/../pylon.log` when `logged`.
    pub async fn start_with(args: &[&str], logged: bool) -> Pylon {
        Self::start_limited(args, logged, Limits::default()).await
    }

    /// As [`Pylon::start_with`], under these limits.
    pub async fn start_limited(args: &[&str], logged: bool, limits: Limits) -> Pylon {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let log = tmp.path().join("pylon.log");
        let mut p = Self::spawn(&data, logged.then_some(log.as_path()), args, limits).await;
        p._tmp = Some(tmp);
        p
    }

    /// The log written by a Pylon started with [`Pylon::start_with`] and `logged`.
    pub fn log(&self) -> String {
        let path = self.data_dir.parent().unwrap().join("pylon.log");
        std::fs::read_to_string(path).unwrap_or_default()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().and_then(|c| c.id()).expect("running")
    }

    async fn spawn(data_dir: &Path, log: Option<&Path>, extra: &[&str], limits: Limits) -> Pylon {
        let mut command = serve_command(data_dir);
        command
            .args(extra)
            .env("PYLON_ADMIN_TOKEN", TOKEN)
            .env("PYLON_BASE_DOMAIN", "pylon.test")
            .env("PYLON_LOG", "warn")
            // The key comes from the data directory, as on a first start.
            .env_remove("PYLON_SECRET_KEY")
            .stdout(Stdio::piped())
            .kill_on_drop(true);
        if limits != Limits::default() {
            // SAFETY: only setrlimit and sched_setaffinity, system calls that allocate nothing,
            // run between fork and exec.
            unsafe {
                command.pre_exec(move || {
                    if let Some((soft, hard)) = limits.open_files {
                        let limit = libc::rlimit {
                            rlim_cur: soft,
                            rlim_max: hard,
                        };
                        if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                    }
                    if limits.one_cpu {
                        let mut set: libc::cpu_set_t = std::mem::zeroed();
                        let mut current: libc::cpu_set_t = std::mem::zeroed();
                        let size = std::mem::size_of::<libc::cpu_set_t>();
                        if libc::sched_getaffinity(0, size, &mut current) != 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                        // The first CPU this process may run on.
                        let first = (0..libc::CPU_SETSIZE as usize)
                            .find(|&cpu| libc::CPU_ISSET(cpu, &current))
                            .unwrap_or(0);
                        libc::CPU_SET(first, &mut set);
                        if libc::sched_setaffinity(0, size, &set) != 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                    }
                    Ok(())
                });
            }
        }
        if let Some(log) = log {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .unwrap();
            command.env("PYLON_LOG", "debug").stderr(Stdio::from(file));
        }
        let mut child = command.spawn().expect("pylon binary starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let stdout = Arc::new(Mutex::new(String::new()));
        let (mut gateway, mut https, mut admin, mut status) = (None, None, None, None);
        let read = async {
            while let Some(line) = lines.next_line().await.unwrap() {
                stdout.lock().unwrap().push_str(&format!("{line}\n"));
                if let Some(a) = line.strip_prefix("pylon gateway listening on ") {
                    gateway = Some(a.parse().unwrap());
                }
                if let Some(a) = line.strip_prefix("pylon gateway listening for HTTPS on ") {
                    https = Some(a.parse().unwrap());
                }
                if let Some(a) = line.strip_prefix("pylon admin listening on ") {
                    admin = Some(a.parse().unwrap());
                }
                if let Some(a) = line.strip_prefix("pylon status listening on ") {
                    status = Some(a.parse().unwrap());
                }
                if gateway.is_some() && admin.is_some() && status.is_some() {
                    break;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(30), read)
            .await
            .expect("pylon prints its addresses");
        // Keep draining stdout so the child never blocks on a full pipe.
        let sink = stdout.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                sink.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        Pylon {
            child: Some(child),
            data_dir: data_dir.to_path_buf(),
            _tmp: None,
            gateway: gateway.unwrap(),
            https,
            admin: admin.unwrap(),
            status: status.unwrap(),
            base_domain: "pylon.test".into(),
            stdout,
        }
    }

    /// What the process printed on stdout so far.
    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    /// Sends a signal (`TERM`, `HUP`) without waiting for its effect.
    pub async fn signal(&self, name: &str) {
        assert!(self.try_signal(name).await, "kill -{name}");
    }

    async fn try_signal(&self, name: &str) -> bool {
        let pid = self.pid().to_string();
        Command::new("kill")
            .args([format!("-{name}"), pid])
            .status()
            .await
            .is_ok_and(|s| s.success())
    }

    /// Stops with SIGTERM (graceful; it may already be stopping) and waits for the exit status.
    pub async fn stop(&mut self) -> std::process::ExitStatus {
        self.try_signal("TERM").await;
        let mut child = self.child.take().expect("running");
        tokio::time::timeout(Duration::from_secs(40), child.wait())
            .await
            .expect("exits after SIGTERM")
            .unwrap()
    }

    /// Stops and starts again on the same data directory.
    pub async fn restart(mut self) -> Pylon {
        assert!(self.stop().await.success());
        let tmp = self._tmp.take();
        let mut p = Self::start_in(&self.data_dir).await;
        p._tmp = tmp;
        p
    }

    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{}", self.admin, path)
    }

    /// An admin call with the token; returns status and JSON body.
    pub async fn admin(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut headers = vec![("authorization".to_string(), format!("Bearer {TOKEN}"))];
        if body.is_some() {
            headers.push(("content-type".into(), "application/json".into()));
        }
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let r = send(method, &self.admin_url(path), &headers, body.into()).await;
        let json = if r.body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&r.body).unwrap_or(Value::Null)
        };
        (r.status, json)
    }

    /// An admin call that must succeed; returns the JSON body.
    pub async fn ok(&self, method: Method, path: &str, body: Value) -> Value {
        let has_body = method != Method::GET && method != Method::DELETE;
        let (status, v) = self
            .admin(method.clone(), path, has_body.then_some(body))
            .await;
        assert!(status.is_success(), "{method} {path}: {status} {v}");
        v
    }

    /// An admin call that must be refused with `status` and a message holding `needle`; the
    /// error body.
    pub async fn refused(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        status: StatusCode,
        needle: &str,
    ) -> Value {
        let (got, error) = self.admin(method, path, body).await;
        assert_eq!(got, status, "{error}");
        let message = error["message"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{needle:?} not in {error}");
        error
    }

    /// Binds a custom domain to `group`; `domain` is the body (`{"name": ...}` and options).
    pub async fn add_domain(&self, group: &str, domain: Value) -> Value {
        self.ok(Method::POST, &format!("/v1/groups/{group}/domains"), domain)
            .await
    }

    pub async fn create_group(&self, name: &str) -> String {
        let g = self
            .ok(Method::POST, "/v1/groups", json!({"name": name}))
            .await;
        g["id"].as_str().unwrap().to_string()
    }

    pub async fn create_api(&self, group: &str, spec: Value) -> String {
        let a = self
            .ok(Method::POST, &format!("/v1/groups/{group}/apis"), spec)
            .await;
        a["id"].as_str().unwrap().to_string()
    }

    pub async fn publish(&self, group: &str, api: &str, env: &str) -> Value {
        self.ok(
            Method::POST,
            &format!("/v1/groups/{group}/apis/{api}/publish"),
            json!({"environment": env, "note": "e2e"}),
        )
        .await
    }

    /// Lets `app` call `api` in `env`.
    pub async fn grant(&self, app: &str, api: &str, env: &str) {
        self.ok(
            Method::POST,
            "/v1/authorizations",
            json!({"app_id": app, "api_id": api, "environment": env}),
        )
        .await;
    }

    /// A new AppCode of `app`.
    pub async fn app_code(&self, app: &str) -> String {
        let code = self
            .ok(Method::POST, &format!("/v1/apps/{app}/codes"), json!({}))
            .await;
        code["code"].as_str().expect("an AppCode").to_string()
    }

    /// A call through the gateway to `path` on the group's default domain.
    pub async fn call(
        &self,
        group: &str,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Reply {
        let host = format!("{group}.{}", self.base_domain);
        let mut all: Vec<(String, String)> = vec![("host".into(), host)];
        all.extend(headers.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        send(
            method,
            &format!("http://{}{}", self.gateway, path),
            &all,
            Bytes::from(body.to_string()),
        )
        .await
    }

    pub async fn get(&self, group: &str, path: &str) -> Reply {
        self.call(group, Method::GET, path, &[], "").await
    }
}

/// Limits a Pylon is started under.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The (soft, hard) open-file limit.
    pub open_files: Option<(u64, u64)>,
    /// Runs on one CPU, so with one worker thread: every request meets the same connection
    /// pool.
    pub one_cpu: bool,
}

/// A response, fully read.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.text()))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
    /// Asserts a gateway error: status, message header, request id and JSON body.
    pub fn assert_error(&self, status: u16, message: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text());
        assert!(
            self.header("x-ca-error-message").starts_with(message),
            "message: {:?}",
            self.header("x-ca-error-message")
        );
        assert!(!self.header("x-ca-error-code").is_empty());
        let id = self.header("x-ca-request-id");
        assert!(!id.is_empty());
        let body = self.json();
        assert_eq!(body["request_id"], id);
        assert!(body["message"].as_str().unwrap().starts_with(message));
    }
}

pub async fn send(method: Method, url: &str, headers: &[(String, String)], body: Bytes) -> Reply {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let mut req = Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let res = client
        .request(req.body(Full::new(body)).unwrap())
        .await
        .expect("request sent");
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body,
    }
}

/// A real HTTP backend that echoes what it received as JSON, tagged with its name.
/// `/slow/...?ms=N` waits N ms first; `/status/N` answers with status N.
pub struct Backend {
    pub addr: SocketAddr,
    /// Requests answered so far.
    hits: Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Backend {
    pub async fn start(name: &str) -> Backend {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let name = name.to_string();
        let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = hits.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let name = name.clone();
                let counter = counter.clone();
                tokio::spawn(async move {
                    let svc =
                        hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                            let name = name.clone();
                            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            async move { Ok::<_, hyper::Error>(echo(&name, req).await) }
                        });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Backend { addr, hits, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests the backend has answered.
    pub fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}

async fn echo(name: &str, req: Request<hyper::body::Incoming>) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or("").to_string();
    if path.starts_with("/slow") {
        let ms = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("ms="))
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000);
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let headers: BTreeMap<String, String> = parts
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let status = path
        .strip_prefix("/status/")
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let reply = json!({
        "backend": name, "method": parts.method.as_str(), "path": path, "query": query,
        "headers": headers, "body": String::from_utf8_lossy(&body),
    });
    hyper::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("x-backend", name)
        .body(Full::new(Bytes::from(reply.to_string())))
        .unwrap()
}

/// An address nothing listens on.
pub async fn dead_addr() -> SocketAddr {
    // Bound but never listening, and kept for the process: connections are refused, and the
    // port is never handed to another socket of the tests.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = socket.local_addr().unwrap();
    std::mem::forget(socket);
    addr
}

/// A minimal pass-through API spec with an inline http backend.
pub fn http_api(name: &str, method: &str, path: &str, url: &str, backend_path: &str) -> Value {
    json!({
        "name": name,
        "request": {"method": method, "path": path},
        "backend": {"service": {"inline": {"type": "http", "url": url}}, "path": backend_path},
    })
}

/// A loopback HTTP server that answers every request with one JSON document (a JWK Set, say),
/// which a test may replace, and counts the requests it served.
pub struct JsonServer {
    pub addr: SocketAddr,
    document: std::sync::Arc<std::sync::Mutex<String>>,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for JsonServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl JsonServer {
    pub async fn start(document: &str) -> JsonServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let document = std::sync::Arc::new(std::sync::Mutex::new(document.to_string()));
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (doc, count) = (document.clone(), hits.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (doc, count) = (doc.clone(), count.clone());
                tokio::spawn(async move {
                    let svc =
                        hyper::service::service_fn(move |_req: Request<hyper::body::Incoming>| {
                            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            let body = doc.lock().unwrap().clone();
                            async move {
                                Ok::<_, hyper::Error>(
                                    hyper::Response::builder()
                                        .header("content-type", "application/json")
                                        .body(Full::new(Bytes::from(body)))
                                        .unwrap(),
                                )
                            }
                        });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        JsonServer {
            addr,
            document,
            hits,
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn set(&self, document: &str) {
        *self.document.lock().unwrap() = document.to_string();
    }

    pub fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Runs `pylon <args>` against `pylon`'s admin API; returns (success, stdout, stderr).
pub async fn cli(pylon: &Pylon, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pylon"))
        .args(args)
        .env("PYLON_ADMIN_URL", format!("http://{}", pylon.admin))
        .env("PYLON_ADMIN_TOKEN", TOKEN)
        .output()
        .await
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

/// `pylon <args>`, which must succeed; its stdout.
pub async fn cli_ok(pylon: &Pylon, args: &[&str]) -> String {
    let (success, stdout, stderr) = cli(pylon, args).await;
    assert!(success, "pylon {args:?} failed: {stderr}");
    stdout
}

/// `pylon <args> -o json`, which must succeed; its output parsed.
pub async fn cli_json(pylon: &Pylon, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    serde_json::from_str(&cli_ok(pylon, &all).await).unwrap()
}

/// `pylon serve` on `data_dir`, both listeners on free loopback ports.
pub fn serve_command(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pylon"));
    command
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
            "--status-listen",
            "127.0.0.1:0",
        ])
        .arg("--data-dir")
        .arg(data_dir);
    command
}

/// A response read off a raw socket.
#[derive(Debug)]
pub struct RawReply {
    pub status: u16,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawReply {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts a gateway error carrying the `X-Ca-*` headers and the JSON body.
    pub fn assert_error(&self, status: u16, message: &str) {
        assert_eq!(self.status, status, "{self:?} {}", self.text());
        assert!(
            self.header("x-ca-error-message").starts_with(message),
            "message {:?}, wanted {message:?}",
            self.header("x-ca-error-message")
        );
        assert!(!self.header("x-ca-error-code").is_empty(), "{self:?}");
        let id = self.header("x-ca-request-id");
        assert!(!id.is_empty(), "{self:?}");
        let body: Value = serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {}", self.text()));
        assert_eq!(body["request_id"], id);
    }
}

/// Writes `request` as it is (curl and hyper would clean it up first) and reads one response
/// (to its Content-Length, or to the end of the connection).
pub async fn raw_request(addr: SocketAddr, request: &[u8]) -> RawReply {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    // A server may answer and close before reading everything: that is what is under test.
    let _ = stream.write_all(request).await;
    read_reply(&mut stream).await
}

/// Reads one response off `stream` (which may stay open for the next). A reset after the
/// response is complete is no failure: a server refusing a body may close that way.
pub async fn read_reply(stream: &mut tokio::net::TcpStream) -> RawReply {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16384];
    let read = async {
        loop {
            if let Some(reply) = parse_raw(&buf) {
                return Some(reply);
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return parse_raw(&buf),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .expect("a response within 20 s")
        .unwrap_or_else(|| panic!("no complete response: {:?}", String::from_utf8_lossy(&buf)))
}

/// One complete response at the start of `buf`, if there is one.
pub fn parse_raw(buf: &[u8]) -> Option<RawReply> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let body = buf.get(end + 4..end + 4 + length)?.to_vec();
    Some(RawReply {
        status,
        headers,
        body,
    })
}
