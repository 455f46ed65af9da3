//! The request on its way through: the client's body as the early phases leave it, and the
//! backend request the forward phase builds and a backend sends.

use bytes::Bytes;
use http::HeaderMap;
use hyper::body::Incoming;

/// The client's body as the earlier phases left it.
pub(crate) enum RequestBody {
    Stream(Incoming),
    /// A body read into memory: a form whose parameters are read or signed, a body whose
    /// Content-MD5 is checked, or a body given whole (online debugging).
    Buffered {
        bytes: Bytes,
        is_form: bool,
    },
}

pub(crate) enum OutBody {
    Empty,
    Bytes(Bytes),
    Stream(Incoming),
}

/// The backend request, minus the backend's address and Host.
pub(crate) struct Outgoing {
    pub(crate) method: http::Method,
    pub(crate) path_and_query: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: OutBody,
}
