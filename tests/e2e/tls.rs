//! The HTTPS listener against real clients: curl (SNI, ALPN, HTTP/2), `openssl s_client`
//! without SNI, Python's `ssl` module for protocol versions, and a rustls client that keeps a
//! connection open across a certificate swap. Certificates come from a test CA made here.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use http::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

use crate::harness::*;

/// A CA made for one test, and certificates it signs.
pub(crate) struct TestCa {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    pub(crate) cert_pem: String,
    dir: tempfile::TempDir,
}

impl TestCa {
    pub(crate) fn new() -> TestCa {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Pylon Test CA");
        let cert = params.self_signed(&key).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), cert.pem()).unwrap();
        TestCa {
            cert_pem: cert.pem(),
            issuer: rcgen::Issuer::new(params, key),
            dir,
        }
    }

    pub(crate) fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A server certificate for `names` (chain PEM, key PEM).
    pub(crate) fn leaf(&self, names: &[&str]) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = rcgen::CertificateParams::new(names.clone()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, names[0].clone());
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// `leaf`, written to `<file>.pem` and `<file>.key` in the CA's directory.
    fn leaf_files(&self, file: &str, names: &[&str]) -> (PathBuf, PathBuf) {
        let (cert, key) = self.leaf(names);
        let cert_path = self.dir.path().join(format!("{file}.pem"));
        let key_path = self.dir.path().join(format!("{file}.key"));
        std::fs::write(&cert_path, cert).unwrap();
        std::fs::write(&key_path, key).unwrap();
        (cert_path, key_path)
    }
}

pub(crate) async fn upload(
    pylon: &Pylon,
    name: &str,
    (cert, key): (String, String),
    default: bool,
) -> Value {
    pylon
        .ok(
            Method::POST,
            "/v1/certificates",
            json!({"name": name, "certificate": cert, "private_key": key, "default": default}),
        )
        .await
}

/// A Pylon with an HTTPS listener, a group on `shop.example.com` with an echo API at `/echo`
/// published in RELEASE; returns the Pylon, the group id and the backend.
async fn https_pylon() -> (Pylon, String, Backend) {
    https_pylon_with(&[]).await
}

/// As [`https_pylon`], with these `serve` arguments too.
async fn https_pylon_with(extra: &[&str]) -> (Pylon, String, Backend) {
    let mut args = vec!["--tls-listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let pylon = Pylon::start_with(&args, false).await;
    assert!(pylon.https.is_some(), "{}", pylon.stdout());
    let backend = Backend::start("b").await;
    let group = pylon.create_group("shop").await;
    pylon
        .add_domain(&group, json!({"name": "shop.example.com"}))
        .await;
    let api = pylon
        .create_api(
            &group,
            http_api("echo", "GET", "/echo", &backend.url(), "/echo"),
        )
        .await;
    pylon.publish(&group, &api, "RELEASE").await;
    (pylon, group, backend)
}

/// curl over HTTPS to `host` (resolved to the listener); returns (exit ok, stdout, stderr).
async fn curl(
    https: SocketAddr,
    ca: &Path,
    host: &str,
    path: &str,
    extra: &[&str],
) -> (bool, String, String) {
    let port = https.port();
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert"])
        .arg(ca)
        .arg("--resolve")
        .arg(format!("{host}:{port}:127.0.0.1"))
        .args(extra)
        .arg(format!("https://{host}:{port}{path}"))
        .output()
        .await
        .expect("curl runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

#[tokio::test]
async fn https_picks_the_certificate_by_sni_and_speaks_http2_by_alpn() {
    let (pylon, group, _backend) = https_pylon().await;
    let https = pylon.https.unwrap();
    let ca = TestCa::new();
    // Uploaded with the CLI, as a user would.
    let (cert, key) = ca.leaf_files("shop", &["shop.example.com"]);
    let added = cli_ok(
        &pylon,
        &[
            "certificate",
            "add",
            "shop-cert",
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
        ],
    )
    .await;
    assert!(
        added.contains("shop-cert") && added.contains("shop.example.com"),
        "{added}"
    );
    assert!(
        added.contains("CN=Pylon Test CA"),
        "the issuer is listed: {added}"
    );

    let (ok, out, err) = curl(
        https,
        &ca.ca_file(),
        "shop.example.com",
        "/echo",
        &["--http2", "-w", "\n%{http_version}"],
    )
    .await;
    assert!(ok, "{err}");
    let (body, version) = out.rsplit_once('\n').unwrap();
    assert_eq!(version, "2", "ALPN chose HTTP/2");
    let echoed: Value = serde_json::from_str(body).unwrap();
    assert_eq!(echoed["headers"]["x-forwarded-proto"], "https");
    assert_eq!(echoed["path"], "/echo");

    let (ok, out, err) = curl(
        https,
        &ca.ca_file(),
        "shop.example.com",
        "/echo",
        &["--http1.1", "-w", "\n%{http_version}"],
    )
    .await;
    assert!(ok, "{err}");
    assert!(out.ends_with("\n1.1"), "{out}");

    // A wildcard certificate for the base domain serves the groups' default domains.
    upload(&pylon, "default-domains", ca.leaf(&["*.pylon.test"]), false).await;
    let host = format!("{group}.pylon.test");
    let (ok, out, err) = curl(https, &ca.ca_file(), &host, "/echo", &[]).await;
    assert!(ok, "{err}");
    assert!(out.contains("\"x-forwarded-proto\":\"https\""), "{out}");

    // A name no certificate lists: refused in the handshake, nothing served.
    let (ok, _, err) = curl(https, &ca.ca_file(), "other.example.com", "/echo", &[]).await;
    assert!(!ok);
    assert!(err.contains("alert") || err.contains("handshake"), "{err}");

    // Plain HTTP still answers, and says so to the backend; HTTP/2 with prior knowledge too.
    let reply = pylon.get(&group, "/echo").await;
    assert_eq!(reply.json()["headers"]["x-forwarded-proto"], "http");
    let out = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "10",
            "--http2-prior-knowledge",
            "-w",
            "\n%{http_version}",
        ])
        .args(["-H", "host: shop.example.com"])
        .arg(format!("http://{}/echo", pylon.gateway))
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.ends_with("\n2") && text.contains("\"path\":\"/echo\""),
        "{text}"
    );
}

