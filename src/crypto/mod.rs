//! Small cryptographic helpers every layer may use (models, services, the web layer):
//! random tokens, SHA-256 fingerprints of stored tokens, password hashing. They know
//! nothing of requests or the database.

pub mod password;

/// A random URL-safe token with `bytes` bytes of entropy (ChaCha12 seeded from the OS).
pub fn random_token(bytes: usize) -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// Hex SHA-256, used to store tokens and session keys so a database leak does not leak them.
pub fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}
