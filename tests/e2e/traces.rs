//! OpenTelemetry traces against the real binary: a real OTLP/HTTP receiver on loopback decodes
//! the protobuf Pylon posts, and the spans must chain from the client's `traceparent` through
//! the gateway's server span to the backend call, whose id the backend receives.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioExecutor;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

use crate::harness::{Backend, Pylon, http_api};

/// An OTLP/HTTP receiver: keeps every span posted to `/v1/traces`.
struct Receiver {
    addr: std::net::SocketAddr,
    spans: Arc<Mutex<Vec<Span>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let spans = Arc::new(Mutex::new(Vec::new()));
        let kept = spans.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let kept = kept.clone();
                tokio::spawn(async move {
                    let svc =
                        hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                            let kept = kept.clone();
                            async move {
                                let ok = req.uri().path() == "/v1/traces"
                                    && req.headers()["content-type"] == "application/x-protobuf";
                                let body = req.into_body().collect().await.unwrap().to_bytes();
                                let decoded = ExportTraceServiceRequest::decode(body);
                                let status = match (ok, decoded) {
                                    (true, Ok(request)) => {
                                        let mut kept = kept.lock().unwrap();
                                        for r in request.resource_spans {
                                            for s in r.scope_spans {
                                                kept.extend(s.spans);
                                            }
                                        }
                                        200
                                    }
                                    _ => 400,
                                };
                                Ok::<_, hyper::Error>(
                                    hyper::Response::builder()
                                        .status(status)
                                        .body(Full::new(Bytes::new()))
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
        Receiver { addr, spans, task }
    }

    /// Waits for the spans of `trace_id` (hex) until there are `count`.
    async fn trace(&self, trace_id: &str, count: usize) -> Vec<Span> {
        for _ in 0..100 {
            let found: Vec<Span> = self
                .spans
                .lock()
                .unwrap()
                .iter()
                .filter(|s| hex(&s.trace_id) == trace_id)
                .cloned()
                .collect();
            if found.len() >= count {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("fewer than {count} spans of trace {trace_id} arrived");
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attribute(span: &Span, key: &str) -> String {
    let value = span
        .attributes
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.as_ref()?.value.as_ref())
        .unwrap_or_else(|| panic!("no attribute {key} on {}", span.name));
    match value {
        any_value::Value::StringValue(s) => s.clone(),
        any_value::Value::IntValue(i) => i.to_string(),
        other => format!("{other:?}"),
    }
}

#[tokio::test]
async fn spans_continue_the_clients_trace_and_reach_the_backend() {
    let receiver = Receiver::start().await;
    let backend = Backend::start("b").await;
    let endpoint = format!("http://{}", receiver.addr);
    let pylon = Pylon::start_with(&["--otlp-endpoint", &endpoint], false).await;
    let g = pylon.create_group("shop").await;
    let api = pylon
        .create_api(
            &g,
            http_api("orders", "GET", "/orders/{id}", &backend.url(), "/"),
        )
        .await;
    pylon.publish(&g, &api, "RELEASE").await;

    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent = "00f067aa0ba902b7";
    let reply = pylon
        .call(
            &g,
            Method::GET,
            "/orders/7?secret=1",
            &[("traceparent", &format!("00-{trace}-{parent}-01"))],
            "",
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let sent = reply.json()["headers"]["traceparent"]
        .as_str()
        .expect("the backend got a traceparent")
        .to_string();

    let spans = receiver.trace(trace, 2).await;
    let server = spans.iter().find(|s| s.kind == 2).expect("a server span");
    let client = spans.iter().find(|s| s.kind == 3).expect("a client span");
    assert_eq!(
        hex(&server.parent_span_id),
        parent,
        "child of the client's span"
    );
    assert_eq!(
        client.parent_span_id, server.span_id,
        "the backend call is the server's child"
    );
    assert_eq!(sent, format!("00-{trace}-{}-01", hex(&client.span_id)));
    assert_eq!(server.name, "GET /orders/{id}");
    assert_eq!(attribute(server, "http.route"), "/orders/{id}");
    assert_eq!(
        attribute(server, "url.path"),
        "/orders/7",
        "no query in a span"
    );
    assert_eq!(attribute(server, "http.response.status_code"), "200");
    assert_eq!(attribute(server, "pylon.group"), g);
    assert_eq!(attribute(server, "pylon.api"), "orders");
    assert_eq!(attribute(server, "pylon.environment"), "RELEASE");
    assert_eq!(
        attribute(server, "pylon.request_id"),
        reply.header("x-ca-request-id")
    );
    assert_eq!(attribute(client, "server.address"), "127.0.0.1");
    assert_eq!(
        attribute(client, "server.port"),
        backend.addr.port().to_string()
    );
    assert!(server.start_time_unix_nano <= client.start_time_unix_nano);
    assert!(client.end_time_unix_nano <= server.end_time_unix_nano);

    // Without a traceparent a new trace starts, with the server span as its root.
    let reply = pylon.get(&g, "/orders/8").await;
    let sent = reply.json()["headers"]["traceparent"]
        .as_str()
        .expect("a new trace reaches the backend too")
        .to_string();
    let new_trace = sent.split('-').nth(1).unwrap().to_string();
    assert_ne!(new_trace, trace);
    let spans = receiver.trace(&new_trace, 2).await;
    let root = spans.iter().find(|s| s.kind == 2).unwrap();
    assert!(root.parent_span_id.is_empty());

    // A client that did not sample its trace is not traced here either.
    let unsampled = "0af7651916cd43dd8448eb211c80319c";
    let reply = pylon
        .call(
            &g,
            Method::GET,
            "/orders/9",
            &[(
                "traceparent",
                &format!("00-{unsampled}-b7ad6b7169203331-00"),
            )],
            "",
        )
        .await;
    assert_eq!(reply.status, 200);
    // A sampled call after it is exported; the unsampled one never is.
    let later = "11111111111111111111111111111111";
    pylon
        .call(
            &g,
            Method::GET,
            "/orders/10",
            &[("traceparent", &format!("00-{later}-b7ad6b7169203331-01"))],
            "",
        )
        .await;
    receiver.trace(later, 2).await;
    let spans = receiver.spans.lock().unwrap();
    assert!(!spans.iter().any(|s| hex(&s.trace_id) == unsampled));
}
