//! The event a function is called with, in each cloud's format (docs/functions.md): built from
//! the backend request the forward phase made (so mapping, constant and system parameters apply)
//! and from what the gateway knows of the call (route, environment, caller).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use http::HeaderMap;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, COOKIE, USER_AGENT};
use pylon_model::{FunctionFormat, PayloadVersion};
use serde::Serialize;

use crate::urlencoded;

/// Everything an event is made of, borrowed from the request.
pub(crate) struct EventInput<'a> {
    /// The client's method.
    pub(crate) method: &'a str,
    /// The request's path (normalised, without a stage-path prefix).
    pub(crate) path: &'a str,
    /// The API's path pattern, e.g. `/users/[id]`.
    pub(crate) resource: &'a str,
    /// The backend request's query, encoded, without `?`.
    pub(crate) query: &'a str,
    /// The backend request's headers.
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body: &'a [u8],
    /// Decoded path parameters.
    pub(crate) path_params: Vec<(&'a str, Cow<'a, str>)>,
    /// The environment's name (`RELEASE`, `PRE`, `TEST`, ...).
    pub(crate) environment: &'a str,
    pub(crate) stage_variables: &'a BTreeMap<String, String>,
    /// The app that authenticated, if any.
    pub(crate) app_id: Option<&'a str>,
    /// The key-pair key id or the JWT's subject, if any.
    pub(crate) user: Option<&'a str>,
    pub(crate) client_ip: IpAddr,
    pub(crate) request_id: &'a str,
    pub(crate) api_id: &'a str,
    pub(crate) group_id: &'a str,
    pub(crate) host: &'a str,
    /// Epoch milliseconds when the request arrived.
    pub(crate) time_ms: u64,
}

impl EventInput<'_> {
    /// The body as the events carry it: text as is, anything else (a content encoding, bytes
    /// that are not UTF-8, a binary media type) in base64.
    fn body(&self) -> (Cow<'_, str>, bool) {
        let binary_type = self
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(is_binary_media_type);
        let encoded = self.headers.contains_key(CONTENT_ENCODING);
        match std::str::from_utf8(self.body) {
            Ok(text) if !binary_type && !encoded => (Cow::Borrowed(text), false),
            _ => (Cow::Owned(BASE64.encode(self.body)), true),
        }
    }

    /// Header names lowercase (as HTTP/2 has them); repeated headers keep their last value.
    fn headers_last(&self) -> BTreeMap<&str, &str> {
        self.headers
            .iter()
            .filter_map(|(n, v)| Some((n.as_str(), v.to_str().ok()?)))
            .collect()
    }

    fn headers_all(&self) -> BTreeMap<&str, Vec<&str>> {
        let mut all: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (n, v) in self.headers {
            if let Ok(v) = v.to_str() {
                all.entry(n.as_str()).or_default().push(v);
            }
        }
        all
    }

    fn query_all(&self) -> BTreeMap<Cow<'_, str>, Vec<Cow<'_, str>>> {
        let mut all: BTreeMap<_, Vec<_>> = BTreeMap::new();
        for (k, v) in urlencoded::pairs(self.query) {
            all.entry(k).or_default().push(v);
        }
        all
    }

    fn query_last(&self) -> BTreeMap<Cow<'_, str>, Cow<'_, str>> {
        urlencoded::pairs(self.query).collect()
    }

    fn path_params(&self) -> BTreeMap<&str, &str> {
        self.path_params.iter().map(|(k, v)| (*k, &**v)).collect()
    }

    fn user_agent(&self) -> &str {
        self.headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// Media types whose bodies are bytes, not text, even when they happen to be valid UTF-8.
fn is_binary_media_type(content_type: &str) -> bool {
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    media.starts_with("image/")
        || media.starts_with("audio/")
        || media.starts_with("video/")
        || matches!(
            media.as_str(),
            "application/octet-stream"
                | "application/zip"
                | "application/gzip"
                | "application/pdf"
                | "application/x-protobuf"
                | "application/protobuf"
        )
}

/// Tencent's stage names for the built-in environments.
fn tencent_stage(environment: &str) -> Cow<'_, str> {
    match environment {
        "RELEASE" => Cow::Borrowed("release"),
        "PRE" => Cow::Borrowed("prepub"),
        "TEST" => Cow::Borrowed("test"),
        other => Cow::Owned(other.to_ascii_lowercase()),
    }
}

