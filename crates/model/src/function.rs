//! Functions as backends: the cloud event formats a function is called with, where the function
//! runs (an HTTP endpoint, an upstream, or hosted by Pylon), and the hosted-function resource.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::BackendTls;
use crate::error::{ValidationError, check, non_empty_name};
use crate::limits::MAX_TIMEOUT_MS;

/// The event a function receives and the answer it gives, as one cloud defines them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum FunctionFormat {
    /// Alibaba Function Compute event functions behind API Gateway.
    #[serde(rename = "aliyun-fc")]
    AliyunFc,
    /// Tencent SCF behind API Gateway.
    #[serde(rename = "tencent-scf")]
    TencentScf,
    /// AWS Lambda proxy integration.
    #[serde(rename = "aws-lambda")]
    AwsLambda,
}

impl FunctionFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AliyunFc => "aliyun-fc",
            Self::TencentScf => "tencent-scf",
            Self::AwsLambda => "aws-lambda",
        }
    }
}

/// The Lambda proxy event's payload format version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum PayloadVersion {
    #[default]
    #[serde(rename = "1.0")]
    V1,
    #[serde(rename = "2.0")]
    V2,
}

/// The function name the Lambda Invoke API path carries when none is given: the one the AWS
/// Lambda runtime interface emulator serves.
pub const DEFAULT_LAMBDA_NAME: &str = "function";

/// The longest a hosted function may run (Lambda's own limit).
pub const MAX_FUNCTION_TIMEOUT_MS: u64 = 15 * 60 * 1000;
pub const DEFAULT_FUNCTION_TIMEOUT_MS: u64 = 3_000;
pub const DEFAULT_FUNCTION_CONCURRENCY: u32 = 10;
pub const MAX_FUNCTION_CONCURRENCY: u32 = 1_000;
pub const DEFAULT_FUNCTION_MEMORY_MB: u32 = 128;
pub const MAX_FUNCTION_MEMORY_MB: u32 = 10_240;

/// Where a function backend sends its events: exactly one of `url`, `upstream`, `hosted`.
pub struct FunctionPlace<'a> {
    pub url: Option<&'a str>,
    pub upstream: Option<&'a str>,
    pub hosted: Option<&'a str>,
}

/// The checks of a `function` backend definition; `field` prefixes the names in errors.
#[allow(clippy::too_many_arguments)]
pub(crate) fn validate_function_backend(
    field: &str,
    format: FunctionFormat,
    place: FunctionPlace<'_>,
    name: Option<&str>,
    tls: Option<&BackendTls>,
    timeout_ms: Option<u64>,
    payload_version: Option<PayloadVersion>,
) -> Result<(), ValidationError> {
    let places = [place.url, place.upstream, place.hosted]
        .iter()
        .filter(|p| p.is_some())
        .count();
    check(
        places == 1,
        field,
        "give exactly one of `url` (a function endpoint), `upstream` (one behind an upstream) \
         or `hosted` (a function Pylon runs, `pylon function create`)",
    )?;
    if let Some(url) = place.url {
        let f = format!("{field}.url");
        crate::template::StageTemplate::parse(url, &f)?;
        let lower = url.to_ascii_lowercase();
        let https = lower.starts_with("https://");
        check(
            https || lower.starts_with("http://"),
            &f,
            "must start with http:// or https://",
        )?;
        check(
            !url.contains('?') && !url.contains('#'),
            &f,
            "must not contain a query or fragment",
        )?;
        let host = url
            .split_once("://")
            .map(|(_, r)| r.split('/').next().unwrap_or(""))
            .unwrap_or("");
        check(!host.is_empty(), &f, "must name a host")?;
        if let Some(tls) = tls {
            let t = format!("{field}.tls");
            check(https, &t, "TLS settings need an https:// URL")?;
            tls.validate(&t)?;
        }
    } else {
        check(
            tls.is_none(),
            &format!("{field}.tls"),
            "TLS settings belong to an https:// `url`; an upstream has its own",
        )?;
    }
    if let Some(upstream) = place.upstream {
        let f = format!("{field}.upstream");
        check(
            !upstream.trim().is_empty(),
            &f,
            "must name an upstream by id or name",
        )?;
        crate::template::StageTemplate::parse(upstream, &f)?;
    }
    if let Some(hosted) = place.hosted {
        check(
            !hosted.trim().is_empty(),
            &format!("{field}.hosted"),
            "must name a hosted function (`pylon function list`)",
        )?;
        check(
            name.is_none(),
            &format!("{field}.name"),
            "a hosted function is named by `hosted`",
        )?;
    }
    if let Some(name) = name {
        let ok = !name.is_empty()
            && name.len() <= 170
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':' | b'.'));
        check(
            ok,
            &format!("{field}.name"),
            "must be 1-170 letters, digits, `-`, `_`, `:` or `.`",
        )?;
        check(
            format != FunctionFormat::TencentScf,
            &format!("{field}.name"),
            "a tencent-scf endpoint is called at its URL; the name is for aws-lambda and aliyun-fc",
        )?;
    }
    if let Some(t) = timeout_ms {
        check(
            (1..=MAX_TIMEOUT_MS).contains(&t),
            &format!("{field}.timeout_ms"),
            format!("must be between 1 and {MAX_TIMEOUT_MS} (30 minutes)"),
        )?;
    }
    if payload_version.is_some() {
        check(
            format == FunctionFormat::AwsLambda,
            &format!("{field}.payload_version"),
            "only the aws-lambda format has payload versions",
        )?;
    }
    Ok(())
}

