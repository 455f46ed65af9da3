//! What the kinds that send an HTTP request share: checking the backend path once, handing the
//! body from one attempt to the next, and telling the client's failures from the backend's.

use ::http::HeaderValue;
use ::http::uri::{Authority, PathAndQuery};

use super::client::SendError;
use super::pool::{Endpoint, Negotiated};
use crate::compiled::jwt::error_chain;
use crate::error::GatewayError;
use crate::request::body::{ForwardBody, ReclaimableBody};
use crate::request::inbound::ClientBody;
use crate::request::outgoing::OutBody;

/// Where a backend request went: the address called, the Host header the gateway set
/// (`None` when the API's constant Host, already among the headers, was sent), and over what.
pub(crate) struct Sent<'p> {
    pub(crate) authority: &'p Authority,
    pub(crate) host: Option<&'p HeaderValue>,
    pub(crate) negotiated: Negotiated,
    /// Over TLS: the name the backend's certificate was verified for (or that it was not).
    pub(crate) verified: Option<&'p str>,
}

impl<'p> Sent<'p> {
    pub(crate) fn new(
        endpoint: &'p Endpoint,
        host: Option<&'p HeaderValue>,
        negotiated: Negotiated,
    ) -> Self {
        Sent {
            authority: endpoint.authority(),
            host,
            negotiated,
            verified: endpoint.tls().map(|t| t.verified.as_str()),
        }
    }
}

/// The body for one attempt, and whether it can be handed to another.
pub(crate) enum Attempts {
    Bytes(Option<::bytes::Bytes>),
    Stream(Option<ClientBody>),
    Reclaimable(ReclaimableBody),
}

impl Attempts {
    pub(crate) fn new(body: OutBody, may_retry: bool) -> Self {
        match body {
            OutBody::Empty => Self::Bytes(None),
            OutBody::Bytes(b) => Self::Bytes(Some(b)),
            OutBody::Stream(s) if may_retry => Self::Reclaimable(ReclaimableBody::new(s)),
            OutBody::Stream(s) => Self::Stream(Some(s)),
        }
    }

    /// The body for the next attempt; `None` once a streamed body has been (partly) sent.
    pub(crate) fn next(&mut self) -> Option<ForwardBody> {
        match self {
            Self::Bytes(b) => Some(ForwardBody::Full(b.clone())),
            Self::Stream(s) => s.take().map(ForwardBody::Stream),
            Self::Reclaimable(r) => r.reclaim().map(ForwardBody::Reclaimable),
        }
    }
}

/// The backend request's path and query, checked once for every attempt.
pub(crate) fn path(path_and_query: String) -> Result<PathAndQuery, GatewayError> {
    PathAndQuery::try_from(path_and_query)
        .map_err(|e| GatewayError::Internal(format!("backend path: {e}")))
}

/// The client's own body failing while it streamed to the backend (broken chunked framing,
/// a connection cut mid-body) is the client's error, not the backend's: hyper reports it as
/// a user-body error whose cause is the error of the client's `Incoming`.
fn client_body_error(error: &hyper::Error) -> Option<GatewayError> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(h) = e.downcast_ref::<hyper::Error>()
            && h.is_user()
            && let Some(cause) = std::error::Error::source(h)
            && cause.downcast_ref::<hyper::Error>().is_some()
        {
            return Some(GatewayError::RequestBody(cause.to_string()));
        }
        current = e.source();
    }
    None
}

/// A failed backend call: the client's body, or the backend.
pub(crate) fn failed(target: impl FnOnce() -> String, error: &SendError) -> GatewayError {
    let reason = match error {
        SendError::Connect(reason) => reason.clone(),
        SendError::Request(e) => match client_body_error(e) {
            Some(client) => return client,
            None => error_chain(e),
        },
        SendError::Exchange(e) => e.to_string(),
    };
    GatewayError::BackendFailed {
        target: target(),
        reason,
    }
}
