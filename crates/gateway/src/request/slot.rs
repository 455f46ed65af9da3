//! Keeps a client connection counted while a WebSocket outlives the HTTP exchange that opened
//! it: the listener puts a slot in an upgrade request's extensions, and the relay holds it
//! until the WebSocket closes. The listener's own guard type stays the listener's.

use std::sync::Arc;

#[derive(Clone)]
pub(crate) struct ConnectionSlot {
    /// Held for its drop, which frees the place when the last holder lets go.
    _guard: Arc<dyn Send + Sync>,
}

impl ConnectionSlot {
    pub(crate) fn new(guard: Arc<dyn Send + Sync>) -> Self {
        ConnectionSlot { _guard: guard }
    }
}
