//! Pylon's data plane: serves published APIs. A [`Gateway`] holds the compiled snapshot of what
//! is published in an `ArcSwap`; [`Gateway::apply`] compiles a new one and swaps it in, while
//! requests in flight finish on the one they started with. [`Gateway::serve`] accepts HTTP/1.1
//! and h2c connections and runs each request through the phases in `pipeline`.

mod backend;
mod clock;
mod compiled;
mod context;
mod error;
mod fast_hash;
mod hop;
mod limits;
mod listener;
mod observe;
mod pipeline;
mod policy;
mod request;
mod response;
mod served;
mod tls;
mod urlencoded;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use http::Request;

pub use pylon_functions::{DEFAULT_IDLE_TIMEOUT, FunctionHost, HostConfig};
use pylon_model::{Change, Snapshot};
use pylon_router::RouteError;

use backend::client::HttpClient;
pub use backend::tls::check_ca_bundle;
use compiled::{Carried, Compiled};
pub use limits::{Limits, MIN_HEADER_SIZE};
pub use observe::log::sink::AccessLogSink;
pub use observe::metrics::registry::CONTENT_TYPE as METRICS_CONTENT_TYPE;
pub use observe::otel::TracingConfig;
pub use observe::trace::{
    BackendTlsTrace, CallerTrace, DebugTrace, ErrorTrace, FunctionTrace, HttpMessage,
    ParameterTrace, PhaseTrace, PolicyTrace, RouteTrace,
};
pub use policy::window::set_clock_offset;
pub use request::body::GatewayBody;
use request::client::Peer;
use request::inbound::ClientBody;
use response::Answer;
use served::Served;
pub use tls::certificate::{CertificateError, CertificateInfo, inspect as inspect_certificate};

/// How the gateway is set up; what it serves comes from snapshots.
#[derive(Clone)]
pub struct GatewayConfig {
    /// Groups are also served on `<group-id>.<base_domain>`.
    pub base_domain: String,
    pub limits: Limits,
    /// OpenTelemetry traces, when set.
    pub tracing: Option<TracingConfig>,
    /// Where each request's access-log line goes.
    pub access_log: AccessLogSink,
    /// Runs `hosted` function backends; `None`: hosting is off, and they answer 503.
    pub functions: Option<Arc<FunctionHost>>,
}

pub struct Gateway {
    config: GatewayConfig,
    /// The compiled snapshot (`None` only if even the empty one failed to compile: it cannot,
    /// in practice) and the limits.
    served: Served,
    carried: Carried,
    /// Applies compile one at a time, so target health is handed over in order.
    applying: Mutex<()>,
    telemetry: Option<observe::otel::Telemetry>,
    /// What the HTTPS listener presents, kept beside the compiled snapshot: a handshake needs
    /// no route, and a change of certificates recompiles nothing else.
    certificates: tls::table::Certificates,
    /// The HTTPS listener's port once it runs (0: none).
    https_port: AtomicU16,
}

impl Gateway {
    /// A gateway serving nothing until the first [`Gateway::apply`].
    pub fn new(config: GatewayConfig) -> Arc<Gateway> {
        let carried = Carried {
            functions: config.functions.clone(),
            ..Carried::default()
        };
        let compiled = match Compiled::build(&Snapshot::default(), &config.base_domain, &carried) {
            Ok(c) => Some(Arc::new(c)),
            Err(e) => {
                tracing::error!(error = %e, "compiling the empty snapshot failed");
                None
            }
        };
        let telemetry = config.tracing.as_ref().and_then(|t| {
            observe::otel::Telemetry::start(t)
                .inspect_err(|e| tracing::error!(error = %e, "traces are off"))
                .ok()
        });
        Arc::new(Gateway {
            telemetry,
            served: Served::new(compiled, config.limits.clone()),
            config,
            carried,
            applying: Mutex::new(()),
            certificates: Default::default(),
            https_port: AtomicU16::new(0),
        })
    }

