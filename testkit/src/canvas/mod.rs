//! A fake Canvas LMS for the integration tests: two in-process actix-web servers on
//! `127.0.0.1:<random port>` — the *instance* (REST API under `/api/v1`, Canvas's own OAuth
//! under `/login/oauth2`, `/files/:id/download`) and the *file store* the downloads are
//! redirected to (S3-like signed URLs) — answering the way Canvas does: enrollment decides
//! what a user sees, Canvas's paging `Link` header, its error bodies and 401 variants, its
//! throttling answers and rate headers, its token lifecycle.
//!
//! ```ignore
//! let canvas = FakeCanvas::start().await;         // connector config: API_BASE_URL = canvas.base_url()
//! let ada = canvas.add_user("ada@campus.example", "Ada Lovelace");
//! let term = canvas.add_term("Fall 2026");
//! let course = canvas.add_course("Analytical Engines", "AE-101", term);
//! canvas.enroll(ada, course, EnrollmentType::Student, EnrollmentState::Active);
//! let pdf = canvas.add_file(canvas.root_folder(course), "Notes.pdf", "application/pdf", Content::synthetic(1 << 20, 7));
//! let (access, refresh) = canvas.issue_tokens(ada);
//! canvas.throttle_next(1, Throttle::Forbidden);
//! ```
//!
//! Modelled after Canvas's API documentation and controllers (`doc/api/oauth*.md`,
//! `throttling.md`, `pagination.md`, the courses, files, folders, pages, modules,
//! assignments and announcements APIs, `Canvas::Oauth::RequestError`,
//! `AuthenticationMethods`, `RequestThrottle`):
//! - Every instance answer carries `X-Rate-Limit-Remaining` and `X-Request-Cost`; JSON is
//!   `application/json; charset=utf-8`.
//! - 401s: no token → `{"status":"unauthenticated",…"user authorization required"}` with
//!   `WWW-Authenticate: Bearer realm="canvas-lms"`; an unknown, deleted or superseded token →
//!   `{"errors":[{"message":"Invalid access token."}]}` with it; an expired one → "Expired
//!   access token." with it; a valid token on a course without an enrollment →
//!   `{"status":"unauthorized","errors":[{"message":"user not authorized to perform that
//!   action"}]}` *without* it. 404: "The specified resource does not exist.".
//! - Throttling ([`FakeCanvas::throttle_next`]): `403` `403 Forbidden (Rate Limit Exceeded)`
//!   or `429`, plain text, `X-Rate-Limit-Remaining: 0.0`, no `Retry-After`.
//! - Paging: `per_page` (default [`DEFAULT_PER_PAGE`], at most [`MAX_PER_PAGE`]), numbered
//!   `page`s, `Link` with `current`, `next`, `prev`, `first`, `last`.
//! - OAuth: developer keys, auto-approval as [`FakeCanvas::sign_in_as`], single-use codes,
//!   S256 PKCE, refresh without a new refresh token (the same one keeps working; the *old
//!   access token* stops, as the record gets a new one), `DELETE /login/oauth2/token` ends
//!   both tokens.
//! - Files: `url` is `/files/:id/download?download_frd=1&verifier=<uuid>`; that answers 302
//!   to a signed, expiring file-store URL; the file store refuses any `Authorization`
//!   header (400 `InvalidArgument`, S3's "Only one auth mechanism allowed") and honours
//!   `Range`.
//!
//! Not modelled: writes, uploads, quizzes, discussions beyond announcements, sections,
//! groups, masquerading, scopes, unpublished or locked content, `bookmark:` page tokens.
//!
//! Here: [`FakeCanvas`], the handle tests hold; `state` (the records, grants, clock), `seed`
//! (what tests add: users, courses, files, content…), `routes` (the route table, authentication, log), `errors` (Canvas's error answers and rate
//! headers), `paging` (`per_page`, `Link`), `oauth` (the three OAuth endpoints), `courses`
//! (users, courses, enrollment checks), `files` (folders, files, download, file store),
//! `content` (pages, modules) and `assignments` (assignments, submissions, announcements).
//! Content, pacing, body faults and the log type come from [`crate::upstream`].

mod assignments;
mod content;
mod courses;
mod errors;
mod files;
mod oauth;
mod paging;
mod routes;
mod seed;
mod state;
#[cfg(test)]
mod tests;

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::web;
use chrono::{DateTime, Duration as Span, Utc};

pub use crate::upstream::Content;
use crate::upstream::Server;
pub use errors::{Endpoint, Fault, Host, LoggedRequest, Throttle};
pub use paging::{DEFAULT_PER_PAGE, MAX_PER_PAGE};
use state::{DeveloperKey, Shared, State};

/// The `Content-Type` of Canvas's JSON answers.
const JSON: &str = "application/json; charset=utf-8";

/// A user's role in a course.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnrollmentType {
    /// `StudentEnrollment`.
    Student,
    /// `TeacherEnrollment`.
    Teacher,
    /// `TaEnrollment`.
    Ta,
}

/// Where an enrollment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnrollmentState {
    /// In the course now.
    Active,
    /// Invited, not yet accepted.
    Invited,
    /// The course is over for them.
    Completed,
}

/// What a module item points at; its `type` follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModuleItemContent {
    /// A file, by id.
    File(i64),
    /// A wiki page, by its url slug.
    Page(String),
    /// An assignment, by id.
    Assignment(i64),
    /// A discussion topic, by id.
    Discussion(i64),
    /// A link elsewhere.
    ExternalUrl(String),
    /// A heading without content.
    SubHeader,
}

impl ModuleItemContent {
    /// The item's `type` as Canvas names it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::File(_) => "File",
            Self::Page(_) => "Page",
            Self::Assignment(_) => "Assignment",
            Self::Discussion(_) => "Discussion",
            Self::ExternalUrl(_) => "ExternalUrl",
            Self::SubHeader => "SubHeader",
        }
    }
}

