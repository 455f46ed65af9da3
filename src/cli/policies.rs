//! `pylon policy`: named policies (CORS, IP access control) and their bindings to APIs.

use anyhow::Context;
use clap::Subcommand;
use http::Method;
use serde_json::{Value, json};

use super::authorizations::api_id;
use super::{Ctx, output, resolve, seg};

const POLICY_COLUMNS: &[output::Column] = &[
    ("NAME", "/name"),
    ("KIND", "/kind"),
    ("DESCRIPTION", "/description"),
    ("UPDATED", "/updated_at"),
    ("ID", "/id"),
];

#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// Create a policy.
    Create {
        /// The policy's name, unique.
        name: String,
        /// What it does: `cors`, `ip-control` or `throttle`.
        #[arg(long)]
        kind: String,
        /// The kind's configuration as JSON, e.g. `{"action":"allow","addresses":["10.0.0.0/8"]}`;
        /// `@path` reads it from a file.
        #[arg(long)]
        config: String,
        /// Free text.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List policies.
    List,
    /// Show a policy (by id or name).
    Get {
        /// The policy (id or name).
        policy: String,
    },
    /// Replace a policy's configuration; in force at once wherever it is bound.
    Update {
        /// The policy (id or name).
        policy: String,
        /// The new configuration as JSON, or `@path` for a file.
        #[arg(long)]
        config: String,
        /// A new description (kept when absent).
        #[arg(long)]
        description: Option<String>,
    },
    /// Delete a policy; refused while it is bound.
    Delete {
        /// The policy (id or name).
        policy: String,
    },
    /// Apply a policy to an API in an environment; in force at once, without a republish.
    Bind {
        #[command(flatten)]
        at: BindingArgs,
    },
    /// Stop applying a policy to an API in an environment.
    Unbind {
        #[command(flatten)]
        at: BindingArgs,
    },
    /// The policies bound to an API, in every environment or one.
    Bound {
        /// The API's group (id or name).
        #[arg(long)]
        group: String,
        /// The API (id or name).
        #[arg(long)]
        api: String,
        /// Only this environment.
        #[arg(long = "env")]
        environment: Option<String>,
    },
}

/// A policy and where it is (un)bound: an API in an environment.
#[derive(clap::Args, Debug)]
pub struct BindingArgs {
    /// The policy (id or name).
    policy: String,
    /// The API's group (id or name).
    #[arg(long)]
    group: String,
    /// The API (id or name).
    #[arg(long)]
    api: String,
    /// The environment.
    #[arg(long = "env")]
    environment: String,
}

/// Reads `--config`: JSON, or `@path` to a file holding it.
fn config_json(text: &str) -> anyhow::Result<Value> {
    let (text, source) = match text.strip_prefix('@') {
        Some(path) => (
            std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?,
            path.to_string(),
        ),
        None => (text.to_string(), "--config".to_string()),
    };
    serde_json::from_str(&text).with_context(|| format!("{source} is not valid JSON"))
}

pub async fn policy(ctx: &Ctx, command: PolicyCommand) -> anyhow::Result<()> {
    let c = &ctx.client;
    let id = |key: String| async move { resolve(ctx, "/v1/policies", &key, "policy").await };
    match command {
        PolicyCommand::Create {
            name,
            kind,
            config,
            description,
        } => {
            let body = json!({"name": name, "kind": kind, "config": config_json(&config)?,
                              "description": description});
            output::object(
                ctx.format,
                &c.send(Method::POST, "/v1/policies", &body).await?,
            )
        }
        PolicyCommand::List => {
            output::list(ctx.format, &c.get("/v1/policies").await?, POLICY_COLUMNS)
        }
        PolicyCommand::Get { policy } => {
            let path = format!("/v1/policies/{}", seg(&id(policy).await?));
            output::object(ctx.format, &c.get(&path).await?)
        }
        PolicyCommand::Update {
            policy,
            config,
            description,
        } => {
            let path = format!("/v1/policies/{}", seg(&id(policy).await?));
            let current = c.get(&path).await?;
            let body = json!({
                "name": current["name"],
                "kind": current["kind"],
                "description": description.map(Value::from).unwrap_or(current["description"].clone()),
                "config": config_json(&config)?,
            });
            output::object(ctx.format, &c.send(Method::PUT, &path, &body).await?)
        }
        PolicyCommand::Delete { policy } => {
            let key = id(policy).await?;
            c.delete(&format!("/v1/policies/{}", seg(&key))).await?;
            println!("deleted policy {key}");
            Ok(())
        }
        PolicyCommand::Bind {
            at:
                BindingArgs {
                    policy,
                    group,
                    api,
                    environment,
                },
        } => {
            let (_, api) = api_id(ctx, &group, &api).await?;
            let path = format!("/v1/policies/{}/bindings", seg(&id(policy).await?));
            let body = json!({"api_id": api, "environment": environment});
            output::object(ctx.format, &c.send(Method::POST, &path, &body).await?)
        }
        PolicyCommand::Unbind {
            at:
                BindingArgs {
                    policy,
                    group,
                    api,
                    environment,
                },
        } => {
            let (_, api_key) = api_id(ctx, &group, &api).await?;
            let path = format!(
                "/v1/policies/{}/bindings/{}/{}",
                seg(&id(policy.clone()).await?),
                seg(&api_key),
                seg(&environment)
            );
            c.delete(&path).await?;
            println!("unbound policy {policy} from API {api} in {environment}");
            Ok(())
        }
        PolicyCommand::Bound {
            group,
            api,
            environment,
        } => {
            let (_, api) = api_id(ctx, &group, &api).await?;
            let mut path = format!("/v1/apis/{}/policies", seg(&api));
            if let Some(env) = environment {
                path.push_str(&format!("?environment={}", seg(&env)));
            }
            output::list(
                ctx.format,
                &c.get(&path).await?,
                &[
                    ("POLICY", "/policy_name"),
                    ("KIND", "/kind"),
                    ("ENVIRONMENT", "/environment"),
                    ("BOUND", "/created_at"),
                ],
            )
        }
    }
}
