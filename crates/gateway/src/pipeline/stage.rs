//! Stage-path phase: on a domain set to take the environment from the path (AWS's
//! `/<stage>/...`, Tencent's `/release|/prepub|/test/...`), the first segment picks the
//! environment and is cut off before routing, so the APIs see the path without it. Runs with
//! normalize, before the context exists, since it rewrites the URI every later phase reads.

use http::Uri;
use http::request::Parts;
use pylon_model::StagePath;
use pylon_router::{EnvId, Router};

use crate::context::request_host;
use crate::error::GatewayError;

/// What the Host's domain says before routing.
#[derive(Debug, Default)]
pub(crate) struct PathStage {
    /// The environment the path named.
    pub(crate) env: Option<EnvId>,
    /// The domain answers errors in AWS's shape.
    pub(crate) aws_errors: bool,
    /// The path as the client sent it, stage included, when it was cut.
    pub(crate) full_path: Option<String>,
}

/// Cuts the stage off `parts.uri` when the Host's domain is in stage-path mode.
pub(crate) fn take(router: &Router, parts: &mut Parts) -> (PathStage, Result<(), GatewayError>) {
    let mut stage = PathStage::default();
    if !router.has_stage_paths() {
        return (stage, Ok(()));
    }
    let Some(host) = router.host(request_host(parts)) else {
        return (stage, Ok(()));
    };
    stage.aws_errors = host.aws_errors;
    let Some(style) = host.stage_path else {
        return (stage, Ok(()));
    };
    let path = parts.uri.path();
    let segment = path
        .strip_prefix('/')
        .and_then(|p| p.split('/').next())
        .unwrap_or("");
    let env = style
        .environment(segment)
        .and_then(|name| environment(router, style, name));
    let Some(env) = env else {
        return (stage, Err(GatewayError::StageNotFound(segment.to_string())));
    };
    let rest = &path[1 + segment.len()..];
    let mut cut = String::with_capacity(path.len());
    cut.push_str(if rest.is_empty() { "/" } else { rest });
    if let Some(query) = parts.uri.query() {
        cut.push('?');
        cut.push_str(query);
    }
    match Uri::try_from(cut) {
        Ok(uri) => {
            stage.full_path = Some(path.to_string());
            stage.env = Some(env);
            parts.uri = uri;
            (stage, Ok(()))
        }
        Err(_) => (stage, Err(GatewayError::StageNotFound(segment.to_string()))),
    }
}

/// AWS stage names match case-sensitively; Tencent's words map to Pylon's names.
fn environment(router: &Router, style: StagePath, name: &str) -> Option<EnvId> {
    match style {
        StagePath::Aws => router
            .environment_ids()
            .find(|e| router.environment_name(*e) == name),
        StagePath::Tencent => router.environment(name),
    }
}