    /// Compiles `snapshot` and swaps it in atomically. Fails (and keeps serving the previous
    /// snapshot) only on a routing conflict; an API whose backend cannot be resolved is served
    /// as an error.
    pub fn apply(&self, snapshot: &Snapshot) -> Result<(), RouteError> {
        let _guard = self.applying.lock().unwrap_or_else(|p| p.into_inner());
        // Before the compile, which looks the hosted functions up.
        if let Some(functions) = &self.carried.functions {
            functions.apply(&snapshot.functions);
        }
        let compiled = Compiled::build(snapshot, &self.config.base_domain, &self.carried)?;
        self.carried.metrics.applied(compiled.upstreams());
        self.served.set_compiled(Arc::new(compiled));
        self.certificates
            .apply(Some(&snapshot.certificates), &snapshot.groups);
        tracing::info!(
            deployments = snapshot.deployments.len(),
            groups = snapshot.groups.len(),
            "snapshot applied"
        );
        Ok(())
    }

    /// Applies what changed since the last apply: a whole snapshot is compiled as
    /// [`Gateway::apply`] does; a partial change compiles only the groups it names and reuses
    /// the rest of what is served.
    pub fn apply_change(&self, change: &Change) -> Result<(), RouteError> {
        let partial = match change {
            Change::Full(snapshot) => return self.apply(snapshot),
            Change::Partial(partial) => partial,
        };
        let _guard = self.applying.lock().unwrap_or_else(|p| p.into_inner());
        let Some(current) = self.served.compiled() else {
            return Err(RouteError::Internal(
                "a partial change needs a snapshot applied before it".into(),
            ));
        };
        let compiled = current.update(partial, &self.config.base_domain, &self.carried)?;
        self.carried.metrics.applied(compiled.upstreams());
        self.served.set_compiled(Arc::new(compiled));
        self.certificates.apply(None, &partial.groups);
        tracing::info!(
            changed_groups = partial.changed.len(),
            apps = partial.apps.is_some(),
            "change applied"
        );
        Ok(())
    }

    /// Records the store revision of what is served, for the `pylon_config_revision` gauge:
    /// the gateway applies snapshots and changes without knowing their revision, whoever
    /// hands them over does.
    pub fn set_revision(&self, revision: u64) {
        self.carried.metrics.set_revision(revision);
    }

    /// The metrics exposition, in the format [`METRICS_CONTENT_TYPE`] names.
    pub fn metrics(&self) -> String {
        self.carried.metrics.encode()
    }

    /// Whether a compiled snapshot is being served (readiness).
    pub fn is_ready(&self) -> bool {
        self.served.has_compiled()
    }

    /// The listener's limits now in force.
    pub fn limits(&self) -> Arc<Limits> {
        self.served.limits()
    }

    /// Replaces the listener's limits; connections accepted from now on get them.
    pub fn set_limits(&self, limits: Limits) {
        self.served.set_limits(limits);
    }

    /// Serves connections from `listener` until `shutdown` resolves, then stops accepting and
    /// lets in-flight requests finish (for at most 30 seconds) before returning.
    pub async fn serve(
        self: Arc<Self>,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.serve_with_tls(listener, None, shutdown).await
    }

    /// As [`Gateway::serve`], with HTTPS on `tls_listener` too: each handshake gets the
    /// certificate its SNI names (the module doc of `tls::table`), from the certificates
    /// applied at that moment. Both listeners share the workers and the connection cap.
    pub async fn serve_with_tls(
        self: Arc<Self>,
        listener: tokio::net::TcpListener,
        tls_listener: Option<tokio::net::TcpListener>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let tls = match tls_listener {
            None => None,
            Some(tls_listener) => {
                let config = tls::server_config(self.certificates.resolver())
                    .map_err(|e| std::io::Error::other(format!("TLS configuration: {e}")))?;
                self.https_port
                    .store(tls_listener.local_addr()?.port(), Ordering::Relaxed);
                Some((tls_listener, config))
            }
        };
        listener::serve(self, listener, tls, shutdown).await
    }