/// Where a user's submission stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubmissionState {
    /// Nothing handed in.
    Unsubmitted,
    /// Handed in, not graded.
    Submitted,
    /// Graded.
    Graded,
}

/// A running fake Canvas (instance and file store); both stop when it is dropped.
pub struct FakeCanvas {
    shared: Arc<Shared>,
    _instance: Server,
    _file_store: Server,
}

impl FakeCanvas {
    /// Starts the instance and the file store on `127.0.0.1:<random port>` each, on the
    /// current Tokio runtime, with no users or courses.
    pub async fn start() -> Self {
        let bind = || {
            TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("fake Canvas: bind: {e}"))
        };
        Self::start_on(bind(), bind())
    }

    /// [`Self::start`] on sockets the caller bound (a binary binds the ports it is asked for).
    pub fn start_on(instance: TcpListener, file_store: TcpListener) -> Self {
        let url = |listener: &TcpListener| {
            let address = listener
                .local_addr()
                .unwrap_or_else(|e| panic!("fake Canvas: address: {e}"));
            format!("http://{address}")
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new()),
            base_url: url(&instance),
            file_store_url: url(&file_store),
        });
        let data = web::Data::from(shared.clone());
        let for_instance = data.clone();
        let instance = Server::serve("fake Canvas", instance, move |config| {
            config
                .app_data(for_instance.clone())
                .default_service(web::to(routes::instance));
        });
        let file_store = Server::serve("fake Canvas file store", file_store, move |config| {
            config
                .app_data(data.clone())
                .default_service(web::to(routes::store));
        });
        Self {
            shared,
            _instance: instance,
            _file_store: file_store,
        }
    }

    /// `http://127.0.0.1:<port>`: the Canvas instance (the connector's `API_BASE_URL`; OAuth
    /// is at `/login/oauth2/auth` and `/login/oauth2/token` on it).
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// `http://127.0.0.1:<port>`: the file store downloads are redirected to.
    pub fn file_store_url(&self) -> &str {
        &self.shared.file_store_url
    }

    /// The fake's clock (the real time plus [`Self::advance_clock`]), whole seconds.
    pub fn now(&self) -> DateTime<Utc> {
        self.shared.lock().now()
    }

    /// Moves the fake's clock forward: tokens, codes and download links expire by it.
    pub fn advance_clock(&self, by: Duration) {
        self.shared.lock().clock_offset += span(by);
    }

    /// Registers a developer key (an OAuth client); redirect URIs on its host or a
    /// subdomain are accepted, as Canvas does.
    pub fn add_developer_key(&self, client_id: &str, secret: &str, redirect_uri: &str) {
        self.shared.lock().keys.push(DeveloperKey {
            client_id: client_id.to_owned(),
            secret: secret.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
        });
    }

    /// The user `GET /login/oauth2/auth` approves as from now on.
    pub fn sign_in_as(&self, user: i64) {
        self.shared.lock().signed_in = Some(user);
    }

    /// A fresh access token and refresh token for `user`, as if they had authorized (for
    /// tests that insert a connection directly).
    pub fn issue_tokens(&self, user: i64) -> (String, String) {
        oauth::new_grant(&mut self.shared.lock(), user, None)
    }

    /// How long access tokens issued from now on live (3600 s by default).
    pub fn set_access_token_ttl(&self, ttl: Duration) {
        self.shared.lock().access_token_ttl = span(ttl);
    }

    /// Every access token issued so far expires now (refresh tokens keep working).
    pub fn expire_access_tokens(&self) {
        let mut state = self.shared.lock();
        let past = state.now() - Span::seconds(1);
        for grant in state.grants.iter_mut() {
            grant.expires = past;
        }
    }

    /// Whether the grant holding `token` (an access or a refresh token) was deleted by
    /// `DELETE /login/oauth2/token` or by `replace_tokens`.
    pub fn is_revoked(&self, token: &str) -> bool {
        let state = self.shared.lock();
        state
            .grants
            .iter()
            .any(|g| (g.access == token || g.refresh == token) && g.deleted)
    }

    /// The `grant_type` of every `POST /login/oauth2/token`, oldest first.
    pub fn token_requests(&self) -> Vec<String> {
        self.shared.lock().token_requests.clone()
    }

    /// The next `n` API requests are throttled (before their token is checked).
    pub fn throttle_next(&self, n: usize, kind: Throttle) {
        let mut state = self.shared.lock();
        for _ in 0..n {
            state.books.fail_next(Endpoint::Api, Fault::Throttled(kind));
        }
    }

    /// Queues a fault for the next request of `endpoint` (in order, one per request).
    pub fn fail_next(&self, endpoint: Endpoint, fault: Fault) {
        self.shared.lock().books.fail_next(endpoint, fault);
    }

    /// Faults still queued for `endpoint`.
    pub fn pending_faults(&self, endpoint: Endpoint) -> usize {
        self.shared.lock().books.pending_faults(endpoint)
    }

    /// How long the file-store URLs handed out from now on work (a day by default).
    pub fn set_download_link_ttl(&self, ttl: Duration) {
        self.shared.lock().link_ttl = span(ttl);
    }

    /// Every file-store URL handed out so far stops working.
    pub fn expire_download_links(&self) {
        self.shared.lock().links.clear();
    }

    /// Serves file-store downloads at about this many bytes per second (`None`: at once).
    pub fn set_content_rate(&self, bytes_per_second: Option<u64>) {
        self.shared.lock().books.pace.bytes_per_second = bytes_per_second;
    }

    /// Every request either server received, oldest first ([`Endpoint::host`] tells which).
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