/// The encoded event.
pub(crate) fn encode(
    format: FunctionFormat,
    version: PayloadVersion,
    input: &EventInput<'_>,
) -> Vec<u8> {
    let written = match (format, version) {
        (FunctionFormat::AliyunFc, _) => serde_json::to_vec(&aliyun(input)),
        (FunctionFormat::TencentScf, _) => serde_json::to_vec(&tencent(input)),
        (FunctionFormat::AwsLambda, PayloadVersion::V1) => serde_json::to_vec(&lambda_v1(input)),
        (FunctionFormat::AwsLambda, PayloadVersion::V2) => serde_json::to_vec(&lambda_v2(input)),
    };
    // Maps of strings always serialise.
    written.unwrap_or_default()
}

/// Function Compute's API Gateway event. It has no fields for the stage or the caller, so the
/// gateway's facts ride in the `X-Ca-*` headers Alibaba's gateway sets as system parameters.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AliyunEvent<'a> {
    path: &'a str,
    http_method: &'a str,
    headers: BTreeMap<&'a str, &'a str>,
    query_parameters: BTreeMap<Cow<'a, str>, Cow<'a, str>>,
    path_parameters: BTreeMap<&'a str, &'a str>,
    body: Cow<'a, str>,
    is_base64_encoded: bool,
}

fn aliyun<'a>(input: &'a EventInput<'a>) -> AliyunEvent<'a> {
    let (body, is_base64_encoded) = input.body();
    let mut headers = input.headers_last();
    headers.insert("x-ca-request-id", input.request_id);
    headers.insert("x-ca-stage", input.environment);
    headers.insert("x-ca-api-id", input.api_id);
    // Only the gateway says which app called: a client's own header is dropped.
    match input.app_id {
        Some(app) => headers.insert("x-ca-app-id", app),
        None => headers.remove("x-ca-app-id"),
    };
    AliyunEvent {
        path: input.path,
        http_method: input.method,
        headers,
        query_parameters: input.query_last(),
        path_parameters: input.path_params(),
        body,
        is_base64_encoded,
    }
}

/// The SCF event of Tencent's API Gateway guide, field for field.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TencentEvent<'a> {
    request_context: TencentContext<'a>,
    headers: BTreeMap<&'a str, &'a str>,
    body: Cow<'a, str>,
    is_base64_encoded: bool,
    path_parameters: BTreeMap<&'a str, &'a str>,
    query_string_parameters: BTreeMap<Cow<'a, str>, Cow<'a, str>>,
    header_parameters: BTreeMap<&'a str, &'a str>,
    stage_variables: &'a BTreeMap<String, String>,
    path: &'a str,
    query_string: BTreeMap<Cow<'a, str>, Cow<'a, str>>,
    http_method: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TencentContext<'a> {
    service_id: &'a str,
    path: &'a str,
    http_method: &'a str,
    request_id: &'a str,
    identity: TencentIdentity<'a>,
    source_ip: String,
    stage: Cow<'a, str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TencentIdentity<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    secret_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    app_id: Option<&'a str>,
}

