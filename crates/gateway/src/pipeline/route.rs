//! Route phase: Host -> group, the domain's bound environment, the path's stage (stage-path
//! domains, `stage.rs`) or else `X-Ca-Stage` -> environment (RELEASE when absent), method and path -> the deployment that serves the request.

use pylon_model::Method;
use pylon_router::{EnvId, GroupId};

use super::normalize;
use crate::context::{EnvFrom, RequestContext, Route};
use crate::error::GatewayError;
use crate::observe::observer::Observer;
use crate::policy::cors::preflight_method;

/// Finds the API; on success the context keeps a summary for the work after the phases.
pub(crate) fn route<'a>(ctx: &mut RequestContext<'a>) -> Result<Route<'a>, GatewayError> {
    let compiled = ctx.compiled;
    let parts = ctx.parts;
    let router = &compiled.router;
    let host = router
        .host(ctx.host)
        .ok_or_else(|| GatewayError::InvalidDomain(ctx.host.to_string()))?;
    let group = host.group;
    // A domain bound to an environment serves only that one (Alibaba's BindStageName).
    let header = ctx.known.stage;
    let (env, env_from) = match (host.environment, ctx.path_env, header) {
        (Some(bound), _, _) => (bound, EnvFrom::Domain),
        (None, Some(from_path), _) => (from_path, EnvFrom::Path),
        (None, None, Some(stage)) => {
            let name = stage.to_str().unwrap_or("");
            let env = router
                .environment(name.trim())
                .ok_or_else(|| GatewayError::InvalidUrl(name.to_string()))?;
            (env, EnvFrom::Header)
        }
        (None, None, None) => {
            let env = compiled
                .release
                .ok_or_else(|| GatewayError::InvalidUrl("RELEASE".into()))?;
            (env, EnvFrom::Default)
        }
    };
    let path = parts.uri.path();
    // A CORS preflight is routed as the request it announces; it is the gateway's to answer
    // when that API has a policy that answers preflights.
    let preflight = preflight_method(parts)
        .and_then(|announced| router.find(group, env, announced, path))
        .and_then(|found| Some((compiled.plan(group, found.deployment)?, found)))
        .filter(|(plan, _)| plan.policies.answers_preflight());
    let is_preflight = preflight.is_some();
    let (plan, found) = match preflight {
        Some(hit) => hit,
        None => {
            let method = Method::from_request(parts.method.as_str())
                .ok_or_else(|| GatewayError::InvalidHttpMethod(parts.method.to_string()))?;
            let Some(found) = router.find(group, env, method, path) else {
                // The wire message stays `API Not Found`; the trace says which miss it was.
                let why = ctx
                    .observers
                    .wants_detail()
                    .then(|| why_not_found(router, group, env, method, path));
                return Err(GatewayError::ApiNotFound(why));
            };
            let plan = compiled.plan(group, found.deployment).ok_or_else(|| {
                GatewayError::Internal(format!("route to unknown deployment {}", found.deployment))
            })?;
            (plan, found)
        }
    };
    // Client values bound for the backend path, checked once here for every later use.
    let allow = plan.allow_encoded_slashes;
    for (name, raw) in &found.params {
        normalize::check_raw(raw, allow).map_err(|e| {
            GatewayError::InvalidPath(format!("parameter `{name}`: {}", e.0).into())
        })?;
    }
    normalize::check_raw(found.rest, allow).map_err(|e| GatewayError::InvalidPath(e.0))?;
    let route = Route {
        group,
        env,
        env_from,
        plan,
        params: found.params,
        rest: found.rest,
        preflight: is_preflight,
    };
    ctx.routed = Some(route.summary());
    Ok(route)
}

/// Why nothing matched: the path is published for other methods, or in other environments,
/// or nowhere in the group.
fn why_not_found(
    router: &pylon_router::Router,
    group: GroupId,
    env: EnvId,
    method: Method,
    path: &str,
) -> String {
    let env_name = router.environment_name(env);
    let methods: Vec<&str> = Method::CONCRETE
        .iter()
        .filter(|m| **m != method && router.find(group, env, **m, path).is_some())
        .map(|m| m.as_str())
        .collect();
    if !methods.is_empty() {
        return format!(
            "the path is published in {env_name} for {}, not for {}",
            methods.join(", "),
            method.as_str()
        );
    }
    let elsewhere: Vec<&str> = router
        .environment_ids()
        .filter(|e| *e != env)
        .filter(|e| {
            Method::CONCRETE
                .iter()
                .any(|m| router.find(group, *e, *m, path).is_some())
        })
        .map(|e| router.environment_name(e))
        .collect();
    if !elsewhere.is_empty() {
        return format!(
            "the path is published in {}, not in {env_name} (pick the environment with X-Ca-Stage)",
            elsewhere.join(", ")
        );
    }
    format!(
        "no API of this group is published for this path in any environment \
         (an API serves only once published: pylon publish <group> <api> --env {env_name})"
    )
}
