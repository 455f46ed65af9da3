//! What can go wrong with one invocation, worded for the caller of the API in front of it.

use std::time::Duration;

/// Why an invocation produced no response. The messages are meant to be shown to API callers
/// (in 502, 504 and 429 answers): they never carry a worker's output beyond the error type
/// and message it reported itself.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The function's handler failed (the worker posted `/invocation/<id>/error`).
    #[error("the function failed with {error_type}: {message}")]
    Function { error_type: String, message: String },
    /// The function could not initialize (the worker posted `/init/error`); the worker is gone.
    #[error("the function failed to initialize with {error_type}: {message}")]
    Init { error_type: String, message: String },
    /// The invocation's deadline passed; the worker was killed.
    #[error("the function did not answer within {} ms and was stopped", after.as_millis())]
    Timeout { after: Duration },
    /// The worker process exited while it ran the invocation.
    #[error("the function's worker process exited during the invocation ({status})")]
    Crashed { status: String },
    /// The function already runs as many invocations as it may.
    #[error("the function is already running its limit of {limit} concurrent invocations")]
    Throttled { limit: u32 },
    /// The function's command could not be started.
    #[error("the function's worker could not be started: {reason}")]
    Spawn { reason: String },
    /// The function was removed or replaced, or Pylon is shutting down.
    #[error("the function was removed or replaced, or Pylon is shutting down")]
    Retired,
}
