//! `pylon env`: the environments (RELEASE, PRE, TEST and custom ones).

use clap::Subcommand;
use http::Method;
use serde_json::json;

use super::{Ctx, output, seg};

#[derive(Subcommand, Debug)]
pub enum EnvironmentCommand {
    /// List environments.
    List,
    /// Add a custom environment.
    Create {
        /// Letters, digits and `_`; stored uppercase.
        name: String,
        /// Free text.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Remove a custom environment; refused while APIs are published there.
    Delete {
        /// The environment's name.
        name: String,
    },
}

pub async fn environment(ctx: &Ctx, command: EnvironmentCommand) -> anyhow::Result<()> {
    let c = &ctx.client;
    match command {
        EnvironmentCommand::List => output::list(
            ctx.format,
            &c.get("/v1/environments").await?,
            &[
                ("NAME", "/name"),
                ("BUILTIN", "/builtin"),
                ("DESCRIPTION", "/description"),
            ],
        ),
        EnvironmentCommand::Create { name, description } => {
            let v = c
                .send(
                    Method::POST,
                    "/v1/environments",
                    &json!({"name": name, "description": description}),
                )
                .await?;
            output::object(ctx.format, &v)
        }
        EnvironmentCommand::Delete { name } => {
            c.delete(&format!("/v1/environments/{}", seg(&name)))
                .await?;
            println!("deleted environment {name}");
            Ok(())
        }
    }
}
