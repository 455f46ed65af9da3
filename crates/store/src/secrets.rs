//! Encryption at rest of AppSecrets, AppCodes and TLS private keys, and the key that does it.
//!
//! Each value is sealed with XChaCha20-Poly1305 under a fresh random 192-bit nonce (large enough
//! that random nonces never repeat in practice) and stored as `v1:` + base64(nonce || ciphertext).
//! The associated data names the row the value belongs to, so a ciphertext copied into another
//! row does not decrypt. AppCodes are found by value through a keyed hash (HMAC-SHA256), so the
//! table holds no code in the clear. Encryption and lookup use separate keys derived from the one
//! 32-byte secret key.

use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, Generate, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::{Result, StoreError};

/// The file in the data directory that holds the generated key.
pub const SECRET_KEY_FILE: &str = "secret-key";

const VERSION_TAG: &str = "v1:";
const NONCE_LEN: usize = 24;
const WRONG_KEY: &str =
    "cannot decrypt stored secrets: the secret key does not match the one they were written with";

/// 32-byte key that encrypts AppSecrets, AppCodes, JWT HS256 secrets and TLS private keys at rest. Debug prints nothing secret.
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

impl SecretKey {
    /// A new key from the operating system's random number generator.
    pub fn generate() -> SecretKey {
        SecretKey(<[u8; 32]>::generate())
    }

    /// 64 hex chars or standard base64 of 32 bytes (PYLON_SECRET_KEY).
    pub fn parse(text: &str) -> std::result::Result<SecretKey, String> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            decode_hex(text)
        } else {
            STANDARD.decode(text).ok()
        };
        match bytes.and_then(|b| <[u8; 32]>::try_from(b).ok()) {
            Some(key) => Ok(SecretKey(key)),
            None => {
                Err("the secret key must be 64 hex characters or the base64 of 32 bytes".into())
            }
        }
    }

    /// `<dir>/secret-key` (hex, mode 0600), created on first use.
    pub fn load_or_create(dir: &Path) -> std::io::Result<SecretKey> {
        let path = dir.join(SECRET_KEY_FILE);
        match read_key_file(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            other => return other,
        }
        let key = SecretKey::generate();
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(&path) {
            Ok(mut file) => {
                writeln!(file, "{}", key.to_hex())?;
                file.sync_all()?;
                Ok(key)
            }
            // Another process created it between our read and our create: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_key_file(&path),
            Err(e) => Err(e),
        }
    }

    fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A key for one purpose, so the cipher key and the lookup key are independent.
    fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .expect("HMAC accepts keys of any length");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

fn read_key_file(path: &Path) -> std::io::Result<SecretKey> {
    let text = std::fs::read_to_string(path)?;
    SecretKey::parse(&text).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{}: {e}", path.display()),
        )
    })
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The keys derived from a `SecretKey`, kept by the store.
#[derive(Clone)]
pub(crate) struct Sealer {
    cipher: XChaCha20Poly1305,
    lookup: Hmac<Sha256>,
}

impl Sealer {
    pub(crate) fn new(key: &SecretKey) -> Sealer {
        let cipher = XChaCha20Poly1305::new(&key.derive("pylon secrets encryption v1").into());
        let lookup =
            <Hmac<Sha256> as KeyInit>::new_from_slice(&key.derive("pylon appcode lookup v1"))
                .expect("HMAC accepts keys of any length");
        Sealer { cipher, lookup }
    }

