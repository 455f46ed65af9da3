//! The access log: one line per request, success or error.

use super::observer::{Finished, Observer};

/// Writes to the `pylon::access` tracing target.
#[derive(Default)]
pub(crate) struct AccessLog;

impl Observer for AccessLog {
    /// Values a client controls (the path, the Host in an error) are recorded as strings, which
    /// the log writes quoted and escaped: no request can forge a field or a line of the log.
    fn done(&mut self, finished: &Finished<'_>) {
        let duration_us = finished.took.as_micros() as u64;
        let (group, env, api) = match &finished.route {
            Some(r) => (r.group, r.environment, r.plan.api_name.as_str()),
            None => ("-", "-", "-"),
        };
        let request_id = finished.request_id.as_str();
        let method = finished.method.as_str();
        let path = finished.path;
        let status = finished.status.as_u16();
        match finished.error {
            // Server-side failures carry the detail (which target, which stage variable) that
            // the client is not shown.
            Some(e) if status >= 500 => tracing::warn!(
                target: "pylon::access",
                request_id, group, env, api, method, path, status, duration_us, error = e.to_string(),
                "request failed"
            ),
            Some(e) => tracing::info!(
                target: "pylon::access",
                request_id, group, env, api, method, path, status, duration_us, error = e.to_string(),
                "request rejected"
            ),
            None => tracing::info!(
                target: "pylon::access",
                request_id, group, env, api, method, path, status, duration_us,
                "request"
            ),
        }
    }
}