/// A function Pylon runs itself: worker processes speaking the AWS Lambda Runtime API
/// (for example `python -m awslambdaric`), started on demand and reused.
#[derive(Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FunctionSpec {
    /// Unique name; `function` backends refer to it by name (`hosted`).
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The program and its arguments, run without a shell. The handler is appended as the
    /// last argument (as a Lambda container image's CMD is) and set in `_HANDLER`.
    pub command: Vec<String>,
    /// Where the command runs (default: Pylon's data directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Environment variables, returned as given.
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    /// Environment variables whose values are sealed at rest and never returned (the admin
    /// API shows their names).
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// What the runtime loads, e.g. `app.handler`.
    pub handler: String,
    /// How long one invocation may run before its worker is killed (default 3 s, at most
    /// 15 minutes).
    #[serde(default = "default_timeout")]
    pub timeout_ms: u64,
    /// Workers running at once; a call past this is refused with 429 (default 10).
    #[serde(default = "default_concurrency")]
    pub max_concurrency: u32,
    /// Each worker's data limit in MiB (default 128).
    #[serde(default = "default_memory")]
    pub memory_mb: u32,
}

fn default_timeout() -> u64 {
    DEFAULT_FUNCTION_TIMEOUT_MS
}
fn default_concurrency() -> u32 {
    DEFAULT_FUNCTION_CONCURRENCY
}
fn default_memory() -> u32 {
    DEFAULT_FUNCTION_MEMORY_MB
}

