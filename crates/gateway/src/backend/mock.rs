//! Mock backends: a configured status, headers and body, answered without any network call.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};

use crate::request::body::GatewayBody;
use crate::request::headers::X_CA_REQUEST_ID;

#[derive(Debug)]
pub(crate) struct MockPlan {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl MockPlan {
    pub(crate) fn compile(
        status: u16,
        headers: &BTreeMap<String, String>,
        body: &str,
    ) -> Result<Self, String> {
        let status =
            StatusCode::from_u16(status).map_err(|_| format!("mock status {status} is invalid"))?;
        let mut map = HeaderMap::with_capacity(headers.len());
        for (name, value) in headers {
            let n = HeaderName::try_from(name.as_str())
                .map_err(|_| format!("mock header `{name}` is not a header name"))?;
            let v = HeaderValue::try_from(value.as_str())
                .map_err(|_| format!("mock header `{name}` has a value a header cannot carry"))?;
            map.append(n, v);
        }
        Ok(Self {
            status,
            headers: map,
            body: Bytes::copy_from_slice(body.as_bytes()),
        })
    }

    pub(crate) fn respond(&self, request_id: HeaderValue) -> Response<GatewayBody> {
        let mut response = Response::new(GatewayBody::full(self.body.clone()));
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers.clone();
        response.headers_mut().insert(X_CA_REQUEST_ID, request_id);
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mock_answers_with_its_configuration() {
        let headers = BTreeMap::from([("X-Mock".to_string(), "yes".to_string())]);
        let plan = MockPlan::compile(201, &headers, "hello").unwrap();
        let response = plan.respond(HeaderValue::from_static("ID"));
        assert_eq!(response.status(), 201);
        assert_eq!(response.headers()["x-mock"], "yes");
        assert_eq!(response.headers()[X_CA_REQUEST_ID], "ID");
        match response.into_body() {
            GatewayBody::Full(Some(b)) => assert_eq!(b, "hello"),
            other => panic!("unexpected body {other:?}"),
        }
    }

    #[test]
    fn bad_mock_configuration_is_reported() {
        assert!(MockPlan::compile(42, &BTreeMap::new(), "").is_err());
        let bad = BTreeMap::from([("X".to_string(), "a\nb".to_string())]);
        assert!(
            MockPlan::compile(200, &bad, "")
                .unwrap_err()
                .contains("`X`")
        );
    }
}
