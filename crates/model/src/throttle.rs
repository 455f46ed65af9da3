//! The throttling policy: requests per unit of time for the API, per app, per user and per
//! client address, with special limits for named apps and address ranges, and quotas per app
//! over calendar periods (AWS usage plans).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ValidationError, check};
use crate::ip::parse_ip_range;

/// The window a throttle counts in. Windows are fixed and aligned to UTC (a minute window
/// starts at second 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ThrottleUnit {
    Second,
    Minute,
    Hour,
    Day,
}

impl ThrottleUnit {
    pub fn seconds(self) -> i64 {
        match self {
            Self::Second => 1,
            Self::Minute => 60,
            Self::Hour => 3600,
            Self::Day => 86_400,
        }
    }
}

/// The calendar period a quota counts in, in the quota's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum QuotaPeriod {
    /// From midnight to midnight.
    Day,
    /// From Monday midnight to the next Monday midnight.
    Week,
    /// From midnight on the first of the month to midnight on the first of the next.
    Month,
}

/// A limit that replaces the default for one app (`app_id`) or for the addresses of a range
/// (`range`, each address counted on its own).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpecialLimit {
    #[serde(default)]
    pub app_id: Option<String>,
    /// An address or CIDR range (`10.0.0.0/8`, `2001:db8::/32`).
    #[serde(default)]
    pub range: Option<String>,
    pub limit: u64,
}

/// Requests an app may make per calendar period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuotaConfig {
    pub limit: u64,
    pub period: QuotaPeriod,
    /// An IANA name (`Asia/Shanghai`), a fixed offset (`+08:00`) or `UTC` (the default).
    #[serde(default = "utc")]
    pub time_zone: String,
    /// Quotas that replace `limit` for named apps.
    #[serde(default)]
    pub apps: Vec<AppQuota>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppQuota {
    pub app_id: String,
    pub limit: u64,
}

fn utc() -> String {
    "UTC".into()
}

/// Alibaba's throttling policy with AWS's usage-plan quota. Every limit is optional; a
/// request is admitted only when every limit that applies to it has room, and only an
/// admitted request counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThrottleConfig {
    pub unit: ThrottleUnit,
    /// Requests per unit for the API, all callers together.
    #[serde(default)]
    pub api_limit: Option<u64>,
    /// Requests per unit for each app.
    #[serde(default)]
    pub app_limit: Option<u64>,
    /// Requests per unit for each user: the JWT subject, or the Tencent key id.
    #[serde(default)]
    pub user_limit: Option<u64>,
    /// Requests per unit for each client address.
    #[serde(default)]
    pub ip_limit: Option<u64>,
    #[serde(default)]
    pub special: Vec<SpecialLimit>,
    #[serde(default)]
    pub quota: Option<QuotaConfig>,
    /// Adds `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` to every
    /// admitted response.
    #[serde(default)]
    pub rate_limit_headers: bool,
}

/// Counts are kept in 32 bits.
pub const MAX_LIMIT: u64 = u32::MAX as u64;
/// Special limits at most per policy.
pub const MAX_SPECIAL_LIMITS: usize = 1000;

impl ThrottleConfig {
    pub fn validate(&self, field: &str) -> Result<(), ValidationError> {
        let limits = [
            ("api_limit", self.api_limit),
            ("app_limit", self.app_limit),
            ("user_limit", self.user_limit),
            ("ip_limit", self.ip_limit),
        ];
        for (name, limit) in limits {
            if let Some(limit) = limit {
                check_limit(limit, &format!("{field}.{name}"))?;
            }
        }
        check(
            limits.iter().any(|(_, l)| l.is_some())
                || !self.special.is_empty()
                || self.quota.is_some(),
            field,
            "set at least one of `api_limit`, `app_limit`, `user_limit`, `ip_limit`, \
             `special` or `quota`",
        )?;
        check(
            self.special.len() <= MAX_SPECIAL_LIMITS,
            &format!("{field}.special"),
            format!("at most {MAX_SPECIAL_LIMITS} entries"),
        )?;
        for (i, s) in self.special.iter().enumerate() {
            let at = format!("{field}.special[{i}]");
            check_limit(s.limit, &format!("{at}.limit"))?;
            match (&s.app_id, &s.range) {
                (Some(app), None) => check(
                    !app.trim().is_empty(),
                    &format!("{at}.app_id"),
                    "must name an app",
                )?,
                (None, Some(range)) => {
                    parse_ip_range(range)
                        .map_err(|m| ValidationError::new(format!("{at}.range"), m))?;
                }
                _ => {
                    return Err(ValidationError::new(
                        at,
                        "name exactly one of `app_id` (an app) or `range` (addresses)",
                    ));
                }
            }
        }
        if let Some(quota) = &self.quota {
            let at = format!("{field}.quota");
            check_limit(quota.limit, &format!("{at}.limit"))?;
            parse_time_zone(&quota.time_zone)
                .map_err(|m| ValidationError::new(format!("{at}.time_zone"), m))?;
            for (i, a) in quota.apps.iter().enumerate() {
                check(
                    !a.app_id.trim().is_empty(),
                    &format!("{at}.apps[{i}].app_id"),
                    "must name an app",
                )?;
                check_limit(a.limit, &format!("{at}.apps[{i}].limit"))?;
            }
        }
        Ok(())
    }
}

