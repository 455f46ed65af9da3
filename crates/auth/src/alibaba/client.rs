//! Client-side Alibaba signing, as the official Node SDK (npm `aliyun-api-gateway` 1.1.6)
//! does it, for `pylon debug` and the bench load generator.

use http::header::{ACCEPT, InvalidHeaderValue};
use http::{HeaderMap, HeaderValue, Method};

use super::{
    CONTENT_MD5, SignatureMethod, X_CA_KEY, X_CA_NONCE, X_CA_SIGNATURE, X_CA_SIGNATURE_HEADERS,
    X_CA_SIGNATURE_METHOD, X_CA_TIMESTAMP, content_md5, is_form, sign, string_to_sign,
};

/// Adds `X-Ca-Key`, `X-Ca-Timestamp`, `X-Ca-Nonce`, `Accept: application/json` (if absent),
/// `Content-MD5` (a POST, or any non-empty body, that is not a form: the Node SDK sends it for
/// every non-form POST, even an empty one), `X-Ca-Signature-Headers`, `X-Ca-Signature-Method`
/// and `X-Ca-Signature` to `headers`, signing with HmacSHA256.
///
/// Like the Node SDK, every `X-Ca-*` header already present (e.g. `X-Ca-Stage`) is signed,
/// with lowercase names, and form bodies count as parameters. `query` is the raw query
/// string the request will carry. Fails only when a value cannot be a header value.
#[allow(clippy::too_many_arguments)]
pub fn sign_request(
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &mut HeaderMap,
    body: &[u8],
    app_key: &str,
    app_secret: &str,
    now_ms: i64,
    nonce: &str,
) -> Result<(), InvalidHeaderValue> {
    headers.insert(X_CA_TIMESTAMP, HeaderValue::from(now_ms));
    headers.insert(X_CA_KEY, HeaderValue::from_str(app_key)?);
    headers.insert(X_CA_NONCE, HeaderValue::from_str(nonce)?);
    if !headers.contains_key(ACCEPT) {
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    }
    let form = is_form(headers);
    if !form && (method == Method::POST || !body.is_empty()) {
        headers.insert(CONTENT_MD5, HeaderValue::from_str(&content_md5(body))?);
    }
    headers.remove(X_CA_SIGNATURE);
    headers.remove(X_CA_SIGNATURE_METHOD);
    let mut signed: Vec<&str> = headers
        .keys()
        .map(|n| n.as_str())
        .filter(|n| n.starts_with("x-ca-") && *n != X_CA_SIGNATURE_HEADERS.as_str())
        .collect();
    signed.sort_unstable();
    let list = signed.join(",");
    let form_body = if form {
        Some(String::from_utf8_lossy(body))
    } else {
        None
    };
    let sts = string_to_sign(method, path, query, form_body.as_deref(), headers, &signed);
    let signature = sign(app_secret.as_bytes(), SignatureMethod::HmacSha256, &sts);
    headers.insert(X_CA_SIGNATURE_HEADERS, HeaderValue::from_str(&list)?);
    headers.insert(
        X_CA_SIGNATURE_METHOD,
        HeaderValue::from_static(SignatureMethod::HmacSha256.as_str()),
    );
    headers.insert(X_CA_SIGNATURE, HeaderValue::from_str(&signature)?);
    Ok(())
}
