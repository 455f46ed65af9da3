//! Authorize phase: whether the authenticated app may call this API in this environment.
//! With auth type `none` there is no app, so every call is allowed.

use crate::context::RequestContext;
use crate::error::GatewayError;

pub(crate) fn authorize(_ctx: &mut RequestContext<'_>) -> Result<(), GatewayError> {
    Ok(())
}
