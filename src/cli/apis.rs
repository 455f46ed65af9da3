//! `pylon api`, `pylon publish`, `pylon unpublish`, `pylon deployments`, `pylon rollback`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use http::Method;
use pylon_model::ApiSpec;
use serde_json::{Value, json};

use super::groups::group_id;
use super::{Ctx, output, read_spec, resolve, seg};

const DEPLOYMENT_COLUMNS: &[output::Column] = &[
    ("VERSION", "/version"),
    ("ENVIRONMENT", "/environment"),
    ("ACTIVE", "/active"),
    ("NOTE", "/note"),
    ("CREATED", "/created_at"),
    ("ID", "/id"),
];

/// Shown by `pylon api create --help` and `pylon api update --help`.
const SPEC_HELP: &str = "\
The file is YAML (or JSON) with the API's definition, for example:

  name: get-user
  request:
    method: GET               # POST, PUT, DELETE, PATCH, HEAD, OPTIONS or ANY
    path: /users/{id}         # =/exact, ^~/prefix, /with/{param}, /files/{proxy+}, ~regex
  backend:
    service:
      backend_id: users       # a backend service by name or id (pylon backend create)
      # or inline: { type: http, url: \"http://10.0.0.5:8080\" }
    path: /v1/users/{id}
    timeout_ms: 10000
  auth:
    type: none                # or app, key-pair, jwt, api-key

Every field (parameters, constant and system parameters, auth, cors, response) is described in
docs/concepts.md (section API) and docs/authentication.md; mistakes are reported with the
file's line and column.";

#[derive(Subcommand, Debug)]
pub enum ApiCommand {
    /// Create an API in a group from a YAML or JSON definition.
    #[command(after_long_help = SPEC_HELP)]
    Create {
        /// The group (id or name).
        group: String,
        /// The definition, YAML or JSON (`-` for standard input); see --help for an example.
        #[arg(short = 'f', long)]
        file: PathBuf,
    },
    /// Replace an API's draft definition (traffic changes only when published).
    #[command(after_long_help = SPEC_HELP)]
    Update {
        /// The group (id or name).
        group: String,
        /// The API (id or name).
        api: String,
        /// The whole new definition, YAML or JSON (`-` for standard input).
        #[arg(short = 'f', long)]
        file: PathBuf,
    },
    /// List the APIs of a group, with where each is published.
    List {
        /// The group (id or name).
        group: String,
    },
    /// Show an API's draft definition.
    Get {
        /// The group (id or name).
        group: String,
        /// The API (id or name).
        api: String,
    },
    /// Delete an API; refused while it is published.
    Delete {
        /// The group (id or name).
        group: String,
        /// The API (id or name).
        api: String,
    },
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

/// Adds `backend_shown` (the backend service's name, or what an inline backend is) and
/// `published` (`RELEASE v3, TEST v1`) to each API, for the table.
async fn readable_apis(ctx: &Ctx, group: &str, mut apis: Value) -> anyhow::Result<Value> {
    let backends = ctx.client.get("/v1/backends").await?;
    let served = ctx
        .client
        .get(&format!("/v1/groups/{}/deployments", seg(group)))
        .await?;
    for api in apis.as_array_mut().into_iter().flatten() {
        let shown = backend_shown(&api["backend"]["service"], &backends);
        let id = api["id"].clone();
        let published: Vec<String> = served
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["api_id"] == id)
            .map(|d| {
                format!(
                    "{} v{}",
                    d["environment"].as_str().unwrap_or("?"),
                    d["version"]
                )
            })
            .collect();
        api["backend_shown"] = Value::String(shown);
        api["published"] = if published.is_empty() {
            Value::Null
        } else {
            Value::String(published.join(", "))
        };
    }
    Ok(apis)
}

/// `backend.service` in words: the backend service's name, or the inline definition's target.
fn backend_shown(service: &Value, backends: &Value) -> String {
    if let Some(id) = service["backend_id"].as_str() {
        return backends
            .as_array()
            .and_then(|all| all.iter().find(|b| b["id"] == id))
            .and_then(|b| b["name"].as_str())
            .unwrap_or(id)
            .to_string();
    }
    let inline = &service["inline"];
    match inline["type"].as_str() {
        Some("http") => format!("inline {}", inline["url"].as_str().unwrap_or("")),
        Some("upstream") => format!(
            "inline upstream {}",
            inline["upstream"].as_str().unwrap_or("")
        ),
        Some(other) => format!("inline {other}"),
        None => "-".into(),
    }
}

fn api_path(group: &str, api: &str) -> String {
    format!("/v1/groups/{}/apis/{}", seg(group), seg(api))
}

pub async fn api(ctx: &Ctx, command: ApiCommand) -> anyhow::Result<()> {
    let c = &ctx.client;
    match command {
        ApiCommand::Create { group, file } => {
            let mut body = read_spec::<ApiSpec>(&file)?;
            resolve_backend(ctx, &mut body).await?;
            let g = group_id(ctx, &group).await?;
            output::object(
                ctx.format,
                &c.send(Method::POST, &format!("/v1/groups/{}/apis", seg(&g)), &body)
                    .await?,
            )
        }
        ApiCommand::Update { group, api, file } => {
            let mut body = read_spec::<ApiSpec>(&file)?;
            resolve_backend(ctx, &mut body).await?;
            let (g, a) = ids(ctx, &group, &api).await?;
            output::object(
                ctx.format,
                &c.send(Method::PUT, &api_path(&g, &a), &body).await?,
            )
        }
        ApiCommand::List { group } => {
            let g = group_id(ctx, &group).await?;
            let apis = c.get(&format!("/v1/groups/{}/apis", seg(&g))).await?;
            let apis = match ctx.format {
                output::Format::Json => apis,
                output::Format::Table => readable_apis(ctx, &g, apis).await?,
            };
            output::list(
                ctx.format,
                &apis,
                &[
                    ("ID", "/id"),
                    ("NAME", "/name"),
                    ("METHOD", "/request/method"),
                    ("PATH", "/request/path"),
                    ("BACKEND", "/backend_shown"),
                    ("PUBLISHED", "/published"),
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
    /// The group (id or name).
    pub group: String,
    /// The API (id or name).
    pub api: String,
    /// The environment to publish to.
    #[arg(long = "env", default_value = "RELEASE")]
    pub environment: String,
    /// What changed, shown in `pylon deployments`.
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
    /// The group (id or name).
    pub group: String,
    /// The API (id or name).
    pub api: String,
    /// The environment to stop serving it in (like `publish`, RELEASE unless given).
    #[arg(long = "env", default_value = "RELEASE")]
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
    /// The group (id or name).
    pub group: String,
    /// The API (id or name).
    pub api: String,
    /// Only this environment's versions (all environments when absent).
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
    /// The group (id or name).
    pub group: String,
    /// The API (id or name).
    pub api: String,
    /// The environment to roll back (like `publish`, RELEASE unless given).
    #[arg(long = "env", default_value = "RELEASE")]
    pub environment: String,
    /// The version to serve again, as `pylon deployments` lists it.
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
