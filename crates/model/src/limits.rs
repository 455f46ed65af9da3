//! Limits shared by several resources.

/// 30 minutes, the clouds' ceiling for a backend call.
pub const MAX_TIMEOUT_MS: u64 = 30 * 60 * 1000;
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;
