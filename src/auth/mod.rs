//! Who is asking: server-side sessions, CSRF, and the extractors that make authorization
//! visible in a handler's signature. (Password hashing and random tokens, which models and
//! services use too, live below in `crate::crypto`.)

pub mod client_ip;
pub mod csrf;
pub mod device;
pub mod extractors;
pub mod session_store;

pub use extractors::{AdminUser, ClaimedUser, CurrentUser, MaybeUser};

/// Session keys, in one place.
pub mod keys {
    /// The logged-in user's id.
    pub const USER_ID: &str = "user_id";
    /// The session's user row as read with the session (JSON), for this request only: the
    /// store adds it when it loads a session and removes it before it saves one, and an
    /// anonymous cookie state that carries it is refused (see `session_store`).
    pub const LOADED_USER: &str = "_loaded_user";
    /// Set on a state the store served from its cache without reading the row, for this
    /// request only: the key's hash, for the handler to confirm the session with
    /// (`session_store`). Never stored, and refused in an anonymous cookie.
    pub const UNCONFIRMED: &str = "_unconfirmed";
    /// The synchronizer CSRF token.
    pub const CSRF: &str = "csrf";
    /// One-shot messages shown on the next page.
    pub const FLASH: &str = "flash";
    /// Random per-session value whose hash binds the OAuth flows started in the session.
    pub const OAUTH_NONCE: &str = "oauth_nonce";
    /// Where to go after a connect flow started elsewhere than /settings (cloud import):
    /// `(slug, path, started at)`.
    pub const CONNECT_RETURN: &str = "connect_return";
    /// Set when the session was signed in through campus sign-in (logging out then ends the
    /// identity provider's session too).
    pub const SSO: &str = "sso";
}
