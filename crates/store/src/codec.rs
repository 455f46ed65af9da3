//! Turning records into JSON bodies and rows back into records, and database errors into
//! messages a user can act on.

use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::error::{Result, StoreError};

pub(crate) fn encode<T: Serialize>(record: &T) -> Result<String> {
    Ok(serde_json::to_string(record)?)
}

/// Decodes the JSON record held in column `body`.
pub(crate) fn decode<T: DeserializeOwned>(row: &AnyRow) -> Result<T> {
    let body: String = row.try_get("body")?;
    Ok(serde_json::from_str(&body)?)
}

pub(crate) fn decode_all<T: DeserializeOwned>(rows: &[AnyRow]) -> Result<Vec<T>> {
    rows.iter().map(decode).collect()
}

/// The record `sql` selects by `key` (its `body` column), decoded; `NotFound` naming `kind`
/// when there is none.
pub(crate) async fn fetch_one<T: DeserializeOwned>(
    conn: &mut AnyConnection,
    sql: &'static str,
    key: &str,
    kind: &'static str,
) -> Result<T> {
    let row = sqlx::query(sql)
        .bind(key)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| crate::error::not_found(kind, key))?;
    decode(&row)
}

/// `Conflict` with `taken` when `sql` (selecting by `$1` a name, and `$2` the id of the record
/// being written, to leave it out) finds another record.
pub(crate) async fn check_name_free(
    conn: &mut AnyConnection,
    sql: &'static str,
    name: &str,
    id: &str,
    taken: impl FnOnce() -> String,
) -> Result<()> {
    let found = sqlx::query(sql)
        .bind(name)
        .bind(id)
        .fetch_optional(conn)
        .await?
        .is_some();
    if found {
        return Err(crate::error::StoreError::Conflict(taken()));
    }
    Ok(())
}

/// Maps a unique-constraint violation to `Conflict(message())`; other errors pass through.
/// Callers check the likely conflicts first to name them precisely; this catches the races.
pub(crate) fn on_unique(err: sqlx::Error, message: impl FnOnce() -> String) -> StoreError {
    match &err {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(message()),
        _ => StoreError::Database(err),
    }
}

/// Environment names are stored uppercase and selected case-insensitively.
pub(crate) fn env_key(name: &str) -> String {
    name.to_ascii_uppercase()
}
