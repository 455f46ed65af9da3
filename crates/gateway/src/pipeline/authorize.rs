//! Authorize phase: whether the authenticated app may call this API in this environment now.
//! APIs without an app (`none`, `jwt`) have nothing to check here. Grant expiry is compared with
//! the clock on every call, so a grant stops working at its expiry without a new snapshot.

use crate::context::{Routed, now_ms};
use crate::error::{AuthError, GatewayError};

pub(crate) fn authorize(routed: &Routed<'_, '_>) -> Result<(), GatewayError> {
    let Some(app) = routed.ctx.caller.app else {
        return Ok(());
    };
    if routed
        .plan()
        .grants
        .allows(routed.ctx.compiled.apps.id(app), now_ms())
    {
        Ok(())
    } else {
        Err(GatewayError::Auth(AuthError::Unauthorized {
            app_id: routed.ctx.compiled.apps.id(app).to_string(),
        }))
    }
}
