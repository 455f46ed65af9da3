//! Deleting from the console. Each delete is the REST API's own `DELETE` handler, so the same
//! checks refuse it (a group that still holds APIs, an API still published, an upstream a
//! definition uses); the page asks first (a disclosure with the consequence), and a refusal
//! shows the API's reason with a way back.

use axum::extract::Path;
use axum::response::{IntoResponse, Redirect, Response};
use http::StatusCode;

use super::frame::{Confirmed, Console, Posted, SignedIn, refusal_page};
use crate::error::ApiResult;

/// To `to` once deleted; the refusal, with a link back to `from`, when not.
pub(crate) fn finish(
    signed: &SignedIn,
    result: ApiResult<StatusCode>,
    to: &str,
    from: &str,
) -> Response {
    match result {
        Ok(_) => Redirect::to(to).into_response(),
        Err(e) => refusal_page(
            e.status(),
            "Not deleted",
            &e.to_string(),
            from,
            &signed.csrf,
        ),
    }
}

pub(crate) async fn group(
    s: Console,
    Path(id): Path<String>,
    Posted { signed, .. }: Posted<Confirmed>,
) -> Response {
    let result = crate::groups::delete(s, Path(id.clone())).await;
    finish(
        &signed,
        result,
        "/console/groups",
        &format!("/console/groups/{id}"),
    )
}

pub(crate) async fn api(
    s: Console,
    Path((gid, aid)): Path<(String, String)>,
    Posted { signed, .. }: Posted<Confirmed>,
) -> Response {
    let result = crate::apis::delete(s, Path((gid.clone(), aid.clone()))).await;
    let from = format!("/console/groups/{gid}/apis/{aid}");
    finish(&signed, result, &format!("/console/groups/{gid}"), &from)
}

pub(crate) async fn domain(
    s: Console,
    Path((gid, domain)): Path<(String, String)>,
    Posted { signed, .. }: Posted<Confirmed>,
) -> Response {
    let result = crate::domains::delete(s, Path((gid.clone(), domain))).await;
    let group = format!("/console/groups/{gid}");
    finish(&signed, result, &group, &group)
}

pub(crate) async fn upstream(
    s: Console,
    Path(id): Path<String>,
    Posted { signed, .. }: Posted<Confirmed>,
) -> Response {
    let result = crate::upstreams::delete(s, Path(id.clone())).await;
    let from = format!("/console/upstreams/{id}");
    finish(&signed, result, "/console/upstreams", &from)
}

pub(crate) async fn backend(
    s: Console,
    Path(id): Path<String>,
    Posted { signed, .. }: Posted<Confirmed>,
) -> Response {
    let result = crate::backends::delete(s, Path(id.clone())).await;
    let from = format!("/console/backends/{id}");
    finish(&signed, result, "/console/backends", &from)
}

pub(crate) async fn app(
    s: Console,
    Path(id): Path<String>,
    Posted { signed, .. }: Posted<Confirmed>,
) -> Response {
    let result = crate::apps::delete(s, Path(id.clone())).await;
    finish(
        &signed,
        result,
        "/console/apps",
        &format!("/console/apps/{id}"),
    )
}

pub(crate) async fn authorization(
    s: Console,
    Path((app, grant)): Path<(String, String)>,
    Posted { signed, .. }: Posted<Confirmed>,
) -> Response {
    let result = crate::authorizations::revoke(s, Path(grant)).await;
    let back = format!("/console/apps/{app}");
    finish(&signed, result, &back, &back)
}
