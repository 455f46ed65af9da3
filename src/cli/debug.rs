//! `pylon debug`: online debugging. Sends one request through the gateway's real pipeline via
//! `POST /v1/debug` (signed on an app's behalf when `--app` is given) and shows the trace.

use clap::Args;
use http::Method;
use serde_json::{Map, Value, json};

use super::groups::group_id;
use super::output::Format;
use super::{Ctx, resolve, seg};

#[derive(Args, Debug)]
pub struct DebugArgs {
    /// The group (id or name).
    #[arg(long)]
    pub group: String,
    /// The API (id or name) meant to serve the request; gives the default method, path and
    /// signing scheme.
    #[arg(long)]
    pub api: Option<String>,
    /// The environment to run the request in.
    #[arg(long = "env", default_value = "RELEASE")]
    pub environment: String,
    /// Sign the request as this app (id or name).
    #[arg(long)]
    pub app: Option<String>,
    /// Send `--app`'s request unsigned (to see what the gateway says).
    #[arg(long)]
    pub no_sign: bool,
    /// Request method (the API's when absent).
    #[arg(short = 'X', long)]
    pub method: Option<String>,
    /// Request path, e.g. `/users/42`.
    #[arg(long)]
    pub path: Option<String>,
    /// Raw query string, e.g. `a=1&b=2`.
    #[arg(long)]
    pub query: Option<String>,
    /// A request header, `Name: value`; repeatable.
    #[arg(short = 'H', long = "header")]
    pub headers: Vec<String>,
    /// Request body.
    #[arg(short = 'd', long = "data")]
    pub body: Option<String>,
}

pub async fn debug(ctx: &Ctx, a: DebugArgs) -> anyhow::Result<()> {
    let group = group_id(ctx, &a.group).await?;
    let mut body = json!({"group_id": group, "environment": a.environment});
    if let Some(api) = &a.api {
        let id = resolve(ctx, &format!("/v1/groups/{}/apis", seg(&group)), api, "API").await?;
        body["api_id"] = json!(id);
    }
    if let Some(app) = &a.app {
        body["app_id"] = json!(resolve(ctx, "/v1/apps", app, "app").await?);
        body["sign"] = json!(!a.no_sign);
    }
    for (field, value) in [
        ("method", &a.method),
        ("path", &a.path),
        ("query", &a.query),
        ("body", &a.body),
    ] {
        if let Some(v) = value {
            body[field] = json!(v);
        }
    }
    let mut headers = Map::new();
    for h in &a.headers {
        let Some((k, v)) = h.split_once(':') else {
            anyhow::bail!("header `{h}` must be written `Name: value`");
        };
        headers.insert(k.trim().to_string(), json!(v.trim()));
    }
    body["headers"] = Value::Object(headers);
    let answer = ctx.client.send(Method::POST, "/v1/debug", &body).await?;
    match ctx.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&answer)?),
        Format::Table => print!("{}", render(&answer)),
    }
    Ok(())
}

/// A readable summary: what matched, who called, what went to the backend and came back, and
/// where the time went.
fn render(answer: &Value) -> String {
    let t = &answer["trace"];
    let s = |v: &Value| v.as_str().unwrap_or("-").to_string();
    let mut out = String::new();
    if let Some(signed) = answer["signed"].as_object() {
        out += &format!(
            "signed      {} with AppKey {}\n",
            s(&signed["scheme"]),
            s(&signed["app_key"])
        );
    }
    let r = &t["route"];
    if r.is_object() {
        out += &format!(
            "route       group {} · environment {} (from {}) · API {} ({} {})\n",
            s(&r["group_id"]),
            s(&r["environment"]),
            s(&r["environment_from"]),
            s(&r["api_name"]),
            s(&r["api_method"]),
            s(&r["api_path"])
        );
    }
    for p in t["parameters"].as_array().into_iter().flatten() {
        out += &format!(
            "parameter   {} ({}) = {}\n",
            s(&p["name"]),
            s(&p["location"]),
            s(&p["value"])
        );
    }
    if let Some(c) = t["caller"].as_object() {
        out += &format!("caller      {} app {}\n", s(&c["scheme"]), s(&c["app_id"]));
    }
    if let Some(b) = t["backend_request"].as_object() {
        out += &format!("backend  →  {} {}\n", s(&b["method"]), s(&b["url"]));
    }
    if let Some(b) = t["backend_response"].as_object() {
        out += &format!("backend  ←  {} ({} bytes)\n", b["status"], b["body_bytes"]);
    }
    out += &format!("response    {}\n", t["response"]["status"]);
    if let Some(e) = t["error"].as_object() {
        out += &format!(
            "error       {} {}: {}\n",
            e["status"],
            s(&e["code"]),
            s(&e["message"])
        );
        // The log's version: says why (which environment or method the API is published for).
        out += &format!("            {}\n", s(&e["detail"]));
    }
    for p in t["phases"].as_array().into_iter().flatten() {
        let err = p["error"]
            .as_str()
            .map(|e| format!("  ✗ {e}"))
            .unwrap_or_default();
        out += &format!("  {:<14}{:>8} µs{err}\n", s(&p["name"]), p["duration_us"]);
    }
    out += &format!("  {:<14}{:>8} µs\n", "total", t["total_us"]);
    out
}
