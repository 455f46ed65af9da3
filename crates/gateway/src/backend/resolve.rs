//! What resolving a backend at publish time can say, shared by every backend kind: why an API
//! cannot be served, and stage-variable substitution in the configured references.

use std::collections::BTreeMap;

use pylon_model::template::StageTemplate;

/// Why an API cannot be served; decided at publish time, answered per request.
#[derive(Debug, Clone)]
pub(crate) enum Unservable {
    /// A configuration problem (500); the text goes to the log only.
    Internal(String),
    /// The target does not exist (503).
    Unavailable(String),
}

/// Substitutes `${stageVariables.x}`; a missing variable makes the API unservable, named.
pub(crate) fn render_template(
    raw: &str,
    vars: &BTreeMap<String, String>,
    what: &str,
) -> Result<String, Unservable> {
    let template =
        StageTemplate::parse(raw, what).map_err(|e| Unservable::Internal(e.to_string()))?;
    template.render(vars).map_err(|name| {
        Unservable::Internal(format!(
            "{what} needs stage variable `{name}`, which is not set in this environment"
        ))
    })
}