    /// Online debugging: runs `request` through the real pipeline on the current snapshot,
    /// calling the real backend, and returns what happened in each phase. The request's Host
    /// header picks the group as for any request; `secure` runs it as a call that came over
    /// TLS (for the API's `protocols`).
    pub async fn debug(&self, request: Request<bytes::Bytes>, secure: bool) -> DebugTrace {
        let Some(compiled) = self.served.compiled() else {
            return DebugTrace::default();
        };
        let client = backend::client::client();
        let (mut parts, body) = request.into_parts();
        let extensions = std::mem::take(&mut parts.extensions);
        let peer = Peer::new(SocketAddr::from(([127, 0, 0, 1], 0)));
        let (arrival, normalized) = pipeline::normalize_request(&compiled, &mut parts);
        let mut ctx = context::RequestContext::new(
            &compiled,
            &parts,
            extensions,
            &peer,
            arrival.client_path.as_deref(),
            &self.config.access_log,
        );
        arrival.settle(&mut ctx);
        ctx.body_len = Some(body.len() as u64);
        ctx.secure = secure;
        let mut recorder = observe::trace::Trace::default();
        recorder.out.request = observe::trace::message(
            Some(parts.method.as_str()),
            Some(parts.uri.to_string()),
            None,
            &parts.headers,
            &body,
        );
        ctx.observers.trace = Some(Box::new(recorder));
        // An operator's test call, not traffic: the metrics do not count it.
        ctx.observers.metrics = Default::default();
        let result = match normalized {
            Ok(()) => pipeline::run(&mut ctx, &client, pipeline::Inbound::Bytes(body)).await,
            Err(e) => Err(e),
        };
        let response = pipeline::finish(&mut ctx, result);
        let mut recorder = ctx.observers.trace.take().map(|b| *b).unwrap_or_default();
        let bytes = observe::trace::collect(response.body).await;
        let failed = recorder.out.error.is_some();
        if let Some(backend) = recorder.out.backend_response.as_mut()
            && !failed
        {
            let shown = observe::trace::message(None, None, None, &http::HeaderMap::new(), &bytes);
            backend.body = shown.body;
            backend.body_bytes = shown.body_bytes;
        }
        recorder.out.response = observe::trace::message(
            None,
            None,
            Some(response.status.as_u16()),
            &response.headers.to_map(),
            &bytes,
        );
        recorder.out
    }

    /// One request, on the snapshot current when it arrived.
    /// `client` is the calling worker's own pool.
    async fn handle(
        &self,
        client: &HttpClient,
        parts: &mut http::request::Parts,
        body: ClientBody,
        peer: &Peer,
        secure: bool,
    ) -> Answer {
        let current = self.served.current();
        match &current.compiled {
            Some(compiled) => {
                let limits = &current.limits;
                let telemetry = self.telemetry.as_ref();
                let edge = pipeline::Edge {
                    trusted_proxies: &limits.trusted_proxies,
                    telemetry,
                    access_log: &self.config.access_log,
                    https_port: match self.https_port.load(Ordering::Relaxed) {
                        0 => None,
                        port => Some(port),
                    },
                };
                pipeline::handle(compiled, client, parts, body, peer, secure, &edge).await
            }
            None => {
                let id = request::id::RequestId::generate();
                error::render(
                    &error::GatewayError::Internal("no compiled snapshot".into()),
                    &id,
                )
                .into()
            }
        }
    }
}

impl listener::Service for Gateway {
    fn limits(&self) -> Arc<Limits> {
        Gateway::limits(self)
    }

    fn handle(
        &self,
        client: &HttpClient,
        parts: &mut http::request::Parts,
        body: ClientBody,
        peer: &Peer,
        secure: bool,
    ) -> impl Future<Output = Answer> + Send {
        Gateway::handle(self, client, parts, body, peer, secure)
    }
}