    /// `v1:` + base64(nonce || ciphertext), bound to `row`.
    pub(crate) fn seal(&self, row: &[&str], plaintext: &str) -> Result<String> {
        let nonce = XNonce::try_generate()
            .map_err(|e| StoreError::Secret(format!("cannot make a nonce: {e}")))?;
        let aad = associated_data(row);
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| StoreError::Secret("cannot encrypt a secret".into()))?;
        let mut raw = nonce.to_vec();
        raw.extend_from_slice(&ciphertext);
        Ok(format!("{VERSION_TAG}{}", STANDARD.encode(raw)))
    }

    /// The plaintext of what `seal` made for the same `row`.
    pub(crate) fn open(&self, row: &[&str], sealed: &str) -> Result<String> {
        let corrupt =
            || StoreError::Secret(format!("corrupt encrypted value for {}", row.join("/")));
        let raw = sealed
            .strip_prefix(VERSION_TAG)
            .and_then(|b64| STANDARD.decode(b64).ok())
            .filter(|raw| raw.len() >= NONCE_LEN)
            .ok_or_else(corrupt)?;
        let (nonce, ciphertext) = raw.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| corrupt())?;
        let aad = associated_data(row);
        let plaintext = self
            .cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            // The tag does not say whether the key or the row is wrong; a wrong key is by far
            // the likelier (a restart with another PYLON_SECRET_KEY or a lost key file).
            .map_err(|_| StoreError::Secret(WRONG_KEY.into()))?;
        String::from_utf8(plaintext).map_err(|_| corrupt())
    }

    /// Hex HMAC-SHA256 of an AppCode under the lookup key: equal codes give equal lookups.
    pub(crate) fn lookup(&self, code: &str) -> String {
        let mut mac = self.lookup.clone();
        mac.update(code.as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// Length-prefixed parts, so no two different rows encode to the same bytes.
fn associated_data(row: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in row {
        out.extend_from_slice(&(part.len() as u64).to_be_bytes());
        out.extend_from_slice(part.as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_hex_and_base64_of_32_bytes() {
        let hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let a = SecretKey::parse(hex).unwrap();
        assert_eq!(a.to_hex(), hex);
        let b = SecretKey::parse(&STANDARD.encode(a.0)).unwrap();
        assert_eq!(a.0, b.0);
        assert_eq!(
            SecretKey::parse(&format!(" {} \n", hex.to_uppercase()))
                .unwrap()
                .0,
            a.0
        );
        for bad in [
            "",
            "abcd",
            &hex[..62],
            &STANDARD.encode([1u8; 31]),
            "zz".repeat(32).as_str(),
        ] {
            assert!(SecretKey::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_hides_the_key() {
        let key = SecretKey::parse(&"ab".repeat(32)).unwrap();
        let text = format!("{key:?}");
        assert!(!text.contains("ab"), "{text}");
        assert!(!text.contains("171"), "{text}");
    }

    #[test]
    fn key_file_is_created_once_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = SecretKey::load_or_create(dir.path()).unwrap();
        let second = SecretKey::load_or_create(dir.path()).unwrap();
        assert_eq!(first.0, second.0);
        let path = dir.path().join(SECRET_KEY_FILE);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap().trim(),
            first.to_hex()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "not a key").unwrap();
        let err = SecretKey::load_or_create(dir.path()).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    }

    #[test]
    fn sealed_values_round_trip_only_with_their_key_and_row() {
        let sealer = Sealer::new(&SecretKey::generate());
        let sealed = sealer.seal(&["k1"], "s3cret").unwrap();
        assert!(sealed.starts_with("v1:") && !sealed.contains("s3cret"));
        assert_eq!(sealer.open(&["k1"], &sealed).unwrap(), "s3cret");
        // Fresh nonce each time.
        assert_ne!(sealer.seal(&["k1"], "s3cret").unwrap(), sealed);
        // Moved to another row.
        assert!(matches!(
            sealer.open(&["k2"], &sealed),
            Err(StoreError::Secret(_))
        ));
        assert!(matches!(
            sealer.open(&["k", "1"], &sealed),
            Err(StoreError::Secret(_))
        ));
        let other = Sealer::new(&SecretKey::generate());
        assert_eq!(
            other.open(&["k1"], &sealed).unwrap_err().to_string(),
            WRONG_KEY
        );
        for bad in ["", "v1:", "v1:!!", "v2:AAAA", "v1:AAAA"] {
            assert!(
                matches!(sealer.open(&["k1"], bad), Err(StoreError::Secret(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn lookups_are_keyed_and_stable() {
        let key = SecretKey::generate();
        let a = Sealer::new(&key);
        assert_eq!(a.lookup("code"), Sealer::new(&key).lookup("code"));
        assert_ne!(a.lookup("code"), a.lookup("code2"));
        assert_ne!(
            a.lookup("code"),
            Sealer::new(&SecretKey::generate()).lookup("code")
        );
        assert_eq!(a.lookup("code").len(), 64);
    }
}
