//! Properties of parameter validation: any request against any parameter plan is answered
//! (a value, a default, or an error naming the parameter) without a panic; each type accepts
//! every value of its range as text and nothing outside; bounds, lengths and enums hold.

use http::request::Parts;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{Value as Json, json};

use super::*;

/// Proptest's defaults (`PROPTEST_CASES` and the other variables apply) without regression
/// files: a failure would otherwise write `proptest-regressions/` into the source tree.
fn config() -> Config {
    Config {
        failure_persistence: None,
        ..Config::default()
    }
}

fn plan(v: Json) -> ParamPlan {
    ParamPlan::compile(&serde_json::from_value(v).unwrap()).unwrap()
}

fn typed(ty: &str, constraints: Json) -> ParamPlan {
    plan(json!({"name": "p", "location": "query", "type": ty, "constraints": constraints}))
}

fn unconstrained(ty: &str) -> ParamPlan {
    typed(ty, json!({}))
}

/// Text a client may send as a value: numbers in every spelling, words, any Unicode.
fn value_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i32>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|n| n.to_string()),
        any::<f32>().prop_map(|n| n.to_string()),
        prop::sample::select(vec![
            "",
            " 1",
            "1 ",
            "+1",
            "-0",
            "0x10",
            "1e3",
            "1E-3",
            ".5",
            "5.",
            "NaN",
            "inf",
            "-inf",
            "infinity",
            "TRUE",
            "False",
            "true ",
            "yes",
            "1",
            "0",
            "１",
            "٣",
            "9223372036854775808",
            "2147483648",
            "-2147483649",
            "1_000",
        ])
        .prop_map(String::from),
        "[0-9+\\-.eE]{0,12}",
        any::<String>(),
    ]
}

fn param_type() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["string", "int", "long", "float", "double", "boolean"])
}

/// A declared parameter with any location, type and constraints.
fn param() -> impl Strategy<Value = ParamPlan> {
    let location = prop::sample::select(vec!["path", "query", "header", "form", "body"]);
    let name = prop::sample::select(vec!["a", "b", "x-token", "AppCode", "id"]);
    let bound = prop::option::of(prop_oneof![-1e6f64..1e6, any::<i32>().prop_map(f64::from)]);
    let length = prop::option::of(0usize..20);
    (
        (location, name, param_type(), any::<bool>()),
        prop::option::of(value_text()),
        (bound.clone(), bound, length.clone(), length),
        prop::collection::vec("[a-z0-9]{0,3}", 0..3),
        prop::option::of(prop::sample::select(vec![
            "[0-9]+",
            "[a-z]{1,3}",
            ".*",
            "x|y",
        ])),
    )
        .prop_map(
            |(
                (location, name, ty, required),
                default,
                (min, max, min_length, max_length),
                enum_values,
                pattern,
            )| {
                plan(json!({
                    "name": name,
                    "location": location,
                    "type": ty,
                    "required": required,
                    "default": default,
                    "constraints": {
                        "min": min,
                        "max": max,
                        "min_length": min_length,
                        "max_length": max_length,
                        "enum_values": enum_values,
                        "pattern": pattern,
                    },
                }))
            },
        )
}

/// What may stand in a request target's query as sent (controls, space, `#` and non-ASCII
/// escaped so that `http` parses it), everything else raw.
const QUERY_RAW: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'#')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'|')
    .add(b'\\')
    .add(b'^')
    .add(b'[')
    .add(b']');

fn messy() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => any::<char>().prop_map(String::from),
        2 => "[a-z0-9]{1,4}",
        2 => prop::sample::select(vec![
            "&", "=", "+", "a=", "b=", "id=", "AppCode=", "%", "%zz", "%00", "%C0%AF", "%E4%B8", "%FF",
            "%2e%2e", "%2F", "..", "/",
        ])
        .prop_map(String::from),
        1 => "%[0-9a-fA-F]{2}",
    ];
    prop::collection::vec(piece, 0..20).prop_map(|v| v.concat())
}

fn request(query: &str, headers: &[(String, String)]) -> Option<Parts> {
    let q: String = utf8_percent_encode(query, QUERY_RAW).collect();
    let mut b = http::Request::builder().uri(format!("/p?{q}"));
    for (k, v) in headers {
        b = b.header(k.as_str(), v.as_str());
    }
    b.body(()).ok().map(|r| r.into_parts().0)
}

