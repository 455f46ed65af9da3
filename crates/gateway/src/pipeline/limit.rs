//! Limit phase: IP control, throttling and quotas. No policy is bound yet, so every call passes.

use crate::context::RequestContext;
use crate::error::GatewayError;

pub(crate) fn limit(_ctx: &mut RequestContext<'_>) -> Result<(), GatewayError> {
    Ok(())
}
