//! Why a snapshot cannot be compiled into a router: each error names the APIs, group and
//! environment involved, so the admin can refuse a publish with a message a user can act on.
//! [`AddError`], a tier's refusal of one route, sits here too, below the tiers that raise it and
//! the table that turns it into a [`RouteError`].

/// A snapshot that cannot be served as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// Two APIs of one group and environment would answer the same requests.
    #[error(
        "APIs `{first_api}` and `{second_api}` conflict in group `{group}`, environment {environment}: {reason}"
    )]
    Conflict {
        group: String,
        environment: String,
        /// The API that was there first (earlier in the snapshot).
        first_api: String,
        second_api: String,
        reason: String,
    },
    /// An API's request path does not parse (the admin validates paths, so this means a
    /// snapshot written by something else).
    #[error(
        "API `{api}` in group `{group}`, environment {environment}: invalid request path: {message}"
    )]
    InvalidPath {
        group: String,
        environment: String,
        api: String,
        message: String,
    },
    /// One host name is bound to two groups.
    #[error("domain `{domain}` is bound to both group `{first_group}` and group `{second_group}`")]
    DomainConflict {
        domain: String,
        first_group: String,
        second_group: String,
    },
    /// The regular-expression APIs of one group and environment are too large to compile
    /// together.
    #[error(
        "the regular-expression APIs of group `{group}`, environment {environment} cannot be compiled: {message}"
    )]
    Regex {
        group: String,
        environment: String,
        message: String,
    },
    /// Group routes assembled for other groups or environments than the router's: a bug in
    /// the caller, refused rather than routed wrongly.
    #[error("internal routing error: {0}")]
    Internal(String),
}

/// Why a route could not be added to a tier.
#[derive(Debug)]
pub(crate) enum AddError {
    /// It would answer the same requests as the deployment `existing`.
    Clash { existing: usize, reason: String },
    /// The pattern itself is unusable.
    Invalid(String),
}