proptest! {
    #![proptest_config(config())]

    /// Any plan, any request: an answer, never a panic; an error names a declared parameter;
    /// a value is never empty and, unless from the default, came from the request.
    #[test]
    fn any_request_against_any_plan_is_answered(
        params in prop::collection::vec(param(), 0..6),
        query in messy(),
        headers in prop::collection::vec((prop::sample::select(vec!["a".to_string(), "x-token".to_string(), "id".to_string()]), "[ -~]{0,12}"), 0..3),
        path_params in prop::collection::vec((prop::sample::select(vec!["a", "b", "id"]), messy()), 0..3),
        form in prop::option::of(messy()),
    ) {
        let parts = request(&query, &headers).expect("QUERY_RAW escapes what a target cannot hold");
        let path_params: Vec<(&str, &str)> = path_params.iter().map(|(n, v)| (*n, v.as_str())).collect();
        match collect(&params, &parts, &path_params, form.as_deref()) {
            Ok(values) => {
                for (i, p) in params.iter().enumerate() {
                    match values.get(i) {
                        Some(v) => {
                            prop_assert!(!v.text.is_empty());
                            prop_assert!(check_value(p, &v.text).is_ok());
                            if v.from_default {
                                prop_assert_eq!(Some(v.text.as_ref()), p.default.as_deref());
                            }
                        }
                        None => prop_assert!(!p.required),
                    }
                }
            }
            Err(GatewayError::MissingParameter(name) | GatewayError::InvalidParameter { name, .. }) => {
                prop_assert!(params.iter().any(|p| p.name == name));
            }
            Err(other) => prop_assert!(false, "unexpected error {other:?}"),
        }
    }

    /// A query value written by a client comes back decoded: the first one for a repeated
    /// name, the default when it is empty or absent.
    #[test]
    fn query_values_come_back_decoded(
        values in prop::collection::vec(prop::option::of("\\PC{0,12}"), 1..4),
        default in prop::option::of("[a-z]{1,4}"),
    ) {
        let mut q = String::new();
        for v in values.iter().flatten() {
            urlencoded::append_pair(&mut q, "a", v);
        }
        let params = vec![plan(json!({"name": "a", "location": "query", "default": default}))];
        let parts = request(&q, &[]).unwrap();
        let got = collect(&params, &parts, &[], None).unwrap();
        let first = values.iter().flatten().next().filter(|v| !v.is_empty());
        let want = first.map(String::as_str).or(default.as_deref());
        prop_assert_eq!(got.get(0).map(|v| v.text.as_ref()), want);
    }

    /// Each numeric type accepts every value of its range as Rust prints it, and `int`
    /// refuses what only fits a `long`.
    #[test]
    fn numbers_in_range_are_accepted(i in any::<i32>(), l in any::<i64>(), f in any::<f32>(), d in any::<f64>()) {
        prop_assert!(check_value(&unconstrained("int"), &i.to_string()).is_ok());
        prop_assert!(check_value(&unconstrained("long"), &l.to_string()).is_ok());
        prop_assert_eq!(check_value(&unconstrained("int"), &l.to_string()).is_ok(), i32::try_from(l).is_ok());
        prop_assert_eq!(check_value(&unconstrained("float"), &f.to_string()).is_ok(), f.is_finite());
        prop_assert_eq!(check_value(&unconstrained("double"), &d.to_string()).is_ok(), d.is_finite());
    }

    /// Any text: a type accepts it only if it reads as that type (booleans: `true` or
    /// `false` in any case), and never panics.
    #[test]
    fn types_accept_only_their_values(value in value_text()) {
        let ok = |ty| check_value(&unconstrained(ty), &value).is_ok();
        prop_assert!(ok("string"));
        prop_assert_eq!(ok("int"), value.parse::<i32>().is_ok());
        prop_assert_eq!(ok("long"), value.parse::<i64>().is_ok());
        prop_assert_eq!(ok("double"), value.parse::<f64>().is_ok_and(f64::is_finite));
        prop_assert_eq!(ok("boolean"), ["true", "false"].iter().any(|b| b.eq_ignore_ascii_case(&value)));
    }

    /// Bounds are inclusive and the message prints a whole bound without a fraction.
    #[test]
    fn numeric_bounds_hold(n in any::<i32>(), a in any::<i32>(), b in any::<i32>()) {
        let (min, max) = (a.min(b), a.max(b));
        let p = typed("int", json!({"min": min, "max": max}));
        let got = check_value(&p, &n.to_string());
        if n < min {
            prop_assert_eq!(got, Err(format!("must be at least {min}")));
        } else if n > max {
            prop_assert_eq!(got, Err(format!("must be at most {max}")));
        } else {
            prop_assert_eq!(got, Ok(()));
        }
    }

    /// Lengths count characters, not bytes; an enum accepts exactly its members.
    #[test]
    fn lengths_and_enums_hold(value in "\\PC{0,12}", a in 0usize..14, b in 0usize..14, members in prop::collection::vec("\\PC{0,3}", 1..4)) {
        let (min, max) = (a.min(b), a.max(b));
        let len = value.chars().count();
        let p = typed("string", json!({"min_length": min, "max_length": max}));
        prop_assert_eq!(check_value(&p, &value).is_ok(), (min..=max).contains(&len));
        let e = typed("string", json!({"enum_values": members}));
        prop_assert_eq!(check_value(&e, &value).is_ok(), members.contains(&value));
    }
}