fn tencent<'a>(input: &'a EventInput<'a>) -> TencentEvent<'a> {
    let (body, is_base64_encoded) = input.body();
    let query = input.query_last();
    TencentEvent {
        request_context: TencentContext {
            service_id: input.group_id,
            path: input.resource,
            http_method: input.method,
            request_id: input.request_id,
            identity: TencentIdentity {
                secret_id: input.user,
                app_id: input.app_id,
            },
            source_ip: input.client_ip.to_string(),
            stage: tencent_stage(input.environment),
        },
        headers: input.headers_last(),
        body,
        is_base64_encoded,
        path_parameters: input.path_params(),
        query_string_parameters: query.clone(),
        header_parameters: BTreeMap::new(),
        stage_variables: input.stage_variables,
        path: input.path,
        query_string: query,
        http_method: input.method,
    }
}

/// The Lambda proxy integration's event, payload format 1.0.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LambdaV1<'a> {
    resource: &'a str,
    path: &'a str,
    http_method: &'a str,
    headers: BTreeMap<&'a str, &'a str>,
    multi_value_headers: BTreeMap<&'a str, Vec<&'a str>>,
    query_string_parameters: Option<BTreeMap<Cow<'a, str>, Cow<'a, str>>>,
    multi_value_query_string_parameters: Option<BTreeMap<Cow<'a, str>, Vec<Cow<'a, str>>>>,
    path_parameters: Option<BTreeMap<&'a str, &'a str>>,
    stage_variables: Option<&'a BTreeMap<String, String>>,
    request_context: LambdaContextV1<'a>,
    body: Option<Cow<'a, str>>,
    is_base64_encoded: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LambdaContextV1<'a> {
    account_id: &'a str,
    api_id: &'a str,
    domain_name: &'a str,
    http_method: &'a str,
    identity: LambdaIdentity<'a>,
    path: &'a str,
    protocol: &'a str,
    request_id: &'a str,
    request_time_epoch: u64,
    resource_path: &'a str,
    stage: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LambdaIdentity<'a> {
    source_ip: String,
    user_agent: &'a str,
    /// The app whose API key (or signature) authenticated the call.
    api_key_id: Option<&'a str>,
    /// The key-pair key id or JWT subject.
    user: Option<&'a str>,
}

/// AWS sends `null`, not `{}`, for an absent map.
fn non_empty<K, V>(map: BTreeMap<K, V>) -> Option<BTreeMap<K, V>> {
    (!map.is_empty()).then_some(map)
}

fn lambda_v1<'a>(input: &'a EventInput<'a>) -> LambdaV1<'a> {
    let (body, is_base64_encoded) = input.body();
    LambdaV1 {
        resource: input.resource,
        path: input.path,
        http_method: input.method,
        headers: input.headers_last(),
        multi_value_headers: input.headers_all(),
        query_string_parameters: non_empty(input.query_last()),
        multi_value_query_string_parameters: non_empty(input.query_all()),
        path_parameters: non_empty(input.path_params()),
        stage_variables: (!input.stage_variables.is_empty()).then_some(input.stage_variables),
        request_context: LambdaContextV1 {
            account_id: ACCOUNT_ID,
            api_id: input.group_id,
            domain_name: input.host,
            http_method: input.method,
            identity: LambdaIdentity {
                source_ip: input.client_ip.to_string(),
                user_agent: input.user_agent(),
                api_key_id: input.app_id,
                user: input.user,
            },
            path: input.path,
            protocol: "HTTP/1.1",
            request_id: input.request_id,
            request_time_epoch: input.time_ms,
            resource_path: input.resource,
            stage: input.environment.to_ascii_lowercase(),
        },
        body: (!input.body.is_empty()).then_some(body),
        is_base64_encoded,
    }
}

/// The account id in ARNs and contexts: there is no AWS account.
pub(crate) const ACCOUNT_ID: &str = "000000000000";

