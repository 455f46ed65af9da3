//! Authenticate phase: establishes who calls. Auth type `none` is the only type so far and
//! passes; signature, AppCode, key-pair and JWT schemes plug in here.

use pylon_model::AuthType;

use crate::context::RequestContext;
use crate::error::GatewayError;

pub(crate) fn authenticate(ctx: &mut RequestContext<'_>) -> Result<(), GatewayError> {
    let Some(route) = &ctx.route else {
        return Ok(());
    };
    match route.plan.auth {
        AuthType::None => Ok(()),
    }
}
