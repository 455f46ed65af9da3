//! A JWK Set served over HTTPS: the gateway trusts the roots `rustls-native-certs` finds, here a
//! test CA named by `SSL_CERT_FILE`, and refuses a server whose certificate chains to another CA.
//!
//! This file is its own test binary with a single test, because `SSL_CERT_FILE` is process-wide
//! and read once, when the gateway first builds its TLS client configuration.

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use bytes::Bytes;
use common::*;
use http::{HeaderMap, HeaderValue, Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

#[derive(Default)]
struct Counts {
    served: AtomicU32,
    failed_handshakes: AtomicU32,
}

fn tls_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/tls")
        .join(name)
}

/// An HTTPS server on 127.0.0.1 answering every request with `body`, with the certificate and
/// key `name`.pem / `name`.key; it counts the requests it answered and the TLS handshakes that
/// failed.
async fn https_jwks_server(name: &str, body: Value, counts: Arc<Counts>) -> std::net::SocketAddr {
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(tls_file(&format!("{name}.pem")))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
    let key = PrivateKeyDer::from_pem_file(tls_file(&format!("{name}.key"))).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let body = Bytes::from(body.to_string());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let body = body.clone();
            let counts = counts.clone();
            tokio::spawn(async move {
                // An untrusting client aborts the handshake: nothing to serve then.
                let Ok(tls) = acceptor.accept(stream).await else {
                    counts.failed_handshakes.fetch_add(1, Ordering::SeqCst);
                    return;
                };
                let service = service_fn(move |_req: Request<Incoming>| {
                    counts.served.fetch_add(1, Ordering::SeqCst);
                    let body = body.clone();
                    async move { Ok::<_, std::convert::Infallible>(Response::new(Full::new(body))) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    addr
}

fn oct_jwk(kid: &str, secret: &str) -> Value {
    use base64::Engine;
    json!({"kty": "oct", "kid": kid, "alg": "HS256",
        "k": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)})
}

fn token(kid: &str, secret: &str) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.to_string());
    let exp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 300;
    encode(
        &header,
        &json!({"sub": "user-42", "exp": exp}),
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn jwt_api(name: &str, path: &str, echo: std::net::SocketAddr, jwks_url: String) -> Value {
    json!({
        "name": name, "request": {"method": "GET", "path": path},
        "backend": {"service": {"inline": {"type": "http", "url": format!("http://{echo}")}}, "path": path},
        "auth": {"type": "jwt", "jwt": {
            "algorithms": ["HS256"],
            "jwks_url": jwks_url,
            "claims_to_headers": [{"claim": "sub", "header": "X-User"}]
        }}
    })
}

async fn call(gw: &RunningGateway, path: &str, token: &str) -> Answer {
    let mut request = Request::get(gw.url(path))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let headers: &mut HeaderMap = request.headers_mut();
    headers.insert("host", HeaderValue::from_static(HOST));
    headers.insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    send(&client(), request).await
}

#[tokio::test]
async fn an_https_jwk_set_is_fetched_from_a_trusted_server_only() {
    // SAFETY: this binary has this one test and nothing else has started threads that read the
    // environment; the gateway reads SSL_CERT_FILE when it first builds its TLS client, below.
    unsafe {
        std::env::set_var("SSL_CERT_FILE", tls_file("ca.pem"));
        std::env::remove_var("SSL_CERT_DIR");
    }

    const TRUSTED_SECRET: &str = "trusted-jwks-secret-0123456789";
    const UNTRUSTED_SECRET: &str = "untrusted-jwks-secret-0123456789";
    let trusted_counts = Arc::new(Counts::default());
    let untrusted_counts = Arc::new(Counts::default());
    let trusted = https_jwks_server(
        "server",
        json!({"keys": [oct_jwk("k-trusted", TRUSTED_SECRET)]}),
        trusted_counts.clone(),
    )
    .await;
    let untrusted = https_jwks_server(
        "untrusted-server",
        json!({"keys": [oct_jwk("k-untrusted", UNTRUSTED_SECRET)]}),
        untrusted_counts.clone(),
    )
    .await;

    let echo = echo_backend("echo").await;
    let snapshot = SnapshotBuilder::new()
        .api(
            "RELEASE",
            jwt_api(
                "trusted",
                "/trusted",
                echo,
                format!("https://127.0.0.1:{}/jwks.json", trusted.port()),
            ),
        )
        .api(
            "RELEASE",
            jwt_api(
                "untrusted",
                "/untrusted",
                echo,
                format!("https://localhost:{}/jwks.json", untrusted.port()),
            ),
        )
        .build();
    let gw = RunningGateway::start(&snapshot).await;

    let answer = call(&gw, "/trusted", &token("k-trusted", TRUSTED_SECRET)).await;
    assert_eq!(answer.status, 200, "{:?}", answer.headers);
    assert_eq!(answer.json()["headers"]["x-user"], "user-42");
    assert_eq!(trusted_counts.served.load(Ordering::SeqCst), 1);

    let answer = call(&gw, "/untrusted", &token("k-untrusted", UNTRUSTED_SECRET)).await;
    assert_gateway_error(&answer, 401, "Invalid JWT: unknown key");
    assert_eq!(untrusted_counts.served.load(Ordering::SeqCst), 0);
    // The gateway reached the server and gave up in the handshake (the server may see the
    // client's alert a moment after the gateway has answered).
    for _ in 0..100 {
        if untrusted_counts.failed_handshakes.load(Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(untrusted_counts.failed_handshakes.load(Ordering::SeqCst) >= 1);

    // The trusted source still works after the failed one (the shared TLS client is intact).
    let answer = call(&gw, "/trusted", &token("k-trusted", TRUSTED_SECRET)).await;
    assert_eq!(answer.status, 200);
}
