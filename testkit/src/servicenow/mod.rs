//! A fake ServiceNow instance for the integration tests: one in-process actix-web server on
//! `127.0.0.1:<random port>` (the connector's `API_BASE_URL`) with the instance's OAuth
//! provider and its Table API over incidents, knowledge, the service catalog, approvals and
//! users — answering the way an instance does: encoded queries, row ACLs per user,
//! `sysparm_display_value` shapes, `X-Total-Count` and `Link` paging, ServiceNow's failure
//! bodies, data policies and business-rule aborts, rate limiting and its headers.
//!
//! ```ignore
//! let now = FakeServiceNow::start().await; // connector config: API_BASE_URL = now.base_url()
//! let ada = now.add_user("ada", "Ada Lovelace", "ada@campus.example");
//! let (incident, number) = now.add_incident(&ada, "Wi-Fi drops", "In the library");
//! now.add_comment(&incident, &ada, "Still broken", false);
//! let (access, refresh) = now.issue_tokens(&ada);
//! now.throttle_next(1);
//! ```
//!
//! Modelled after ServiceNow's documentation (Table API, encoded query strings, OAuth API
//! request parameters, "Revoke an OAuth token", "Inbound REST API rate limiting", the
//! Table API FAQ and knowledge articles on OAuth token lifespans) and captured answers:
//! - JSON is `application/json;charset=UTF-8`; every value is a string; dates are
//!   `2026-12-01 10:00:00` in UTC (the instance time zone of the fake).
//! - Failures are `{"error":{"message","detail"},"status":"failure"}`: 401 `User Not
//!   Authenticated` / `Required to provide Auth information` with `WWW-Authenticate: BASIC
//!   realm="Service-now"`; 404 `No Record found` / `Record doesn't exist or ACL restricts
//!   the record retrieval` (also for a record row ACLs hide); 403 `Operation Failed` /
//!   `ACL Exception Update Failed due to security constraints` (`Insert` for a create),
//!   `Data Policy Exception: Short description is mandatory`, or a business rule's message;
//!   400 `Invalid table <name>` (`detail: null`); 429 `Too Many Requests`.
//! - Rate limiting ([`FakeServiceNow::throttle_next`]): 429 with `Retry-After`,
//!   `X-RateLimit-Limit`, `X-RateLimit-Remaining: 0`, `X-RateLimit-Reset` (epoch seconds)
//!   and `X-RateLimit-Rule`, after the token is checked.
//! - OAuth (see `oauth`): auto-approval, PKCE S256, 30-minute access tokens, 100-day refresh
//!   tokens, a refresh answers the *same* refresh token unless rotation is turned on, one
//!   generic 401 for every token refusal, revocation by URL.
//!
//! Not modelled: Basic authentication, DELETE, attachments, the Aggregate and Service
//! Catalog APIs, `sysparm_view`, `sysparm_input_display_value`, domains, dot-walking deeper
//! than one reference, `javascript:` other than `gs.getUserID()` / `gs.getUserName()`.
//!
//! Here: [`FakeServiceNow`], the handle tests hold; `state` (rows, tokens, clock), `schema`
//! (tables, field kinds, choice labels), `seed` (what tests add), `routes` (the route
//! table, authentication, log), `oauth` (the three OAuth endpoints), `table` (the Table
//! API and write rules), `query` (encoded queries), `acl` (who reads and writes what),
//! `display` (`sysparm_display_value` shapes) and `errors` (ServiceNow's failure answers).
//! The server, the fault queue and the log type come from [`crate::upstream`].

mod acl;
mod display;
mod errors;
mod oauth;
mod query;
mod routes;
mod schema;
mod seed;
mod state;
mod table;
#[cfg(test)]
mod tests;

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::web;
use chrono::{DateTime, Duration as Span, Utc};

pub use errors::{Endpoint, Fault, LoggedRequest, RATE_LIMIT_PER_HOUR};
pub use seed::JournalEntry;
pub use table::MAX_LIMIT;

use crate::upstream::Server;
use state::{Client, Shared, State, TokenKind};

/// The `Content-Type` of the instance's JSON answers.
const JSON: &str = "application/json;charset=UTF-8";

/// A running fake ServiceNow instance; it stops when dropped.
pub struct FakeServiceNow {
    shared: Arc<Shared>,
    _server: Server,
}

