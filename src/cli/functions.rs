//! `pylon function`: functions Pylon runs itself, behind `function` backends with `hosted`.

use std::time::Duration;

use anyhow::bail;
use clap::{Args, Subcommand};
use http::Method;
use serde_json::{Map, Value, json};

use super::{Ctx, output, pairs, resolve, seg};
use crate::config::parse_duration;

/// How the function runs; shared by `create` and `update`.
#[derive(Args, Debug)]
pub struct FunctionArgs {
    /// What the runtime loads, e.g. `app.handler`; passed as the command's last argument and
    /// in `_HANDLER` (required by `create`).
    #[arg(long)]
    handler: Option<String>,
    /// Directory the command runs in [default: the data directory].
    #[arg(long, value_name = "DIR")]
    working_dir: Option<String>,
    /// An environment variable, shown by `get`; repeat for several. On `update`, any --env
    /// replaces every variable; none keeps them.
    #[arg(long = "env", value_name = "NAME=VALUE")]
    environment: Vec<String>,
    /// An environment variable whose value is sealed at rest and never shown; repeat for
    /// several. On `update`, any --secret replaces every secret; none keeps them.
    #[arg(long = "secret", value_name = "NAME=VALUE")]
    secrets: Vec<String>,
    /// How long one call may run before its worker is killed, e.g. `3s` or `500ms`
    /// [default: 3s, at most 15m].
    #[arg(long, value_parser = parse_duration)]
    timeout: Option<Duration>,
    /// Workers running at once; calls past it are refused with 429 [default: 10].
    #[arg(long)]
    max_concurrency: Option<u32>,
    /// Each worker's data memory limit in MiB [default: 128].
    #[arg(long, value_name = "MIB")]
    memory: Option<u32>,
    /// Free text.
    #[arg(long)]
    description: Option<String>,
    /// The program and its arguments, after `--`, e.g. `-- python3 -m awslambdaric`
    /// (required by `create`).
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

impl FunctionArgs {
    /// The definition `current` becomes with what these flags give: on `create`, `current`
    /// holds only the name; on `update`, what the function is now.
    fn apply(&self, mut current: Map<String, Value>) -> anyhow::Result<Value> {
        let mut set = |key: &str, value: Value| {
            current.insert(key.into(), value);
        };
        if !self.command.is_empty() {
            set("command", json!(self.command));
        }
        if let Some(h) = &self.handler {
            set("handler", json!(h));
        }
        if !self.environment.is_empty() {
            set(
                "environment",
                Value::Object(pairs(&self.environment, "--env")?),
            );
        }
        if !self.secrets.is_empty() {
            set("secrets", Value::Object(pairs(&self.secrets, "--secret")?));
        }
        if let Some(dir) = &self.working_dir {
            set("working_dir", json!(dir));
        }
        if let Some(t) = self.timeout {
            set("timeout_ms", json!(t.as_millis() as u64));
        }
        if let Some(c) = self.max_concurrency {
            set("max_concurrency", json!(c));
        }
        if let Some(m) = self.memory {
            set("memory_mb", json!(m));
        }
        if let Some(d) = &self.description {
            set("description", json!(d));
        }
        Ok(Value::Object(current))
    }
}

/// The fields of a function as shown that a replacement sends back (not its id, dates or the
/// names of its secrets, which are kept when `secrets` is absent).
const KEPT: [&str; 9] = [
    "name",
    "description",
    "command",
    "working_dir",
    "environment",
    "handler",
    "timeout_ms",
    "max_concurrency",
    "memory_mb",
];

#[derive(Subcommand, Debug)]
pub enum FunctionCommand {
    /// Define a function Pylon runs with the AWS Lambda Runtime API (needs `pylon serve
    /// --allow-hosted-functions`), e.g.
    /// `pylon function create echo --handler app.handler -- python3 -m awslambdaric`.
    Create {
        /// The function's name, unique; `function` backends name it in `hosted`.
        name: String,
        #[command(flatten)]
        args: FunctionArgs,
    },
    /// List functions.
    List,
    /// Show a function (by id or name); secret values are never shown.
    Get {
        /// The function (id or name).
        function: String,
    },
    /// Change how a function runs (flags not given keep their value); its workers are replaced.
    Update {
        /// The function (id or name).
        function: String,
        #[command(flatten)]
        args: FunctionArgs,
    },
    /// Delete a function; refused while a backend runs it.
    Delete {
        /// The function (id or name).
        function: String,
    },
}

pub async fn function(ctx: &Ctx, command: FunctionCommand) -> anyhow::Result<()> {
    let c = &ctx.client;
    let id = |key: String| async move { resolve(ctx, "/v1/functions", &key, "function").await };
    match command {
        FunctionCommand::Create { name, args } => {
            if args.handler.is_none() || args.command.is_empty() {
                bail!(
                    "give the handler and the command: pylon function create {name} \
                     --handler app.handler -- python3 -m awslambdaric"
                );
            }
            let body = args.apply(Map::from_iter([("name".to_string(), json!(name))]))?;
            output::object(
                ctx.format,
                &c.send(Method::POST, "/v1/functions", &body).await?,
            )
        }
        FunctionCommand::List => output::list(
            ctx.format,
            &c.get("/v1/functions").await?,
            &[
                ("NAME", "/name"),
                ("HANDLER", "/handler"),
                ("COMMAND", "/command"),
                ("TIMEOUT MS", "/timeout_ms"),
                ("CONCURRENCY", "/max_concurrency"),
                ("MEMORY MB", "/memory_mb"),
                ("UPDATED", "/updated_at"),
            ],
        ),
        FunctionCommand::Get { function } => {
            let path = format!("/v1/functions/{}", seg(&id(function).await?));
            output::object(ctx.format, &c.get(&path).await?)
        }
        FunctionCommand::Update { function, args } => {
            let path = format!("/v1/functions/{}", seg(&id(function).await?));
            let current = c.get(&path).await?;
            let kept = KEPT
                .iter()
                .filter_map(|k| Some((k.to_string(), current.get(*k)?.clone())))
                .collect();
            let body = args.apply(kept)?;
            output::object(ctx.format, &c.send(Method::PUT, &path, &body).await?)
        }
        FunctionCommand::Delete { function } => {
            let key = id(function).await?;
            c.delete(&format!("/v1/functions/{}", seg(&key))).await?;
            println!("deleted function {key}");
            Ok(())
        }
    }
}
