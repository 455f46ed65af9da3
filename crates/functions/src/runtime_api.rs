//! The AWS Lambda Runtime API (`/2018-06-01/runtime/...`) as one worker sees it. Every worker
//! gets its own listener, so the connection tells which worker is asking and nothing the worker
//! sends has to be trusted for that.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Body;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::worker::{Outcome, Worker};

/// Lambda's limit on a synchronous response (and so on what a worker may post).
pub(crate) const MAX_PAYLOAD: usize = 6 * 1024 * 1024;
/// Longest error type and message kept from a worker's report: they end up in an error answer.
const MAX_ERROR_TYPE: usize = 128;
const MAX_ERROR_MESSAGE: usize = 1024;

const PREFIX: &str = "/2018-06-01/runtime/";
const REQUEST_ID: HeaderName = HeaderName::from_static("lambda-runtime-aws-request-id");
const DEADLINE_MS: HeaderName = HeaderName::from_static("lambda-runtime-deadline-ms");
const FUNCTION_ARN: HeaderName = HeaderName::from_static("lambda-runtime-invoked-function-arn");
const TRACE_ID: HeaderName = HeaderName::from_static("lambda-runtime-trace-id");
const ERROR_TYPE: HeaderName = HeaderName::from_static("lambda-runtime-function-error-type");

/// Serves `worker`'s Runtime API until the task is aborted (when the worker exits), which also
/// ends its connections.
pub(crate) async fn serve(listener: TcpListener, worker: Arc<Worker>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let worker = worker.clone();
                    connections.spawn(async move {
                        let service = service_fn(move |request| {
                            let worker = worker.clone();
                            async move { Ok::<_, Infallible>(handle(&worker, request).await) }
                        });
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
                Err(e) => {
                    // Out of descriptors, usually: give the process time to release some.
                    tracing::warn!(error = %e, "Runtime API accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next() => {}
        }
    }
}

pub(crate) async fn handle<B>(worker: &Worker, request: Request<B>) -> Response<Full<Bytes>>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (parts, body) = request.into_parts();
    let Some(route) = parts.uri.path().strip_prefix(PREFIX) else {
        return not_found();
    };
    match (&parts.method, route) {
        (&Method::GET, "invocation/next") => next(worker).await,
        (&Method::POST, "init/error") => {
            let (error_type, message) = reported_error(&parts.headers, body).await;
            worker.init_failed(error_type, message);
            accepted()
        }
        (&Method::POST, route) => {
            match route
                .strip_prefix("invocation/")
                .and_then(|r| r.rsplit_once('/'))
            {
                Some((id, "response")) => response(worker, id, body).await,
                Some((id, "error")) => {
                    if !worker.is_running(id) {
                        return invalid_request_id();
                    }
                    let (error_type, message) = reported_error(&parts.headers, body).await;
                    let outcome = Outcome::Error {
                        error_type,
                        message,
                    };
                    if worker.complete(id, outcome) {
                        accepted()
                    } else {
                        invalid_request_id()
                    }
                }
                _ => not_found(),
            }
        }
        _ => not_found(),
    }
}

async fn next(worker: &Worker) -> Response<Full<Bytes>> {
    let next = worker.next().await;
    let mut answer = Response::new(Full::new(next.event));
    let headers = answer.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(DEADLINE_MS, HeaderValue::from(next.deadline_ms));
    // All three are made by us from checked parts; a value that is not a valid header is left
    // out rather than trusted.
    for (name, value) in [
        (REQUEST_ID, next.request_id.as_str()),
        (FUNCTION_ARN, &next.arn),
        (TRACE_ID, &next.trace_id),
    ] {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    }
    answer
}

async fn response<B>(worker: &Worker, id: &str, body: B) -> Response<Full<Bytes>>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if !worker.is_running(id) {
        return invalid_request_id();
    }
    match read_body(body).await {
        Ok(body) => {
            if worker.complete(id, Outcome::Response(body)) {
                accepted()
            } else {
                invalid_request_id()
            }
        }
        Err(BodyError::TooLarge) => {
            worker.complete(id, Outcome::TooLarge);
            // Lambda's runtimes treat this answer as fatal; the worker's state is unknown.
            worker.kill();
            error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                &format!("Exceeded maximum allowed payload size ({MAX_PAYLOAD} bytes)."),
            )
        }
        // The runtime hung up mid-body; the invocation runs on until it answers or times out.
        Err(BodyError::Read) => error(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            "the response body could not be read",
        ),
    }
}

enum BodyError {
    TooLarge,
    Read,
}

