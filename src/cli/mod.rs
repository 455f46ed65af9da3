//! The command line over the admin API: one subcommand per concept, each a thin call to `/v1`.

mod apis;
mod apps;
mod authorizations;
mod backends;
mod client;
mod debug;
mod environments;
mod groups;
mod output;
mod stage_variables;
mod upstreams;

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::Value;

pub use client::AdminClient;
use output::Format;

/// Where the admin API is and how to authenticate; every admin subcommand takes these.
#[derive(Args, Debug)]
#[command(next_help_heading = "Connection and output")]
pub struct Connection {
    /// Admin API base URL.
    #[arg(
        long,
        env = "PYLON_ADMIN_URL",
        default_value = "http://127.0.0.1:9180",
        global = true
    )]
    pub admin_url: String,
    /// Admin token, the one `pylon serve` accepts (its --admin-token, read from the same
    /// variable); when absent, read from `<data-dir>/admin-token`.
    #[arg(
        long,
        visible_alias = "token",
        env = "PYLON_ADMIN_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub admin_token: Option<String>,
    /// The data directory of a local `pylon serve`, where it wrote `admin-token`.
    #[arg(
        long,
        env = "PYLON_DATA_DIR",
        default_value = crate::config::DEFAULT_DATA_DIR,
        global = true
    )]
    pub data_dir: PathBuf,
    /// Output: readable tables, or JSON.
    #[arg(short = 'o', long, value_enum, default_value = "table", global = true)]
    pub output: Format,
}

/// An admin command that groups subcommands, with the connection flags.
#[derive(Args, Debug)]
pub struct Nested<C: Subcommand> {
    #[command(flatten)]
    pub connection: Connection,
    #[command(subcommand)]
    pub command: C,
}

/// An admin command that takes arguments, with the connection flags.
#[derive(Args, Debug)]
pub struct Leaf<A: Args> {
    #[command(flatten)]
    pub connection: Connection,
    #[command(flatten)]
    pub args: A,
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Groups: they own APIs and domains.
    Group(Nested<groups::GroupCommand>),
    /// Environments (RELEASE, PRE, TEST and custom ones).
    #[command(name = "env")]
    Environment(Nested<environments::EnvironmentCommand>),
    /// Stage variables of a group in an environment.
    #[command(name = "stage-vars")]
    StageVariables(Nested<stage_variables::StageVariablesCommand>),
    /// Upstreams: named private targets (VPC access authorizations / VPC links).
    Upstream(Nested<upstreams::UpstreamCommand>),
    /// Backend services, with one definition per environment.
    Backend(Nested<backends::BackendCommand>),
    /// APIs of a group, defined from YAML or JSON files.
    Api(Nested<apis::ApiCommand>),
    /// Publish an API's current definition to an environment as a new version.
    Publish(Leaf<apis::PublishArgs>),
    /// Stop serving an API in an environment.
    Unpublish(Leaf<apis::EnvironmentArgs>),
    /// The published versions of an API, newest first.
    Deployments(Leaf<apis::DeploymentsArgs>),
    /// Serve an earlier published version again.
    Rollback(Leaf<apis::RollbackArgs>),
    /// Apps: callers with AppKey/AppSecret pairs and AppCodes.
    App(Nested<apps::AppCommand>),
    /// Authorizations: which app may call which API in which environment.
    Authorization(Nested<authorizations::AuthorizationCommand>),
    /// Online debugging: run one request through the gateway and show each phase.
    Debug(Leaf<debug::DebugArgs>),
}

/// What every command gets: the client and the chosen output.
pub struct Ctx {
    pub client: AdminClient,
    pub format: Format,
}

impl Ctx {
    fn new(connection: Connection) -> anyhow::Result<Self> {
        // An exported but empty PYLON_ADMIN_TOKEN counts as unset, as it does for the server.
        let token = match connection.admin_token.filter(|t| !t.is_empty()) {
            Some(t) => t,
            None => token_from_data_dir(&connection.data_dir)?,
        };
        Ok(Ctx {
            client: AdminClient::new(&connection.admin_url, token)?,
            format: connection.output,
        })
    }
}