/// `openssl s_client -noservername`: (handshake done, output).
async fn s_client_without_sni(https: SocketAddr) -> (bool, String) {
    let out = Command::new("openssl")
        .args(["s_client", "-noservername", "-connect"])
        .arg(https.to_string())
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("openssl runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
async fn a_client_hello_without_sni_is_refused_unless_a_default_certificate_is_set() {
    let (pylon, _group, _backend) = https_pylon().await;
    let https = pylon.https.unwrap();
    let ca = TestCa::new();
    upload(&pylon, "shop", ca.leaf(&["shop.example.com"]), false).await;

    let (done, out) = s_client_without_sni(https).await;
    assert!(!done, "{out}");
    assert!(out.contains("alert"), "refused with a TLS alert: {out}");
    assert!(
        !out.contains("BEGIN CERTIFICATE"),
        "no certificate was sent: {out}"
    );

    upload(&pylon, "fallback", ca.leaf(&["fallback.example.com"]), true).await;
    let (done, out) = s_client_without_sni(https).await;
    assert!(done, "{out}");
    assert!(out.contains("CN = fallback.example.com"), "{out}");
}

/// Python's `ssl` with the protocol pinned to `version` (`TLSv1_1`, `TLSv1_2`); prints `ok
/// <version>` or `refused <error>`.
async fn python_handshake(https: SocketAddr, ca: &Path, version: &str) -> String {
    let script = format!(
        r#"
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations({ca:?})
# Let this client offer old versions at all: the server is what must refuse them.
ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
ctx.minimum_version = ssl.TLSVersion.{version}
ctx.maximum_version = ssl.TLSVersion.{version}
try:
    with socket.create_connection(("127.0.0.1", {port}), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="shop.example.com") as tls:
            print("ok", tls.version())
except ssl.SSLError as e:
    print("refused", e)
"#,
        ca = ca.to_str().unwrap(),
        port = https.port(),
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .await
        .expect("python3 runs");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test]
async fn tls_1_2_and_1_3_only() {
    let (pylon, _group, _backend) = https_pylon().await;
    let https = pylon.https.unwrap();
    let ca = TestCa::new();
    upload(&pylon, "shop", ca.leaf(&["shop.example.com"]), false).await;

    let out = python_handshake(https, &ca.ca_file(), "TLSv1_2").await;
    assert!(out.starts_with("ok TLSv1.2"), "{out}");
    let out = python_handshake(https, &ca.ca_file(), "TLSv1_3").await;
    assert!(out.starts_with("ok TLSv1.3"), "{out}");
    let out = python_handshake(https, &ca.ca_file(), "TLSv1_1").await;
    assert!(out.starts_with("refused"), "{out}");
    // The client offered TLS 1.1 and the server answered with an alert (rustls says
    // handshake_failure), not a client refusing to try.
    assert!(out.contains("ALERT"), "the server's alert: {out}");
}

/// A TLS client on one connection, from the test's own rustls.
struct KeptConnection {
    stream: tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
}

impl KeptConnection {
    async fn open(https: SocketAddr, ca_pem: &str, host: &str) -> KeptConnection {
        use rustls_pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = tokio::net::TcpStream::connect(https).await.unwrap();
        let name = rustls_pki_types::ServerName::try_from(host.to_string()).unwrap();
        KeptConnection {
            stream: connector.connect(name, tcp).await.unwrap(),
        }
    }

    /// The leaf certificate the server presented (DER).
    fn peer_certificate(&self) -> Vec<u8> {
        let (_, session) = self.stream.get_ref();
        session.peer_certificates().unwrap()[0].as_ref().to_vec()
    }

    /// GET `path` on `host`, keeping the connection; the response status line and body.
    async fn get(&mut self, host: &str, path: &str) -> String {
        let request = format!("GET {path} HTTP/1.1\r\nhost: {host}\r\n\r\n");
        self.stream.write_all(request.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = self.stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "the connection closed");
            buf.extend_from_slice(&chunk[..n]);
            if let Some(reply) = parse_raw(&buf) {
                return format!("{} {}", reply.status, reply.text());
            }
        }
    }
}

#[tokio::test]
async fn a_replaced_certificate_serves_new_handshakes_while_open_connections_keep_theirs() {
    let (pylon, _group, _backend) = https_pylon().await;
    let https = pylon.https.unwrap();
    let ca = TestCa::new();
    let first = upload(&pylon, "shop", ca.leaf(&["shop.example.com"]), false).await;

    let mut kept = KeptConnection::open(https, &ca.cert_pem, "shop.example.com").await;
    let old_leaf = kept.peer_certificate();
    assert!(
        kept.get("shop.example.com", "/echo")
            .await
            .starts_with("200 ")
    );

    let (cert, key) = ca.leaf(&["shop.example.com", "www.example.com"]);
    let replaced = pylon
        .ok(
            Method::PUT,
            "/v1/certificates/shop",
            json!({"name": "shop", "certificate": cert, "private_key": key}),
        )
        .await;
    assert_eq!(replaced["id"], first["id"]);
    assert_eq!(
        replaced["domains"],
        json!(["shop.example.com", "www.example.com"])
    );

    let fresh = KeptConnection::open(https, &ca.cert_pem, "shop.example.com").await;
    assert_ne!(
        fresh.peer_certificate(),
        old_leaf,
        "a new handshake gets the new certificate"
    );
    // The connection opened before still works, on the certificate it was given.
    assert_eq!(kept.peer_certificate(), old_leaf);
    assert!(
        kept.get("shop.example.com", "/echo")
            .await
            .starts_with("200 ")
    );

    // Deleting it: the next handshake for the name is refused.
    pylon
        .ok(Method::DELETE, "/v1/certificates/shop", Value::Null)
        .await;
    let (ok, _, err) = curl(https, &ca.ca_file(), "shop.example.com", "/echo", &[]).await;
    assert!(!ok, "{err}");
}

#[tokio::test]
async fn a_domain_bound_to_a_certificate_gets_it_over_another_that_lists_it() {
    let (pylon, group, _backend) = https_pylon().await;
    let https = pylon.https.unwrap();
    let ca = TestCa::new();
    upload(&pylon, "wildcard", ca.leaf(&["*.example.com"]), false).await;
    upload(&pylon, "exact", ca.leaf(&["api.example.com"]), false).await;
    let bound = pylon
        .add_domain(
            &group,
            json!({"name": "api.example.com", "certificate": "wildcard"}),
        )
        .await;
    assert_eq!(bound["certificate"], "wildcard");
    let conn = KeptConnection::open(https, &ca.cert_pem, "api.example.com").await;
    let www = KeptConnection::open(https, &ca.cert_pem, "www.example.com").await;
    assert_eq!(
        conn.peer_certificate(),
        www.peer_certificate(),
        "the bound wildcard, not `exact`"
    );

    // Binding a certificate that does not list the domain, or does not exist, is refused.
    let domains = format!("/v1/groups/{group}/domains");
    let bind =
        |certificate: &str| Some(json!({"name": "pay.other.test", "certificate": certificate}));
    pylon
        .refused(
            Method::POST,
            &domains,
            bind("exact"),
            StatusCode::CONFLICT,
            "not valid for `pay.other.test`",
        )
        .await;
    pylon
        .refused(
            Method::POST,
            &domains,
            bind("nope"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "pylon certificate add",
        )
        .await;
    // A bound certificate cannot be deleted.
    let (status, body) = pylon
        .admin(Method::DELETE, "/v1/certificates/wildcard", None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

#[tokio::test]
async fn uploads_are_checked_and_the_private_key_never_comes_back() {
    let pylon = Pylon::start_with(&["--tls-listen", "127.0.0.1:0"], true).await;
    let ca = TestCa::new();
    let (cert, key) = ca.leaf(&["a.example.com"]);
    let (_, other_key) = ca.leaf(&["a.example.com"]);
    let post = |body: Value| {
        let pylon = &pylon;
        async move {
            pylon
                .admin(Method::POST, "/v1/certificates", Some(body))
                .await
        }
    };

    let (status, body) =
        post(json!({"name": "x", "certificate": cert, "private_key": other_key})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "private_key", "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("does not belong"),
        "{body}"
    );

    let (status, body) =
        post(json!({"name": "x", "certificate": "not pem", "private_key": key})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "certificate", "{body}");

    // Expired.
    let old_key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["old.example.com".to_string()]).unwrap();
    params.not_before = rcgen::date_time_ymd(2001, 1, 1);
    params.not_after = rcgen::date_time_ymd(2002, 1, 1);
    let old = params.self_signed(&old_key).unwrap();
    let (status, body) = post(
        json!({"name": "x", "certificate": old.pem(), "private_key": old_key.serialize_pem()}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("expired at 2002-01-01"),
        "{body}"
    );

    // An RSA key made by openssl, as most users have them.
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "30",
            "-subj",
            "/CN=rsa.example.com",
            "-addext",
            "subjectAltName=DNS:rsa.example.com",
        ])
        .arg("-keyout")
        .arg(dir.path().join("rsa.key"))
        .arg("-out")
        .arg(dir.path().join("rsa.pem"))
        .output()
        .await
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let rsa_key = std::fs::read_to_string(dir.path().join("rsa.key")).unwrap();
    let rsa = upload(
        &pylon,
        "rsa",
        (
            std::fs::read_to_string(dir.path().join("rsa.pem")).unwrap(),
            rsa_key.clone(),
        ),
        false,
    )
    .await;
    assert_eq!(rsa["key_type"], "RSA");
    assert_eq!(rsa["domains"], json!(["rsa.example.com"]));
    assert!(rsa["expires_at"].as_i64().unwrap() > 0);

    // Nowhere to be read back: not in the API, not in the store's file, not in the log.
    let created = upload(&pylon, "a", (cert, key.clone()), false).await;
    let listed = pylon.ok(Method::GET, "/v1/certificates", Value::Null).await;
    let shown = pylon
        .ok(Method::GET, "/v1/certificates/a", Value::Null)
        .await;
    let key_body: String = key.lines().filter(|l| !l.starts_with("-----")).collect();
    let rsa_body: String = rsa_key
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    for text in [created.to_string(), listed.to_string(), shown.to_string()] {
        assert!(
            !text.contains("PRIVATE KEY") && !text.contains(&key_body[..40]),
            "{text}"
        );
    }
    let mut stored = Vec::new();
    for entry in std::fs::read_dir(&pylon.data_dir).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("pylon.db")
        {
            stored.extend(std::fs::read(path).unwrap());
        }
    }
    let stored = String::from_utf8_lossy(&stored);
    assert!(
        stored.contains("a.example.com"),
        "the store holds the certificate"
    );
    assert!(!stored.contains(&key_body[..40]) && !stored.contains(&rsa_body[..40]));
    assert!(!pylon.log().contains(&key_body[..40]));

    let list = cli_ok(&pylon, &["certificate", "list"]).await;
    assert!(
        list.contains("NAME") && list.contains("EXPIRES") && list.contains("rsa.example.com"),
        "{list}"
    );
}

#[tokio::test]
async fn api_protocols_are_enforced_and_an_https_only_api_may_redirect() {
    let (pylon, group, backend) = https_pylon().await;
    let https = pylon.https.unwrap();
    let ca = TestCa::new();
    upload(&pylon, "shop", ca.leaf(&["shop.example.com"]), false).await;
    let api = |name: &str, path: &str, protocols: Value, redirect: bool| {
        let mut spec = http_api(name, "GET", path, &backend.url(), path);
        spec["request"]["protocols"] = protocols;
        spec["request"]["https_redirect"] = json!(redirect);
        spec
    };
    for spec in [
        api("secure", "/secure", json!(["HTTPS"]), false),
        api("plain", "/plain", json!(["HTTP"]), false),
        api("moved", "/moved", json!(["HTTPS"]), true),
    ] {
        let id = pylon.create_api(&group, spec).await;
        pylon.publish(&group, &id, "RELEASE").await;
    }
    let over_http = |path: &str| {
        let pylon = &pylon;
        let url = format!("http://{}{path}", pylon.gateway);
        async move {
            send(
                Method::GET,
                &url,
                &[("host".into(), "shop.example.com".into())],
                Default::default(),
            )
            .await
        }
    };

    over_http("/secure")
        .await
        .assert_error(403, "Invalid protocol HTTP unsupported");
    assert_eq!(
        over_http("/secure").await.header("x-ca-error-code"),
        "D403PT"
    );
    let (ok, out, err) = curl(https, &ca.ca_file(), "shop.example.com", "/secure", &[]).await;
    assert!(ok && out.contains("\"path\":\"/secure\""), "{out}{err}");

    assert_eq!(over_http("/plain").await.status, StatusCode::OK);
    let (ok, out, _) = curl(https, &ca.ca_file(), "shop.example.com", "/plain", &["-i"]).await;
    assert!(ok);
    assert!(out.starts_with("HTTP/2 403"), "{out}");
    assert!(out.contains("Invalid protocol HTTPS unsupported"), "{out}");

    // A redirect keeps the path and query and names the HTTPS listener's port; curl follows it.
    let moved = over_http("/moved?x=1&y=%2F").await;
    assert_eq!(moved.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(
        moved.header("location"),
        format!("https://shop.example.com:{}/moved?x=1&y=%2F", https.port())
    );
    let port = https.port();
    let out = Command::new("curl")
        .args(["-sS", "-L", "--max-time", "10", "--cacert"])
        .arg(ca.ca_file())
        .arg("--resolve")
        .arg(format!("shop.example.com:{port}:127.0.0.1"))
        .args(["-H", "host: shop.example.com"])
        .arg(format!("http://{}/moved?x=1", pylon.gateway))
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("\"query\":\"x=1\""), "{text}");
    assert!(text.contains("\"x-forwarded-proto\":\"https\""), "{text}");

    // A redirect for an API also served over HTTP makes no sense: refused when configured.
    let (status, body) = pylon
        .admin(
            Method::POST,
            &format!("/v1/groups/{group}/apis"),
            Some(api("both", "/both", json!(["HTTP", "HTTPS"]), true)),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "request.https_redirect", "{body}");
}

#[tokio::test]
async fn plain_and_https_connections_share_one_connection_cap() {
    let (pylon, _group, _backend) = https_pylon_with(&["--max-connections", "2"]).await;
    let https = pylon.https.unwrap();
    let ca = TestCa::new();
    upload(&pylon, "shop", ca.leaf(&["shop.example.com"]), false).await;

    let mut oldest = tokio::net::TcpStream::connect(pylon.gateway).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let mut kept = KeptConnection::open(https, &ca.cert_pem, "shop.example.com").await;
    assert!(
        kept.get("shop.example.com", "/echo")
            .await
            .starts_with("200 ")
    );
    // A third connection, over HTTPS: the idle plain one, oldest, makes room.
    let mut third = KeptConnection::open(https, &ca.cert_pem, "shop.example.com").await;
    assert!(
        third
            .get("shop.example.com", "/echo")
            .await
            .starts_with("200 ")
    );
    let mut buf = [0u8; 64];
    let closed =
        tokio::time::timeout(std::time::Duration::from_secs(3), oldest.read(&mut buf)).await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "the plain connection was shed: {closed:?}"
    );
    assert!(
        kept.get("shop.example.com", "/echo")
            .await
            .starts_with("200 ")
    );
}

#[tokio::test]
async fn a_handshake_that_never_comes_is_cut() {
    let pylon = Pylon::start_with(
        &["--tls-listen", "127.0.0.1:0", "--header-timeout", "1s"],
        false,
    )
    .await;
    let mut silent = tokio::net::TcpStream::connect(pylon.https.unwrap())
        .await
        .unwrap();
    // Half a ClientHello's record header, then nothing.
    silent.write_all(&[0x16, 0x03]).await.unwrap();
    let mut buf = [0u8; 64];
    let started = std::time::Instant::now();
    let read = tokio::time::timeout(std::time::Duration::from_secs(5), silent.read(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "closed: {read:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
}