/// The Lambda proxy integration's event, payload format 2.0 (HTTP APIs).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LambdaV2<'a> {
    version: &'static str,
    route_key: String,
    raw_path: &'a str,
    raw_query_string: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cookies: Vec<&'a str>,
    headers: BTreeMap<&'a str, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    query_string_parameters: Option<BTreeMap<Cow<'a, str>, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    path_parameters: Option<BTreeMap<&'a str, &'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stage_variables: Option<&'a BTreeMap<String, String>>,
    request_context: LambdaContextV2<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<Cow<'a, str>>,
    is_base64_encoded: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LambdaContextV2<'a> {
    account_id: &'a str,
    api_id: &'a str,
    domain_name: &'a str,
    http: LambdaHttp<'a>,
    request_id: &'a str,
    route_key: String,
    stage: String,
    time_epoch: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    authorizer: Option<LambdaAuthorizer<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LambdaHttp<'a> {
    method: &'a str,
    path: &'a str,
    protocol: &'a str,
    source_ip: String,
    user_agent: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LambdaAuthorizer<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    app_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    principal_id: Option<&'a str>,
}

fn lambda_v2<'a>(input: &'a EventInput<'a>) -> LambdaV2<'a> {
    let (body, is_base64_encoded) = input.body();
    // 2.0 joins repeated headers and query values with commas, and moves cookies out.
    let mut headers: BTreeMap<&str, String> = BTreeMap::new();
    let mut cookies = Vec::new();
    for (name, values) in input.headers_all() {
        if name == COOKIE.as_str() {
            cookies.extend(values.iter().flat_map(|v| v.split("; ")));
            continue;
        }
        headers.insert(name, values.join(","));
    }
    let query: BTreeMap<Cow<'_, str>, String> = input
        .query_all()
        .into_iter()
        .map(|(k, v)| (k, v.join(",")))
        .collect();
    let route_key = format!("{} {}", input.method, input.resource);
    let authorizer = (input.app_id.is_some() || input.user.is_some()).then_some(LambdaAuthorizer {
        app_id: input.app_id,
        principal_id: input.user,
    });
    LambdaV2 {
        version: "2.0",
        route_key: route_key.clone(),
        raw_path: input.path,
        raw_query_string: input.query,
        cookies,
        headers,
        query_string_parameters: non_empty(query),
        path_parameters: non_empty(input.path_params()),
        stage_variables: (!input.stage_variables.is_empty()).then_some(input.stage_variables),
        request_context: LambdaContextV2 {
            account_id: ACCOUNT_ID,
            api_id: input.group_id,
            domain_name: input.host,
            http: LambdaHttp {
                method: input.method,
                path: input.path,
                protocol: "HTTP/1.1",
                source_ip: input.client_ip.to_string(),
                user_agent: input.user_agent(),
            },
            request_id: input.request_id,
            route_key,
            stage: input.environment.to_ascii_lowercase(),
            time_epoch: input.time_ms,
            authorizer,
        },
        body: (!input.body.is_empty()).then_some(body),
        is_base64_encoded,
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;
    use serde_json::{Value, json};

    use super::*;

    fn input<'a>(
        headers: &'a HeaderMap,
        body: &'a [u8],
        vars: &'a BTreeMap<String, String>,
    ) -> EventInput<'a> {
        EventInput {
            method: "POST",
            path: "/test/value",
            resource: "/test/[path]",
            query: "foo=bar&bob=alice&foo=baz",
            headers,
            body,
            path_params: vec![("path", Cow::Borrowed("value"))],
            environment: "RELEASE",
            stage_variables: vars,
            app_id: Some("app-1"),
            user: Some("AKID"),
            client_ip: "10.0.2.14".parse().unwrap(),
            request_id: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            api_id: "api-1",
            group_id: "service-f94sy04v",
            host: "api.example.com",
            time_ms: 1_700_000_000_000,
        }
    }

    fn headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("accept", HeaderValue::from_static("application/json"));
        h.append("x-multi", HeaderValue::from_static("1"));
        h.append("x-multi", HeaderValue::from_static("2"));
        h
    }

    fn decode(bytes: Vec<u8>) -> Value {
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn tencent_events_have_the_guides_fields() {
        let (h, vars) = (
            headers(),
            BTreeMap::from([("stage".to_string(), "release".to_string())]),
        );
        let e = decode(encode(
            FunctionFormat::TencentScf,
            PayloadVersion::V1,
            &input(&h, b"{\"test\":\"body\"}", &vars),
        ));
        assert_eq!(
            e["requestContext"],
            json!({"serviceId": "service-f94sy04v", "path": "/test/[path]",
                   "httpMethod": "POST", "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
                   "identity": {"secretId": "AKID", "appId": "app-1"},
                   "sourceIp": "10.0.2.14", "stage": "release"})
        );
        assert_eq!(e["body"], "{\"test\":\"body\"}");
        assert_eq!(e["pathParameters"], json!({"path": "value"}));
        assert_eq!(e["queryString"], json!({"foo": "baz", "bob": "alice"}));
        assert_eq!(e["stageVariables"], json!({"stage": "release"}));
        assert_eq!(e["path"], "/test/value");
        assert_eq!(e["httpMethod"], "POST");
        assert_eq!(e["isBase64Encoded"], false);
    }

    #[test]
    fn lambda_v1_keeps_repeated_values_and_sends_null_for_absent_maps() {
        let (h, vars) = (headers(), BTreeMap::new());
        let mut i = input(&h, b"", &vars);
        i.path_params.clear();
        let e = decode(encode(FunctionFormat::AwsLambda, PayloadVersion::V1, &i));
        assert_eq!(e["multiValueHeaders"]["x-multi"], json!(["1", "2"]));
        assert_eq!(e["headers"]["x-multi"], "2");
        assert_eq!(
            e["multiValueQueryStringParameters"]["foo"],
            json!(["bar", "baz"])
        );
        assert_eq!(e["pathParameters"], Value::Null);
        assert_eq!(e["stageVariables"], Value::Null);
        assert_eq!(e["body"], Value::Null);
        assert_eq!(e["requestContext"]["stage"], "release");
        assert_eq!(e["requestContext"]["identity"]["sourceIp"], "10.0.2.14");
        assert_eq!(e["resource"], "/test/[path]");
    }

    #[test]
    fn binary_bodies_are_base64() {
        let vars = BTreeMap::new();
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, HeaderValue::from_static("image/png"));
        let e = decode(encode(
            FunctionFormat::AliyunFc,
            PayloadVersion::V1,
            &input(&h, b"PNG", &vars),
        ));
        assert_eq!(e["isBase64Encoded"], true);
        assert_eq!(e["body"], "UE5H");
        assert_eq!(e["headers"]["x-ca-stage"], "RELEASE");
        let h = HeaderMap::new();
        let e = decode(encode(
            FunctionFormat::AliyunFc,
            PayloadVersion::V1,
            &input(&h, &[0xff, 0x00], &vars),
        ));
        assert_eq!(e["isBase64Encoded"], true);
        assert_eq!(e["queryParameters"]["bob"], "alice");
    }

    #[test]
    fn lambda_v2_joins_values_and_moves_cookies() {
        let vars = BTreeMap::new();
        let mut h = headers();
        h.insert(COOKIE, HeaderValue::from_static("a=1; b=2"));
        let e = decode(encode(
            FunctionFormat::AwsLambda,
            PayloadVersion::V2,
            &input(&h, b"hi", &vars),
        ));
        assert_eq!(e["version"], "2.0");
        assert_eq!(e["headers"]["x-multi"], "1,2");
        assert_eq!(e["cookies"], json!(["a=1", "b=2"]));
        assert_eq!(e["queryStringParameters"]["foo"], "bar,baz");
        assert_eq!(e["requestContext"]["http"]["method"], "POST");
        assert_eq!(e["routeKey"], "POST /test/[path]");
        assert_eq!(e["body"], "hi");
    }
}
