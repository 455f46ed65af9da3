//! `pylon group`: groups, which own APIs and domains.

use clap::Subcommand;
use http::Method;
use serde_json::{Value, json};

use super::{Ctx, output, resolve, seg};

const GROUP_COLUMNS: &[output::Column] = &[
    ("ID", "/id"),
    ("NAME", "/name"),
    ("DEFAULT DOMAIN", "/default_domain"),
    ("DOMAINS", "/domains_shown"),
    ("CREATED", "/created_at"),
];

#[derive(Subcommand, Debug)]
pub enum GroupCommand {
    /// Create a group.
    Create {
        /// The group's name, unique.
        name: String,
        /// Free text.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List groups.
    List,
    /// Show a group (by id or name).
    Get {
        /// The group (id or name).
        group: String,
    },
    /// Rename or re-describe a group.
    Update {
        /// The group (id or name).
        group: String,
        /// The new name.
        #[arg(long)]
        name: Option<String>,
        /// The new description.
        #[arg(long)]
        description: Option<String>,
    },
    /// Delete a group; refused while it holds APIs.
    Delete {
        /// The group (id or name).
        group: String,
    },
    /// Bind a custom domain to a group.
    AddDomain {
        /// The group (id or name).
        group: String,
        /// Host name, e.g. `api.example.com` or `*.example.com`.
        domain: String,
        /// Serve only this environment on the domain, whatever X-Ca-Stage says.
        #[arg(long, visible_alias = "env")]
        environment: Option<String>,
        /// Present this certificate (by name) for the domain over HTTPS, over any other that
        /// lists it (see `pylon certificate list`).
        #[arg(long)]
        certificate: Option<String>,
        /// Take the environment from the path's first segment: `aws` (`/<ENVIRONMENT>/...`)
        /// or `tencent` (`/release`, `/prepub`, `/test`).
        #[arg(long, value_parser = ["aws", "tencent"])]
        stage_path: Option<String>,
        /// Shape of the gateway's own errors on this domain.
        #[arg(long, value_parser = ["alibaba", "aws"], default_value = "alibaba")]
        error_format: String,
    },
    /// Unbind a custom domain.
    RemoveDomain {
        /// The group (id or name).
        group: String,
        /// The bound host name.
        domain: String,
    },
}

/// `api.example.com, test.example.com (TEST)`: the names, with the environment a domain is
/// bound to.
fn domains_shown(domains: &Value) -> String {
    let shown: Vec<String> = domains
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| {
            let name = d["name"].as_str()?;
            Some(match d["environment"].as_str() {
                Some(env) => format!("{name} ({env})"),
                None => name.to_string(),
            })
        })
        .collect();
    if shown.is_empty() {
        "-".into()
    } else {
        shown.join(", ")
    }
}

pub async fn group_id(ctx: &Ctx, key: &str) -> anyhow::Result<String> {
    resolve(ctx, "/v1/groups", key, "group").await
}

pub async fn group(ctx: &Ctx, command: GroupCommand) -> anyhow::Result<()> {
    let c = &ctx.client;
    match command {
        GroupCommand::Create { name, description } => {
            let v = c
                .send(
                    Method::POST,
                    "/v1/groups",
                    &json!({"name": name, "description": description}),
                )
                .await?;
            output::object(ctx.format, &v)
        }
        GroupCommand::List => {
            let mut groups = c.get("/v1/groups").await?;
            if ctx.format == output::Format::Table {
                for g in groups.as_array_mut().into_iter().flatten() {
                    g["domains_shown"] = Value::String(domains_shown(&g["domains"]));
                }
            }
            output::list(ctx.format, &groups, GROUP_COLUMNS)
        }
        GroupCommand::Get { group } => {
            let id = group_id(ctx, &group).await?;
            output::object(
                ctx.format,
                &c.get(&format!("/v1/groups/{}", seg(&id))).await?,
            )
        }
        GroupCommand::Update {
            group,
            name,
            description,
        } => {
            let id = group_id(ctx, &group).await?;
            let path = format!("/v1/groups/{}", seg(&id));
            let current = c.get(&path).await?;
            let body = json!({
                "name": name.map(Value::String).unwrap_or_else(|| current["name"].clone()),
                "description": description.map(Value::String).unwrap_or_else(|| current["description"].clone()),
            });
            output::object(ctx.format, &c.send(Method::PUT, &path, &body).await?)
        }
        GroupCommand::Delete { group } => {
            let id = group_id(ctx, &group).await?;
            c.delete(&format!("/v1/groups/{}", seg(&id))).await?;
            println!("deleted group {id}");
            Ok(())
        }
        GroupCommand::AddDomain {
            group,
            domain,
            environment,
            certificate,
            stage_path,
            error_format,
        } => {
            let id = group_id(ctx, &group).await?;
            let v = c
                .send(
                    Method::POST,
                    &format!("/v1/groups/{}/domains", seg(&id)),
                    &json!({
                        "name": domain,
                        "environment": environment,
                        "certificate": certificate,
                        "stage_path": stage_path,
                        "error_format": error_format,
                    }),
                )
                .await?;
            output::object(ctx.format, &v)
        }
        GroupCommand::RemoveDomain { group, domain } => {
            let id = group_id(ctx, &group).await?;
            c.delete(&format!("/v1/groups/{}/domains/{}", seg(&id), seg(&domain)))
                .await?;
            println!("removed domain {domain} from group {id}");
            Ok(())
        }
    }
}
