//! `pylon authorization`: which app may call which API in which environment, and until when.

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use http::Method;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::groups::group_id;
use super::{Ctx, output, resolve, seg};

const AUTHORIZATION_COLUMNS: &[output::Column] = &[
    ("ID", "/id"),
    ("APP", "/app"),
    ("GROUP", "/group"),
    ("API", "/api"),
    ("ENVIRONMENT", "/environment"),
    ("EXPIRES", "/expires"),
    ("EXPIRED", "/expired"),
    ("DESCRIPTION", "/description"),
];

#[derive(Subcommand, Debug)]
pub enum AuthorizationCommand {
    /// Let an app call an API in an environment (again: updates expiry and description).
    Grant(GrantArgs),
    /// List authorizations, optionally of one app and/or one API.
    List {
        /// Only this app's (id or name).
        #[arg(long)]
        app: Option<String>,
        /// With --api: the API's group (id or name).
        #[arg(long, requires = "api")]
        group: Option<String>,
        /// Only this API's (id or name), with --group.
        #[arg(long, requires = "group")]
        api: Option<String>,
        /// Only this environment's.
        #[arg(long = "env")]
        environment: Option<String>,
    },
    /// Revoke an authorization by id.
    Revoke {
        /// The authorization's id, as `pylon authorization list` shows it.
        id: String,
    },
}

#[derive(Args, Debug)]
pub struct GrantArgs {
    /// The app, by id or name.
    #[arg(long)]
    pub app: String,
    /// The API's group, by id or name.
    #[arg(long)]
    pub group: String,
    /// The API, by id or name.
    #[arg(long)]
    pub api: String,
    /// The environment the app may call the API in.
    #[arg(long = "env")]
    pub environment: String,
    /// Expiry: RFC 3339 (`2030-01-31T00:00:00Z`) or epoch milliseconds.
    #[arg(long, conflicts_with = "expires_in")]
    pub expires_at: Option<String>,
    /// Expiry from now: `90s`, `30m`, `12h`, `7d`, or combined like `1h30m`.
    #[arg(long)]
    pub expires_in: Option<String>,
    /// Free text.
    #[arg(long, default_value = "")]
    pub description: String,
}

/// The ids of the group and the API, each given by id or name.
pub(super) async fn api_id(ctx: &Ctx, group: &str, api: &str) -> anyhow::Result<(String, String)> {
    let g = group_id(ctx, group).await?;
    let a = resolve(ctx, &format!("/v1/groups/{}/apis", seg(&g)), api, "API").await?;
    Ok((g, a))
}

/// Adds readable `app`, `group` and `api` (names) and `expires` columns to each grant for the
/// table.
async fn readable(ctx: &Ctx, mut list: Value) -> anyhow::Result<Value> {
    let apps = ctx.client.get("/v1/apps").await?;
    let groups = ctx.client.get("/v1/groups").await?;
    let mut apis = Vec::new();
    let mut group_ids: Vec<&str> = list
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a["group_id"].as_str())
        .collect();
    group_ids.sort_unstable();
    group_ids.dedup();
    for g in group_ids {
        let listed = ctx
            .client
            .get(&format!("/v1/groups/{}/apis", seg(g)))
            .await?;
        apis.extend(listed.as_array().cloned().unwrap_or_default());
    }
    let name_in = |all: &[Value], id: &Value| {
        all.iter()
            .find(|item| &item["id"] == id)
            .map(|item| item["name"].clone())
            .unwrap_or_else(|| id.clone())
    };
    let apps = apps.as_array().cloned().unwrap_or_default();
    let groups = groups.as_array().cloned().unwrap_or_default();
    for item in list.as_array_mut().into_iter().flatten() {
        item["app"] = name_in(&apps, &item["app_id"]);
        item["group"] = name_in(&groups, &item["group_id"]);
        item["api"] = name_in(&apis, &item["api_id"]);
        item["expires"] = match item["expires_at"].as_i64() {
            Some(ms) => Value::String(format_rfc3339(ms)),
            None => Value::String("never".into()),
        };
    }
    Ok(list)
}

pub async fn authorization(ctx: &Ctx, command: AuthorizationCommand) -> anyhow::Result<()> {
    let c = &ctx.client;
    match command {
        AuthorizationCommand::Grant(a) => {
            let now = pylon_auth::now_ms();
            let expires_at = match (&a.expires_at, &a.expires_in) {
                (Some(at), _) => Some(parse_expiry(at)?),
                (None, Some(d)) => Some(now.saturating_add(parse_duration_ms(d)?)),
                (None, None) => None,
            };
            let (_, api) = api_id(ctx, &a.group, &a.api).await?;
            let body = json!({
                "app_id": a.app, "api_id": api, "environment": a.environment,
                "expires_at": expires_at, "description": a.description,
            });
            let v = c.send(Method::POST, "/v1/authorizations", &body).await?;
            show(ctx, json!([v])).await
        }
        AuthorizationCommand::List {
            app,
            group,
            api,
            environment,
        } => {
            let mut query = Vec::new();
            if let Some(app) = app {
                let id = resolve(ctx, "/v1/apps", &app, "app").await?;
                query.push(format!("app_id={}", seg(&id)));
            }
            if let (Some(group), Some(api)) = (group, api) {
                let (_, id) = api_id(ctx, &group, &api).await?;
                query.push(format!("api_id={}", seg(&id)));
            }
            if let Some(env) = environment {
                query.push(format!("environment={}", seg(&env)));
            }
            let mut path = "/v1/authorizations".to_string();
            if !query.is_empty() {
                path = format!("{path}?{}", query.join("&"));
            }
            show(ctx, c.get(&path).await?).await
        }
        AuthorizationCommand::Revoke { id } => {
            c.delete(&format!("/v1/authorizations/{}", seg(&id)))
                .await?;
            println!("revoked authorization {id}");
            Ok(())
        }
    }
}

