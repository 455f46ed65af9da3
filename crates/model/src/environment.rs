//! Environments (RELEASE, PRE, TEST and custom ones) and per-group stage variables.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ValidationError, check};

/// The environments every installation has; they cannot be removed.
pub const BUILTIN_ENVIRONMENTS: [&str; 3] = ["RELEASE", "PRE", "TEST"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Environment {
    /// Uppercase name; requests select it case-insensitively.
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub builtin: bool,
}

/// Checks an environment name and returns its canonical (uppercase) form.
pub fn normalize_environment(raw: &str) -> Result<String, ValidationError> {
    let ok = !raw.is_empty()
        && raw.len() <= 32
        && raw.as_bytes()[0].is_ascii_alphabetic()
        && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    check(
        ok,
        "name",
        "environment names are 1 to 32 letters, digits or `_`, starting with a letter",
    )?;
    Ok(raw.to_ascii_uppercase())
}

/// Stage variables of one group in one environment.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct StageVariables {
    pub group_id: String,
    pub environment: String,
    pub variables: BTreeMap<String, String>,
}

/// AWS's rule: names are `[A-Za-z0-9_]+`.
pub fn validate_stage_variable_name(name: &str) -> Result<(), ValidationError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    check(
        ok,
        &format!("variables.{name}"),
        "stage variable names are 1 to 64 characters of [A-Za-z0-9_]",
    )
}

/// AWS's rule: values are `[A-Za-z0-9-._~:/?#&=,]+`.
pub fn validate_stage_variable_value(name: &str, value: &str) -> Result<(), ValidationError> {
    let ok = !value.is_empty()
        && value.len() <= 512
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~:/?#&=,".contains(&b));
    check(
        ok,
        &format!("variables.{name}"),
        "stage variable values are 1 to 512 characters of [A-Za-z0-9-._~:/?#&=,]",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_names_are_uppercased() {
        assert_eq!(normalize_environment("staging_2").unwrap(), "STAGING_2");
        assert!(normalize_environment("2x").is_err());
        assert!(normalize_environment("a-b").is_err());
    }

    #[test]
    fn stage_variables_follow_aws_rules() {
        assert!(validate_stage_variable_name("backend_host1").is_ok());
        assert!(validate_stage_variable_name("bad-name").is_err());
        assert!(validate_stage_variable_value("v", "127.0.0.1:8080/a?b=c&d,e#f~").is_ok());
        assert!(validate_stage_variable_value("v", "has space").is_err());
        assert!(validate_stage_variable_value("v", "").is_err());
    }
}
