//! The access log: one JSON line per request, success or error, formatted on the request path
//! and handed to the [`AccessLogSink`]'s writer. Only what is listed in docs/observability.md
//! goes in: never a query string, a header, or a credential.

pub(crate) mod gather;
pub(crate) mod sink;

use std::cell::Cell;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::StatusCode;

use self::sink::AccessLogSink;
use super::observer::{Finished, FunctionCall, Observer};
use crate::backend::Target;
use crate::backend::send::Sent;
use crate::request::client::IpText;
use crate::request::outgoing::Outgoing;
use crate::response::Fields;

/// What one request's line needs beyond [`Finished`], gathered while it runs.
#[derive(Default)]
pub(crate) struct AccessLog<'a> {
    sink: Option<&'a AccessLogSink>,
    /// When the backend request was about to go out.
    backend_started: Option<Instant>,
    /// Until the backend's response head.
    backend_took: Option<Duration>,
    /// `host:port` of the backend target that answered.
    upstream: Option<Upstream>,
    /// A function backend's call.
    function: Option<FunctionLog>,
}

/// What the line says of a function call.
pub(crate) struct FunctionLog {
    name: String,
    cold_start: Option<bool>,
    /// `ok`, or how it failed (`error`, `timeout`, `crashed`, ...).
    outcome: &'static str,
}

impl FunctionLog {
    pub(crate) fn of(call: &FunctionCall<'_>) -> FunctionLog {
        FunctionLog {
            name: call.target.name.clone(),
            cold_start: call.cold_start,
            outcome: function_outcome(call),
        }
    }
}

/// How a function call went, for the log and the metrics.
pub(crate) fn function_outcome(call: &FunctionCall<'_>) -> &'static str {
    match call.failure {
        None => "ok",
        Some(crate::error::GatewayError::Function { failure, .. }) => failure.outcome(),
        Some(crate::error::GatewayError::BackendTimeout { .. }) => "timeout",
        Some(_) => "unavailable",
    }
}

impl<'a> AccessLog<'a> {
    pub(crate) fn new(sink: &'a AccessLogSink) -> Self {
        AccessLog {
            sink: sink.is_on().then_some(sink),
            ..Self::default()
        }
    }

    /// Where the lines go, when the log is on.
    pub(crate) fn sink(&self) -> Option<&'a AccessLogSink> {
        self.sink
    }
}

/// A WebSocket connection's end, logged as a line of its own after its request's `101`.
#[derive(Debug, Default)]
pub(crate) struct SocketClosed {
    pub(crate) request_id: String,
    pub(crate) group: String,
    pub(crate) api: String,
    pub(crate) environment: String,
    pub(crate) duration: Duration,
    /// From the client to the backend, and back.
    pub(crate) bytes_in: u64,
    pub(crate) bytes_out: u64,
    /// `client`, `backend`, `idle` or `upgrade failed`.
    pub(crate) closed_by: &'static str,
}

#[derive(serde::Serialize)]
struct SocketLine<'s> {
    time: String,
    event: &'static str,
    request_id: &'s str,
    group: &'s str,
    api: &'s str,
    environment: &'s str,
    duration_ms: u64,
    bytes_in: u64,
    bytes_out: u64,
    closed_by: &'static str,
}

/// Writes the line of a closed WebSocket connection (docs/observability.md).
pub(crate) fn websocket_closed(sink: &AccessLogSink, closed: &SocketClosed) {
    let line = SocketLine {
        time: String::from_utf8_lossy(rfc3339_millis(SystemTime::now(), &mut [0u8; 24])).into(),
        event: "websocket_closed",
        request_id: &closed.request_id,
        group: &closed.group,
        api: &closed.api,
        environment: &closed.environment,
        duration_ms: closed.duration.as_millis() as u64,
        bytes_in: closed.bytes_in,
        bytes_out: closed.bytes_out,
        closed_by: closed.closed_by,
    };
    gather::line(sink, |out| {
        // Writing into a Vec cannot fail, and the line's fields are all serialisable.
        let _ = serde_json::to_writer(out, &line);
    });
}

