//! Who is asking: passwords, server-side sessions, CSRF, and the extractors that make
//! authorization visible in a handler's signature.

pub mod csrf;
pub mod extractors;
pub mod password;
pub mod session_store;

pub use extractors::{AdminUser, CurrentUser, MaybeUser};

/// Session keys, in one place.
pub mod keys {
    /// The logged-in user's id.
    pub const USER_ID: &str = "user_id";
    /// The synchronizer CSRF token.
    pub const CSRF: &str = "csrf";
    /// One-shot messages shown on the next page.
    pub const FLASH: &str = "flash";
    /// Random per-session value whose hash binds the OAuth flows started in the session.
    pub const OAUTH_NONCE: &str = "oauth_nonce";
    /// Where to go after a connect flow started elsewhere than /settings (cloud import):
    /// `(slug, path, started at)`.
    pub const CONNECT_RETURN: &str = "connect_return";
}

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
