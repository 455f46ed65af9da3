//! What every subcommand shares: the admin client and the chosen output (`Ctx`), and the helpers
//! for ids and names, path segments, `KEY=VALUE` lists and spec files. Below the subcommands and
//! the dispatch in `mod.rs`, so neither imports the other back.

use std::path::Path;

use anyhow::{Context, bail};
use serde_json::Value;

use super::client::AdminClient;
use super::output::Format;

/// What every command gets: the client and the chosen output.
pub struct Ctx {
    pub client: AdminClient,
    pub format: Format,
}

/// Reads a definition of type `T` (an API, a backend definition) and checks it against `T`'s
/// schema here, so that a typo or a wrong type is reported at the file's own line and column
/// rather than at a position in the JSON the admin API receives. Returns the document as
/// written, for the admin API to validate the rest.
pub fn read_spec<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<Value> {
    let (name, text) = read_text(path)?;
    yaml_serde::from_str::<T>(&text).map_err(|e| located(&name, &e))?;
    let value: Value = yaml_serde::from_str(&text).map_err(|e| located(&name, &e))?;
    Ok(value)
}

fn read_text(path: &Path) -> anyhow::Result<(String, String)> {
    if path == Path::new("-") {
        let text =
            std::io::read_to_string(std::io::stdin()).context("cannot read standard input")?;
        return Ok(("<stdin>".to_string(), text));
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok((path.display().to_string(), text))
}

/// `file:line:column: problem`, the form editors and terminals turn into a link.
fn located(name: &str, error: &yaml_serde::Error) -> anyhow::Error {
    let message = error.to_string();
    match error.location() {
        Some(at) => {
            let suffix = format!(" at line {} column {}", at.line(), at.column());
            let message = message.strip_suffix(&suffix).unwrap_or(&message);
            anyhow::anyhow!("{name}:{}:{}: {message}", at.line(), at.column())
        }
        None => anyhow::anyhow!("{name}: {message}"),
    }
}

/// Parses `name=value` pairs.
pub fn pairs(items: &[String], what: &str) -> anyhow::Result<serde_json::Map<String, Value>> {
    items
        .iter()
        .map(|item| match item.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), Value::String(v.to_string()))),
            _ => bail!("{what} `{item}` must be written name=value"),
        })
        .collect()
}

/// Percent-encodes one path segment of an admin URL.
pub fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Finds a resource by id, or else by its unique name in the listing at `list_path`.
pub async fn resolve(ctx: &Ctx, list_path: &str, key: &str, what: &str) -> anyhow::Result<String> {
    let items = ctx.client.get(list_path).await?;
    let items = items.as_array().map(Vec::as_slice).unwrap_or_default();
    let field = |item: &Value, f: &str| item.get(f).and_then(Value::as_str).map(str::to_string);
    if let Some(id) = items
        .iter()
        .find_map(|i| field(i, "id").filter(|id| id == key))
    {
        return Ok(id);
    }
    let named: Vec<String> = items
        .iter()
        .filter(|i| field(i, "name").as_deref() == Some(key))
        .filter_map(|i| field(i, "id"))
        .collect();
    match named.as_slice() {
        [id] => Ok(id.clone()),
        [] => bail!("no {what} with id or name `{key}`"),
        _ => bail!("several {what}s are named `{key}`: use the id"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_need_a_name() {
        let p = pairs(&["a=1".into(), "b=x=y".into(), "c=".into()], "variable").unwrap();
        assert_eq!(p["b"], "x=y");
        assert_eq!(p["c"], "");
        assert!(pairs(&["=1".into()], "variable").is_err());
        assert!(pairs(&["novalue".into()], "variable").is_err());
    }

    fn spec_error(yaml: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("api.yaml");
        std::fs::write(&path, yaml).unwrap();
        let e = read_spec::<pylon_model::ApiSpec>(&path).unwrap_err();
        e.to_string()
            .replace(&path.display().to_string(), "api.yaml")
    }

    #[test]
    fn spec_mistakes_point_at_the_yaml_line_and_column() {
        let unknown = spec_error(
            "name: files\nrequest:\n  method: GET\n  pathh: /files\nbackend:\n  service: {backend_id: b}\n  path: /\n",
        );
        assert!(unknown.starts_with("api.yaml:4:3: "), "{unknown}");
        assert!(unknown.contains("unknown field `pathh`"), "{unknown}");
        let wrong_type = spec_error(
            "name: files\nrequest:\n  method: GET\n  path: /files\nbackend:\n  service: {backend_id: b}\n  path: /\n  timeout_ms: soon\n",
        );
        assert!(wrong_type.starts_with("api.yaml:8:"), "{wrong_type}");
        assert!(wrong_type.contains("timeout_ms"), "{wrong_type}");
        let syntax = spec_error("name: [files\n");
        assert!(syntax.starts_with("api.yaml:"), "{syntax}");
        assert!(!syntax.contains("JSON"), "{syntax}");
    }

    #[test]
    fn segments_are_encoded() {
        assert_eq!(seg("api.example.com"), "api.example.com");
        assert_eq!(seg("a b/c"), "a%20b%2Fc");
    }
}
