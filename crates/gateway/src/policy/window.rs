//! Time as the throttle counts it: the policies' clock, the fixed windows of a throttle unit,
//! and the calendar periods of a quota in its time zone.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use arc_swap::ArcSwap;
use jiff::ToSpan;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use pylon_model::QuotaPeriod;

/// Added to the wall clock for policies only (`serve --clock-offset`): the end-to-end tests
/// move the calendar to a period's last seconds without touching the clock signatures check.
static OFFSET_MS: AtomicI64 = AtomicI64::new(0);

/// Shifts the clock every policy reads by `ms`; for tests of calendar windows.
pub fn set_clock_offset(ms: i64) {
    OFFSET_MS.store(ms, Ordering::Relaxed);
}

/// Epoch milliseconds as policies see them.
pub(crate) fn now_ms() -> i64 {
    pylon_auth::now_ms().saturating_add(OFFSET_MS.load(Ordering::Relaxed))
}

/// A window, in epoch seconds: `start` inclusive, `end` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub(crate) start: i64,
    pub(crate) end: i64,
}

impl Window {
    /// The window of `unit_s` seconds holding `now_ms`, aligned to the epoch (so to UTC).
    pub(crate) fn fixed(now_ms: i64, unit_s: i64) -> Window {
        let start = now_ms.div_euclid(1000).div_euclid(unit_s) * unit_s;
        Window {
            start,
            end: start + unit_s,
        }
    }

    /// Whole seconds until the window ends, at least 1: what `Retry-After` and
    /// `X-RateLimit-Reset` say.
    pub(crate) fn seconds_left(&self, now_ms: i64) -> u64 {
        let left_ms = self.end.saturating_mul(1000).saturating_sub(now_ms);
        u64::try_from((left_ms + 999) / 1000).unwrap_or(0).max(1)
    }

    fn holds(&self, now_ms: i64) -> bool {
        let now_s = now_ms.div_euclid(1000);
        self.start <= now_s && now_s < self.end
    }
}

/// A quota's calendar periods in its time zone. The current period is worked out once and
/// kept, so a request pays a time-zone conversion only when a period ends.
#[derive(Debug)]
pub(crate) struct Calendar {
    period: QuotaPeriod,
    zone: TimeZone,
    current: ArcSwap<Window>,
}

impl Calendar {
    pub(crate) fn new(period: QuotaPeriod, zone: TimeZone) -> Self {
        Calendar {
            period,
            zone,
            current: ArcSwap::from_pointee(Window { start: 0, end: 0 }),
        }
    }

    /// The period holding `now_ms`.
    pub(crate) fn window(&self, now_ms: i64) -> Window {
        let current = **self.current.load();
        if current.holds(now_ms) {
            return current;
        }
        let now_s = now_ms.div_euclid(1000);
        // Out of the calendar's range (years beyond 9999): count by UTC day rather than fail.
        let window = period_at(self.period, &self.zone, now_s)
            .unwrap_or_else(|| Window::fixed(now_ms, 86_400));
        self.current.store(Arc::new(window));
        window
    }
}

/// The day, week (from Monday) or month holding `now_s`, as its local midnights in `zone`.
fn period_at(period: QuotaPeriod, zone: &TimeZone, now_s: i64) -> Option<Window> {
    let date = jiff::Timestamp::from_second(now_s)
        .ok()?
        .to_zoned(zone.clone())
        .date();
    let (start, end) = match period {
        QuotaPeriod::Day => (date, date.tomorrow().ok()?),
        QuotaPeriod::Week => {
            let monday = date
                .checked_sub(i64::from(date.weekday().to_monday_zero_offset()).days())
                .ok()?;
            (monday, monday.checked_add(7.days()).ok()?)
        }
        QuotaPeriod::Month => {
            let first = date.first_of_month();
            (first, first.checked_add(1.month()).ok()?)
        }
    };
    // A midnight that a daylight-saving change skips resolves to the first instant after it.
    let midnight = |d: Date| Some(d.to_zoned(zone.clone()).ok()?.timestamp().as_second());
    Some(Window {
        start: midnight(start)?,
        end: midnight(end)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> i64 {
        text.parse::<jiff::Timestamp>().unwrap().as_millisecond()
    }

    fn window(period: QuotaPeriod, zone: &str, now: &str) -> (String, String) {
        let zone = pylon_model::parse_time_zone(zone).unwrap();
        let w = Calendar::new(period, zone).window(at(now));
        let show = |s: i64| jiff::Timestamp::from_second(s).unwrap().to_string();
        (show(w.start), show(w.end))
    }

    #[test]
    fn fixed_windows_align_to_the_unit() {
        let w = Window::fixed(at("2026-12-01T10:15:42.500Z"), 60);
        assert_eq!(w.start * 1000, at("2026-12-01T10:15:00Z"));
        assert_eq!(w.end * 1000, at("2026-12-01T10:16:00Z"));
        assert_eq!(w.seconds_left(at("2026-12-01T10:15:42.500Z")), 18);
        assert_eq!(w.seconds_left(at("2026-12-01T10:15:59.999Z")), 1);
        let day = Window::fixed(at("2026-12-01T23:59:59Z"), 86_400);
        assert_eq!(day.start * 1000, at("2026-12-01T00:00:00Z"));
    }

    #[test]
    fn calendar_periods_follow_the_time_zone() {
        use QuotaPeriod::*;
        // 2026-12-31 20:00 UTC is already 2027-01-01 04:00 in Shanghai.
        let utc_month = window(Month, "UTC", "2026-12-31T20:00:00Z");
        assert_eq!(
            utc_month,
            ("2026-12-01T00:00:00Z".into(), "2027-01-01T00:00:00Z".into())
        );
        let shanghai_month = window(Month, "Asia/Shanghai", "2026-12-31T20:00:00Z");
        assert_eq!(
            shanghai_month,
            ("2026-12-31T16:00:00Z".into(), "2027-01-31T16:00:00Z".into())
        );
        // 2026-12-02 is a Wednesday: the week began on Monday the 30th of November.
        assert_eq!(
            window(Week, "UTC", "2026-12-02T12:00:00Z"),
            ("2026-11-30T00:00:00Z".into(), "2026-12-07T00:00:00Z".into())
        );
        assert_eq!(
            window(Day, "-05:30", "2026-12-02T03:00:00Z"),
            ("2026-12-01T05:30:00Z".into(), "2026-12-02T05:30:00Z".into())
        );
    }

    #[test]
    fn a_day_across_a_daylight_saving_change_is_23_or_25_hours() {
        // New York springs forward on 2026-03-08 and falls back on 2026-11-01.
        let (start, end) = window(QuotaPeriod::Day, "America/New_York", "2026-03-08T12:00:00Z");
        assert_eq!(
            (start.as_str(), end.as_str()),
            ("2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z")
        );
        let (start, end) = window(QuotaPeriod::Day, "America/New_York", "2026-11-01T12:00:00Z");
        assert_eq!(
            (start.as_str(), end.as_str()),
            ("2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z")
        );
    }

    #[test]
    fn the_calendar_moves_to_the_next_period_when_one_ends() {
        let calendar = Calendar::new(QuotaPeriod::Day, TimeZone::UTC);
        let first = calendar.window(at("2026-12-01T23:59:59.900Z"));
        let next = calendar.window(at("2026-12-02T00:00:00.000Z"));
        assert_eq!(first.end, next.start);
        assert_eq!(next.end - next.start, 86_400);
        // An earlier time (a clock set back) is worked out again, not served the cached period.
        assert_eq!(calendar.window(at("2026-12-01T12:00:00Z")), first);
    }
}
