//! `pylon serve` settings: flags, then `PYLON_*` environment variables, then an optional YAML
//! config file, then defaults, in that order of precedence.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use pylon_gateway::Limits;
use pylon_store::{SECRET_KEY_FILE, SecretKey};
use serde::Deserialize;

pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 8080);
pub const DEFAULT_ADMIN_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9180);
pub const DEFAULT_STATUS_LISTEN: SocketAddr =
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9181);
pub const DEFAULT_DATA_DIR: &str = "./pylon-data";
pub const DEFAULT_BASE_DOMAIN: &str = "localhost";
pub const TOKEN_FILE: &str = "admin-token";
/// Read from the environment only (never a flag or the config file), so the key does not show
/// in process listings or end up in a file shared with the rest of the configuration.
pub const SECRET_KEY_ENV: &str = "PYLON_SECRET_KEY";

#[derive(clap::Args, Debug, Default)]
pub struct ServeArgs {
    /// YAML config file with any of the keys of docs/configuration.md; re-read on SIGHUP.
    #[arg(long, env = "PYLON_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory of the embedded store and the generated admin token [default: ./pylon-data].
    #[arg(long, env = "PYLON_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Gateway listener [default: 0.0.0.0:8080].
    #[arg(long, env = "PYLON_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// HTTPS gateway listener, e.g. `0.0.0.0:8443`; certificates come from
    /// `pylon certificate add` [default: none, no HTTPS].
    #[arg(long, env = "PYLON_TLS_LISTEN")]
    pub tls_listen: Option<SocketAddr>,
    /// Let Pylon run hosted functions (`pylon function create`): it starts their commands as
    /// worker processes, so it is off unless asked for [default: off].
    #[arg(long, env = "PYLON_ALLOW_HOSTED_FUNCTIONS")]
    pub allow_hosted_functions: bool,
    /// How long a web console sign-in lasts, e.g. `8h` [default: 8h].
    #[arg(long, env = "PYLON_CONSOLE_SESSION_TTL", value_parser = parse_duration)]
    pub console_session_ttl: Option<Duration>,
    /// Admin API listener [default: 127.0.0.1:9180]; it also serves the web console at
    /// `/console`.
    #[arg(long, env = "PYLON_ADMIN_LISTEN")]
    pub admin_listen: Option<SocketAddr>,
    /// Status listener: `/healthz`, `/readyz` and `/metrics`, no token [default: 127.0.0.1:9181].
    #[arg(long, env = "PYLON_STATUS_LISTEN")]
    pub status_listen: Option<SocketAddr>,
    /// Admin bearer token; generated and stored in the data directory when absent.
    #[arg(long, env = "PYLON_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Base domain of the groups' default subdomains `<group-id>.<base-domain>` [default: localhost].
    #[arg(long, env = "PYLON_BASE_DOMAIN")]
    pub base_domain: Option<String>,
    /// Open client connections at most; past it the oldest idle one is closed
    /// [default: half the open-file limit, at most 100000].
    #[arg(long, env = "PYLON_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Largest request head (request line and headers), e.g. `64KiB`; larger get a 431
    /// [default: 64KiB, at least 8KiB].
    #[arg(long, env = "PYLON_MAX_HEADER_SIZE", value_parser = parse_size)]
    pub max_header_size: Option<usize>,
    /// Time from accept, or from a request's first byte, to its complete head (with a small body read with it), e.g. `30s` [default: 30s].
    #[arg(long, env = "PYLON_HEADER_TIMEOUT", value_parser = parse_duration)]
    pub header_timeout: Option<Duration>,
    /// A kept-alive connection with no request in flight is closed after this, e.g. `75s` [default: 75s].
    #[arg(long, env = "PYLON_IDLE_TIMEOUT", value_parser = parse_duration)]
    pub idle_timeout: Option<Duration>,
    /// After SIGTERM, requests on open connections are still answered this long, e.g. `1s` [default: 1s].
    #[arg(long, env = "PYLON_SHUTDOWN_GRACE", value_parser = parse_duration)]
    pub shutdown_grace: Option<Duration>,
    /// Proxies in front of Pylon whose `X-Forwarded-For` / `Forwarded` name the client's
    /// address, as addresses or CIDR ranges separated by commas, e.g. `10.0.0.0/8,::1`
    /// [default: none: the client is always the connection's peer].
    #[arg(long, env = "PYLON_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Option<Vec<String>>,
    /// OpenTelemetry collector (OTLP/HTTP) to send traces to, e.g. `http://127.0.0.1:4318`;
    /// spans are posted to `<url>/v1/traces` [default: none: no traces].
    #[arg(long, env = "PYLON_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
    /// Share of new traces sent, from 0 to 1; a client's `traceparent` decides for its own
    /// trace [default: 1].
    #[arg(long, env = "PYLON_TRACE_SAMPLING")]
    pub trace_sampling: Option<f64>,
    /// Access log, one JSON line per request: `stdout`, `off`, or a file path to append to
    /// [default: stdout].
    #[arg(long, env = "PYLON_ACCESS_LOG")]
    pub access_log: Option<String>,
    /// Seconds added to the clock that throttling windows and quota periods read (signatures
    /// and token expiry keep the real one): for testing what happens at a period's end.
    #[arg(
        long,
        env = "PYLON_CLOCK_OFFSET",
        hide = true,
        allow_hyphen_values = true
    )]
    pub clock_offset: Option<i64>,
}

