//! `${stageVariables.name}` templates, parsed once at publish time and rendered per environment.

use std::collections::BTreeMap;

use crate::error::ValidationError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Literal(String),
    StageVariable(String),
}

/// A string with `${stageVariables.name}` references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageTemplate {
    pieces: Vec<Piece>,
}

const OPEN: &str = "${stageVariables.";

impl StageTemplate {
    /// Parses `raw`; `field` names the input in the error.
    pub fn parse(raw: &str, field: &str) -> Result<Self, ValidationError> {
        let mut pieces = Vec::new();
        let mut rest = raw;
        while let Some(start) = rest.find(OPEN) {
            if start > 0 {
                pieces.push(Piece::Literal(rest[..start].to_string()));
            }
            let after = &rest[start + OPEN.len()..];
            let end = after.find('}').ok_or_else(|| {
                ValidationError::new(field, "unterminated `${stageVariables.` reference")
            })?;
            let name = &after[..end];
            crate::validate_stage_variable_name(name).map_err(|_| {
                ValidationError::new(
                    field,
                    format!("`{name}` is not a valid stage variable name"),
                )
            })?;
            pieces.push(Piece::StageVariable(name.to_string()));
            rest = &after[end + 1..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Literal(rest.to_string()));
        }
        Ok(Self { pieces })
    }

    pub fn is_literal(&self) -> bool {
        self.pieces.iter().all(|p| matches!(p, Piece::Literal(_)))
    }

    pub fn pieces(&self) -> &[Piece] {
        &self.pieces
    }

    /// Substitutes the variables; names the first missing one on failure.
    pub fn render(&self, variables: &BTreeMap<String, String>) -> Result<String, String> {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Literal(s) => out.push_str(s),
                Piece::StageVariable(name) => match variables.get(name) {
                    Some(v) => out.push_str(v),
                    None => return Err(name.clone()),
                },
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_stage_variables() {
        let t = StageTemplate::parse(
            "http://${stageVariables.host}/v${stageVariables.v}/x",
            "url",
        )
        .unwrap();
        let vars = BTreeMap::from([
            ("host".to_string(), "10.0.0.1:80".to_string()),
            ("v".to_string(), "2".to_string()),
        ]);
        assert_eq!(t.render(&vars).unwrap(), "http://10.0.0.1:80/v2/x");
        assert_eq!(t.render(&BTreeMap::new()).unwrap_err(), "host");
        assert!(StageTemplate::parse("/plain", "p").unwrap().is_literal());
    }

    #[test]
    fn rejects_bad_references() {
        assert!(StageTemplate::parse("${stageVariables.host", "url").is_err());
        assert!(StageTemplate::parse("${stageVariables.bad-name}", "url").is_err());
    }
}
