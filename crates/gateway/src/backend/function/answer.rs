//! The function's answer made into the HTTP response: with response integration on, the
//! `{statusCode, headers, multiValueHeaders, body, isBase64Encoded}` object (checked strictly,
//! as AWS does, for the Lambda proxy format); off, the answer itself as a JSON body.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, SET_COOKIE, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use pylon_model::{FunctionFormat, PayloadVersion};
use serde_json::{Map, Value};

use crate::request::body::GatewayBody;

const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// The fields a Lambda proxy (1.0) answer may have; any other makes it malformed.
const LAMBDA_FIELDS: [&str; 5] = [
    "statusCode",
    "headers",
    "multiValueHeaders",
    "body",
    "isBase64Encoded",
];

/// The response the answer describes, or what is wrong with it (never the answer itself:
/// the reason reaches the client's error header).
pub(crate) fn decode(
    format: FunctionFormat,
    version: PayloadVersion,
    integration: bool,
    answer: Bytes,
) -> Result<Response<GatewayBody>, String> {
    if !integration {
        return Ok(json_response(answer));
    }
    let value: Value = serde_json::from_slice(&answer).map_err(|e| {
        format!(
            "the answer is not JSON (line {}, column {})",
            e.line(),
            e.column()
        )
    })?;
    let lambda = format == FunctionFormat::AwsLambda;
    let v2 = lambda && version == PayloadVersion::V2;
    let object = match value {
        Value::Object(object) if !v2 || object.contains_key("statusCode") => object,
        // HTTP APIs take any JSON without a statusCode as a 200 JSON body.
        _ if v2 => return Ok(json_response(answer)),
        other => {
            return Err(format!(
                "the answer is a JSON {}, not an object with statusCode",
                kind(&other)
            ));
        }
    };
    if lambda
        && !v2
        && let Some(extra) = object.keys().find(|k| !LAMBDA_FIELDS.contains(&k.as_str()))
    {
        return Err(format!(
            "unexpected field `{}` (a Lambda proxy answer has only {})",
            printable(extra),
            LAMBDA_FIELDS.join(", ")
        ));
    }
    let status = status(object.get("statusCode"))?;
    let mut headers = HeaderMap::new();
    if let Some(h) = object.get("headers") {
        add_headers(&mut headers, h, "headers", !lambda)?;
    }
    if let Some(h) = object.get("multiValueHeaders") {
        // AWS: a name given in both keeps only its multiValueHeaders values.
        let mut multi = HeaderMap::new();
        add_headers(&mut multi, h, "multiValueHeaders", true)?;
        for name in multi.keys() {
            headers.remove(name);
        }
        for (name, value) in &multi {
            headers.append(name, value.clone());
        }
    }
    if v2 && let Some(cookies) = object.get("cookies") {
        let Value::Array(cookies) = cookies else {
            return Err("cookies must be an array of strings".into());
        };
        for c in cookies {
            let value = c
                .as_str()
                .and_then(|c| HeaderValue::from_str(c).ok())
                .ok_or("cookies must be an array of valid Set-Cookie strings")?;
            headers.append(SET_COOKIE, value);
        }
    }
    let base64 = match object.get("isBase64Encoded") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(format!(
                "isBase64Encoded must be true or false, not a {}",
                kind(other)
            ));
        }
    };
    let body = match object.get("body") {
        None | Some(Value::Null) => Bytes::new(),
        Some(Value::String(s)) if base64 => BASE64
            .decode(s.as_bytes())
            .map(Bytes::from)
            .map_err(|_| "body is not valid base64, though isBase64Encoded is true")?,
        Some(Value::String(s)) => Bytes::copy_from_slice(s.as_bytes()),
        Some(other) => {
            return Err(format!(
                "body must be a string (serialise a JSON body), not a {}",
                kind(other)
            ));
        }
    };
    // The gateway frames the body itself.
    headers.remove(CONTENT_LENGTH);
    headers.remove(TRANSFER_ENCODING);
    let mut response = Response::new(GatewayBody::full(body));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    Ok(response)
}

fn json_response(answer: Bytes) -> Response<GatewayBody> {
    let mut response = Response::new(GatewayBody::full(answer));
    response.headers_mut().insert(CONTENT_TYPE, JSON);
    response
}

fn status(value: Option<&Value>) -> Result<StatusCode, String> {
    let code = match value {
        None | Some(Value::Null) => return Err("statusCode is missing".into()),
        Some(Value::Number(n)) => n.as_u64(),
        // Handlers often write the status as a string; AWS takes it.
        Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
        Some(_) => None,
    };
    code.filter(|c| (100..=599).contains(c))
        .and_then(|c| StatusCode::from_u16(c as u16).ok())
        .ok_or_else(|| "statusCode must be an HTTP status (100-599)".to_string())
}

