//! The listener's limits on what clients may hold: connections, head size and timeouts. They
//! can change while serving (`Gateway::set_limits`, on SIGHUP); a change applies to
//! connections accepted after it.

use std::time::Duration;

/// The smallest head limit hyper's HTTP/1 parser can work with.
pub const MIN_HEADER_SIZE: usize = 8 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Open client connections, across all workers. Past it the oldest idle connection is
    /// closed to make room; with none idle, the newcomer gets a 503 and is closed.
    pub max_connections: usize,
    /// Bytes of a request head (request line and headers); larger heads get a 431.
    /// At least [`MIN_HEADER_SIZE`].
    pub max_header_size: usize,
    /// From accept, and on HTTP/1 from the end of one response, to a complete request head (and
    /// the body the HTTP/1 codec reads with it).
    pub header_timeout: Duration,
    /// A connection with no request in flight for this long is closed.
    pub idle_timeout: Duration,
    /// After SIGTERM: how long requests arriving on open connections are still answered
    /// (with `Connection: close`) before idle connections are closed.
    pub shutdown_grace: Duration,
    /// Peers whose `X-Forwarded-For` / `Forwarded` name the client's address (load balancers
    /// in front of Pylon). Empty: the client is always the peer.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 10_000,
            max_header_size: 64 * 1024,
            header_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(75),
            shutdown_grace: Duration::from_secs(1),
            trusted_proxies: Vec::new(),
        }
    }
}

impl Limits {
    /// Why these limits cannot be used, if they cannot.
    pub fn check(&self) -> Result<(), String> {
        if self.max_connections == 0 {
            return Err("max_connections must be at least 1".into());
        }
        if self.max_header_size < MIN_HEADER_SIZE {
            return Err(format!(
                "max_header_size must be at least {MIN_HEADER_SIZE} bytes"
            ));
        }
        if self.max_header_size > u32::MAX as usize {
            return Err("max_header_size must be below 4 GiB".into());
        }
        if self.header_timeout.is_zero() || self.idle_timeout.is_zero() {
            return Err("header_timeout and idle_timeout must be above zero".into());
        }
        Ok(())
    }
}
