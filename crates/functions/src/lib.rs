//! Hosted functions: Pylon runs a function's code itself, in worker processes that speak the
//! AWS Lambda Runtime API, so code written for Lambda runs unchanged under the official runtime
//! interface clients (e.g. `python -m awslambdaric app.handler`). Workers start on demand, are
//! reused while warm, and are killed when they overrun their deadline or their function is
//! replaced.

mod error;
mod function;
mod host;
mod runtime_api;
mod spawn;
mod worker;

pub use error::InvokeError;
pub use function::{HostedFunction, Invoked};
pub use host::{DEFAULT_IDLE_TIMEOUT, FunctionHost, HostConfig};
