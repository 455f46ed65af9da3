//! Limit phase: IP control, throttling and quotas. No policy is bound yet, so every call passes.

use crate::context::Routed;
use crate::error::GatewayError;

pub(crate) fn limit(_routed: &Routed<'_, '_>) -> Result<(), GatewayError> {
    Ok(())
}
