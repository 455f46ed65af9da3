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