/// Grants as a table (with app names and readable expiry), or as the API returned them.
async fn show(ctx: &Ctx, list: Value) -> anyhow::Result<()> {
    let list = match ctx.format {
        output::Format::Json => list,
        output::Format::Table => readable(ctx, list).await?,
    };
    output::list(ctx.format, &list, AUTHORIZATION_COLUMNS)
}

/// Epoch milliseconds (all digits) or an RFC 3339 timestamp.
fn parse_expiry(text: &str) -> anyhow::Result<i64> {
    let text = text.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse()
            .with_context(|| format!("--expires-at `{text}` is too large"));
    }
    parse_rfc3339(text).with_context(|| {
        format!(
            "--expires-at `{text}` must be RFC 3339 (e.g. 2030-01-31T00:00:00Z) or epoch milliseconds"
        )
    })
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` to epoch milliseconds; a fraction finer than a
/// millisecond is dropped (rounding down, also before 1970).
fn parse_rfc3339(text: &str) -> anyhow::Result<i64> {
    let nanos = OffsetDateTime::parse(text, &Rfc3339)?.unix_timestamp_nanos();
    Ok(i64::try_from(nanos.div_euclid(1_000_000))?)
}

/// Epoch milliseconds as `YYYY-MM-DDTHH:MM:SSZ` (UTC, whole seconds); out of range, the
/// number itself.
fn format_rfc3339(ms: i64) -> String {
    output::utc(ms.div_euclid(1000) * 1000)
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// `90s`, `30m`, `12h`, `7d`, `500ms` or sums like `1h30m`, in milliseconds.
fn parse_duration_ms(text: &str) -> anyhow::Result<i64> {
    let bad = || format!("--expires-in `{text}` must look like 30m, 12h, 7d or 1h30m");
    let mut total: i64 = 0;
    let mut rest = text.trim();
    if rest.is_empty() {
        bail!(bad());
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            bail!(bad());
        }
        let n: i64 = rest[..digits].parse().with_context(bad)?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let factor = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            _ => bail!(bad()),
        };
        rest = &rest[unit_len..];
        total = n
            .checked_mul(factor)
            .and_then(|v| total.checked_add(v))
            .with_context(bad)?;
    }
    if total == 0 {
        bail!("--expires-in must be longer than zero");
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_timestamps_parse_to_epoch_ms() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(
            parse_rfc3339("2030-01-31T12:34:56.789Z").unwrap(),
            1_896_093_296_789
        );
        assert_eq!(
            parse_rfc3339("2030-01-31T14:34:56.7+02:00").unwrap(),
            1_896_093_296_700
        );
        assert!(parse_rfc3339("2030-13-01T00:00:00Z").is_err());
        assert!(parse_rfc3339("2030-01-01").is_err());
        assert!(parse_rfc3339("2030-01-01T00:00:00").is_err());
        assert_eq!(parse_expiry("1896093296789").unwrap(), 1_896_093_296_789);
    }

    #[test]
    fn rfc3339_edge_cases() {
        // Lowercase `t` and `z`, or a space between date and time, as before.
        assert_eq!(
            parse_rfc3339("2030-01-31t12:34:56.789z").unwrap(),
            1_896_093_296_789
        );
        assert_eq!(
            parse_rfc3339("2030-01-31 12:34:56Z").unwrap(),
            1_896_093_296_000
        );
        // Finer than a millisecond rounds down, before 1970 too.
        assert_eq!(
            parse_rfc3339("2030-01-31T12:34:56.7899Z").unwrap(),
            1_896_093_296_789
        );
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59.9995Z").unwrap(), -1);
        // Days and offsets that do not exist are refused.
        assert!(parse_rfc3339("2030-02-30T00:00:00Z").is_err());
        assert!(parse_rfc3339("2030-01-31T00:00:00+24:00").is_err());
        assert!(parse_expiry("soon").is_err());
    }

    #[test]
    fn times_out_of_range_show_as_numbers() {
        assert_eq!(format_rfc3339(i64::MAX), i64::MAX.to_string());
        assert_eq!(output::date(i64::MIN), i64::MIN.to_string());
    }

    #[test]
    fn timestamps_format_back() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(1_896_093_296_789), "2030-01-31T12:34:56Z");
        assert_eq!(format_rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn durations_add_up() {
        assert_eq!(parse_duration_ms("1h").unwrap(), 3_600_000);
        assert_eq!(parse_duration_ms("1h30m").unwrap(), 5_400_000);
        assert_eq!(parse_duration_ms("7d").unwrap(), 604_800_000);
        assert_eq!(parse_duration_ms("250ms").unwrap(), 250);
        for bad in ["", "h", "10", "3y", "0s", "-1h"] {
            assert!(parse_duration_ms(bad).is_err(), "{bad}");
        }
    }
}