fn check_limit(limit: u64, field: &str) -> Result<(), ValidationError> {
    check(
        (1..=MAX_LIMIT).contains(&limit),
        field,
        format!("must be between 1 and {MAX_LIMIT}"),
    )
}

/// Reads a quota's time zone: `UTC`, a fixed offset (`+08:00`, `-05:30`) or an IANA name,
/// which the system's time zone database (or the one built in) must know.
pub fn parse_time_zone(name: &str) -> Result<jiff::tz::TimeZone, String> {
    let name = name.trim();
    if name.eq_ignore_ascii_case("UTC") || name == "Z" {
        return Ok(jiff::tz::TimeZone::UTC);
    }
    if let Some(offset) = parse_offset(name) {
        return offset;
    }
    jiff::tz::TimeZone::get(name).map_err(|_| {
        format!("unknown time zone `{name}`; use an IANA name (`Asia/Shanghai`), an offset (`+08:00`) or `UTC`")
    })
}

/// `+HH:MM` or `-HH:MM`; `None` when the text is not shaped like an offset at all.
fn parse_offset(text: &str) -> Option<Result<jiff::tz::TimeZone, String>> {
    let sign = match text.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let wrong = || Err(format!("`{text}` is not an offset of the form +HH:MM"));
    let Some((hours, minutes)) = text[1..].split_once(':') else {
        return Some(wrong());
    };
    let (Ok(hours), Ok(minutes)) = (hours.parse::<i32>(), minutes.parse::<i32>()) else {
        return Some(wrong());
    };
    if hours.abs() > 14 || !(0..60).contains(&minutes) {
        return Some(wrong());
    }
    let seconds = sign * (hours * 3600 + minutes * 60);
    Some(
        jiff::tz::Offset::from_seconds(seconds)
            .map(jiff::tz::TimeZone::fixed)
            .map_err(|e| e.to_string()),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::PolicyConfig;

    fn config(value: serde_json::Value) -> Result<(), ValidationError> {
        PolicyConfig::parse("throttle", value)?.validate("config")
    }

    #[test]
    fn a_full_throttle_reads_and_validates() {
        config(json!({
            "unit": "minute", "api_limit": 1000, "app_limit": 100, "user_limit": 10,
            "ip_limit": 20,
            "special": [{"app_id": "vip", "limit": 500}, {"range": "10.0.0.0/8", "limit": 200}],
            "quota": {"limit": 10000, "period": "month", "time_zone": "Asia/Shanghai",
                      "apps": [{"app_id": "vip", "limit": 100000}]},
            "rate_limit_headers": true,
        }))
        .unwrap();
        config(json!({"unit": "second", "quota": {"limit": 5, "period": "week", "time_zone": "+05:30"}}))
            .unwrap();
    }

    #[test]
    fn wrong_throttles_name_the_field() {
        for (value, field) in [
            (json!({"unit": "minute"}), "config"),
            (
                json!({"unit": "minute", "api_limit": 0}),
                "config.api_limit",
            ),
            (
                json!({"unit": "minute", "ip_limit": 5_000_000_000u64}),
                "config.ip_limit",
            ),
            (
                json!({"unit": "minute", "special": [{"limit": 5}]}),
                "config.special[0]",
            ),
            (
                json!({"unit": "minute", "special": [{"app_id": "a", "range": "::1", "limit": 5}]}),
                "config.special[0]",
            ),
            (
                json!({"unit": "minute", "special": [{"range": "10.0.0.0/40", "limit": 5}]}),
                "config.special[0].range",
            ),
            (
                json!({"unit": "minute", "quota": {"limit": 5, "period": "month", "time_zone": "Mars/Olympus"}}),
                "config.quota.time_zone",
            ),
            (
                json!({"unit": "minute", "quota": {"limit": 5, "period": "day", "time_zone": "+25:00"}}),
                "config.quota.time_zone",
            ),
            (
                json!({"unit": "minute", "quota": {"limit": 5, "period": "day", "apps": [{"app_id": "a", "limit": 0}]}}),
                "config.quota.apps[0].limit",
            ),
        ] {
            let err = config(value.clone()).unwrap_err();
            assert_eq!(err.field, field, "{value}: {err}");
        }
        let err = PolicyConfig::parse("throttle", json!({"unit": "fortnight", "api_limit": 1}))
            .unwrap_err();
        assert_eq!(err.field, "config");
    }

    #[test]
    fn time_zones_read_names_offsets_and_utc() {
        for name in [
            "UTC",
            "utc",
            "+08:00",
            "-05:30",
            "Asia/Shanghai",
            "America/New_York",
        ] {
            parse_time_zone(name).unwrap();
        }
        let err = parse_time_zone("Nowhere/City").unwrap_err();
        assert!(err.contains("`Nowhere/City`"), "{err}");
    }
}
