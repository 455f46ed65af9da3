//! What the listener serves: the gateway, known here only as this trait, so that the listener
//! sits below the facade that starts it instead of importing it back.

use std::future::Future;
use std::sync::Arc;

use http::request::Parts;

use crate::backend::client::HttpClient;
use crate::limits::Limits;
use crate::request::client::Peer;
use crate::request::inbound::ClientBody;
use crate::response::Answer;

/// What the listener answers each request with: the gateway, which implements it in `lib.rs`.
pub(crate) trait Service: Send + Sync + 'static {
    /// The limits now in force; read per connection, so a change reaches new connections.
    fn limits(&self) -> Arc<Limits>;

    /// One request: its head in `parts`, which the caller keeps (the pipeline may rewrite it),
    /// and its body. `client` is the calling worker's own backend pool; `secure`, whether it
    /// came over TLS.
    fn handle(
        &self,
        client: &HttpClient,
        parts: &mut Parts,
        body: ClientBody,
        peer: &Peer,
        secure: bool,
    ) -> impl Future<Output = Answer> + Send;
}