#[derive(Deserialize, Default, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    listen: Option<SocketAddr>,
    tls_listen: Option<SocketAddr>,
    admin_listen: Option<SocketAddr>,
    status_listen: Option<SocketAddr>,
    admin_token: Option<String>,
    base_domain: Option<String>,
    max_connections: Option<usize>,
    #[serde(default, deserialize_with = "de_size")]
    max_header_size: Option<usize>,
    #[serde(default, deserialize_with = "de_duration")]
    header_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "de_duration")]
    idle_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "de_duration")]
    shutdown_grace: Option<Duration>,
    trusted_proxies: Option<Vec<String>>,
    otlp_endpoint: Option<String>,
    trace_sampling: Option<f64>,
    /// The log filter when `PYLON_LOG` is not set.
    log: Option<String>,
    access_log: Option<String>,
}

/// The settings `pylon serve` runs with, every layer resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// The HTTPS listener, when one is asked for.
    pub tls_listen: Option<SocketAddr>,
    pub admin_listen: SocketAddr,
    pub status_listen: SocketAddr,
    pub admin_token: Option<String>,
    pub base_domain: String,
    pub limits: Limits,
    /// Where traces go, if anywhere.
    pub tracing: Option<pylon_gateway::TracingConfig>,
    /// Log filter from the config file (`PYLON_LOG` wins over it).
    pub log: Option<String>,
    pub access_log: AccessLogTo,
}

/// Where the access log goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessLogTo {
    Stdout,
    Off,
    /// Appended to this file.
    File(PathBuf),
}

impl AccessLogTo {
    /// `stdout`, `off`, or a path (anything else).
    pub fn parse(text: &str) -> anyhow::Result<AccessLogTo> {
        match text.trim() {
            "" => bail!("access_log must be `stdout`, `off` or a file path"),
            "stdout" => Ok(AccessLogTo::Stdout),
            "off" => Ok(AccessLogTo::Off),
            path => Ok(AccessLogTo::File(path.into())),
        }
    }
}

impl Settings {
    /// What differs from `self` in `next` that only a restart applies.
    pub fn needs_restart(&self, next: &Settings) -> Vec<&'static str> {
        let mut changed = Vec::new();
        if self.data_dir != next.data_dir {
            changed.push("data_dir");
        }
        if self.listen != next.listen {
            changed.push("listen");
        }
        if self.tls_listen != next.tls_listen {
            changed.push("tls_listen");
        }
        if self.admin_listen != next.admin_listen {
            changed.push("admin_listen");
        }
        if self.status_listen != next.status_listen {
            changed.push("status_listen");
        }
        if self.admin_token != next.admin_token {
            changed.push("admin_token");
        }
        if self.base_domain != next.base_domain {
            changed.push("base_domain");
        }
        if self.tracing != next.tracing {
            changed.push("otlp_endpoint/trace_sampling");
        }
        if self.access_log != next.access_log {
            changed.push("access_log");
        }
        changed
    }
}

/// The open-file limit's share for client connections: each may hold a backend connection
/// too, and the store, listeners and logs need a few.
pub fn default_max_connections(open_files: u64) -> usize {
    let share = open_files.saturating_sub(64) / 2;
    usize::try_from(share.clamp(16, 100_000)).unwrap_or(100_000)
}

