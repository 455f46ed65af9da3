//! The store's error type: what went wrong, in words the admin API can hand to a user.

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{kind} `{id}` not found")]
    NotFound { kind: &'static str, id: String },
    /// Unique name taken, still referenced, builtin, ...
    #[error("{0}")]
    Conflict(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("corrupt record: {0}")]
    Corrupt(#[from] serde_json::Error),
    /// An encrypted value that does not decrypt (most likely a different secret key).
    #[error("{0}")]
    Secret(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

pub(crate) fn not_found(kind: &'static str, id: impl Into<String>) -> StoreError {
    StoreError::NotFound {
        kind,
        id: id.into(),
    }
}
