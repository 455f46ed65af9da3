//! The one validation error type: which field, what is wrong with it.

use serde::Serialize;

/// A rejected input, naming the field (a JSON path such as `request.parameters[2].name`)
/// and the problem in words a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error, utoipa::ToSchema)]
#[error("{field}: {message}")]
pub struct ValidationError {
    pub field: String,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

pub(crate) fn check(
    ok: bool,
    field: &str,
    message: impl Into<String>,
) -> Result<(), ValidationError> {
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new(field, message))
    }
}

pub(crate) fn non_empty_name(value: &str, field: &str, max: usize) -> Result<(), ValidationError> {
    check(!value.trim().is_empty(), field, "must not be empty")?;
    check(
        value.chars().count() <= max,
        field,
        format!("must be at most {max} characters"),
    )
}
