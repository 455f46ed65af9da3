//! `pylon upstream`: named private targets that backends call.

use clap::Subcommand;
use http::Method;
use serde_json::json;

use super::{Ctx, output, resolve, seg};

#[derive(Subcommand, Debug)]
pub enum UpstreamCommand {
    /// Create an upstream with one or more `host:port` targets.
    Create {
        /// The upstream's name, unique.
        name: String,
        /// A target instance; repeat for several (balanced round-robin).
        #[arg(long = "target", required = true, value_name = "HOST:PORT")]
        targets: Vec<String>,
        /// Host header sent to the targets.
        #[arg(long)]
        host_header: Option<String>,
        /// Free text.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List upstreams.
    List,
    /// Show an upstream (by id or name).
    Get {
        /// The upstream (id or name).
        upstream: String,
    },
    /// Replace an upstream's targets and Host header.
    Update {
        /// The upstream (id or name).
        upstream: String,
        /// A target instance; repeat for several. Replaces every target.
        #[arg(long = "target", required = true, value_name = "HOST:PORT")]
        targets: Vec<String>,
        /// Host header sent to the targets (none when absent).
        #[arg(long)]
        host_header: Option<String>,
    },
    /// Delete an upstream; refused while a backend uses it.
    Delete {
        /// The upstream (id or name).
        upstream: String,
    },
}

pub async fn upstream(ctx: &Ctx, command: UpstreamCommand) -> anyhow::Result<()> {
    let c = &ctx.client;
    let id = |key: String| async move { resolve(ctx, "/v1/upstreams", &key, "upstream").await };
    match command {
        UpstreamCommand::Create {
            name,
            targets,
            host_header,
            description,
        } => {
            let body = json!({"name": name, "targets": targets, "host_header": host_header, "description": description});
            output::object(
                ctx.format,
                &c.send(Method::POST, "/v1/upstreams", &body).await?,
            )
        }
        UpstreamCommand::List => output::list(
            ctx.format,
            &c.get("/v1/upstreams").await?,
            &[
                ("ID", "/id"),
                ("NAME", "/name"),
                ("TARGETS", "/targets"),
                ("HOST HEADER", "/host_header"),
            ],
        ),
        UpstreamCommand::Get { upstream } => {
            let path = format!("/v1/upstreams/{}", seg(&id(upstream).await?));
            output::object(ctx.format, &c.get(&path).await?)
        }
        UpstreamCommand::Update {
            upstream,
            targets,
            host_header,
        } => {
            let path = format!("/v1/upstreams/{}", seg(&id(upstream).await?));
            let current = c.get(&path).await?;
            let body = json!({"name": current["name"], "description": current["description"], "targets": targets, "host_header": host_header});
            output::object(ctx.format, &c.send(Method::PUT, &path, &body).await?)
        }
        UpstreamCommand::Delete { upstream } => {
            let key = id(upstream).await?;
            c.delete(&format!("/v1/upstreams/{}", seg(&key))).await?;
            println!("deleted upstream {key}");
            Ok(())
        }
    }
}
