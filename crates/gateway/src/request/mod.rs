//! What every phase shares about a request, below all of them: its id and the `X-Ca-*` names,
//! its bodies, its parameter values and the backend request built from it. Nothing here imports
//! a phase, the context or the compiled snapshot, so any of them may import it.

pub(crate) mod body;
pub(crate) mod client;
pub(crate) mod headers;
pub(crate) mod id;
pub(crate) mod inbound;
pub(crate) mod outgoing;
pub(crate) mod slot;
pub(crate) mod values;
