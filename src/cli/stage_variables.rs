//! `pylon stage-vars`: the stage variables of a group in an environment.

use clap::Subcommand;
use http::Method;
use serde_json::json;

use super::groups::group_id;
use super::{Ctx, output, pairs, seg};

#[derive(Subcommand, Debug)]
pub enum StageVariablesCommand {
    /// Show the stage variables of a group in an environment.
    Get {
        /// The group (id or name).
        group: String,
        /// The environment, e.g. RELEASE.
        environment: String,
    },
    /// Replace the stage variables of a group in an environment with `name=value` pairs.
    Set {
        /// The group (id or name).
        group: String,
        /// The environment, e.g. RELEASE.
        environment: String,
        /// The whole new set (none: remove them all); used as `${stageVariables.NAME}`.
        #[arg(value_name = "NAME=VALUE")]
        variables: Vec<String>,
    },
}

pub async fn stage_variables(ctx: &Ctx, command: StageVariablesCommand) -> anyhow::Result<()> {
    let c = &ctx.client;
    match command {
        StageVariablesCommand::Get { group, environment } => {
            let id = group_id(ctx, &group).await?;
            let v = c
                .get(&format!(
                    "/v1/groups/{}/stage-variables/{}",
                    seg(&id),
                    seg(&environment)
                ))
                .await?;
            output::object(ctx.format, &v)
        }
        StageVariablesCommand::Set {
            group,
            environment,
            variables,
        } => {
            let id = group_id(ctx, &group).await?;
            let body = json!({"variables": pairs(&variables, "stage variable")?});
            let path = format!(
                "/v1/groups/{}/stage-variables/{}",
                seg(&id),
                seg(&environment)
            );
            output::object(ctx.format, &c.send(Method::PUT, &path, &body).await?)
        }
    }
}
