//! Authorize phase: whether the authenticated app may call this API in this environment now.
//! APIs without an app (`none`, `jwt`) have nothing to check here. Grant expiry is compared with
//! the clock on every call, so a grant stops working at its expiry without a new snapshot.

use crate::context::{RequestContext, now_ms};
use crate::error::{AuthError, GatewayError};

pub(crate) fn authorize(ctx: &RequestContext<'_>) -> Result<(), GatewayError> {
    let (Some(route), Some(caller)) = (&ctx.route, ctx.caller) else {
        return Ok(());
    };
    if route
        .plan
        .grants
        .allows(ctx.compiled.apps.id(caller.app), now_ms())
    {
        Ok(())
    } else {
        Err(GatewayError::Auth(AuthError::Unauthorized {
            app_id: ctx.compiled.apps.id(caller.app).to_string(),
        }))
    }
}
