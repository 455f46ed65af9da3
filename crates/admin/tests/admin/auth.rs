//! Bearer-token authentication, the public OpenAPI document and unknown paths.

use axum::body::Body;
use http::{Request, StatusCode, header};

use crate::common::Harness;

#[tokio::test]
async fn call_without_token_is_401_with_challenge() {
    let h = Harness::new().await;
    let req = Request::get("/v1/groups").body(Body::empty()).unwrap();
    let (status, headers, body) = h.send(req).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
    assert_eq!(body["code"], "Unauthorized");
}

#[tokio::test]
async fn call_with_wrong_token_is_401() {
    let h = Harness::new().await;
    for value in [
        "Bearer wrong",
        "Bearer test-token-012345678",
        "Basic dGVzdA==",
    ] {
        let req = Request::post("/v1/groups")
            .header(header::AUTHORIZATION, value)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"name":"g"}"#))
            .unwrap();
        let (status, _, body) = h.send(req).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{value}");
        assert_eq!(body["code"], "Unauthorized");
    }
    assert_eq!(h.changes(), 0);
}

#[tokio::test]
async fn openapi_document_is_served_without_token() {
    let h = Harness::new().await;
    let req = Request::get("/v1/openapi.json")
        .body(Body::empty())
        .unwrap();
    let (status, headers, body) = h.send(req).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    assert!(body["paths"]["/v1/groups"]["post"].is_object());
}

#[tokio::test]
async fn unknown_path_is_404_json() {
    let h = Harness::new().await;
    let (status, body) = h.call("GET", "/v1/nothing-here", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "NotFound");
}

#[tokio::test]
async fn wrong_method_is_405_json() {
    let h = Harness::new().await;
    let (status, body) = h.call("PATCH", "/v1/groups", None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["code"], "MethodNotAllowed");
}
