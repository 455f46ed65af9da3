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
        // Refused until the schemes are wired in: never let a protected API through open.
        AuthType::App | AuthType::KeyPair | AuthType::Jwt => Err(GatewayError::Internal(
            "authentication scheme not available yet".into(),
        )),
    }
}