async fn read_body<B>(body: B) -> Result<Bytes, BodyError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    match Limited::new(body, MAX_PAYLOAD).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => Err(BodyError::TooLarge),
        Err(_) => Err(BodyError::Read),
    }
}

/// The error type and message of an `/error` post: `errorType` and `errorMessage` of its JSON
/// body, else the error-type header, else Lambda's `Unhandled`.
async fn reported_error<B>(headers: &HeaderMap, body: B) -> (String, String)
where
    B: Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let report: Option<serde_json::Value> = match read_body(body).await {
        Ok(body) => serde_json::from_slice(&body).ok(),
        Err(_) => None,
    };
    let field = |name| {
        report
            .as_ref()
            .and_then(|r| r.get(name))
            .and_then(serde_json::Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let error_type = field("errorType")
        .or_else(|| {
            headers
                .get(ERROR_TYPE)
                .and_then(|v| v.to_str().ok())
                .filter(|s| !s.is_empty())
        })
        .unwrap_or("Unhandled");
    let message = field("errorMessage").unwrap_or("");
    (
        clip(error_type, MAX_ERROR_TYPE),
        clip(message, MAX_ERROR_MESSAGE),
    )
}

fn clip(text: &str, max: usize) -> String {
    text[..text.floor_char_boundary(max)].to_owned()
}

fn accepted() -> Response<Full<Bytes>> {
    json(StatusCode::ACCEPTED, r#"{"status":"OK"}"#.into())
}

fn invalid_request_id() -> Response<Full<Bytes>> {
    error(
        StatusCode::BAD_REQUEST,
        "InvalidRequestID",
        "Invalid request ID: the worker is not running that invocation",
    )
}

fn not_found() -> Response<Full<Bytes>> {
    error(
        StatusCode::NOT_FOUND,
        "InvalidRequest",
        "not a Lambda Runtime API path",
    )
}

fn error(status: StatusCode, error_type: &str, message: &str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({ "errorMessage": message, "errorType": error_type });
    json(status, body.to_string())
}

fn json(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut answer = Response::new(Full::new(Bytes::from(body)));
    *answer.status_mut() = status;
    answer
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    answer
}

#[cfg(test)]
mod tests {
    use tokio::sync::oneshot;

    use super::*;
    use crate::worker::Handoff;

    fn request(method: Method, path: &str, body: impl Into<Bytes>) -> Request<Full<Bytes>> {
        Request::builder()
            .method(method)
            .uri(path)
            .body(Full::new(body.into()))
            .unwrap()
    }

    async fn body_json(answer: Response<Full<Bytes>>) -> serde_json::Value {
        let body = answer.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice(&body).unwrap()
    }

    /// A worker offered invocation `id`, and where its outcome arrives.
    fn waiting(id: &str) -> (Worker, oneshot::Receiver<Outcome>) {
        let worker = Worker::new(1);
        let (done, outcome) = oneshot::channel();
        let handoff = Handoff {
            request_id: id.into(),
            event: Bytes::from_static(br#"{"x":1}"#),
            deadline_ms: 1_700_000_000_000,
            arn: Arc::from("arn:aws:lambda:pylon:000000000000:function:f"),
            trace_id: "Root=1-1-1;Parent=2;Sampled=0".into(),
            done,
        };
        assert!(worker.hand(handoff).is_ok());
        (worker, outcome)
    }

    fn get_next() -> Request<Full<Bytes>> {
        request(Method::GET, "/2018-06-01/runtime/invocation/next", "")
    }

    /// A worker running invocation `id`.
    async fn running(id: &str) -> (Worker, oneshot::Receiver<Outcome>) {
        let (worker, outcome) = waiting(id);
        assert_eq!(handle(&worker, get_next()).await.status(), StatusCode::OK);
        (worker, outcome)
    }

    #[tokio::test]
    async fn next_hands_out_the_event_with_lambda_headers() {
        let (worker, _outcome) = waiting("req-1");
        let next = handle(&worker, get_next()).await;
        assert_eq!(next.status(), StatusCode::OK);
        let h = next.headers();
        assert_eq!(h["lambda-runtime-aws-request-id"], "req-1");
        assert_eq!(h["lambda-runtime-deadline-ms"], "1700000000000");
        assert_eq!(
            h["lambda-runtime-invoked-function-arn"],
            "arn:aws:lambda:pylon:000000000000:function:f"
        );
        assert_eq!(
            h["lambda-runtime-trace-id"],
            "Root=1-1-1;Parent=2;Sampled=0"
        );
        assert_eq!(h["content-type"], "application/json");
        let body = next.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], br#"{"x":1}"#);
    }

    #[tokio::test]
    async fn response_completes_the_invocation() {
        let (worker, outcome) = running("req-1").await;
        let answer = handle(
            &worker,
            request(
                Method::POST,
                "/2018-06-01/runtime/invocation/req-1/response",
                "\"ok\"",
            ),
        )
        .await;
        assert_eq!(answer.status(), StatusCode::ACCEPTED);
        assert!(matches!(outcome.await, Ok(Outcome::Response(b)) if &b[..] == b"\"ok\""));
    }

    #[tokio::test]
    async fn unknown_request_id_is_refused_and_the_invocation_runs_on() {
        let (worker, _outcome) = running("req-1").await;
        for path in [
            "/2018-06-01/runtime/invocation/req-2/response",
            "/2018-06-01/runtime/invocation/req-2/error",
        ] {
            let answer = handle(&worker, request(Method::POST, path, "{}")).await;
            assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
            assert_eq!(body_json(answer).await["errorType"], "InvalidRequestID");
        }
        assert!(worker.is_running("req-1"));
    }

    #[tokio::test]
    async fn response_without_a_running_invocation_is_refused() {
        let worker = Worker::new(1);
        let answer = handle(
            &worker,
            request(
                Method::POST,
                "/2018-06-01/runtime/invocation/req-1/response",
                "{}",
            ),
        )
        .await;
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
        assert_eq!(body_json(answer).await["errorType"], "InvalidRequestID");
    }

    #[tokio::test]
    async fn unknown_paths_are_404() {
        let worker = Worker::new(1);
        for (method, path) in [
            (Method::GET, "/2018-06-01/runtime/invocation/nope"),
            (Method::GET, "/2019-01-01/runtime/invocation/next"),
            (Method::POST, "/2018-06-01/runtime/invocation/next"),
            (Method::POST, "/2018-06-01/runtime/invocation/req-1/other"),
            (Method::GET, "/"),
        ] {
            let answer = handle(&worker, request(method, path, "")).await;
            assert_eq!(answer.status(), StatusCode::NOT_FOUND, "{path}");
        }
    }

    #[tokio::test]
    async fn error_report_gives_type_and_message() {
        let (worker, outcome) = running("req-1").await;
        let report = r#"{"errorMessage":"bad input","errorType":"ValueError","requestId":"req-1","stackTrace":["  File \"app.py\"\n"]}"#;
        let answer = handle(
            &worker,
            request(
                Method::POST,
                "/2018-06-01/runtime/invocation/req-1/error",
                report,
            ),
        )
        .await;
        assert_eq!(answer.status(), StatusCode::ACCEPTED);
        assert!(matches!(
            outcome.await,
            Ok(Outcome::Error { error_type, message }) if error_type == "ValueError" && message == "bad input"
        ));
    }

    #[tokio::test]
    async fn error_report_that_is_not_json_falls_back_to_the_header() {
        let (worker, outcome) = running("req-1").await;
        let mut post = request(
            Method::POST,
            "/2018-06-01/runtime/invocation/req-1/error",
            "not json",
        );
        post.headers_mut().insert(
            "Lambda-Runtime-Function-Error-Type",
            HeaderValue::from_static("Runtime.Custom"),
        );
        assert_eq!(handle(&worker, post).await.status(), StatusCode::ACCEPTED);
        assert!(matches!(
            outcome.await,
            Ok(Outcome::Error { error_type, message }) if error_type == "Runtime.Custom" && message.is_empty()
        ));
    }

    #[tokio::test]
    async fn oversized_response_fails_the_invocation() {
        let (worker, outcome) = running("req-1").await;
        let answer = handle(
            &worker,
            request(
                Method::POST,
                "/2018-06-01/runtime/invocation/req-1/response",
                vec![b'x'; MAX_PAYLOAD + 1],
            ),
        )
        .await;
        assert_eq!(answer.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(matches!(outcome.await, Ok(Outcome::TooLarge)));
        assert!(!worker.usable());
    }

    #[tokio::test]
    async fn init_error_fails_the_waiting_cold_start() {
        let (worker, outcome) = waiting("req-1");
        let report = r#"{"errorMessage":"Unable to import module 'nope'","errorType":"Runtime.ImportModuleError"}"#;
        let answer = handle(
            &worker,
            request(Method::POST, "/2018-06-01/runtime/init/error", report),
        )
        .await;
        assert_eq!(answer.status(), StatusCode::ACCEPTED);
        assert!(matches!(
            outcome.await,
            Ok(Outcome::InitError { error_type, .. }) if error_type == "Runtime.ImportModuleError"
        ));
        assert!(!worker.usable());
    }
}
