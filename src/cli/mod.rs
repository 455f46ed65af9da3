//! The command line over the admin API: one subcommand per concept, each a thin call to `/v1`.

mod apis;
mod apps;
mod client;
mod debug;
mod groups;
mod output;
mod services;

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::Value;

pub use client::AdminClient;
use output::Format;

/// Where the admin API is and how to authenticate; shared by every admin subcommand.
#[derive(Args, Debug)]
pub struct Connection {
    /// Admin API base URL.
    #[arg(
        long,
        env = "PYLON_ADMIN_URL",
        default_value = "http://127.0.0.1:9180",
        global = true
    )]
    pub admin_url: String,
    /// Admin token; read from `<data-dir>/admin-token` when absent.
    #[arg(long, env = "PYLON_ADMIN_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// Output: readable tables, or JSON.
    #[arg(short = 'o', long, value_enum, default_value = "table", global = true)]
    pub output: Format,
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Groups: they own APIs and domains.
    #[command(subcommand)]
    Group(groups::GroupCommand),
    /// Environments (RELEASE, PRE, TEST and custom ones).
    #[command(subcommand, name = "env")]
    Environment(groups::EnvironmentCommand),
    /// Stage variables of a group in an environment.
    #[command(subcommand, name = "stage-vars")]
    StageVariables(groups::StageVariablesCommand),
    /// Upstreams: named private targets (VPC access authorizations / VPC links).
    #[command(subcommand)]
    Upstream(services::UpstreamCommand),
    /// Backend services, with one definition per environment.
    #[command(subcommand)]
    Backend(services::BackendCommand),
    /// APIs of a group, defined from YAML or JSON files.
    #[command(subcommand)]
    Api(apis::ApiCommand),
    /// Publish an API's current definition to an environment as a new version.
    Publish(apis::PublishArgs),
    /// Stop serving an API in an environment.
    Unpublish(apis::EnvironmentArgs),
    /// The published versions of an API, newest first.
    Deployments(apis::DeploymentsArgs),
    /// Serve an earlier published version again.
    Rollback(apis::RollbackArgs),
    /// Apps: callers with AppKey/AppSecret pairs and AppCodes.
    #[command(subcommand)]
    App(apps::AppCommand),
    /// Authorizations: which app may call which API in which environment.
    #[command(subcommand)]
    Authorization(apps::AuthorizationCommand),
    /// Online debugging: run one request through the gateway and show each phase.
    Debug(debug::DebugArgs),
}

/// What every command gets: the client and the chosen output.
pub struct Ctx {
    pub client: AdminClient,
    pub format: Format,
}

pub async fn run(connection: Connection, command: AdminCommand) -> anyhow::Result<()> {
    let token = match connection.token {
        Some(t) => t,
        None => token_from_data_dir()?,
    };
    let ctx = Ctx {
        client: AdminClient::new(&connection.admin_url, token)?,
        format: connection.output,
    };
    match command {
        AdminCommand::Group(c) => groups::group(&ctx, c).await,
        AdminCommand::Environment(c) => groups::environment(&ctx, c).await,
        AdminCommand::StageVariables(c) => groups::stage_variables(&ctx, c).await,
        AdminCommand::Upstream(c) => services::upstream(&ctx, c).await,
        AdminCommand::Backend(c) => services::backend(&ctx, c).await,
        AdminCommand::Api(c) => apis::api(&ctx, c).await,
        AdminCommand::Publish(a) => apis::publish(&ctx, a).await,
        AdminCommand::Unpublish(a) => apis::unpublish(&ctx, a).await,
        AdminCommand::Deployments(a) => apis::deployments(&ctx, a).await,
        AdminCommand::Rollback(a) => apis::rollback(&ctx, a).await,
        AdminCommand::App(c) => apps::app(&ctx, c).await,
        AdminCommand::Authorization(c) => apps::authorization(&ctx, c).await,
        AdminCommand::Debug(a) => debug::debug(&ctx, a).await,
    }
}

fn token_from_data_dir() -> anyhow::Result<String> {
    let dir = std::env::var_os("PYLON_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::config::DEFAULT_DATA_DIR.into());
    let path = dir.join(crate::config::TOKEN_FILE);
    crate::config::read_token_file(&path)?.with_context(|| {
        format!(
            "no admin token: pass --token, set PYLON_ADMIN_TOKEN, or run from the directory holding {}",
            path.display()
        )
    })
}

/// Reads a YAML or JSON document (JSON is YAML) from a file, or standard input for `-`.
pub fn read_document(path: &Path) -> anyhow::Result<Value> {
    let text = if path == Path::new("-") {
        std::io::read_to_string(std::io::stdin()).context("cannot read standard input")?
    } else {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?
    };
    let value: Value = yaml_serde::from_str(&text)
        .with_context(|| format!("{} is not valid YAML or JSON", path.display()))?;
    if !value.is_object() {
        bail!("{} must hold one object", path.display());
    }
    Ok(value)
}

/// Parses `name=value` pairs.
pub fn pairs(items: &[String], what: &str) -> anyhow::Result<serde_json::Map<String, Value>> {
    items
        .iter()
        .map(|item| match item.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), Value::String(v.to_string()))),
            _ => bail!("{what} `{item}` must be written name=value"),
        })
        .collect()
}

/// Percent-encodes one path segment of an admin URL.
pub fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Finds a resource by id, or else by its unique name in the listing at `list_path`.
pub async fn resolve(ctx: &Ctx, list_path: &str, key: &str, what: &str) -> anyhow::Result<String> {
    let items = ctx.client.get(list_path).await?;
    let items = items.as_array().map(Vec::as_slice).unwrap_or_default();
    let field = |item: &Value, f: &str| item.get(f).and_then(Value::as_str).map(str::to_string);
    if let Some(id) = items
        .iter()
        .find_map(|i| field(i, "id").filter(|id| id == key))
    {
        return Ok(id);
    }
    let named: Vec<String> = items
        .iter()
        .filter(|i| field(i, "name").as_deref() == Some(key))
        .filter_map(|i| field(i, "id"))
        .collect();
    match named.as_slice() {
        [id] => Ok(id.clone()),
        [] => bail!("no {what} with id or name `{key}`"),
        _ => bail!("several {what}s are named `{key}`: use the id"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_need_a_name() {
        let p = pairs(&["a=1".into(), "b=x=y".into(), "c=".into()], "variable").unwrap();
        assert_eq!(p["b"], "x=y");
        assert_eq!(p["c"], "");
        assert!(pairs(&["=1".into()], "variable").is_err());
        assert!(pairs(&["novalue".into()], "variable").is_err());
    }

    #[test]
    fn segments_are_encoded() {
        assert_eq!(seg("api.example.com"), "api.example.com");
        assert_eq!(seg("a b/c"), "a%20b%2Fc");
    }
}
