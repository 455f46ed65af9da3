//! `pylon api`, `pylon publish`, `pylon unpublish`, `pylon deployments`, `pylon rollback`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use http::Method;
use serde_json::{Value, json};

use super::groups::group_id;
use super::{Ctx, output, read_document, resolve, seg};

const DEPLOYMENT_COLUMNS: &[output::Column] = &[
    ("VERSION", "/version"),
    ("ENVIRONMENT", "/environment"),
    ("ACTIVE", "/active"),
    ("NOTE", "/note"),
    ("CREATED", "/created_at"),
    ("ID", "/id"),
];

#[derive(Subcommand, Debug)]
pub enum ApiCommand {
    /// Create an API in a group from a YAML or JSON definition.
    Create {
        group: String,
        #[arg(short = 'f', long)]
        file: PathBuf,
    },
    /// Replace an API's draft definition (traffic changes only when published).
    Update {
        group: String,
        api: String,
        #[arg(short = 'f', long)]
        file: PathBuf,
    },
    /// List the APIs of a group.
    List { group: String },
    /// Show an API's draft definition.
    Get { group: String, api: String },
    /// Delete an API; refused while it is published.
    Delete { group: String, api: String },
}

/// The group's id and the API's id, each given by id or name.
async fn ids(ctx: &Ctx, group: &str, api: &str) -> anyhow::Result<(String, String)> {
    let g = group_id(ctx, group).await?;
    let a = resolve(ctx, &format!("/v1/groups/{}/apis", seg(&g)), api, "API").await?;
    Ok((g, a))
}

/// Lets a definition name its backend service by name as well as by id.
async fn resolve_backend(ctx: &Ctx, body: &mut Value) -> anyhow::Result<()> {
    let Some(key) = body
        .pointer("/backend/service/backend_id")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return Ok(());
    };
    let id = resolve(ctx, "/v1/backends", &key, "backend").await?;
    body["backend"]["service"]["backend_id"] = Value::String(id);
    Ok(())
}

fn api_path(group: &str, api: &str) -> String {
    format!("/v1/groups/{}/apis/{}", seg(group), seg(api))
}

pub async fn api(ctx: &Ctx, command: ApiCommand) -> anyhow::Result<()> {
    let c = &ctx.client;
    match command {
        ApiCommand::Create { group, file } => {
            let mut body = read_document(&file)?;
            resolve_backend(ctx, &mut body).await?;
            let g = group_id(ctx, &group).await?;
            output::object(
                ctx.format,
                &c.send(Method::POST, &format!("/v1/groups/{}/apis", seg(&g)), &body)
                    .await?,
            )
        }
        ApiCommand::Update { group, api, file } => {
            let mut body = read_document(&file)?;
            resolve_backend(ctx, &mut body).await?;
            let (g, a) = ids(ctx, &group, &api).await?;
            output::object(
                ctx.format,
                &c.send(Method::PUT, &api_path(&g, &a), &body).await?,
            )
        }
        ApiCommand::List { group } => {
            let g = group_id(ctx, &group).await?;
            output::list(
                ctx.format,
                &c.get(&format!("/v1/groups/{}/apis", seg(&g))).await?,
                &[
                    ("ID", "/id"),
                    ("NAME", "/name"),
                    ("METHOD", "/request/method"),
                    ("PATH", "/request/path"),
                    ("BACKEND", "/backend/service"),
                ],
            )
        }
        ApiCommand::Get { group, api } => {
            let (g, a) = ids(ctx, &group, &api).await?;
            output::object(ctx.format, &c.get(&api_path(&g, &a)).await?)
        }
        ApiCommand::Delete { group, api } => {
            let (g, a) = ids(ctx, &group, &api).await?;
            c.delete(&api_path(&g, &a)).await?;
            println!("deleted API {a}");
            Ok(())
        }
    }
}

#[derive(Args, Debug)]
pub struct PublishArgs {
    pub group: String,
    pub api: String,
    #[arg(long = "env", default_value = "RELEASE")]
    pub environment: String,
    #[arg(long, default_value = "")]
    pub note: String,
}

pub async fn publish(ctx: &Ctx, a: PublishArgs) -> anyhow::Result<()> {
    let (g, id) = ids(ctx, &a.group, &a.api).await?;
    let body = json!({"environment": a.environment, "note": a.note});
    let v = ctx
        .client
        .send(
            Method::POST,
            &format!("{}/publish", api_path(&g, &id)),
            &body,
        )
        .await?;
    output::list(ctx.format, &json!([v]), DEPLOYMENT_COLUMNS)
}

#[derive(Args, Debug)]
pub struct EnvironmentArgs {
    pub group: String,
    pub api: String,
    #[arg(long = "env")]
    pub environment: String,
}

pub async fn unpublish(ctx: &Ctx, a: EnvironmentArgs) -> anyhow::Result<()> {
    let (g, id) = ids(ctx, &a.group, &a.api).await?;
    let body = json!({"environment": a.environment});
    ctx.client
        .send(
            Method::POST,
            &format!("{}/unpublish", api_path(&g, &id)),
            &body,
        )
        .await?;
    println!("unpublished API {id} from {}", a.environment);
    Ok(())
}

#[derive(Args, Debug)]
pub struct DeploymentsArgs {
    pub group: String,
    pub api: String,
    #[arg(long = "env")]
    pub environment: Option<String>,
}

pub async fn deployments(ctx: &Ctx, a: DeploymentsArgs) -> anyhow::Result<()> {
    let (g, id) = ids(ctx, &a.group, &a.api).await?;
    let mut path = format!("{}/deployments", api_path(&g, &id));
    if let Some(env) = &a.environment {
        path.push_str(&format!("?environment={}", seg(env)));
    }
    output::list(
        ctx.format,
        &ctx.client.get(&path).await?,
        DEPLOYMENT_COLUMNS,
    )
}

#[derive(Args, Debug)]
pub struct RollbackArgs {
    pub group: String,
    pub api: String,
    #[arg(long = "env")]
    pub environment: String,
    #[arg(long)]
    pub version: u32,
}

pub async fn rollback(ctx: &Ctx, a: RollbackArgs) -> anyhow::Result<()> {
    let (g, id) = ids(ctx, &a.group, &a.api).await?;
    let body = json!({"environment": a.environment, "version": a.version});
    let v = ctx
        .client
        .send(
            Method::POST,
            &format!("{}/rollback", api_path(&g, &id)),
            &body,
        )
        .await?;
    output::list(ctx.format, &json!([v]), DEPLOYMENT_COLUMNS)
}
