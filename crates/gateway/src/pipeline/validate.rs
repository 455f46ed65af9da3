//! Validate phase: extract every declared parameter from the path, query, headers or form body,
//! apply defaults, and check required, type and constraints. Errors name the parameter.

use std::borrow::Cow;

use http::request::Parts;
use percent_encoding::percent_decode_str;
use pylon_model::{Location, ParamType};

use crate::compiled::params::ParamPlan;
use crate::context::Routed;
use crate::error::GatewayError;
use crate::request::values::{Value, Values};
use crate::urlencoded;

/// Runs the phase. `form` is the request body when it was buffered as a form.
pub(crate) fn validate<'r>(
    routed: &Routed<'r, '_>,
    form: Option<&'r str>,
) -> Result<Values<'r>, GatewayError> {
    let route = &routed.route;
    collect(&route.plan.params, routed.ctx.parts, &route.params, form)
}

/// Extracts, defaults and checks each parameter in declaration order.
pub(crate) fn collect<'v>(
    params: &'v [ParamPlan],
    parts: &'v Parts,
    path_params: &[(&'v str, &'v str)],
    form: Option<&'v str>,
) -> Result<Values<'v>, GatewayError> {
    if params.is_empty() {
        return Ok(Values::default());
    }
    let mut items = Vec::with_capacity(params.len());
    for p in params {
        let found = extract(p, parts, path_params, form)?;
        let value = match found {
            Some(v) if !v.text.is_empty() => Some(v),
            _ => p.default.as_deref().map(|d| Value {
                text: Cow::Borrowed(d),
                raw_path: None,
                from_default: true,
            }),
        };
        match &value {
            Some(v) => {
                check_value(p, &v.text).map_err(|reason| GatewayError::InvalidParameter {
                    name: p.name.clone(),
                    reason,
                })?
            }
            None if p.required => return Err(GatewayError::MissingParameter(p.name.clone())),
            None => {}
        }
        items.push(value);
    }
    Ok(Values { items })
}

fn extract<'v>(
    p: &ParamPlan,
    parts: &'v Parts,
    path_params: &[(&'v str, &'v str)],
    form: Option<&'v str>,
) -> Result<Option<Value<'v>>, GatewayError> {
    let invalid = |reason: &str| GatewayError::InvalidParameter {
        name: p.name.clone(),
        reason: reason.to_string(),
    };
    let text = match p.location {
        Location::Path => {
            let Some(&(_, raw)) = path_params.iter().find(|(n, _)| *n == p.name) else {
                return Ok(None);
            };
            let text = percent_decode_str(raw)
                .decode_utf8()
                .map_err(|_| invalid("must be valid UTF-8"))?;
            return Ok(Some(Value {
                text,
                raw_path: Some(raw),
                from_default: false,
            }));
        }
        Location::Query => parts.uri.query().and_then(|q| urlencoded::find(q, &p.name)),
        Location::Header => match p.header.as_ref().and_then(|h| parts.headers.get(h)) {
            Some(v) => Some(Cow::Borrowed(
                std::str::from_utf8(v.as_bytes()).map_err(|_| invalid("must be valid UTF-8"))?,
            )),
            None => None,
        },
        Location::Form => form.and_then(|f| urlencoded::find(f, &p.name)),
        // A body parameter documents the body, which streams through unread.
        Location::Body => None,
    };
    Ok(text.map(|text| Value {
        text,
        raw_path: None,
        from_default: false,
    }))
}

fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        value.to_string()
    }
}