impl std::fmt::Debug for FunctionSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FunctionSpec")
            .field("name", &self.name)
            .field("command", &self.command)
            .field("handler", &self.handler)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl FunctionSpec {
    pub fn validate(&self) -> Result<(), ValidationError> {
        non_empty_name(&self.name, "name", 64)?;
        check(
            self.name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_')),
            "name",
            "must be letters, digits, `-` or `_` (it is part of the function's ARN)",
        )?;
        check(
            self.command.first().is_some_and(|c| !c.trim().is_empty()),
            "command",
            "the program to run is required, e.g. [\"python3\", \"-m\", \"awslambdaric\"]",
        )?;
        check(
            self.command.iter().all(|a| !a.contains('\0')),
            "command",
            "arguments cannot contain NUL",
        )?;
        if let Some(dir) = &self.working_dir {
            check(
                !dir.trim().is_empty() && !dir.contains('\0'),
                "working_dir",
                "must be a directory path",
            )?;
        }
        for (map, field) in [
            (&self.environment, "environment"),
            (&self.secrets, "secrets"),
        ] {
            for (name, value) in map {
                let ok = !name.is_empty()
                    && !name.as_bytes()[0].is_ascii_digit()
                    && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                check(
                    ok,
                    &format!("{field}.{name}"),
                    "is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)",
                )?;
                check(
                    !reserved_variable(name),
                    &format!("{field}.{name}"),
                    "is set by Pylon for the Lambda Runtime API",
                )?;
                check(
                    !value.contains('\0'),
                    &format!("{field}.{name}"),
                    "cannot contain NUL",
                )?;
            }
        }
        if let Some(name) = self
            .environment
            .keys()
            .find(|k| self.secrets.contains_key(*k))
        {
            check(
                false,
                &format!("secrets.{name}"),
                "is also a plain environment variable",
            )?;
        }
        check(
            !self.handler.trim().is_empty() && !self.handler.contains('\0'),
            "handler",
            "is required, e.g. `app.handler`",
        )?;
        check(
            (1..=MAX_FUNCTION_TIMEOUT_MS).contains(&self.timeout_ms),
            "timeout_ms",
            format!("must be between 1 and {MAX_FUNCTION_TIMEOUT_MS} (15 minutes)"),
        )?;
        check(
            (1..=MAX_FUNCTION_CONCURRENCY).contains(&self.max_concurrency),
            "max_concurrency",
            format!("must be between 1 and {MAX_FUNCTION_CONCURRENCY}"),
        )?;
        check(
            (16..=MAX_FUNCTION_MEMORY_MB).contains(&self.memory_mb),
            "memory_mb",
            format!("must be between 16 and {MAX_FUNCTION_MEMORY_MB}"),
        )
    }
}

/// Variables the worker's Runtime API contract sets; a function may not override them.
fn reserved_variable(name: &str) -> bool {
    matches!(
        name,
        "AWS_LAMBDA_RUNTIME_API"
            | "_HANDLER"
            | "AWS_LAMBDA_FUNCTION_NAME"
            | "AWS_LAMBDA_FUNCTION_VERSION"
            | "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"
    )
}

/// A hosted function as the admin API shows it: secret values are never returned, only their
/// names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Function {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    pub environment: BTreeMap<String, String>,
    /// The names of the sealed variables.
    pub secrets: Vec<String>,
    pub handler: String,
    pub timeout_ms: u64,
    pub max_concurrency: u32,
    pub memory_mb: u32,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A hosted function as the data plane runs it, secrets in the clear.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServedFunction {
    pub id: String,
    pub spec: FunctionSpec,
    pub updated_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> FunctionSpec {
        serde_json::from_str(
            r#"{"name":"echo","command":["python3","-m","awslambdaric"],"handler":"app.handler"}"#,
        )
        .unwrap()
    }

    #[test]
    fn defaults_are_lambdas() {
        let s = spec();
        assert_eq!(s.timeout_ms, 3_000);
        assert_eq!(s.max_concurrency, 10);
        assert_eq!(s.memory_mb, 128);
        assert!(s.validate().is_ok());
    }

    #[test]
    fn bad_specs_name_their_field() {
        let mut s = spec();
        s.command.clear();
        assert_eq!(s.validate().unwrap_err().field, "command");
        let mut s = spec();
        s.environment.insert("1X".into(), "v".into());
        assert_eq!(s.validate().unwrap_err().field, "environment.1X");
        let mut s = spec();
        s.secrets
            .insert("AWS_LAMBDA_RUNTIME_API".into(), "v".into());
        assert_eq!(
            s.validate().unwrap_err().field,
            "secrets.AWS_LAMBDA_RUNTIME_API"
        );
        let mut s = spec();
        s.max_concurrency = 0;
        assert_eq!(s.validate().unwrap_err().field, "max_concurrency");
        let mut s = spec();
        s.name = "a/b".into();
        assert_eq!(s.validate().unwrap_err().field, "name");
    }

    #[test]
    fn secrets_are_not_debug_printed() {
        let mut s = spec();
        s.secrets.insert("TOKEN".into(), "hunter2".into());
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