pub async fn run(command: AdminCommand) -> anyhow::Result<()> {
    use AdminCommand as A;
    match command {
        A::Group(c) => groups::group(&Ctx::new(c.connection)?, c.command).await,
        A::Environment(c) => environments::environment(&Ctx::new(c.connection)?, c.command).await,
        A::StageVariables(c) => {
            stage_variables::stage_variables(&Ctx::new(c.connection)?, c.command).await
        }
        A::Upstream(c) => upstreams::upstream(&Ctx::new(c.connection)?, c.command).await,
        A::Backend(c) => backends::backend(&Ctx::new(c.connection)?, c.command).await,
        A::Api(c) => apis::api(&Ctx::new(c.connection)?, c.command).await,
        A::Publish(a) => apis::publish(&Ctx::new(a.connection)?, a.args).await,
        A::Unpublish(a) => apis::unpublish(&Ctx::new(a.connection)?, a.args).await,
        A::Deployments(a) => apis::deployments(&Ctx::new(a.connection)?, a.args).await,
        A::Rollback(a) => apis::rollback(&Ctx::new(a.connection)?, a.args).await,
        A::App(c) => apps::app(&Ctx::new(c.connection)?, c.command).await,
        A::Authorization(c) => {
            authorizations::authorization(&Ctx::new(c.connection)?, c.command).await
        }
        A::Debug(a) => debug::debug(&Ctx::new(a.connection)?, a.args).await,
    }
}

fn token_from_data_dir(dir: &Path) -> anyhow::Result<String> {
    let path = dir.join(crate::config::TOKEN_FILE);
    crate::config::read_token_file(&path)?.with_context(|| {
        format!(
            "no admin token: pass --admin-token, set PYLON_ADMIN_TOKEN, or point --data-dir \
             (PYLON_DATA_DIR) at the directory of `pylon serve` that holds admin-token \
             (looked for {})",
            path.display()
        )
    })
}

/// Reads a definition of type `T` (an API, a backend definition) and checks it against `T`'s
/// schema here, so that a typo or a wrong type is reported at the file's own line and column
/// rather than at a position in the JSON the admin API receives. Returns the document as
/// written, for the admin API to validate the rest.
pub fn read_spec<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<Value> {
    let (name, text) = read_text(path)?;
    yaml_serde::from_str::<T>(&text).map_err(|e| located(&name, &e))?;
    let value: Value = yaml_serde::from_str(&text).map_err(|e| located(&name, &e))?;
    Ok(value)
}

fn read_text(path: &Path) -> anyhow::Result<(String, String)> {
    if path == Path::new("-") {
        let text =
            std::io::read_to_string(std::io::stdin()).context("cannot read standard input")?;
        return Ok(("<stdin>".to_string(), text));
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok((path.display().to_string(), text))
}

/// `file:line:column: problem`, the form editors and terminals turn into a link.
fn located(name: &str, error: &yaml_serde::Error) -> anyhow::Error {
    let message = error.to_string();
    match error.location() {
        Some(at) => {
            let suffix = format!(" at line {} column {}", at.line(), at.column());
            let message = message.strip_suffix(&suffix).unwrap_or(&message);
            anyhow::anyhow!("{name}:{}:{}: {message}", at.line(), at.column())
        }
        None => anyhow::anyhow!("{name}: {message}"),
    }
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

    fn spec_error(yaml: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("api.yaml");
        std::fs::write(&path, yaml).unwrap();
        let e = read_spec::<pylon_model::ApiSpec>(&path).unwrap_err();
        e.to_string()
            .replace(&path.display().to_string(), "api.yaml")
    }

    #[test]
    fn spec_mistakes_point_at_the_yaml_line_and_column() {
        let unknown = spec_error(
            "name: files\nrequest:\n  method: GET\n  pathh: /files\nbackend:\n  service: {backend_id: b}\n  path: /\n",
        );
        assert!(unknown.starts_with("api.yaml:4:3: "), "{unknown}");
        assert!(unknown.contains("unknown field `pathh`"), "{unknown}");
        let wrong_type = spec_error(
            "name: files\nrequest:\n  method: GET\n  path: /files\nbackend:\n  service: {backend_id: b}\n  path: /\n  timeout_ms: soon\n",
        );
        assert!(wrong_type.starts_with("api.yaml:8:"), "{wrong_type}");
        assert!(wrong_type.contains("timeout_ms"), "{wrong_type}");
        let syntax = spec_error("name: [files\n");
        assert!(syntax.starts_with("api.yaml:"), "{syntax}");
        assert!(!syntax.contains("JSON"), "{syntax}");
    }

    #[test]
    fn segments_are_encoded() {
        assert_eq!(seg("api.example.com"), "api.example.com");
        assert_eq!(seg("a b/c"), "a%20b%2Fc");
    }
}