/// Checks one present value against its declared type and constraints; the error completes
/// the sentence "Invalid Parameter: <name> ...".
pub(crate) fn check_value(p: &ParamPlan, value: &str) -> Result<(), String> {
    let numeric = match p.param_type {
        ParamType::String => None,
        ParamType::Int => Some(
            value
                .parse::<i32>()
                .map(f64::from)
                .map_err(|_| "must be an integer")?,
        ),
        ParamType::Long => Some(
            value
                .parse::<i64>()
                .map(|v| v as f64)
                .map_err(|_| "must be a long integer")?,
        ),
        ParamType::Float => Some(
            value
                .parse::<f32>()
                .ok()
                .filter(|v| v.is_finite())
                .map(f64::from)
                .ok_or("must be a float")?,
        ),
        ParamType::Double => Some(
            value
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or("must be a double")?,
        ),
        ParamType::Boolean => {
            if !(value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false")) {
                return Err("must be true or false".into());
            }
            None
        }
    };
    if let Some(n) = numeric {
        if let Some(min) = p.min.filter(|min| n < *min) {
            return Err(format!("must be at least {}", number(min)));
        }
        if let Some(max) = p.max.filter(|max| n > *max) {
            return Err(format!("must be at most {}", number(max)));
        }
    }
    if p.min_length.is_some() || p.max_length.is_some() {
        let len = value.chars().count();
        if let Some(min) = p.min_length.filter(|min| len < *min) {
            return Err(format!("must be at least {min} characters long"));
        }
        if let Some(max) = p.max_length.filter(|max| len > *max) {
            return Err(format!("must be at most {max} characters long"));
        }
    }
    if !p.enum_values.is_empty() && !p.enum_values.iter().any(|e| e == value) {
        return Err(format!("must be one of: {}", p.enum_values.join(", ")));
    }
    if let Some((raw, re)) = &p.pattern
        && !re.is_match(value)
    {
        return Err(format!("must match the pattern {raw}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(json: &str) -> ParamPlan {
        ParamPlan::compile(&serde_json::from_str(json).unwrap()).unwrap()
    }

    fn typed(ty: &str) -> ParamPlan {
        plan(&format!(
            r#"{{"name":"id","location":"query","type":"{ty}"}}"#
        ))
    }

    #[test]
    fn int_values_must_fit_an_i32() {
        let p = typed("int");
        assert!(check_value(&p, "42").is_ok());
        assert!(check_value(&p, "-7").is_ok());
        assert_eq!(check_value(&p, "4.2").unwrap_err(), "must be an integer");
        assert_eq!(
            check_value(&p, "3000000000").unwrap_err(),
            "must be an integer"
        );
        assert_eq!(check_value(&p, "abc").unwrap_err(), "must be an integer");
    }

    #[test]
    fn long_float_double_and_boolean_are_checked() {
        assert!(check_value(&typed("long"), "3000000000").is_ok());
        assert_eq!(
            check_value(&typed("long"), "1.5").unwrap_err(),
            "must be a long integer"
        );
        assert!(check_value(&typed("float"), "1.5").is_ok());
        assert_eq!(
            check_value(&typed("float"), "x").unwrap_err(),
            "must be a float"
        );
        assert_eq!(
            check_value(&typed("float"), "NaN").unwrap_err(),
            "must be a float"
        );
        assert!(check_value(&typed("double"), "-2.5e10").is_ok());
        assert_eq!(
            check_value(&typed("double"), "1,5").unwrap_err(),
            "must be a double"
        );
        assert!(check_value(&typed("boolean"), "TRUE").is_ok());
        assert!(check_value(&typed("boolean"), "false").is_ok());
        assert_eq!(
            check_value(&typed("boolean"), "1").unwrap_err(),
            "must be true or false"
        );
        assert!(check_value(&typed("string"), "anything").is_ok());
    }

    #[test]
    fn numeric_bounds_are_inclusive() {
        let p = plan(
            r#"{"name":"n","location":"query","type":"int","constraints":{"min":1,"max":10}}"#,
        );
        assert!(check_value(&p, "1").is_ok());
        assert!(check_value(&p, "10").is_ok());
        assert_eq!(check_value(&p, "0").unwrap_err(), "must be at least 1");
        assert_eq!(check_value(&p, "11").unwrap_err(), "must be at most 10");
        let d =
            plan(r#"{"name":"d","location":"query","type":"double","constraints":{"min":0.5}}"#);
        assert_eq!(check_value(&d, "0.25").unwrap_err(), "must be at least 0.5");
    }

    #[test]
    fn length_enum_and_pattern_constraints_apply() {
        let p = plan(
            r#"{"name":"s","location":"query","constraints":{"min_length":2,"max_length":3}}"#,
        );
        assert_eq!(
            check_value(&p, "a").unwrap_err(),
            "must be at least 2 characters long"
        );
        assert!(check_value(&p, "你好").is_ok());
        assert_eq!(
            check_value(&p, "abcd").unwrap_err(),
            "must be at most 3 characters long"
        );
        let e = plan(
            r#"{"name":"e","location":"query","constraints":{"enum_values":["red","green"]}}"#,
        );
        assert!(check_value(&e, "red").is_ok());
        assert_eq!(
            check_value(&e, "blue").unwrap_err(),
            "must be one of: red, green"
        );
        let r = plan(r#"{"name":"r","location":"query","constraints":{"pattern":"[0-9]{3}"}}"#);
        assert!(check_value(&r, "123").is_ok());
        assert_eq!(
            check_value(&r, "1234").unwrap_err(),
            "must match the pattern [0-9]{3}"
        );
    }

    fn request(uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut b = http::Request::builder().uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn values_come_from_every_location() {
        let parts = request("/u/a%20b?q=x+y&other=1", &[("X-Token", "t1")]);
        let path_params = [("id", "a%20b")];
        let cases = [
            (r#"{"name":"id","location":"path"}"#, "a b"),
            (r#"{"name":"q","location":"query"}"#, "x y"),
            (r#"{"name":"x-token","location":"header"}"#, "t1"),
            (r#"{"name":"f","location":"form"}"#, "form value"),
        ];
        for (json, expected) in cases {
            let p = plan(json);
            let v = extract(&p, &parts, &path_params, Some("f=form+value"))
                .unwrap()
                .unwrap();
            assert_eq!(v.text, expected, "{json}");
        }
        let id = extract(&plan(cases[0].0), &parts, &path_params, None)
            .unwrap()
            .unwrap();
        assert_eq!(id.raw_path, Some("a%20b"));
        let missing = plan(r#"{"name":"nope","location":"query"}"#);
        assert_eq!(extract(&missing, &parts, &path_params, None).unwrap(), None);
    }

    #[test]
    fn defaults_fill_missing_and_empty_values() {
        let params = vec![
            plan(r#"{"name":"page","location":"query","type":"int","default":"1"}"#),
            plan(r#"{"name":"size","location":"query","type":"int","default":"20"}"#),
        ];
        let parts = request("/x?size=", &[]);
        let values = collect(&params, &parts, &[], None).unwrap();
        for (i, expected) in ["1", "20"].into_iter().enumerate() {
            let v = values.get(i).unwrap();
            assert_eq!(v.text, expected);
            assert!(v.from_default);
        }
    }

    #[test]
    fn required_parameters_must_be_present() {
        let params = vec![plan(r#"{"name":"id","location":"query","required":true}"#)];
        let err = collect(&params, &request("/x?other=1", &[]), &[], None).unwrap_err();
        assert_eq!(err.message(), "Required Parameter Missing: id");
        let err = collect(&params, &request("/x?id=", &[]), &[], None).unwrap_err();
        assert_eq!(err.message(), "Required Parameter Missing: id");
        let parts = request("/x?id=7", &[]);
        let ok = collect(&params, &parts, &[], None).unwrap();
        assert_eq!(ok.get(0).unwrap().text, "7");
    }

    #[test]
    fn invalid_values_name_the_parameter() {
        let params = vec![plan(r#"{"name":"id","location":"path","type":"int"}"#)];
        let parts = request("/u/abc", &[]);
        let err = collect(&params, &parts, &[("id", "abc")], None).unwrap_err();
        assert_eq!(err.message(), "Invalid Parameter: id must be an integer");
        assert_eq!(err.status(), 400);
    }

    #[test]
    fn optional_missing_parameters_are_absent() {
        let params = vec![plan(r#"{"name":"q","location":"query"}"#)];
        let parts = request("/x", &[]);
        let values = collect(&params, &parts, &[], None).unwrap();
        assert!(values.get(0).is_none());
    }
}

#[cfg(test)]
mod proptests;
