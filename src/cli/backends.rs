//! `pylon backend`: backend services, with one definition per environment.

use std::path::PathBuf;

use anyhow::bail;
use clap::{Subcommand, ValueEnum};
use http::Method;
use serde_json::{Value, json};

use pylon_model::BackendDefinition;

use super::{Ctx, output, pairs, read_spec, resolve, seg};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum BackendType {
    /// A base URL (http://, https://, ws:// or wss://).
    Http,
    /// An upstream, by id or name.
    Upstream,
    /// A fixed answer.
    Mock,
    /// A function called with a cloud's event format (aliyun-fc, tencent-scf, aws-lambda):
    /// define it per environment with `set-env -f` (docs/functions.md).
    Function,
}

#[derive(Subcommand, Debug)]
pub enum BackendCommand {
    /// Create a backend service; its type is fixed at creation.
    Create {
        /// The backend service's name, unique; APIs name it in `backend.service.backend_id`.
        name: String,
        /// What it calls; each environment's definition must be of this type.
        #[arg(long = "type", value_enum)]
        kind: BackendType,
        /// Free text.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List backend services.
    List,
    /// Show a backend service and its definition per environment.
    Get {
        /// The backend service (id or name).
        backend: String,
    },
    /// Delete a backend service; refused while APIs use it.
    Delete {
        /// The backend service (id or name).
        backend: String,
    },
    /// Set the backend's definition in an environment; takes effect at once, without a republish.
    SetEnv {
        /// The backend service (id or name).
        backend: String,
        /// The environment, e.g. RELEASE.
        environment: String,
        /// http: base URL, `http://host:port/base` or `https://...` (may hold
        /// `${stageVariables.x}`); TLS settings (CA bundle, server name) go in a `--file`.
        #[arg(long, conflicts_with_all = ["upstream", "mock_status", "file"])]
        url: Option<String>,
        /// upstream: the upstream's id or name.
        #[arg(long)]
        upstream: Option<String>,
        /// upstream: a path prefixed to every backend path.
        #[arg(long, default_value = "", requires = "upstream")]
        path_prefix: String,
        /// mock: status to answer with.
        #[arg(long)]
        mock_status: Option<u16>,
        /// mock: body to answer with.
        #[arg(long, default_value = "")]
        mock_body: String,
        /// mock: a header to answer with, `name=value`.
        #[arg(long = "mock-header", value_name = "NAME=VALUE")]
        mock_headers: Vec<String>,
        /// The definition as a YAML or JSON file (`-` for standard input); the only way to
        /// give a `function` definition.
        #[arg(short = 'f', long)]
        file: Option<PathBuf>,
    },
    /// Remove the backend's definition in an environment; with --confirm, unpublishes the APIs
    /// that use it there.
    UnsetEnv {
        /// The backend service (id or name).
        backend: String,
        /// The environment, e.g. RELEASE.
        environment: String,
        /// Unpublish the APIs that use the definition there (refused without it).
        #[arg(long)]
        confirm: bool,
    },
}

pub async fn backend(ctx: &Ctx, command: BackendCommand) -> anyhow::Result<()> {
    let c = &ctx.client;
    let id = |key: String| async move { resolve(ctx, "/v1/backends", &key, "backend").await };
    match command {
        BackendCommand::Create {
            name,
            kind,
            description,
        } => {
            let kind = format!("{kind:?}").to_ascii_lowercase();
            let body = json!({"name": name, "type": kind, "description": description});
            output::object(
                ctx.format,
                &c.send(Method::POST, "/v1/backends", &body).await?,
            )
        }
        BackendCommand::List => output::list(
            ctx.format,
            &c.get("/v1/backends").await?,
            &[
                ("ID", "/id"),
                ("NAME", "/name"),
                ("TYPE", "/type"),
                ("DESCRIPTION", "/description"),
                ("CREATED", "/created_at"),
            ],
        ),
        BackendCommand::Get { backend } => {
            let key = id(backend).await?;
            let mut v = c.get(&format!("/v1/backends/{}", seg(&key))).await?;
            let envs = c
                .get(&format!("/v1/backends/{}/environments", seg(&key)))
                .await?;
            if let Some(obj) = v.as_object_mut() {
                obj.insert("environments".into(), envs);
            }
            output::object(ctx.format, &v)
        }
        BackendCommand::Delete { backend } => {
            let key = id(backend).await?;
            c.delete(&format!("/v1/backends/{}", seg(&key))).await?;
            println!("deleted backend {key}");
            Ok(())
        }
        BackendCommand::SetEnv {
            backend,
            environment,
            url,
            upstream,
            path_prefix,
            mock_status,
            mock_body,
            mock_headers,
            file,
        } => {
            let definition = match (url, upstream, mock_status, file) {
                (Some(url), None, None, None) => json!({"type": "http", "url": url}),
                (None, Some(up), None, None) => {
                    json!({"type": "upstream", "upstream": up, "path_prefix": path_prefix})
                }
                (None, None, Some(status), None) => {
                    json!({"type": "mock", "status": status, "body": mock_body, "headers": Value::Object(pairs(&mock_headers, "header")?)})
                }
                (None, None, None, Some(path)) => read_spec::<BackendDefinition>(&path)?,
                _ => bail!("give exactly one of --url, --upstream, --mock-status or -f"),
            };
            let path = format!(
                "/v1/backends/{}/environments/{}",
                seg(&id(backend).await?),
                seg(&environment)
            );
            output::object(ctx.format, &c.send(Method::PUT, &path, &definition).await?)
        }
        BackendCommand::UnsetEnv {
            backend,
            environment,
            confirm,
        } => {
            let key = id(backend).await?;
            let mut path = format!(
                "/v1/backends/{}/environments/{}",
                seg(&key),
                seg(&environment)
            );
            if confirm {
                path.push_str("?confirm=true");
            }
            c.delete(&path).await?;
            println!("removed the {environment} definition of backend {key}");
            Ok(())
        }
    }
}
