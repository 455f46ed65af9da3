//! `pylon app`: apps, their AppKey/AppSecret pairs and their AppCodes.

use clap::Subcommand;
use http::Method;
use serde_json::{Value, json};

use super::{Ctx, output, seg};

const APP_COLUMNS: &[output::Column] = &[
    ("ID", "/id"),
    ("NAME", "/name"),
    ("DESCRIPTION", "/description"),
    ("CREATED", "/created_at"),
];

const KEY_COLUMNS: &[output::Column] = &[("APP KEY", "/app_key"), ("CREATED", "/created_at")];

const CODE_COLUMNS: &[output::Column] = &[("APP CODE", "/code"), ("CREATED", "/created_at")];

#[derive(Subcommand, Debug)]
pub enum AppCommand {
    /// Create an app; its first AppKey/AppSecret pair is shown once.
    Create {
        /// The app's name, unique.
        name: String,
        /// Free text.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List apps.
    List,
    /// Show an app (by id or name) and its AppKeys, without secrets.
    Get {
        /// The app (id or name).
        app: String,
    },
    /// Delete an app with its keys, AppCodes and authorizations.
    Delete {
        /// The app (id or name).
        app: String,
    },
    /// AppKey/AppSecret pairs of an app.
    #[command(subcommand)]
    Key(KeyCommand),
    /// AppCodes of an app (simple authentication: `Authorization: APPCODE <code>`; also the
    /// keys `api-key` APIs take in `x-api-key`).
    #[command(subcommand)]
    Code(CodeCommand),
}

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Add a key pair (generated unless given); the AppSecret is shown.
    Add {
        /// The app (id or name).
        app: String,
        /// Import this AppKey instead of generating one.
        #[arg(long)]
        app_key: Option<String>,
        /// Import this AppSecret instead of generating one.
        #[arg(long)]
        app_secret: Option<String>,
    },
    /// List an app's AppKeys (secrets hidden).
    List {
        /// The app (id or name).
        app: String,
    },
    /// Show the AppSecret of one AppKey.
    Secret {
        /// The app (id or name).
        app: String,
        /// The AppKey whose secret to show.
        app_key: String,
    },
    /// Delete a key pair; requests signed with it fail at once.
    Delete {
        /// The app (id or name).
        app: String,
        /// The AppKey to delete.
        app_key: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum CodeCommand {
    /// Add an AppCode (generated unless given).
    Add {
        /// The app (id or name).
        app: String,
        /// Import this AppCode instead of generating one.
        #[arg(long)]
        code: Option<String>,
    },
    /// List an app's AppCodes.
    List {
        /// The app (id or name).
        app: String,
    },
    /// Delete an AppCode.
    Delete {
        /// The app (id or name).
        app: String,
        /// The AppCode to delete.
        code: String,
    },
}

fn app_path(app: &str) -> String {
    format!("/v1/apps/{}", seg(app))
}

pub async fn app(ctx: &Ctx, command: AppCommand) -> anyhow::Result<()> {
    let c = &ctx.client;
    match command {
        AppCommand::Create { name, description } => {
            let body = json!({"name": name, "description": description});
            output::object(ctx.format, &c.send(Method::POST, "/v1/apps", &body).await?)
        }
        AppCommand::List => output::list(ctx.format, &c.get("/v1/apps").await?, APP_COLUMNS),
        AppCommand::Get { app } => output::object(ctx.format, &c.get(&app_path(&app)).await?),
        AppCommand::Delete { app } => {
            c.delete(&app_path(&app)).await?;
            println!("deleted app {app}");
            Ok(())
        }
        AppCommand::Key(k) => key(ctx, k).await,
        AppCommand::Code(k) => code(ctx, k).await,
    }
}

async fn key(ctx: &Ctx, command: KeyCommand) -> anyhow::Result<()> {
    let c = &ctx.client;
    match command {
        KeyCommand::Add {
            app,
            app_key,
            app_secret,
        } => {
            let mut body = serde_json::Map::new();
            if let Some(k) = app_key {
                body.insert("app_key".into(), Value::String(k));
            }
            if let Some(s) = app_secret {
                body.insert("app_secret".into(), Value::String(s));
            }
            let path = format!("{}/keys", app_path(&app));
            let v = c.send(Method::POST, &path, &Value::Object(body)).await?;
            output::object(ctx.format, &v)
        }
        KeyCommand::List { app } => output::list(
            ctx.format,
            &c.get(&format!("{}/keys", app_path(&app))).await?,
            KEY_COLUMNS,
        ),
        KeyCommand::Secret { app, app_key } => {
            let path = format!("{}/keys/{}/secret", app_path(&app), seg(&app_key));
            output::object(ctx.format, &c.get(&path).await?)
        }
        KeyCommand::Delete { app, app_key } => {
            c.delete(&format!("{}/keys/{}", app_path(&app), seg(&app_key)))
                .await?;
            println!("deleted AppKey {app_key}");
            Ok(())
        }
    }
}

async fn code(ctx: &Ctx, command: CodeCommand) -> anyhow::Result<()> {
    let c = &ctx.client;
    match command {
        CodeCommand::Add { app, code } => {
            let body = match code {
                Some(code) => json!({ "code": code }),
                None => json!({}),
            };
            let path = format!("{}/codes", app_path(&app));
            output::object(ctx.format, &c.send(Method::POST, &path, &body).await?)
        }
        CodeCommand::List { app } => output::list(
            ctx.format,
            &c.get(&format!("{}/codes", app_path(&app))).await?,
            CODE_COLUMNS,
        ),
        CodeCommand::Delete { app, code } => {
            c.delete(&format!("{}/codes/{}", app_path(&app), seg(&code)))
                .await?;
            println!("deleted AppCode");
            Ok(())
        }
    }
}
