//! `pylon serve` settings: flags, then `PYLON_*` environment variables, then an optional YAML
//! config file, then defaults, in that order of precedence.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use pylon_store::{SECRET_KEY_FILE, SecretKey};
use serde::Deserialize;

pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 8080);
pub const DEFAULT_ADMIN_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9180);
pub const DEFAULT_DATA_DIR: &str = "./pylon-data";
pub const DEFAULT_BASE_DOMAIN: &str = "localhost";
pub const TOKEN_FILE: &str = "admin-token";
/// Read from the environment only (never a flag or the config file), so the key does not show
/// in process listings or end up in a file shared with the rest of the configuration.
pub const SECRET_KEY_ENV: &str = "PYLON_SECRET_KEY";

#[derive(clap::Args, Debug, Default)]
pub struct ServeArgs {
    /// YAML config file with any of: data_dir, listen, admin_listen, admin_token, base_domain.
    #[arg(long, env = "PYLON_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory of the embedded store and the generated admin token [default: ./pylon-data].
    #[arg(long, env = "PYLON_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Gateway listener [default: 0.0.0.0:8080].
    #[arg(long, env = "PYLON_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Admin API listener [default: 127.0.0.1:9180].
    #[arg(long, env = "PYLON_ADMIN_LISTEN")]
    pub admin_listen: Option<SocketAddr>,
    /// Admin bearer token; generated and stored in the data directory when absent.
    #[arg(long, env = "PYLON_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Base domain of the groups' default subdomains `<group-id>.<base-domain>` [default: localhost].
    #[arg(long, env = "PYLON_BASE_DOMAIN")]
    pub base_domain: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    listen: Option<SocketAddr>,
    admin_listen: Option<SocketAddr>,
    admin_token: Option<String>,
    base_domain: Option<String>,
}

/// The settings `pylon serve` runs with, every layer resolved.
#[derive(Debug)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub admin_listen: SocketAddr,
    pub admin_token: Option<String>,
    pub base_domain: String,
}

impl ServeArgs {
    pub fn resolve(self) -> anyhow::Result<Settings> {
        let file = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read config file {}", path.display()))?;
                yaml_serde::from_str::<FileConfig>(&text)
                    .with_context(|| format!("invalid config file {}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let settings = Settings {
            data_dir: self
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| DEFAULT_DATA_DIR.into()),
            listen: self.listen.or(file.listen).unwrap_or(DEFAULT_LISTEN),
            admin_listen: self
                .admin_listen
                .or(file.admin_listen)
                .unwrap_or(DEFAULT_ADMIN_LISTEN),
            admin_token: self
                .admin_token
                .or(file.admin_token)
                .filter(|t| !t.is_empty()),
            base_domain: self
                .base_domain
                .or(file.base_domain)
                .unwrap_or_else(|| DEFAULT_BASE_DOMAIN.into())
                .trim_matches('.')
                .to_ascii_lowercase(),
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
        let s = args.resolve().unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:7001");
        assert_eq!(s.base_domain, "api.example.com");
        assert_eq!(s.admin_listen, DEFAULT_ADMIN_LISTEN);
        assert_eq!(s.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
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
        .resolve()
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
        .resolve()
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
        .resolve()
        .unwrap();
        let (first, path) = admin_token(&s).unwrap();
        let (second, _) = admin_token(&s).unwrap();
        assert_eq!(first, second);
        assert_eq!(first.len(), 64);
        assert!(path.unwrap().exists());
    }
}