/// `30s`, `500ms`, `2m`, `1h`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (e.g. `30s`, `500ms`, `2m`)"))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        other => return Err(format!("`{other}` is not a time unit (ms, s, m, h)")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("`{text}` is out of range"))
}

/// `65536`, `64KiB`, `1MiB` (also `k`, `KB`, `M`, `MB`, all powers of 1024).
pub fn parse_size(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: usize = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size (e.g. `65536`, `64KiB`, `1MiB`)"))?;
    let factor = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        other => return Err(format!("`{other}` is not a size unit (KiB, MiB)")),
    };
    value
        .checked_mul(factor)
        .ok_or_else(|| format!("`{text}` is out of range"))
}

/// YAML accepts a duration as a string (`30s`) or a number of seconds.
fn de_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    de_parsed(d, "a duration such as `30s`", parse_duration)
}

/// YAML accepts a size as a string (`64KiB`) or a number of bytes.
fn de_size<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    de_parsed(d, "a size such as `64KiB`", parse_size)
}

/// A string or a number, read with the same parser as the flag.
fn de_parsed<'de, D: serde::Deserializer<'de>, T>(
    d: D,
    expected: &str,
    parse: fn(&str) -> Result<T, String>,
) -> Result<Option<T>, D::Error> {
    let text = match Option::<yaml_serde::Value>::deserialize(d)? {
        None => return Ok(None),
        Some(yaml_serde::Value::String(s)) => s,
        Some(yaml_serde::Value::Number(n)) => n.to_string(),
        Some(_) => {
            return Err(serde::de::Error::custom(format!("expected {expected}")));
        }
    };
    parse(&text).map(Some).map_err(serde::de::Error::custom)
}

