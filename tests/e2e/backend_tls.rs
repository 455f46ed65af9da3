//! HTTPS backends against real TLS servers: verification against a CA bundle, the server name,
//! a wrong CA refused with a 502, insecure mode, HTTP/2 chosen by ALPN, and a client
//! certificate for backends that demand one (upstream TLS).

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};

use crate::harness::*;
use crate::tls::{TestCa, upload};

/// A TLS backend on loopback that echoes the HTTP version, path and Host it got, and whether
/// the client presented a certificate.
struct TlsBackend {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TlsBackend {
    /// `alpn`: what it offers; `client_ca`: demand a client certificate signed by it.
    async fn start(
        ca: &TestCa,
        names: &[&str],
        alpn: &[&[u8]],
        client_ca: Option<&TestCa>,
    ) -> TlsBackend {
        let (cert, key) = ca.leaf(names);
        let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = match client_ca {
            None => builder.with_no_client_auth(),
            Some(client_ca) => {
                let mut roots = rustls::RootCertStore::empty();
                for c in CertificateDer::pem_slice_iter(client_ca.cert_pem.as_bytes()) {
                    roots.add(c.unwrap()).unwrap();
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    roots.into(),
                    provider,
                )
                .build()
                .unwrap();
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder.with_single_cert(chain, key).unwrap();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let client_cert = tls.get_ref().1.peer_certificates().is_some();
                    let svc =
                        hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                            let host = req
                                .headers()
                                .get("host")
                                .map(|h| h.to_str().unwrap_or("").to_string())
                                .or_else(|| req.uri().authority().map(|a| a.to_string()));
                            let reply = json!({
                                "version": format!("{:?}", req.version()),
                                "path": req.uri().path(),
                                "host": host,
                                "client_certificate": client_cert,
                            });
                            async move {
                                Ok::<_, hyper::Error>(hyper::Response::new(Full::new(Bytes::from(
                                    reply.to_string(),
                                ))))
                            }
                        });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), svc)
                        .await;
                });
            }
        });
        TlsBackend { addr, task }
    }
}

/// A group with an API at `/t` whose inline backend is `backend` (an http definition).
async fn api_with_backend(pylon: &Pylon, backend: Value) -> (String, String) {
    static GROUPS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = GROUPS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let group = pylon.create_group(&format!("g{n}")).await;
    let api = pylon
        .create_api(
            &group,
            json!({
                "name": "t",
                "request": {"method": "GET", "path": "/t"},
                "backend": {"service": {"inline": backend}, "path": "/t"},
            }),
        )
        .await;
    pylon.publish(&group, &api, "RELEASE").await;
    (group, api)
}

async fn debug(pylon: &Pylon, group: &str, api: &str) -> Value {
    pylon
        .ok(
            Method::POST,
            "/v1/debug",
            json!({"group_id": group, "api_id": api}),
        )
        .await["trace"]
        .clone()
}

#[tokio::test]
async fn an_https_backend_is_verified_against_its_ca_and_speaks_http2_when_it_offers_it() {
    let pylon = Pylon::start().await;
    let ca = TestCa::new();
    let h2 = TlsBackend::start(&ca, &["backend.internal"], &[b"h2", b"http/1.1"], None).await;
    let tls = json!({"ca_bundle": ca.cert_pem, "server_name": "backend.internal"});
    let (group, api) = api_with_backend(
        &pylon,
        json!({"type": "http", "url": format!("https://{}", h2.addr), "tls": tls}),
    )
    .await;
    for _ in 0..3 {
        let reply = pylon.get(&group, "/t").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert_eq!(reply.json()["version"], "HTTP/2.0");
        assert_eq!(reply.json()["path"], "/t");
    }
    let trace = debug(&pylon, &group, &api).await;
    assert_eq!(
        trace["backend_tls"],
        json!({"version": "TLSv1.3", "protocol": "h2", "verified": "backend.internal"}),
        "{trace}"
    );
    assert!(
        trace["backend_request"]["url"]
            .as_str()
            .unwrap()
            .starts_with("https://"),
        "{trace}"
    );

    // A backend that offers only HTTP/1.1 gets HTTP/1.1 over TLS.
    let h1 = TlsBackend::start(&ca, &["backend.internal"], &[b"http/1.1"], None).await;
    let (group, _) = api_with_backend(
        &pylon,
        json!({"type": "http", "url": format!("https://{}", h1.addr), "tls": tls}),
    )
    .await;
    let reply = pylon.get(&group, "/t").await;
    assert_eq!(reply.json()["version"], "HTTP/1.1", "{}", reply.text());
}

/// An API on `url` with these TLS settings answers `502`; the debug trace says why.
async fn refused_by_tls(pylon: &Pylon, url: &str, tls: Value, why: &str) {
    let (group, api) =
        api_with_backend(pylon, json!({"type": "http", "url": url, "tls": tls})).await;
    pylon
        .get(&group, "/t")
        .await
        .assert_error(502, "Failed To Invoke Backend Service");
    let trace = debug(pylon, &group, &api).await;
    let detail = trace["error"]["detail"].as_str().unwrap();
    assert!(detail.contains(why), "{detail}");
}

