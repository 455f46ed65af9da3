//! The ways authentication and authorization refuse a call, each with the status, code and
//! message of docs/wire-compat.md (Alibaba `app`, Tencent `key-pair`) or Pylon's own (`jwt`).

use http::StatusCode;
use pylon_auth::jwt::JwtError;

#[derive(Debug, thiserror::Error)]
pub(crate) enum AuthError {
    #[error("no X-Ca-Key and no accepted AppCode")]
    MissingAppKey,
    #[error("unknown AppKey")]
    InvalidAppKey,
    #[error("X-Ca-Key without X-Ca-Signature")]
    EmptySignature,
    #[error("unsupported X-Ca-Signature-Method")]
    InvalidSignatureMethod,
    #[error(
        "X-Ca-Signature-Headers lists more than {} names",
        pylon_auth::alibaba::MAX_SIGNED_HEADERS
    )]
    TooManySignedHeaders,
    /// Holds the server's string to sign, which the client is shown.
    #[error("signature does not match")]
    InvalidSignature(String),
    #[error("X-Ca-Timestamp is not epoch milliseconds")]
    InvalidTimestamp,
    #[error("X-Ca-Timestamp is more than 15 minutes off, or older than the nonce window")]
    TimestampExpired,
    #[error("X-Ca-Nonce was used before")]
    NonceUsed,
    #[error("Content-MD5 does not match the body")]
    InvalidContentMd5,
    #[error("unknown AppCode")]
    InvalidAppCode,
    #[error("no valid X-Date or Date")]
    HmacDate,
    #[error("X-Date is more than 15 minutes off")]
    HmacDateExpired,
    #[error("Authorization hmac lacks id or signature")]
    HmacMissing,
    #[error("unknown key-pair id")]
    UnknownHmacId,
    #[error("HMAC algorithm not supported")]
    HmacAlgorithm,
    #[error("HMAC signature does not match")]
    HmacMismatch,
    #[error("JWT refused: {0}")]
    Jwt(JwtError),
    #[error("no x-api-key")]
    MissingApiKey,
    #[error("unknown API key")]
    InvalidApiKey,
    #[error("app `{app_id}` has no valid authorization for this API in this environment")]
    Unauthorized { app_id: String },
}

impl AuthError {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::EmptySignature => StatusCode::NOT_FOUND,
            Self::HmacDate
            | Self::HmacDateExpired
            | Self::HmacMissing
            | Self::UnknownHmacId
            | Self::HmacAlgorithm
            | Self::HmacMismatch
            | Self::Jwt(_) => StatusCode::UNAUTHORIZED,
            Self::Unauthorized { .. } | Self::MissingApiKey | Self::InvalidApiKey => {
                StatusCode::FORBIDDEN
            }
            _ => StatusCode::BAD_REQUEST,
        }
    }

    pub(crate) fn code(&self) -> &'static str {
        match self {
            Self::MissingAppKey => "A400MK",
            Self::InvalidAppKey => "A400IK",
            Self::EmptySignature => "A404ES",
            Self::InvalidSignatureMethod => "A400SM",
            Self::TooManySignedHeaders => "A400SH",
            Self::InvalidSignature(_) => "A400IS",
            Self::InvalidTimestamp => "A400IT",
            Self::TimestampExpired => "A400TE",
            Self::NonceUsed => "A400NU",
            Self::InvalidContentMd5 => "A400IC",
            Self::InvalidAppCode => "A400AC",
            Self::HmacDate => "A401XD",
            Self::HmacDateExpired => "A401XE",
            Self::HmacMissing => "A401HM",
            Self::UnknownHmacId => "A401HK",
            Self::HmacAlgorithm => "A401HA",
            Self::HmacMismatch => "A401HS",
            Self::Jwt(e) => match e {
                JwtError::Missing => "A401JM",
                JwtError::Malformed => "A401JF",
                JwtError::AlgorithmNotAllowed => "A401JA",
                JwtError::UnknownKey => "A401JK",
                JwtError::BadSignature => "A401JS",
                JwtError::Expired => "A401JE",
                JwtError::NotYetValid => "A401JN",
                JwtError::IssuerMismatch => "A401JI",
                JwtError::AudienceMismatch => "A401JU",
            },
            Self::Unauthorized { .. } => "A403UA",
            Self::MissingApiKey => "A403MA",
            Self::InvalidApiKey => "A403IA",
        }
    }

    pub(crate) fn message(&self) -> String {
        match self {
            Self::MissingAppKey | Self::InvalidAppKey => "Invalid AppKey".into(),
            Self::EmptySignature => "Empty Signature".into(),
            Self::InvalidSignatureMethod => "Invalid Signature Method".into(),
            Self::TooManySignedHeaders => "Invalid Signature Headers".into(),
            Self::InvalidSignature(sts) => pylon_auth::alibaba::invalid_signature_message(sts),
            Self::InvalidTimestamp => "Invalid Timestamp".into(),
            Self::TimestampExpired => "Timestamp Expired".into(),
            Self::NonceUsed => "Nonce Used".into(),
            Self::InvalidContentMd5 => "Invalid Content-MD5".into(),
            Self::InvalidAppCode => "Invalid AppCode".into(),
            Self::HmacDate => "HMAC signature cannot be verified, a valid x-date header is required for HMAC Authentication".into(),
            Self::HmacDateExpired => "HMAC signature cannot be verified, the x-date header is out of date for HMAC Authentication".into(),
            Self::HmacMissing => "HMAC id or signature missing".into(),
            Self::UnknownHmacId => "HMAC signature cannot be verified, unknown id".into(),
            Self::HmacAlgorithm => "HMAC algorithm not supported".into(),
            Self::HmacMismatch => "HMAC signature does not match".into(),
            Self::Jwt(e) => format!("Invalid JWT: {e}"),
            Self::Unauthorized { .. } => "Unauthorized".into(),
            // AWS's words for both, so a caller cannot tell a wrong key from a missing one.
            Self::MissingApiKey | Self::InvalidApiKey => "Forbidden".into(),
        }
    }
}

impl From<pylon_auth::alibaba::AlibabaError> for AuthError {
    fn from(e: pylon_auth::alibaba::AlibabaError) -> Self {
        use pylon_auth::alibaba::AlibabaError as E;
        match e {
            E::MissingKey => Self::MissingAppKey,
            E::EmptySignature => Self::EmptySignature,
            E::InvalidSignatureMethod => Self::InvalidSignatureMethod,
            E::InvalidTimestamp => Self::InvalidTimestamp,
            E::TimestampExpired => Self::TimestampExpired,
            E::TooManySignedHeaders => Self::TooManySignedHeaders,
        }
    }
}

impl From<pylon_auth::tencent::TencentError> for AuthError {
    fn from(e: pylon_auth::tencent::TencentError) -> Self {
        use pylon_auth::tencent::TencentError as E;
        match e {
            E::MissingDate => Self::HmacDate,
            E::DateOutOfWindow => Self::HmacDateExpired,
            E::MissingIdOrSignature => Self::HmacMissing,
            E::UnsupportedAlgorithm => Self::HmacAlgorithm,
            E::UnknownId => Self::UnknownHmacId,
            E::SignatureMismatch => Self::HmacMismatch,
        }
    }
}
