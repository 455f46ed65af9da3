//! Mock backends: a configured status, headers and body, answered without any network call.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};

use crate::request::body::GatewayBody;
use crate::request::headers::X_CA_REQUEST_ID;
use crate::response::{Answer, Fields};

#[derive(Debug)]
pub(crate) struct MockPlan {
    status: StatusCode,
    headers: Fields,
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
        let mut map = Fields::with_capacity(headers.len() + 1);
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

    pub(crate) fn respond(&self, request_id: HeaderValue) -> Answer {
        let mut headers = self.headers.clone();
        headers.insert(X_CA_REQUEST_ID, request_id);
        Answer::new(self.status, headers, GatewayBody::full(self.body.clone()))
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
        assert_eq!(response.status, 201);
        let x_mock = HeaderName::from_static("x-mock");
        assert_eq!(response.headers.get(&x_mock).unwrap(), "yes");
        assert_eq!(response.headers.get(&X_CA_REQUEST_ID).unwrap(), "ID");
        match response.body {
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
