//! WebSocket phase: an upgrade request that passed every phase (routed, validated,
//! authenticated, authorized, policies) goes to the backend as an upgrade; when the backend
//! answers `101`, the client gets it and both connections are spliced, frames relayed both
//! ways as bytes until either side closes or no byte moves for the API's idle timeout.
//!
//! The relay holds nothing of the snapshot but the API's counters: a publish does not cut it.
//! Each API counts its open connections and refuses upgrades past its cap with `503`.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use http::header::{CONNECTION, UPGRADE};
use http::request::Parts;
use http::{HeaderValue, StatusCode};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::compiled::ApiPlan;
use crate::context::RequestContext;
use crate::error::GatewayError;
use crate::observe::log::{SocketClosed, websocket_closed};
use crate::observe::metrics::apis::ApiMetrics;
use crate::request::body::GatewayBody;
use crate::request::headers::X_CA_REQUEST_ID;
use crate::request::outgoing::OutHeaders;
use crate::request::slot::ConnectionSlot;
use crate::response::Answer;

/// One of an API's open WebSocket connections; counted until dropped.
pub(crate) struct OpenSocket {
    metrics: Arc<ApiMetrics>,
}

impl OpenSocket {
    /// A place under the API's cap, or `503`.
    pub(crate) fn take(plan: &ApiPlan) -> Result<OpenSocket, GatewayError> {
        let open = &plan.metrics.websockets_open;
        let before = open.fetch_add(1, Ordering::AcqRel);
        let socket = OpenSocket {
            metrics: plan.metrics.clone(),
        };
        if before >= plan.websocket.max_connections {
            return Err(GatewayError::ServiceUnavailable(format!(
                "the API's {} WebSocket connections are all open (request.websocket.max_connections)",
                plan.websocket.max_connections
            )));
        }
        Ok(socket)
    }
}

impl Drop for OpenSocket {
    fn drop(&mut self) {
        self.metrics.websockets_open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Makes the backend request an upgrade: hop-by-hop stripping dropped `Connection` and
/// `Upgrade`, and a mapped request kept no `Sec-WebSocket-*` header.
pub(crate) fn prepare<'a>(parts: &'a Parts, headers: &mut OutHeaders<'a>) {
    headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    for name in parts.headers.keys() {
        if name.as_str().starts_with("sec-websocket-") && !headers.contains(name) {
            for value in parts.headers.get_all(name) {
                headers.push_client(name, value);
            }
        }
    }
}

/// The `101` for the client, and the relay spawned to run once both sides have switched.
pub(crate) fn splice(
    ctx: &mut RequestContext<'_>,
    plan: &ApiPlan,
    mut backend: Answer,
    socket: OpenSocket,
) -> Result<Answer, GatewayError> {
    let client = ctx
        .extensions
        .remove::<OnUpgrade>()
        .ok_or_else(|| GatewayError::Internal("the client connection cannot be upgraded".into()))?;
    // Where hyper's client left the backend connection's upgrade (`hyper::upgrade::on`).
    let server = backend.extensions.remove::<OnUpgrade>().ok_or_else(|| {
        GatewayError::Internal("the backend connection cannot be upgraded".into())
    })?;
    let mut response = Answer::new(backend.status, backend.headers, GatewayBody::empty());
    response
        .headers
        .insert(X_CA_REQUEST_ID, ctx.request_id.header_value());
    let closed = SocketClosed {
        request_id: ctx.request_id.as_str().to_string(),
        group: ctx
            .routed
            .map(|r| ctx.compiled.router.group_id(r.group).to_string())
            .unwrap_or_default(),
        api: plan.api_name.clone(),
        environment: plan.environment.clone(),
        ..SocketClosed::default()
    };
    let sink = ctx.observers.log.sink().cloned();
    // The client connection stays counted against the listener's cap while the relay runs.
    let slot = ctx.extensions.remove::<ConnectionSlot>();
    let idle = plan.websocket.idle_timeout;
    tokio::spawn(async move {
        let started = Instant::now();
        let mut closed = closed;
        match tokio::try_join!(client, server) {
            Ok((client, server)) => {
                let (up, down, by) = relay(TokioIo::new(client), TokioIo::new(server), idle).await;
                closed.bytes_in = up;
                closed.bytes_out = down;
                closed.closed_by = by;
            }
            Err(e) => {
                tracing::debug!(error = %e, "a WebSocket upgrade did not complete");
                closed.closed_by = "upgrade failed";
            }
        }
        closed.duration = started.elapsed();
        socket
            .metrics
            .websocket_closed(closed.bytes_in, closed.bytes_out, closed.duration);
        if let Some(sink) = &sink {
            websocket_closed(sink, &closed);
        }
        drop((socket, slot));
    });
    Ok(response)
}

/// Relays bytes both ways until a side closes or nothing moves for `idle`; returns the bytes
/// from the client, the bytes to it, and who ended it.
async fn relay<C, S>(client: C, server: S, idle: Duration) -> (u64, u64, &'static str)
where
    C: AsyncRead + AsyncWrite + Unpin,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut client_read, mut client_write) = tokio::io::split(client);
    let (mut server_read, mut server_write) = tokio::io::split(server);
    let mut up = vec![0u8; 16 * 1024];
    let mut down = vec![0u8; 16 * 1024];
    let (mut from_client, mut to_client) = (0u64, 0u64);
    let by = loop {
        tokio::select! {
            read = client_read.read(&mut up) => match read {
                Ok(0) | Err(_) => break "client",
                Ok(n) => {
                    if server_write.write_all(&up[..n]).await.is_err() {
                        break "backend";
                    }
                    from_client += n as u64;
                }
            },
            read = server_read.read(&mut down) => match read {
                Ok(0) | Err(_) => break "backend",
                Ok(n) => {
                    if client_write.write_all(&down[..n]).await.is_err() {
                        break "client";
                    }
                    to_client += n as u64;
                }
            },
            () = tokio::time::sleep(idle) => break "idle",
        }
    };
    let _ = server_write.shutdown().await;
    let _ = client_write.shutdown().await;
    (from_client, to_client, by)
}

/// Whether a backend's answer to an upgrade switched protocols.
pub(crate) fn switched(response: &Answer) -> bool {
    response.status == StatusCode::SWITCHING_PROTOCOLS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bytes_flow_both_ways_until_a_side_closes_or_idles() {
        let (client, mut client_peer) = tokio::io::duplex(64);
        let (server, mut server_peer) = tokio::io::duplex(64);
        let relayed = tokio::spawn(relay(client, server, Duration::from_millis(200)));
        client_peer.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        server_peer.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        server_peer.write_all(b"pong!").await.unwrap();
        let mut buf = [0u8; 5];
        client_peer.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"pong!");
        drop(client_peer);
        assert_eq!(relayed.await.unwrap(), (4, 5, "client"));

        let (client, _client_peer) = tokio::io::duplex(64);
        let (server, _server_peer) = tokio::io::duplex(64);
        let (_, _, by) = relay(client, server, Duration::from_millis(50)).await;
        assert_eq!(by, "idle");
    }
}
