//! The header names the gateway itself reads or writes on every kind of request, shared by the
//! phases, the error responses and the mock backend.

use http::HeaderName;
use pylon_auth::alibaba;

pub(crate) const X_CA_REQUEST_ID: HeaderName = HeaderName::from_static("x-ca-request-id");
pub(crate) const X_CA_ERROR_MESSAGE: HeaderName = HeaderName::from_static("x-ca-error-message");
pub(crate) const X_CA_ERROR_CODE: HeaderName = HeaderName::from_static("x-ca-error-code");

/// Headers that carry a client's credentials; not forwarded unless the API says so.
pub(crate) static CREDENTIAL_HEADERS: [HeaderName; 9] = [
    http::header::AUTHORIZATION,
    alibaba::X_CA_KEY,
    alibaba::X_CA_SIGNATURE,
    alibaba::X_CA_SIGNATURE_HEADERS,
    alibaba::X_CA_SIGNATURE_METHOD,
    alibaba::X_CA_TIMESTAMP,
    alibaba::X_CA_NONCE,
    HeaderName::from_static("x-date"),
    X_API_KEY,
];

/// An AWS API key (`api-key` APIs).
pub(crate) const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");

/// An HTTP/1.1 `GET` asking to become a WebSocket: `Upgrade: websocket` with `upgrade` among
/// the `Connection` options (RFC 6455 section 4.1), in any letter case.
pub(crate) fn asks_for_websocket(parts: &http::request::Parts) -> bool {
    let Some(upgrade) = parts.headers.get(http::header::UPGRADE) else {
        return false;
    };
    parts.method == http::Method::GET
        && parts.version == http::Version::HTTP_11
        && upgrade
            .as_bytes()
            .split(|b| *b == b',')
            .any(|p| p.trim_ascii().eq_ignore_ascii_case(b"websocket"))
        && parts
            .headers
            .get_all(http::header::CONNECTION)
            .iter()
            .flat_map(|v| v.as_bytes().split(|b| *b == b','))
            .any(|o| o.trim_ascii().eq_ignore_ascii_case(b"upgrade"))
}
