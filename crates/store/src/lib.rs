//! Persistence of Pylon's drafts and deployments over `sqlx::AnyPool`: SQLite now, PostgreSQL
//! later on the same code path (portable SQL, `$N` placeholders, JSON records kept as TEXT).
//!
//! Each resource has one table with indexed columns for what is looked up or must be unique,
//! and the whole record as JSON in `body`. The admin layer validates input and makes ids and
//! timestamps; the store persists, enforces uniqueness and references, and says why it refused.

mod apis;
mod apps;
mod authorizations;
mod backends;
mod certificates;
mod codec;
mod deployments;
mod environments;
mod error;
mod functions;
mod groups;
mod handle;
mod policies;
mod schema;
mod secrets;
mod snapshot;
mod upstreams;

#[cfg(test)]
mod fixtures;

pub use deployments::{ServedRoute, ServedRule};
pub use error::{Result, StoreError};
pub(crate) use handle::Touch;
pub use handle::{Revision, Store};
pub use secrets::{SECRET_KEY_FILE, SecretKey};
