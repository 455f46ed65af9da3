//! Reading a request body whole (the read-body phase, function events), and lingering on one
//! that is refused for its size.

use crate::request::inbound::ClientBody;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;

use crate::error::GatewayError;

/// Reads a body whole, up to `limit` bytes. A larger one (by its Content-Length, or as it
/// arrives) is refused with 413, and what is left of it lingers.
pub(crate) async fn read_whole(mut body: ClientBody, limit: usize) -> Result<Bytes, GatewayError> {
    if http_body::Body::size_hint(&body)
        .exact()
        .is_some_and(|n| n > limit as u64)
    {
        linger(body);
        return Err(GatewayError::BodyTooLarge { limit });
    }
    let mut buffered = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| GatewayError::RequestBody(e.to_string()))?;
        if let Ok(data) = frame.into_data() {
            if buffered.len() + data.len() > limit {
                linger(body);
                return Err(GatewayError::BodyTooLarge { limit });
            }
            buffered.extend_from_slice(&data);
        }
    }
    Ok(buffered.freeze())
}

/// Bytes and time a refused body is still read for, so that a client that writes its whole
/// body before reading sees the error instead of a reset connection (nginx's lingering close).
const LINGER_BYTES: usize = 32 * 1024 * 1024;
const LINGER_TIME: std::time::Duration = std::time::Duration::from_secs(5);

/// Reads and drops what is left of a refused body, within the linger bounds, while the error
/// response goes out; then the connection closes.
fn linger(mut body: ClientBody) {
    tokio::spawn(async move {
        let mut seen = 0usize;
        let drain = async {
            while let Some(Ok(frame)) = body.frame().await {
                if let Some(data) = frame.data_ref() {
                    seen += data.len();
                    if seen > LINGER_BYTES {
                        break;
                    }
                }
            }
        };
        let _ = tokio::time::timeout(LINGER_TIME, drain).await;
    });
}
