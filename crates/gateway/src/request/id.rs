//! The request id: generated once per request, carried by every response as `X-Ca-Request-Id`
//! and by the backend request as a system parameter.

use http::HeaderValue;

/// A UUID v4, uppercase and hyphenated, generated once per request.
#[derive(Debug, Clone)]
pub(crate) struct RequestId {
    text: [u8; 36],
}

impl RequestId {
    pub(crate) fn generate() -> Self {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&next_random().to_le_bytes());
        bytes[8..].copy_from_slice(&next_random().to_le_bytes());
        let mut text = [0u8; 36];
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .hyphenated()
            .encode_upper(&mut text);
        Self { text }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.text
    }

    pub(crate) fn as_str(&self) -> &str {
        // Always ASCII: written by `encode_upper`.
        std::str::from_utf8(&self.text).unwrap_or_default()
    }

    pub(crate) fn header_value(&self) -> HeaderValue {
        HeaderValue::from_bytes(&self.text).unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

/// A per-thread wyrand generator seeded from the OS once: request ids must be unique, not
/// secret, and a `getrandom` system call per request showed in profiles.
pub(crate) fn next_random() -> u64 {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new(uuid::Uuid::new_v4().as_u64_pair().0);
    }
    STATE.with(|state| {
        let s = state.get().wrapping_add(0xa076_1d64_78bd_642f);
        state.set(s);
        let t = u128::from(s).wrapping_mul(u128::from(s ^ 0xe703_7ed1_a0b4_28db));
        ((t >> 64) ^ t) as u64
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_uppercase_uuid_v4() {
        let id = RequestId::generate();
        let s = id.as_str();
        assert_eq!(s.len(), 36);
        assert_eq!(s, s.to_ascii_uppercase());
        let parsed = uuid::Uuid::parse_str(s).unwrap();
        assert_eq!(parsed.get_version_num(), 4);
        assert_ne!(s, RequestId::generate().as_str());
        assert_eq!(id.header_value(), s);
    }

    #[test]
    fn request_ids_do_not_repeat() {
        let ids: std::collections::HashSet<String> = (0..10_000)
            .map(|_| RequestId::generate().as_str().to_string())
            .collect();
        assert_eq!(ids.len(), 10_000);
    }
}
