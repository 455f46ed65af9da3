//! The listener: one single-threaded event loop per core (nginx's worker model), all accepting
//! from the same socket, each with its own pooled backend client. A request and the backend
//! connection serving it stay on one thread: no work stealing, no cross-thread wake-ups, which
//! on a loaded 2-core machine were most of the proxy's CPU. On shutdown every loop stops
//! accepting and drains its connections' in-flight requests.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};

use crate::Gateway;
use crate::backend::http;

/// How long in-flight requests may take to finish after shutdown fires.
const DRAIN_DEADLINE: Duration = Duration::from_secs(30);

pub(crate) async fn serve(
    gateway: Arc<Gateway>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let listener = listener.into_std()?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut finished = Vec::with_capacity(workers);
    for index in 0..workers {
        let socket = listener.try_clone()?;
        let gateway = gateway.clone();
        let stop = stop_rx.clone();
        let (done_tx, done_rx) = oneshot::channel();
        std::thread::Builder::new()
            .name(format!("pylon-gateway-{index}"))
            .spawn(move || {
                let result = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .and_then(|runtime| {
                        runtime.block_on(async move {
                            worker(gateway, TcpListener::from_std(socket)?, stop).await
                        })
                    });
                let _ = done_tx.send(result);
            })?;
        finished.push(done_rx);
    }
    drop(listener);
    shutdown.await;
    let _ = stop_tx.send(true);
    let mut outcome = Ok(());
    for done in finished {
        match done.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => outcome = Err(e),
            Err(_) => outcome = Err(std::io::Error::other("a gateway worker thread died")),
        }
    }
    outcome
}

/// One event loop: accepts, serves, and on `stop` drains.
async fn worker(
    gateway: Arc<Gateway>,
    listener: TcpListener,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let client = http::client();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new());
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.wait_for(|stop| *stop) => break,
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "set_nodelay failed");
        }
        let gateway = gateway.clone();
        let client = client.clone();
        let service = service_fn(move |request| {
            let gateway = gateway.clone();
            let client = client.clone();
            async move { Ok::<_, Infallible>(gateway.handle(&client, request, peer).await) }
        });
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => tracing::debug!("worker drained"),
        () = tokio::time::sleep(DRAIN_DEADLINE) => {
            tracing::warn!("shutdown deadline passed with requests still in flight");
        }
    }
    Ok(())
}
