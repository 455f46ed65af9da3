//! The command line over the admin API: one subcommand per concept, each a thin call to `/v1`.

mod apis;
mod apps;
mod authorizations;
mod backends;
mod certificates;
mod client;
mod debug;
mod environments;
mod functions;
mod groups;
mod output;
mod policies;
mod shared;
mod stage_variables;
mod upstreams;

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};

pub use client::AdminClient;
// The subcommands take these through here; they live in `shared`, below the subcommands.
use output::Format;
pub use shared::{Ctx, pairs, read_spec, resolve, seg};

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
    /// TLS certificates for the HTTPS listener, picked by SNI.
    Certificate(Nested<certificates::CertificateCommand>),
    /// Upstreams: named private targets (VPC access authorizations / VPC links).
    Upstream(Nested<upstreams::UpstreamCommand>),
    /// Functions Pylon runs itself (AWS Lambda Runtime API workers), for `function` backends.
    Function(Nested<functions::FunctionCommand>),
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
    /// Policies (CORS, IP access control) and where they are bound.
    Policy(Nested<policies::PolicyCommand>),
    /// Online debugging: run one request through the gateway and show each phase.
    Debug(Leaf<debug::DebugArgs>),
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
        A::Certificate(c) => certificates::certificate(&Ctx::new(c.connection)?, c.command).await,
        A::Upstream(c) => upstreams::upstream(&Ctx::new(c.connection)?, c.command).await,
        A::Function(c) => functions::function(&Ctx::new(c.connection)?, c.command).await,
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
        A::Policy(c) => policies::policy(&Ctx::new(c.connection)?, c.command).await,
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