/// `headers` is an object of strings (numbers and booleans are written out); `multi` also
/// takes arrays of them, one header line each.
fn add_headers(out: &mut HeaderMap, value: &Value, field: &str, multi: bool) -> Result<(), String> {
    let object: &Map<String, Value> = match value {
        Value::Object(o) => o,
        Value::Null => return Ok(()),
        other => return Err(format!("{field} must be an object, not a {}", kind(other))),
    };
    for (name, value) in object {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("{field}: `{}` is not a header name", printable(name)))?;
        let mut one = |v: &Value| -> Result<(), String> {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Null => return Ok(()),
                other => {
                    return Err(format!(
                        "{field}.{}: a header value must be a string, not a {}",
                        printable(name),
                        kind(other)
                    ));
                }
            };
            let value = HeaderValue::from_str(&text).map_err(|_| {
                format!(
                    "{field}.{}: the value has characters a header cannot carry",
                    printable(name)
                )
            })?;
            out.append(header.clone(), value);
            Ok(())
        };
        match value {
            Value::Array(values) if multi => values.iter().try_for_each(&mut one)?,
            v => one(v)?,
        }
    }
    Ok(())
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A name from the answer, as it may appear in an error message: short, visible ASCII.
fn printable(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_graphic())
        .take(40)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(format: FunctionFormat, answer: &str) -> Result<Response<GatewayBody>, String> {
        decode(
            format,
            PayloadVersion::V1,
            true,
            Bytes::copy_from_slice(answer.as_bytes()),
        )
    }

    fn body(r: Response<GatewayBody>) -> Bytes {
        match r.into_body() {
            GatewayBody::Full(Some(b)) => b,
            GatewayBody::Full(None) => Bytes::new(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn integration_maps_status_headers_and_base64_bodies() {
        let r = on(
            FunctionFormat::TencentScf,
            r#"{"isBase64Encoded":true,"statusCode":201,"headers":{"Content-Type":"image/png","X-Many":["a","b"],"Content-Length":"999"},"body":"UE5H"}"#,
        )
        .unwrap();
        assert_eq!(r.status(), 201);
        assert_eq!(r.headers()["content-type"], "image/png");
        assert_eq!(r.headers().get_all("x-many").iter().count(), 2);
        assert!(r.headers().get("content-length").is_none());
        assert_eq!(body(r), "PNG");
    }

    #[test]
    fn lambda_multi_value_headers_win_over_headers() {
        let r = on(
            FunctionFormat::AwsLambda,
            r#"{"statusCode":"200","headers":{"x-a":"1","x-b":"2"},"multiValueHeaders":{"x-a":["3","4"]},"body":"ok"}"#,
        )
        .unwrap();
        let a: Vec<_> = r.headers().get_all("x-a").iter().collect();
        assert_eq!(a, ["3", "4"]);
        assert_eq!(r.headers()["x-b"], "2");
    }

    #[test]
    fn malformed_answers_say_what_is_wrong() {
        let cases = [
            (FunctionFormat::AwsLambda, "not json", "not JSON"),
            (FunctionFormat::AwsLambda, "[1]", "JSON array"),
            (
                FunctionFormat::AwsLambda,
                r#"{"body":"x"}"#,
                "statusCode is missing",
            ),
            (
                FunctionFormat::AwsLambda,
                r#"{"statusCode":200,"extra":1}"#,
                "`extra`",
            ),
            (FunctionFormat::AliyunFc, r#"{"statusCode":700}"#, "100-599"),
            (
                FunctionFormat::AliyunFc,
                r#"{"statusCode":200,"body":{"a":1}}"#,
                "body must be a string",
            ),
            (
                FunctionFormat::AliyunFc,
                r#"{"statusCode":200,"isBase64Encoded":true,"body":"!!"}"#,
                "base64",
            ),
            (
                FunctionFormat::TencentScf,
                r#"{"statusCode":200,"headers":{"a b":"1"}}"#,
                "not a header name",
            ),
            (
                FunctionFormat::TencentScf,
                r#"{"statusCode":200,"headers":{"x":"a\nb"}}"#,
                "cannot carry",
            ),
            (
                FunctionFormat::TencentScf,
                r#"{"statusCode":200,"headers":[]}"#,
                "must be an object",
            ),
        ];
        for (format, answer, expected) in cases {
            let e = on(format, answer).unwrap_err();
            assert!(e.contains(expected), "{answer}: {e}");
        }
        // Extra fields are the Lambda proxy format's rule only.
        assert!(
            on(
                FunctionFormat::TencentScf,
                r#"{"statusCode":200,"extra":1}"#
            )
            .is_ok()
        );
    }

    #[test]
    fn without_integration_the_answer_is_the_json_body() {
        let r = decode(
            FunctionFormat::TencentScf,
            PayloadVersion::V1,
            false,
            Bytes::from_static(b"{\"hello\":1}"),
        )
        .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/json");
        assert_eq!(body(r), "{\"hello\":1}");
    }

    #[test]
    fn http_api_answers_without_status_are_json_bodies() {
        let r = decode(
            FunctionFormat::AwsLambda,
            PayloadVersion::V2,
            true,
            Bytes::from_static(b"{\"a\":1}"),
        )
        .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(body(r), "{\"a\":1}");
        let r = decode(
            FunctionFormat::AwsLambda,
            PayloadVersion::V2,
            true,
            Bytes::from_static(b"{\"statusCode\":204,\"cookies\":[\"a=1\"]}"),
        )
        .unwrap();
        assert_eq!(r.status(), 204);
        assert_eq!(r.headers()["set-cookie"], "a=1");
    }
}