impl Observer for AccessLog<'_> {
    fn backend_request(&mut self, _target: &Target, _out: &Outgoing<'_>, at: Instant) {
        if self.sink.is_some() {
            self.backend_started = Some(at);
        }
    }

    fn backend_sent(&mut self, sent: &Sent<'_>) {
        if self.sink.is_some() {
            self.upstream = Some(Upstream::new(sent.authority.as_str()));
        }
    }

    fn backend_response(&mut self, _status: StatusCode, _headers: &Fields, at: Instant) {
        self.backend_took = self
            .backend_started
            .map(|t| at.saturating_duration_since(t));
    }

    fn function_call(&mut self, call: &FunctionCall<'_>) {
        if self.sink.is_some() {
            self.backend_took = Some(call.took);
            self.function = Some(FunctionLog::of(call));
        }
    }

    fn done(&mut self, finished: &Finished<'_>) {
        if let Some(sink) = self.sink {
            // A failed backend call took until now.
            let backend = self
                .backend_took
                .or_else(|| self.backend_started.map(|t| t.elapsed()));
            let mut line = Line::new(
                finished,
                backend,
                self.upstream.as_ref().map(Upstream::as_str),
            );
            line.function = self.function.as_ref();
            gather::line(sink, |out| line.write_json(out));
        }
        debug_event(finished);
    }
}

/// The operational log's view of a request, on the `pylon::access` tracing target: every
/// request at debug level, with the error's detail, and at warn level the server-side failures,
/// whose detail (which target, which stage variable) the client is not shown. Values a client
/// controls are recorded as strings, which the log writes quoted and escaped.
fn debug_event(finished: &Finished<'_>) {
    let status = finished.status.as_u16();
    let failed = status >= 500 && finished.error.is_some();
    if !failed && !tracing::enabled!(target: "pylon::access", tracing::Level::DEBUG) {
        return;
    }
    let duration_us = finished.took.as_micros() as u64;
    let (group, env, api) = match &finished.route {
        Some(r) => (r.group, r.environment, r.plan.api_name.as_str()),
        None => ("-", "-", "-"),
    };
    let request_id = finished.request_id.as_str();
    let method = finished.method.as_str();
    let path = finished.path;
    match finished.error {
        Some(e) if failed => tracing::warn!(
            target: "pylon::access",
            request_id, group, env, api, method, path, status, duration_us, error = e.to_string(),
            "request failed"
        ),
        Some(e) => tracing::debug!(
            target: "pylon::access",
            request_id, group, env, api, method, path, status, duration_us, error = e.to_string(),
            "request rejected"
        ),
        None => tracing::debug!(
            target: "pylon::access",
            request_id, group, env, api, method, path, status, duration_us,
            "request"
        ),
    }
}

/// A backend's `host:port`, copied without an allocation when it fits, as it nearly always
/// does: the line's buffer is then the request's only allocation for the log.
enum Upstream {
    Inline { len: u8, bytes: [u8; 62] },
    Long(Box<str>),
}

impl Upstream {
    fn new(authority: &str) -> Upstream {
        let mut bytes = [0u8; 62];
        match bytes.get_mut(..authority.len()) {
            Some(head) => {
                head.copy_from_slice(authority.as_bytes());
                Upstream::Inline {
                    len: authority.len() as u8,
                    bytes,
                }
            }
            None => Upstream::Long(authority.into()),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            // Whole UTF-8 text was copied in.
            Upstream::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            Upstream::Long(text) => text,
        }
    }
}

/// One line of the access log, in field order. Unknown values are `null`.
struct Line<'f> {
    time: SystemTime,
    request_id: &'f [u8],
    client: std::net::IpAddr,
    method: &'f str,
    host: &'f str,
    path: &'f str,
    status: u16,
    bytes_in: Option<u64>,
    bytes_out: Option<u64>,
    duration: Duration,
    backend: Option<Duration>,
    group: Option<&'f str>,
    api: Option<&'f str>,
    api_id: Option<&'f str>,
    environment: Option<&'f str>,
    app_id: Option<&'f str>,
    error_code: Option<&'static str>,
    upstream: Option<&'f str>,
    /// Only on function calls' lines.
    function: Option<&'f FunctionLog>,
}

impl<'f> Line<'f> {
    fn new(f: &'f Finished<'f>, backend: Option<Duration>, upstream: Option<&'f str>) -> Self {
        let route = f.route.as_ref();
        // When the request arrived.
        let time = SystemTime::now()
            .checked_sub(f.took)
            .unwrap_or_else(SystemTime::now);
        Line {
            time,
            request_id: f.request_id.as_bytes(),
            client: f.client,
            method: f.method.as_str(),
            host: f.host,
            path: f.path,
            status: f.status.as_u16(),
            bytes_in: f.bytes_in,
            bytes_out: f.bytes_out,
            duration: f.took,
            backend,
            group: route.map(|r| r.group),
            api: route.map(|r| r.plan.api_name.as_str()),
            api_id: route.map(|r| r.plan.api_id.as_str()),
            environment: route.map(|r| r.environment),
            app_id: f.app_id,
            error_code: f.error.map(|e| e.code()),
            upstream,
            function: None,
        }
    }

