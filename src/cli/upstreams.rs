//! `pylon upstream`: named private targets that backends call.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use http::Method;
use serde_json::{Value, json};

use super::{Ctx, output, resolve, seg};

/// Reaching the targets over TLS; any of these flags turns it on.
#[derive(Args, Debug, Default)]
pub struct TlsArgs {
    /// Reach the targets over TLS, verified against the system's trust roots.
    #[arg(long)]
    tls: bool,
    /// PEM file of the CA certificates that verify the targets (implies --tls).
    #[arg(long, value_name = "FILE")]
    ca_bundle: Option<PathBuf>,
    /// Name sent in SNI and verified [default: the Host header, else the target's host].
    #[arg(long, value_name = "NAME")]
    tls_server_name: Option<String>,
    /// Accept any certificate the targets present (tests only; logged as a warning).
    #[arg(long)]
    tls_insecure: bool,
    /// A certificate (`pylon certificate list`) presented to the targets (mutual TLS).
    #[arg(long, value_name = "CERTIFICATE")]
    client_certificate: Option<String>,
}

impl TlsArgs {
    /// The upstream's `tls` setting: `null` unless a flag asks for TLS.
    fn to_json(&self) -> anyhow::Result<Value> {
        let wanted = self.tls
            || self.ca_bundle.is_some()
            || self.tls_server_name.is_some()
            || self.tls_insecure
            || self.client_certificate.is_some();
        if !wanted {
            return Ok(Value::Null);
        }
        let ca_bundle = match &self.ca_bundle {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?,
            ),
            None => None,
        };
        Ok(json!({
            "ca_bundle": ca_bundle,
            "server_name": self.tls_server_name,
            "insecure": self.tls_insecure,
            "client_certificate": self.client_certificate,
        }))
    }
}

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
        #[command(flatten)]
        tls: TlsArgs,
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
        /// TLS as these flags say (plain HTTP when none is given).
        #[command(flatten)]
        tls: TlsArgs,
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
            tls,
        } => {
            let body = json!({"name": name, "targets": targets, "host_header": host_header, "description": description, "tls": tls.to_json()?});
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
            tls,
        } => {
            let path = format!("/v1/upstreams/{}", seg(&id(upstream).await?));
            let current = c.get(&path).await?;
            let body = json!({"name": current["name"], "description": current["description"], "targets": targets, "host_header": host_header, "tls": tls.to_json()?});
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
