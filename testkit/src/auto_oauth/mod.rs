//! An OAuth 2.0 authorization server that approves every request at once, for clicking
//! through the app locally against the fakes with no Google or Microsoft account.
//!
//! - `GET /authorize` (RFC 6749 §4.1.1): checks `client_id` and `redirect_uri` (errors there
//!   are answered here, never redirected), then `response_type=code` and the PKCE challenge
//!   (RFC 7636, `S256` only; errors go back to the client), records the grant and redirects
//!   to `redirect_uri` with `code` and the same `state`. Nobody is asked to sign in.
//! - `POST /token`: `authorization_code` (one use per code, `redirect_uri` as authorized, the
//!   `code_verifier` against the recorded challenge) and `refresh_token`; the client
//!   authenticates with HTTP Basic or with `client_id`/`client_secret` in the form.
//! - `POST /revoke` (RFC 7009): the token stops working; 200 whatever it was.
//!
//! Access tokens it issues are handed to a [`TokenRegistry`] (the fake Drive or Graph, set to
//! let only issued tokens in), so the fakes accept exactly these.

mod endpoints;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use actix_web::web;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::upstream::{FakeBooks, Server};

/// What access tokens are for: the API that must let them in, or stop doing so.
pub trait TokenRegistry: Send + Sync {
    /// `token` was issued: let it in.
    fn issue_token(&self, token: &str);
    /// `token` was revoked: refuse it.
    fn expire_token(&self, token: &str);
}

/// Every fake that keeps its tokens in its bookkeeping (Drive, Graph) is a registry.
impl<T: FakeBooks + Send + Sync> TokenRegistry for T {
    fn issue_token(&self, token: &str) {
        FakeBooks::issue_token(self, token);
    }

    fn expire_token(&self, token: &str) {
        FakeBooks::expire_token(self, token);
    }
}

/// The one client the server knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// `client_id`.
    pub id: String,
    /// `client_secret`.
    pub secret: String,
}

/// How long access tokens say they live (`expires_in`); the fakes do not expire them.
pub const ACCESS_TOKEN_SECONDS: u64 = 3600;
/// How long an authorization code can be exchanged.
const CODE_LIFETIME: Duration = Duration::from_secs(600);

/// An authorization waiting for its code to be exchanged.
struct Grant {
    redirect_uri: String,
    /// The PKCE `code_challenge` (S256), if the client sent one.
    challenge: Option<String>,
    scope: Option<String>,
    issued: Instant,
}

/// What the server remembers.
#[derive(Default)]
struct Grants {
    /// By code.
    codes: HashMap<String, Grant>,
    /// Live refresh tokens, with their scope.
    refresh_tokens: HashMap<String, Option<String>>,
}

/// The server's state, shared by its workers.
struct Authority {
    client: Client,
    /// Starts every token and code, so a log says which provider issued it.
    prefix: String,
    tokens: Arc<dyn TokenRegistry>,
    grants: Mutex<Grants>,
}

impl Authority {
    fn lock(&self) -> MutexGuard<'_, Grants> {
        self.grants.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A fresh unguessable value: `{prefix}.{kind}.{32 random bytes, base64url}`.
    fn mint(&self, kind: &str) -> String {
        let bytes: [u8; 32] = rand::random();
        format!("{}.{kind}.{}", self.prefix, URL_SAFE_NO_PAD.encode(bytes))
    }
}

/// A running auto-approving OAuth server; stopped when dropped.
pub struct AutoOAuth {
    server: Server,
}

impl AutoOAuth {
    /// Starts the server on `listener` for `client`; access tokens it issues go to
    /// `tokens`. `prefix` starts every token (`google`, `microsoft`).
    pub fn start_on(
        listener: TcpListener,
        client: Client,
        prefix: &str,
        tokens: Arc<dyn TokenRegistry>,
    ) -> Self {
        let authority = web::Data::new(Authority {
            client,
            prefix: prefix.to_owned(),
            tokens,
            grants: Mutex::new(Grants::default()),
        });
        let routes = move |config: &mut web::ServiceConfig| {
            config
                .app_data(authority.clone())
                .route("/authorize", web::get().to(endpoints::authorize))
                .route("/token", web::post().to(endpoints::token))
                .route("/revoke", web::post().to(endpoints::revoke));
        };
        let server = Server::serve("auto-approving OAuth", listener, routes);
        Self { server }
    }

    /// `http://<address>:<port>`.
    pub fn base_url(&self) -> &str {
        self.server.base_url()
    }

    /// The authorization endpoint (the connector's `AUTH_URL`).
    pub fn authorize_url(&self) -> String {
        format!("{}/authorize", self.base_url())
    }

    /// The token endpoint (`TOKEN_URL`).
    pub fn token_url(&self) -> String {
        format!("{}/token", self.base_url())
    }

    /// The revocation endpoint (`REVOKE_URL`).
    pub fn revoke_url(&self) -> String {
        format!("{}/revoke", self.base_url())
    }
}
