//! What a lookup answers: the ids of a compiled snapshot's groups and environments, and the
//! host and route matches. Below every tier, so the tiers and the facade share them without
//! importing each other.

/// A group of the snapshot the router was built from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GroupId(pub(crate) u32);

impl GroupId {
    /// The group's position in the groups the router was built from.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// An environment of the snapshot the router was built from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EnvId(pub(crate) u32);

impl EnvId {
    /// The environment's position in the environments the router was built from.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// What a Host header selects: the group, and the environment when the domain is bound to one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostMatch {
    pub group: GroupId,
    /// `Some` for a domain bound to one environment, which then wins over `X-Ca-Stage`.
    pub environment: Option<EnvId>,
    /// The domain takes the environment from the path's first segment.
    pub stage_path: Option<pylon_model::StagePath>,
    /// The domain answers the gateway's errors in AWS's shape.
    pub aws_errors: bool,
}

/// The deployment that serves a request, and what its path pattern captured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch<'r, 'p> {
    /// Index into `snapshot.deployments`.
    pub deployment: usize,
    /// Path parameters (name, raw value); `{proxy+}` gives the rest of the path without its
    /// leading `/`; regular expressions give their named groups.
    pub params: Vec<(&'r str, &'p str)>,
    /// For prefix matches (`^~/a`, plain `/a`): the unmatched suffix of the path; "" otherwise.
    pub rest: &'p str,
}
