//! `pylon function`: functions Pylon runs itself, behind `function` backends with `hosted`.

use std::time::Duration;

use clap::{Args, Subcommand};
use http::Method;
use serde_json::{Map, Value, json};

use super::{Ctx, output, pairs, resolve, seg};
use crate::config::parse_duration;

/// How the function runs; shared by `create` and `update`.
#[derive(Args, Debug)]
pub struct FunctionArgs {
    /// What the runtime loads, e.g. `app.handler`; passed as the command's last argument and
    /// in `_HANDLER`.
    #[arg(long)]
    handler: String,
    /// Directory the command runs in [default: the data directory].
    #[arg(long, value_name = "DIR")]
    working_dir: Option<String>,
    /// An environment variable, shown by `get`; repeat for several.
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
    /// The program and its arguments, after `--`, e.g. `-- python3 -m awslambdaric`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<String>,
}

impl FunctionArgs {
    fn to_json(&self, name: &str) -> anyhow::Result<Value> {
        let mut body = Map::new();
        body.insert("name".into(), json!(name));
        body.insert("command".into(), json!(self.command));
        body.insert("handler".into(), json!(self.handler));
        body.insert(
            "environment".into(),
            Value::Object(pairs(&self.environment, "--env")?),
        );
        if !self.secrets.is_empty() {
            body.insert(
                "secrets".into(),
                Value::Object(pairs(&self.secrets, "--secret")?),
            );
        }
        if let Some(dir) = &self.working_dir {
            body.insert("working_dir".into(), json!(dir));
        }
        if let Some(t) = self.timeout {
            body.insert("timeout_ms".into(), json!(t.as_millis() as u64));
        }
        if let Some(c) = self.max_concurrency {
            body.insert("max_concurrency".into(), json!(c));
        }
        if let Some(m) = self.memory {
            body.insert("memory_mb".into(), json!(m));
        }
        if let Some(d) = &self.description {
            body.insert("description".into(), json!(d));
        }
        Ok(Value::Object(body))
    }
}

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
    /// Replace how a function runs; its workers are replaced.
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
        FunctionCommand::Create { name, args } => output::object(
            ctx.format,
            &c.send(Method::POST, "/v1/functions", &args.to_json(&name)?)
                .await?,
        ),
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
            let name = current["name"].as_str().unwrap_or_default().to_string();
            let mut body = args.to_json(&name)?;
            if args.description.is_none() {
                body["description"] = current["description"].clone();
            }
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
