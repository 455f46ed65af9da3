//! Parameter plans: each declared parameter compiled once (header names, anchored regexes,
//! where it goes in the backend request) so validation and mapping do no parsing per request.

use http::HeaderName;
use pylon_model::{Location, ParamType, Parameter, RequestMode};
use regex::Regex;

/// Where a value goes in the backend request.
#[derive(Debug, Clone)]
pub(crate) struct ParamTarget {
    pub(crate) location: Location,
    pub(crate) name: String,
    /// Set when `location` is a header and `name` is a valid header name.
    pub(crate) header: Option<HeaderName>,
}

#[derive(Debug)]
pub(crate) struct ParamPlan {
    pub(crate) name: String,
    pub(crate) location: Location,
    /// The header to read, for header parameters.
    pub(crate) header: Option<HeaderName>,
    pub(crate) param_type: ParamType,
    pub(crate) required: bool,
    pub(crate) default: Option<String>,
    pub(crate) min_length: Option<usize>,
    pub(crate) max_length: Option<usize>,
    pub(crate) min: Option<f64>,
    pub(crate) max: Option<f64>,
    pub(crate) enum_values: Vec<String>,
    /// The user's pattern anchored to the whole value.
    pub(crate) pattern: Option<(String, Regex)>,
    pub(crate) target: ParamTarget,
    /// In pass-through mode the request already carries the value where it came from; it is
    /// written again only if the mapping moves or renames it (or it came from the default).
    pub(crate) moved: bool,
}

impl ParamPlan {
    /// Compiles one parameter; the error says what the published definition got wrong.
    pub(crate) fn compile(p: &Parameter) -> Result<Self, String> {
        let header = if p.location == Location::Header {
            Some(
                HeaderName::try_from(p.name.as_str())
                    .map_err(|_| format!("parameter `{}` is not a valid header name", p.name))?,
            )
        } else {
            None
        };
        let pattern = match &p.constraints.pattern {
            Some(raw) => {
                let re = Regex::new(&format!("^(?:{raw})$"))
                    .map_err(|e| format!("parameter `{}`: bad pattern: {e}", p.name))?;
                Some((raw.clone(), re))
            }
            None => None,
        };
        let target_location = p.backend_location.unwrap_or(p.location);
        let target_name = p.backend_name.clone().unwrap_or_else(|| p.name.clone());
        let target_header =
            if target_location == Location::Header {
                Some(HeaderName::try_from(target_name.as_str()).map_err(|_| {
                    format!("backend name `{target_name}` is not a valid header name")
                })?)
            } else {
                None
            };
        let moved = target_location != p.location || target_name != p.name;
        Ok(Self {
            name: p.name.clone(),
            location: p.location,
            header,
            param_type: p.param_type,
            required: p.required,
            default: p.default.clone().filter(|d| !d.is_empty()),
            min_length: p.constraints.min_length,
            max_length: p.constraints.max_length,
            min: p.constraints.min,
            max: p.constraints.max,
            enum_values: p.constraints.enum_values.clone(),
            pattern,
            target: ParamTarget {
                location: target_location,
                name: target_name,
                header: target_header,
            },
            moved,
        })
    }

    /// Whether the value is written into the backend request by the gateway (rather than left
    /// where the client put it).
    pub(crate) fn is_written(&self, mode: RequestMode, from_default: bool) -> bool {
        match mode {
            RequestMode::Mapping => true,
            RequestMode::PassThrough => self.moved || from_default,
        }
    }
}

/// Compiles parameters written as JSON: the fixture the compile and forward tests share.
#[cfg(test)]
pub(crate) fn plans(json: &str) -> Vec<ParamPlan> {
    let params: Vec<pylon_model::Parameter> = serde_json::from_str(json).unwrap();
    params
        .iter()
        .map(|p| ParamPlan::compile(p).unwrap())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param(json: &str) -> Parameter {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn mapping_target_defaults_to_the_source() {
        let p = ParamPlan::compile(&param(r#"{"name":"id","location":"query"}"#)).unwrap();
        assert_eq!(p.target.location, Location::Query);
        assert_eq!(p.target.name, "id");
        assert!(!p.moved);
        assert!(!p.is_written(RequestMode::PassThrough, false));
        assert!(p.is_written(RequestMode::PassThrough, true));
        assert!(p.is_written(RequestMode::Mapping, false));
    }

    #[test]
    fn renamed_and_moved_parameters_are_marked() {
        let p = ParamPlan::compile(&param(
            r#"{"name":"id","location":"query","backend_name":"X-User-Id","backend_location":"header"}"#,
        ))
        .unwrap();
        assert!(p.moved);
        assert_eq!(p.target.header.as_ref().unwrap(), "x-user-id");
    }

    #[test]
    fn patterns_are_anchored() {
        let p = ParamPlan::compile(&param(
            r#"{"name":"c","location":"query","constraints":{"pattern":"[a-z]+"}}"#,
        ))
        .unwrap();
        let (_, re) = p.pattern.unwrap();
        assert!(re.is_match("abc"));
        assert!(!re.is_match("abc1"));
    }

    #[test]
    fn bad_header_names_are_reported() {
        let err =
            ParamPlan::compile(&param(r#"{"name":"bad name","location":"header"}"#)).unwrap_err();
        assert!(err.contains("bad name"));
    }
}
