//! Pylon's authentication schemes as pure functions: the Alibaba APP signature and AppCode,
//! the Tencent key-pair HMAC, bearer JWTs, and the nonce cache that refuses replays. No I/O
//! and no async: the gateway reads the request, calls these, and maps the errors onto its
//! wire responses; `pylon debug` and the bench load generator use the client-side signers.

pub mod alibaba;
pub mod appcode;
pub mod jwt;
pub mod nonce;
#[cfg(test)]
mod strategies;
pub mod tencent;

/// How far a client's clock may be from the gateway's, both ways (Alibaba and Tencent).
pub const CLOCK_WINDOW_MS: i64 = 15 * 60 * 1000;

/// Now, in epoch milliseconds by the system clock. The one clock of the gateway, the admin API
/// and the CLI: timestamps from clients, grant expiries and stored times are all compared in
/// these units, so they must all come from the same clock.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
