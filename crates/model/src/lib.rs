//! Pylon's domain model: the concepts of DESIGN.md as plain types, their validation, and the
//! published [`Snapshot`] the data plane compiles. No I/O happens here.

mod api;
mod app;
mod auth;
mod backend;
mod certificate;
mod deployment;
mod environment;
mod error;
mod function;
mod group;
mod ip;
mod limits;
mod path;
mod policy;
mod snapshot;
pub mod template;
mod throttle;
mod tls;
mod upstream;

pub use api::{
    Api, ApiSpec, BackendConfig, BackendTarget, ConstantParameter, Constraints, DEFAULT_TIMEOUT_MS,
    DEFAULT_WS_IDLE_MS, ErrorCodeDoc, Location, MAX_API_NAME_LEN, MAX_TIMEOUT_MS, MAX_WS_IDLE_MS,
    Method, ParamType, Parameter, Protocol, RequestConfig, RequestMode, ResponseDoc,
    SystemParameter, SystemParameterKind, WebSocketConfig,
};
pub use app::{
    App, AppCode, AppCredentials, AppKey, AppSpec, Authorization, AuthorizationSpec,
    MAX_APP_NAME_LEN,
};
pub use auth::{
    AppCodeMode, AuthConfig, AuthType, ClaimHeader, CorsConfig, JwtAlgorithm, JwtConfig, JwtKey,
};
pub use backend::{Backend, BackendDefinition, BackendEnvironment, BackendKind, BackendSpec};
pub use certificate::{Certificate, CertificateSpec, MAX_PEM_LEN, ServedCertificate, name_covers};
pub use deployment::{Deployment, PublishRequest};
pub use environment::{
    BUILTIN_ENVIRONMENTS, Environment, EnvironmentSpec, StageVariables, normalize_environment,
    validate_stage_variable_name, validate_stage_variable_value,
};
pub use error::ValidationError;
pub use function::{
    DEFAULT_FUNCTION_CONCURRENCY, DEFAULT_FUNCTION_MEMORY_MB, DEFAULT_FUNCTION_TIMEOUT_MS,
    DEFAULT_LAMBDA_NAME, Function, FunctionFormat, FunctionSpec, MAX_FUNCTION_TIMEOUT_MS,
    PayloadVersion, ServedFunction,
};
pub use group::{Domain, ErrorFormat, Group, GroupSpec, StagePath, normalize_domain};
pub use ip::parse_ip_range;
pub use path::PathPattern;
pub use policy::{
    AppAddresses, IpAction, IpControlConfig, MAX_IP_ENTRIES, MAX_POLICY_NAME_LEN, Policy,
    PolicyBinding, PolicyBindingSpec, PolicyConfig, PolicyInput, PolicySpec,
};
pub use snapshot::{Change, GroupState, PartialChange, ServedChange, Snapshot};
pub use throttle::{
    AppQuota, MAX_LIMIT, MAX_SPECIAL_LIMITS, QuotaConfig, QuotaPeriod, SpecialLimit,
    ThrottleConfig, ThrottleUnit, parse_time_zone,
};
pub use tls::BackendTls;
pub use upstream::{Upstream, UpstreamSpec};
