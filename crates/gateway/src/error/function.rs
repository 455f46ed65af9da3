//! How calling a function can fail, as the caller is told: each case its own status, code and
//! message, which names what went wrong but never carries the function's own output (only an
//! error type, cleaned).

use http::StatusCode;

#[derive(Debug, thiserror::Error)]
pub(crate) enum FunctionFailure {
    /// The answer is not the response integration's object.
    #[error("malformed answer: {0}")]
    Malformed(String),
    /// The function raised (or reported) an error.
    #[error("the function failed with {error_type}: {detail}")]
    Error { error_type: String, detail: String },
    /// Its runtime failed to start the handler.
    #[error("the function's runtime failed to initialise with {error_type}: {detail}")]
    Init { error_type: String, detail: String },
    /// The worker process died during the call.
    #[error("the function's worker crashed: {0}")]
    Crashed(String),
    #[error("the function did not answer within {0} ms")]
    Timeout(u64),
    #[error("the function is at its concurrency limit of {0}")]
    Throttled(u32),
    /// It cannot run now: its worker cannot be started, or it was removed.
    #[error("the function cannot run: {0}")]
    Unavailable(String),
    /// The function endpoint itself refused the call (not the function).
    #[error("the function endpoint answered {0}")]
    Endpoint(String),
}

impl FunctionFailure {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_GATEWAY,
        }
    }

    pub(crate) fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "B502FM",
            Self::Error { .. } => "B502FE",
            Self::Init { .. } => "B502IF",
            Self::Crashed(_) => "B502FC",
            Self::Timeout(_) => "B504FT",
            Self::Throttled(_) => "B429FT",
            Self::Unavailable(_) => "B503FU",
            Self::Endpoint(_) => "B502FN",
        }
    }

    pub(crate) fn message(&self) -> String {
        match self {
            Self::Malformed(why) => format!("Malformed Function Response: {why}"),
            Self::Error { error_type, .. } => format!("Function Error: {error_type}"),
            Self::Init { error_type, .. } => format!("Function Init Error: {error_type}"),
            Self::Crashed(_) => "Function Crashed".into(),
            Self::Timeout(_) => "Function Timeout".into(),
            Self::Throttled(_) => "Function Concurrency Limit Exceeded".into(),
            Self::Unavailable(_) => "Function Unavailable".into(),
            Self::Endpoint(status) => format!("Function Endpoint Error: {status}"),
        }
    }

    /// For metrics and the access log.
    pub(crate) fn outcome(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed",
            Self::Error { .. } | Self::Init { .. } => "error",
            Self::Crashed(_) => "crashed",
            Self::Timeout(_) => "timeout",
            Self::Throttled(_) => "throttled",
            Self::Unavailable(_) | Self::Endpoint(_) => "unavailable",
        }
    }
}

/// An error type as a function reported it, fit for a header: Lambda's are names such as
/// `ValueError` or `Runtime.ExitError`.
pub(crate) fn clean_error_type(raw: &str) -> String {
    let cleaned: String = raw
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'))
        .take(100)
        .collect();
    if cleaned.is_empty() {
        "Unhandled".into()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_types_are_cleaned() {
        assert_eq!(clean_error_type("ValueError"), "ValueError");
        assert_eq!(clean_error_type("Bad\r\nX-Injected: 1"), "BadX-Injected:1");
        assert_eq!(clean_error_type("  "), "Unhandled");
    }
}
