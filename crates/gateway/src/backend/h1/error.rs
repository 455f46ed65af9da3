//! Why an exchange with a backend, or the body of its response, failed.

use std::io;

/// Why an exchange or a body failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// The connection ended before any byte of a response: on a reused connection, the
    /// backend closed it while it was idle.
    #[error("connection closed before the response")]
    Closed,
    /// Reset (or the request could not be written) before any byte of a response.
    #[error("connection reset before the response: {0}")]
    Reset(io::Error),
    #[error("connection error: {0}")]
    Io(#[from] io::Error),
    #[error("connection closed in the middle of the response head")]
    HeadCut,
    #[error("invalid response head: {0}")]
    Head(&'static str),
    #[error("response head larger than {} KiB", .0 / 1024)]
    HeadTooLarge(usize),
    #[error("connection closed before the response body ended")]
    BodyCut,
    #[error("invalid chunked response body: {0}")]
    Chunked(&'static str),
}

impl Error {
    /// Nothing of a response arrived: on a connection taken from the pool, the backend may
    /// have closed it just as it was taken, and an idempotent request may go again on a new
    /// one.
    pub(crate) fn is_stale(&self) -> bool {
        matches!(self, Error::Closed | Error::Reset(_))
    }
}