    /// Appends the line, without its newline. Written by hand: the keys are fixed and most
    /// values (ids, numbers, the time, an address) never need escaping, while serde's escaping
    /// of every key and value byte by byte was most of the log's cost (about 4,700 of 7,300
    /// instructions a line under callgrind).
    fn write_json(&self, out: &mut Vec<u8>) {
        let mut time = [0u8; 24];
        out.extend_from_slice(b"{\"time\":\"");
        out.extend_from_slice(rfc3339_millis(self.time, &mut time));
        // The id, the method and the error code are written as they are: an id is hex digits
        // and hyphens, a method a token (no quotes, backslashes or controls), a code ASCII.
        out.extend_from_slice(b"\",\"request_id\":\"");
        out.extend_from_slice(self.request_id);
        out.extend_from_slice(b"\",\"client\":\"");
        out.extend_from_slice(IpText::new(self.client).as_str().as_bytes());
        out.extend_from_slice(b"\",\"method\":\"");
        out.extend_from_slice(self.method.as_bytes());
        out.push(b'"');
        out.extend_from_slice(b",\"host\":");
        string(out, self.host);
        out.extend_from_slice(b",\"path\":");
        string(out, self.path);
        out.extend_from_slice(b",\"status\":");
        number(out, self.status.into());
        out.extend_from_slice(b",\"bytes_in\":");
        optional(out, self.bytes_in, number);
        out.extend_from_slice(b",\"bytes_out\":");
        optional(out, self.bytes_out, number);
        out.extend_from_slice(b",\"duration_ms\":");
        millis(out, self.duration);
        out.extend_from_slice(b",\"backend_ms\":");
        optional(out, self.backend, millis);
        for (key, value) in [
            (&b",\"group\":"[..], self.group),
            (b",\"api\":", self.api),
            (b",\"api_id\":", self.api_id),
            (b",\"environment\":", self.environment),
            (b",\"app_id\":", self.app_id),
        ] {
            out.extend_from_slice(key);
            optional(out, value, string);
        }
        out.extend_from_slice(b",\"error_code\":");
        optional(out, self.error_code, |out, code| {
            out.push(b'"');
            out.extend_from_slice(code.as_bytes());
            out.push(b'"');
        });
        out.extend_from_slice(b",\"upstream\":");
        optional(out, self.upstream, string);
        if let Some(f) = self.function {
            out.extend_from_slice(b",\"function\":");
            string(out, &f.name);
            out.extend_from_slice(b",\"cold_start\":");
            optional(out, f.cold_start, |out, cold| {
                out.extend_from_slice(if cold { b"true" } else { b"false" })
            });
            out.extend_from_slice(b",\"function_outcome\":\"");
            out.extend_from_slice(f.outcome.as_bytes());
            out.push(b'"');
        }
        out.push(b'}');
    }
}

/// A JSON string: as it is when nothing in it needs escaping (ASCII without quotes,
/// backslashes or control characters: nearly always), else escaped by serde_json.
fn string(out: &mut Vec<u8>, text: &str) {
    // A fold rather than `all`: without the early exit the check compiles to vector code.
    let escaped = text.bytes().fold(false, |any, b| {
        any | !(0x20..0x7f).contains(&b) | (b == b'"') | (b == b'\\')
    });
    if !escaped {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, text);
    }
}