impl FakeServiceNow {
    /// Starts the instance on `127.0.0.1:<random port>` on the current Tokio runtime, with
    /// no users or records.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .unwrap_or_else(|e| panic!("fake ServiceNow: bind: {e}"));
        Self::start_on(listener)
    }

    /// [`Self::start`] on a socket the caller bound (a binary binds the port it is asked for).
    pub fn start_on(listener: TcpListener) -> Self {
        let address = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("fake ServiceNow: address: {e}"));
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new()),
            base_url: format!("http://{address}"),
        });
        let data = web::Data::from(shared.clone());
        let server = Server::serve("fake ServiceNow", listener, move |config| {
            config
                .app_data(data.clone())
                .default_service(web::to(routes::instance));
        });
        Self {
            shared,
            _server: server,
        }
    }

    /// `http://127.0.0.1:<port>`: the instance (the connector's `API_BASE_URL`; OAuth is at
    /// `/oauth_auth.do`, `/oauth_token.do` and `/oauth_revoke_token.do` on it).
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// The fake's clock (the real time plus [`Self::advance_clock`]), whole seconds, UTC.
    pub fn now(&self) -> DateTime<Utc> {
        self.shared.lock().now()
    }

    /// Moves the fake's clock forward: tokens and codes expire by it, new records are
    /// stamped with it.
    pub fn advance_clock(&self, by: Duration) {
        self.shared.lock().clock_offset += span(by);
    }

    /// Registers an OAuth client in the Application Registry; `redirect_uri` must be sent
    /// exactly.
    pub fn add_oauth_client(&self, client_id: &str, secret: &str, redirect_uri: &str) {
        self.shared.lock().clients.push(Client {
            client_id: client_id.to_owned(),
            secret: secret.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
        });
    }

    /// The user (a sys_id) `GET /oauth_auth.do` approves as from now on.
    pub fn sign_in_as(&self, user: &str) {
        self.shared.lock().signed_in = Some(user.to_owned());
    }

    /// A fresh access token and refresh token for `user` (a sys_id), as if they had
    /// authorized (for tests that insert a connection directly).
    pub fn issue_tokens(&self, user: &str) -> (String, String) {
        oauth::issue(&mut self.shared.lock(), user, None, None)
    }

    /// How long access tokens issued from now on live (30 minutes by default).
    pub fn set_access_token_ttl(&self, ttl: Duration) {
        self.shared.lock().access_token_ttl = span(ttl);
    }

    /// How long refresh tokens issued from now on live (100 days by default).
    pub fn set_refresh_token_ttl(&self, ttl: Duration) {
        self.shared.lock().refresh_token_ttl = span(ttl);
    }

    /// Whether a refresh hands out a new refresh token and ends the old one (`false` by
    /// default: the instance answers with the refresh token it was given).
    pub fn set_refresh_token_rotation(&self, rotate: bool) {
        self.shared.lock().rotate_refresh_tokens = rotate;
    }

    /// Every access token issued so far expires now (refresh tokens keep working).
    pub fn expire_access_tokens(&self) {
        let mut state = self.shared.lock();
        let past = state.now() - Span::seconds(1);
        for token in state.tokens.iter_mut() {
            if token.kind == TokenKind::Access {
                token.expires = past;
            }
        }
    }

    /// Whether `token` (an access or a refresh token) was revoked through
    /// `oauth_revoke_token.do` (or replaced by a rotating refresh).
    pub fn is_revoked(&self, token: &str) -> bool {
        let state = self.shared.lock();
        state.tokens.iter().any(|t| t.value == token && t.revoked)
    }

    /// The `grant_type` of every `POST /oauth_token.do`, oldest first.
    pub fn token_requests(&self) -> Vec<String> {
        self.shared.lock().token_requests.clone()
    }

    /// The next `n` API requests (with a valid token) are refused with 429.
    pub fn throttle_next(&self, n: usize) {
        for _ in 0..n {
            routes::queue(&self.shared, Endpoint::Api, Fault::Throttled);
        }
    }

    /// The `Retry-After` of throttled answers (1 second by default, so retrying tests stay
    /// fast; a real instance says how long until its hourly window resets).
    pub fn set_retry_after(&self, retry_after: Duration) {
        self.shared.lock().retry_after = retry_after.as_secs();
    }

    /// The next API request (with a valid token) answers `status` with a failure body.
    pub fn fail_next(&self, status: u16) {
        routes::queue(&self.shared, Endpoint::Api, Fault::Status(status));
    }

    /// Queues `fault` for the next request of `endpoint` (in order, one per request).
    pub fn fail_next_on(&self, endpoint: Endpoint, fault: Fault) {
        routes::queue(&self.shared, endpoint, fault);
    }

    /// Faults still queued for `endpoint`.
    pub fn pending_faults(&self, endpoint: Endpoint) -> usize {
        self.shared.lock().books.pending_faults(endpoint)
    }

    /// Every request received, oldest first.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared.lock().books.log.clone()
    }

    /// Forgets the request log.
    pub fn clear_log(&self) {
        self.shared.lock().books.log.clear();
    }

    /// How many requests of `endpoint` arrived.
    pub fn count(&self, endpoint: Endpoint) -> usize {
        self.shared.lock().books.count(endpoint)
    }
}

/// A std duration as chrono's (saturating at chrono's limit).
fn span(duration: Duration) -> Span {
    Span::from_std(duration).unwrap_or(Span::MAX)
}