impl ServeArgs {
    /// Resolves every layer; `open_files` (the open-file limit) sizes the connection cap's
    /// default. Also used on SIGHUP, with the flags and environment of the start.
    pub fn resolve(&self, open_files: u64) -> anyhow::Result<Settings> {
        let file = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read config file {}", path.display()))?;
                yaml_serde::from_str::<FileConfig>(&text)
                    .with_context(|| format!("invalid config file {}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let defaults = Limits::default();
        let limits = Limits {
            max_connections: self
                .max_connections
                .or(file.max_connections)
                .unwrap_or_else(|| default_max_connections(open_files)),
            max_header_size: self
                .max_header_size
                .or(file.max_header_size)
                .unwrap_or(defaults.max_header_size),
            header_timeout: self
                .header_timeout
                .or(file.header_timeout)
                .unwrap_or(defaults.header_timeout),
            idle_timeout: self
                .idle_timeout
                .or(file.idle_timeout)
                .unwrap_or(defaults.idle_timeout),
            shutdown_grace: self
                .shutdown_grace
                .or(file.shutdown_grace)
                .unwrap_or(defaults.shutdown_grace),
            trusted_proxies: self
                .trusted_proxies
                .clone()
                .or(file.trusted_proxies)
                .unwrap_or_default()
                .iter()
                .filter(|t| !t.trim().is_empty())
                .map(|t| pylon_model::parse_ip_range(t))
                .collect::<Result<_, _>>()
                .map_err(|e| anyhow::anyhow!("trusted_proxies: {e}"))?,
        };
        limits.check().map_err(|e| anyhow::anyhow!(e))?;
        let sampling = self.trace_sampling.or(file.trace_sampling).unwrap_or(1.0);
        if !(0.0..=1.0).contains(&sampling) {
            bail!("trace_sampling must be between 0 and 1, not {sampling}");
        }
        let tracing = match self.otlp_endpoint.clone().or(file.otlp_endpoint) {
            Some(endpoint) if !endpoint.trim().is_empty() => {
                let config = pylon_gateway::TracingConfig { endpoint, sampling };
                config.traces_url().map_err(|e| anyhow::anyhow!(e))?;
                Some(config)
            }
            _ => None,
        };
        let settings = Settings {
            data_dir: self
                .data_dir
                .clone()
                .or(file.data_dir)
                .unwrap_or_else(|| DEFAULT_DATA_DIR.into()),
            listen: self.listen.or(file.listen).unwrap_or(DEFAULT_LISTEN),
            tls_listen: self.tls_listen.or(file.tls_listen),
            admin_listen: self
                .admin_listen
                .or(file.admin_listen)
                .unwrap_or(DEFAULT_ADMIN_LISTEN),
            status_listen: self
                .status_listen
                .or(file.status_listen)
                .unwrap_or(DEFAULT_STATUS_LISTEN),
            admin_token: self
                .admin_token
                .clone()
                .or(file.admin_token)
                .filter(|t| !t.is_empty()),
            base_domain: self
                .base_domain
                .clone()
                .or(file.base_domain)
                .unwrap_or_else(|| DEFAULT_BASE_DOMAIN.into())
                .trim_matches('.')
                .to_ascii_lowercase(),
            limits,
            tracing,
            log: file.log,
            access_log: AccessLogTo::parse(
                self.access_log
                    .as_deref()
                    .or(file.access_log.as_deref())
                    .unwrap_or("stdout"),
            )?,
        };
        if settings.base_domain.is_empty() {
            bail!("base_domain must not be empty");
        }
        if let Some(t) = &settings.admin_token
            && t.len() < 16
        {
            bail!("the admin token must be at least 16 characters");
        }
        Ok(settings)
    }
}

/// The token given, or the one stored in the data directory, or a new one written there.
/// Returns the token and, when it came from the file, the file's path.
pub fn admin_token(settings: &Settings) -> anyhow::Result<(String, Option<PathBuf>)> {
    if let Some(t) = &settings.admin_token {
        return Ok((t.clone(), None));
    }
    let path = settings.data_dir.join(TOKEN_FILE);
    if let Some(token) = read_token_file(&path)? {
        return Ok((token, Some(path)));
    }
    let token = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    write_private(&path, &token)?;
    Ok((token, Some(path)))
}

/// The key that encrypts app secrets: `PYLON_SECRET_KEY` if set (`from_env`), else the one in
/// the data directory, created there on first start. Returns the key and, when it came from the
/// file, the file's path.
pub fn secret_key(
    settings: &Settings,
    from_env: Option<String>,
) -> anyhow::Result<(SecretKey, Option<PathBuf>)> {
    if let Some(text) = from_env.filter(|t| !t.trim().is_empty()) {
        let key = SecretKey::parse(&text)
            .map_err(|e| anyhow::anyhow!("invalid {SECRET_KEY_ENV}: {e}"))?;
        return Ok((key, None));
    }
    let key = SecretKey::load_or_create(&settings.data_dir).with_context(|| {
        format!(
            "cannot read or create the secret key {}",
            settings.data_dir.join(SECRET_KEY_FILE).display()
        )
    })?;
    Ok((key, Some(settings.data_dir.join(SECRET_KEY_FILE))))
}

pub fn read_token_file(path: &Path) -> anyhow::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(s) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_file_and_defaults_fill_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pylon.yaml");
        std::fs::write(
            &file,
            "listen: 127.0.0.1:7000\nbase_domain: Api.Example.com\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(file),
            listen: Some("127.0.0.1:7001".parse().unwrap()),
            ..Default::default()
        };
        let s = args.resolve(1024).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:7001");
        assert_eq!(s.base_domain, "api.example.com");
        assert_eq!(s.admin_listen, DEFAULT_ADMIN_LISTEN);
        assert_eq!(s.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
    }

    #[test]
    fn durations_and_sizes_read_like_a_human_writes_them() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("3 weeks").is_err());
        assert_eq!(parse_size("64KiB"), Ok(65536));
        assert_eq!(parse_size("1m"), Ok(1 << 20));
        assert_eq!(parse_size("9000"), Ok(9000));
        assert!(parse_size("lots").is_err());
    }

    #[test]
    fn limits_come_from_the_file_and_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pylon.yaml");
        std::fs::write(
            &file,
            "max_connections: 7\nmax_header_size: 16KiB\nheader_timeout: 2s\nidle_timeout: 90\nlog: debug\ntrusted_proxies: [10.0.0.0/8, '::1']\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(file.clone()),
            ..Default::default()
        };
        let s = args.resolve(1024).unwrap();
        assert_eq!(s.limits.max_connections, 7);
        assert_eq!(s.limits.max_header_size, 16 * 1024);
        assert_eq!(s.limits.header_timeout, Duration::from_secs(2));
        assert_eq!(s.limits.idle_timeout, Duration::from_secs(90));
        assert_eq!(s.log.as_deref(), Some("debug"));
        let trusted: Vec<String> = s
            .limits
            .trusted_proxies
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(trusted, ["10.0.0.0/8", "::1/128"]);
        std::fs::write(&file, "trusted_proxies: [10.0.0.0/33]\n").unwrap();
        let err = format!("{:#}", args.resolve(1024).unwrap_err());
        assert!(err.contains("trusted_proxies: `10.0.0.0/33`"), "{err}");
        std::fs::write(&file, "max_header_size: 1KiB\n").unwrap();
        let err = format!("{:#}", args.resolve(1024).unwrap_err());
        assert!(err.contains("max_header_size must be at least"), "{err}");
        assert_eq!(default_max_connections(1024), 480);
        assert_eq!(default_max_connections(10), 16);
    }

    #[test]
    fn traces_are_off_until_an_endpoint_is_set_and_settings_are_checked() {
        assert_eq!(ServeArgs::default().resolve(1024).unwrap().tracing, None);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pylon.yaml");
        std::fs::write(
            &file,
            "otlp_endpoint: http://127.0.0.1:4318\ntrace_sampling: 0.25\n",
        )
        .unwrap();
        let mut args = ServeArgs {
            config: Some(file.clone()),
            ..Default::default()
        };
        let tracing = args.resolve(1024).unwrap().tracing.unwrap();
        assert_eq!(tracing.endpoint, "http://127.0.0.1:4318");
        assert_eq!(tracing.sampling, 0.25);
        args.trace_sampling = Some(1.5);
        let err = format!("{:#}", args.resolve(1024).unwrap_err());
        assert!(
            err.contains("trace_sampling must be between 0 and 1"),
            "{err}"
        );
        args.trace_sampling = None;
        args.otlp_endpoint = Some("collector:4318".into());
        let err = format!("{:#}", args.resolve(1024).unwrap_err());
        assert!(err.contains("must be an http:// or https:// URL"), "{err}");
    }

    #[test]
    fn access_log_is_stdout_unless_turned_off_or_sent_to_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pylon.yaml");
        assert_eq!(
            ServeArgs::default().resolve(1024).unwrap().access_log,
            AccessLogTo::Stdout
        );
        std::fs::write(&file, "access_log: /var/log/pylon/access.log\n").unwrap();
        let mut args = ServeArgs {
            config: Some(file.clone()),
            ..Default::default()
        };
        assert_eq!(
            args.resolve(1024).unwrap().access_log,
            AccessLogTo::File("/var/log/pylon/access.log".into())
        );
        args.access_log = Some("off".into());
        assert_eq!(args.resolve(1024).unwrap().access_log, AccessLogTo::Off);
        args.access_log = Some(" ".into());
        assert!(args.resolve(1024).is_err());
    }

    #[test]
    fn a_reload_names_what_needs_a_restart() {
        let base = ServeArgs::default().resolve(1024).unwrap();
        let mut next = base.clone();
        next.listen = "127.0.0.1:1".parse().unwrap();
        next.base_domain = "other.example".into();
        next.limits.max_connections = 1;
        assert_eq!(base.needs_restart(&next), ["listen", "base_domain"]);
    }

    #[test]
    fn unknown_config_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pylon.yaml");
        std::fs::write(&file, "listn: 1\n").unwrap();
        let err = ServeArgs {
            config: Some(file),
            ..Default::default()
        }
        .resolve(1024)
        .unwrap_err();
        assert!(format!("{err:#}").contains("listn"));
    }

    #[test]
    fn secret_key_from_env_wins_else_file_is_made_once() {
        let dir = tempfile::tempdir().unwrap();
        let s = ServeArgs {
            data_dir: Some(dir.path().into()),
            ..Default::default()
        }
        .resolve(1024)
        .unwrap();
        let (_, path) = secret_key(&s, Some("11".repeat(32))).unwrap();
        assert!(path.is_none());
        assert!(!dir.path().join(SECRET_KEY_FILE).exists());
        let err = secret_key(&s, Some("short".into())).unwrap_err();
        assert!(format!("{err:#}").contains(SECRET_KEY_ENV));

        let (_, path) = secret_key(&s, Some(String::new())).unwrap();
        let path = path.unwrap();
        let written = std::fs::read_to_string(&path).unwrap();
        secret_key(&s, None).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), written);
    }

    #[test]
    fn token_is_generated_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let s = ServeArgs {
            data_dir: Some(dir.path().into()),
            ..Default::default()
        }
        .resolve(1024)
        .unwrap();
        let (first, path) = admin_token(&s).unwrap();
        let (second, _) = admin_token(&s).unwrap();
        assert_eq!(first, second);
        assert_eq!(first.len(), 64);
        assert!(path.unwrap().exists());
    }
}