fn number(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Fractional milliseconds to the microsecond (`12.345`).
fn millis(out: &mut Vec<u8>, d: Duration) {
    // In u64, not `as_micros`'s u128, whose division is a call: 580 000 years of microseconds.
    let micros = d.as_secs().saturating_mul(1_000_000) + u64::from(d.subsec_micros());
    out.extend_from_slice(itoa::Buffer::new().format(micros / 1000).as_bytes());
    let fraction = (micros % 1000) as u16;
    out.extend_from_slice(&[
        b'.',
        b'0' + (fraction / 100) as u8,
        b'0' + (fraction / 10 % 10) as u8,
        b'0' + (fraction % 10) as u8,
    ]);
}

fn optional<T>(out: &mut Vec<u8>, value: Option<T>, write: impl FnOnce(&mut Vec<u8>, T)) {
    match value {
        Some(v) => write(out, v),
        None => out.extend_from_slice(b"null"),
    }
}

thread_local! {
    /// The second this thread last stamped a line with, formatted: lines come many a second,
    /// and the calendar arithmetic was most of a timestamp's cost (nginx keeps its time
    /// strings the same way).
    static SECOND: Cell<(u64, [u8; 19])> = const { Cell::new((u64::MAX, [0; 19])) };
}

/// Formats `time` into `buf` without allocating. Times before 1970 show as the epoch.
fn rfc3339_millis(time: SystemTime, buf: &mut [u8; 24]) -> &[u8] {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let second = SECOND.with(|cached| match cached.get() {
        (at, second) if at == secs => second,
        _ => {
            let second = format_second(secs);
            cached.set((secs, second));
            second
        }
    });
    buf[..19].copy_from_slice(&second);
    let millis = since.subsec_millis();
    buf[19..].copy_from_slice(&[
        b'.',
        b'0' + (millis / 100) as u8,
        b'0' + (millis / 10 % 10) as u8,
        b'0' + (millis % 10) as u8,
        b'Z',
    ]);
    buf
}

/// `YYYY-MM-DDTHH:MM:SS` of a second since the epoch.
fn format_second(secs: u64) -> [u8; 19] {
    let (days, of_day) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    let fields: [(usize, u64, usize); 6] = [
        (0, year as u64, 4),
        (5, month as u64, 2),
        (8, day as u64, 2),
        (11, of_day / 3600, 2),
        (14, of_day % 3600 / 60, 2),
        (17, of_day % 60, 2),
    ];
    let mut out = *b"0000-00-00T00:00:00";
    for (at, mut value, width) in fields {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    }
    out
}

/// Year, month, day of a count of days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_utc_with_milliseconds() {
        let mut buf = [0u8; 24];
        for (secs, millis) in [
            (0u64, 0u32),
            (951_782_400, 1),     // 2000-02-29, a leap day
            (1_796_115_793, 42),  // 2026-12-01
            (1_796_115_793, 43),  // the same second again, from the thread's cache
            (1_796_115_794, 0),   // and the next
            (4_102_444_799, 999), // 2099-12-31T23:59:59.999
            (1_709_251_199, 500), // 2024-02-29T23:59:59
            (7_258_118_399, 7),   // 2199-12-31T23:59:59
        ] {
            let time =
                UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis.into());
            let expected = jiff::Timestamp::from_second(secs as i64)
                .unwrap()
                .checked_add(jiff::SignedDuration::from_millis(millis.into()))
                .unwrap()
                .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string();
            assert_eq!(rfc3339_millis(time, &mut buf), expected.as_bytes());
        }
        assert_eq!(
            rfc3339_millis(UNIX_EPOCH, &mut buf),
            b"1970-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn upstreams_short_and_long_read_back_as_given() {
        for authority in ["10.0.0.5:8080", &format!("{}.example:443", "x".repeat(240))] {
            assert_eq!(Upstream::new(authority).as_str(), authority);
        }
        assert!(matches!(
            Upstream::new(&"y".repeat(62)),
            Upstream::Inline { .. }
        ));
        assert!(matches!(Upstream::new(&"y".repeat(63)), Upstream::Long(_)));
    }

    #[test]
    fn durations_are_milliseconds_to_the_microsecond() {
        let text = |d| {
            let mut out = Vec::new();
            millis(&mut out, d);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(text(Duration::from_nanos(12_345_678)), "12.345");
        assert_eq!(text(Duration::from_micros(1)), "0.001");
        assert_eq!(text(Duration::from_secs(2)), "2000.000");
        assert_eq!(text(Duration::ZERO), "0.000");
        // Past what a u32 of microseconds holds, and a century: still exact.
        assert_eq!(
            text(Duration::new(3_155_760_000, 999_999_999)),
            "3155760000999.999"
        );
    }

    #[test]
    fn lines_are_the_json_serde_would_write() {
        let line = Line {
            time: UNIX_EPOCH + Duration::from_millis(1_796_115_793_042),
            request_id: b"5CE72CC6-E751-449B-B6A9-7553D673CB98",
            client: "2001:db8::7".parse().unwrap(),
            method: "GET",
            host: "shop.example.com",
            path: "/caf\u{e9}/\"quoted\"\\\n",
            status: 404,
            bytes_in: Some(0),
            bytes_out: None,
            duration: Duration::from_micros(3_215),
            backend: None,
            group: Some("g1"),
            api: Some("orders"),
            api_id: None,
            environment: Some("RELEASE"),
            app_id: None,
            error_code: Some("D400NF"),
            upstream: None,
            function: None,
        };
        let mut bytes = Vec::new();
        line.write_json(&mut bytes);
        let parsed: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!({
                "time": "2026-12-01T09:03:13.042Z",
                "request_id": "5CE72CC6-E751-449B-B6A9-7553D673CB98",
                "client": "2001:db8::7", "method": "GET", "host": "shop.example.com",
                "path": "/caf\u{e9}/\"quoted\"\\\n", "status": 404, "bytes_in": 0,
                "bytes_out": null, "duration_ms": 3.215, "backend_ms": null, "group": "g1",
                "api": "orders", "api_id": null, "environment": "RELEASE", "app_id": null,
                "error_code": "D400NF", "upstream": null,
            })
        );
    }
}