#[tokio::test]
async fn a_certificate_from_another_ca_or_for_another_name_is_a_502() {
    let pylon = Pylon::start().await;
    let ca = TestCa::new();
    let other = TestCa::new();
    let backend = TlsBackend::start(&ca, &["backend.internal"], &[b"http/1.1"], None).await;
    let url = format!("https://{}", backend.addr);
    let other_ca = json!({"ca_bundle": other.cert_pem, "server_name": "backend.internal"});
    refused_by_tls(
        &pylon,
        &url,
        other_ca,
        "tls handshake: invalid peer certificate",
    )
    .await;
    let other_name = json!({"ca_bundle": ca.cert_pem, "server_name": "elsewhere.internal"});
    refused_by_tls(
        &pylon,
        &url,
        other_name,
        "not valid for name \"elsewhere.internal\"",
    )
    .await;

    // Insecure: any certificate, said so in the trace.
    let (group, api) = api_with_backend(
        &pylon,
        json!({"type": "http", "url": url, "tls": {"insecure": true}}),
    )
    .await;
    assert_eq!(pylon.get(&group, "/t").await.status, StatusCode::OK);
    let trace = debug(&pylon, &group, &api).await;
    assert_eq!(trace["backend_tls"]["verified"], "not verified (insecure)");
}

#[tokio::test]
async fn an_upstream_over_tls_verifies_its_host_header_and_presents_a_client_certificate() {
    let pylon = Pylon::start().await;
    let ca = TestCa::new();
    let clients = TestCa::new();
    let backend =
        TlsBackend::start(&ca, &["orders.internal"], &[b"http/1.1"], Some(&clients)).await;
    upload(
        &pylon,
        "gateway-client",
        clients.leaf(&["gateway.pylon.test"]),
        false,
    )
    .await;
    let upstream = |client_certificate: Option<&str>| {
        json!({
            "name": "orders",
            "targets": [backend.addr.to_string()],
            "host_header": "orders.internal",
            "tls": {"ca_bundle": ca.cert_pem, "client_certificate": client_certificate},
        })
    };
    // Created with the CLI's TLS flags, as a user would.
    let target = backend.addr.to_string();
    let ca_file = ca.ca_file();
    let created = cli_json(
        &pylon,
        &[
            "upstream",
            "create",
            "orders",
            "--target",
            &target,
            "--host-header",
            "orders.internal",
            "--ca-bundle",
            ca_file.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(
        created["tls"]["ca_bundle"],
        ca.cert_pem.as_str(),
        "{created}"
    );
    let (group, _) =
        api_with_backend(&pylon, json!({"type": "upstream", "upstream": "orders"})).await;
    // The backend demands a client certificate: without one, no call.
    pylon
        .get(&group, "/t")
        .await
        .assert_error(502, "Failed To Invoke Backend Service");

    let id = created["id"].as_str().unwrap();
    pylon
        .ok(
            Method::PUT,
            &format!("/v1/upstreams/{id}"),
            upstream(Some("gateway-client")),
        )
        .await;
    let reply = pylon.get(&group, "/t").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["client_certificate"], true);
    assert_eq!(reply.json()["host"], "orders.internal");

    // A certificate a backend uses cannot be deleted from under it.
    let (status, body) = pylon
        .admin(Method::DELETE, "/v1/certificates/gateway-client", None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("upstream `orders`"),
        "{body}"
    );
}

#[tokio::test]
async fn tls_settings_that_cannot_work_are_refused_when_configured() {
    let pylon = Pylon::start().await;
    let group = pylon.create_group("g").await;
    let create = |backend: Value| {
        let pylon = &pylon;
        let group = group.clone();
        async move {
            pylon
                .admin(
                    Method::POST,
                    &format!("/v1/groups/{group}/apis"),
                    Some(json!({
                        "name": "t",
                        "request": {"method": "GET", "path": "/t"},
                        "backend": {"service": {"inline": backend}, "path": "/t"},
                    })),
                )
                .await
        }
    };
    let refused = |backend: Value, field: &str| {
        let create = &create;
        let field = field.to_string();
        async move {
            let (status, body) = create(backend).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
            assert_eq!(body["field"], field.as_str(), "{body}");
            body
        }
    };
    let inline = "backend.service.inline.tls";
    refused(
        json!({"type": "http", "url": "http://x", "tls": {}}),
        inline,
    )
    .await;
    let bad_pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----";
    let bundle = json!({"type": "http", "url": "https://x", "tls": {"ca_bundle": bad_pem}});
    refused(bundle, &format!("{inline}.ca_bundle")).await;
    let client = json!({"type": "http", "url": "https://x", "tls": {"client_certificate": "nope"}});
    let body = refused(client, &format!("{inline}.client_certificate")).await;
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("pylon certificate add"),
        "{body}"
    );
    let (status, body) = pylon
        .admin(
            Method::POST,
            "/v1/upstreams",
            Some(json!({"name": "u", "targets": ["127.0.0.1:1"], "tls": {"ca_bundle": bad_pem}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "tls.ca_bundle");
}
