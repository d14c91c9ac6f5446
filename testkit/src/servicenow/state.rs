//! The fake instance's records (one list of rows per table, every value a string), the
//! roles, knowledge-base readers and business-rule errors tests set, the OAuth registry,
//! codes and tokens, the clock, and the state the server and the handle share.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Duration as Span, Timelike as _, Utc};

use super::errors::{Endpoint, Fault};
use super::schema::{self, Kind, TASK_TABLES};
use crate::upstream::Bookkeeping;

/// One record: field name → raw value (`sys_id` included).
pub(super) type Row = BTreeMap<String, String>;

/// An OAuth client in the Application Registry.
pub(super) struct Client {
    pub(super) client_id: String,
    pub(super) secret: String,
    pub(super) redirect_uri: String,
}

/// An authorization code waiting to be exchanged.
pub(super) struct Code {
    pub(super) user: String,
    pub(super) client_id: String,
    pub(super) redirect_uri: String,
    /// The PKCE `code_challenge` (S256), when one was sent.
    pub(super) challenge: Option<String>,
    pub(super) expires: DateTime<Utc>,
}

/// Whether a token is an access or a refresh token (ServiceNow keeps both as rows of
/// `oauth_credential`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TokenKind {
    Access,
    Refresh,
}

/// One issued token.
pub(super) struct Token {
    pub(super) value: String,
    pub(super) kind: TokenKind,
    pub(super) user: String,
    /// `None` for tokens a test issued with `issue_tokens`.
    pub(super) client_id: Option<String>,
    pub(super) expires: DateTime<Utc>,
    pub(super) revoked: bool,
    /// For an access token: the refresh token it was issued with (revoking that ends it).
    pub(super) refresh: Option<String>,
}

pub(super) struct State {
    /// Table name → rows, oldest first.
    pub(super) tables: HashMap<&'static str, Vec<Row>>,
    /// User sys_id → roles (`itil`, `knowledge`, `admin`…).
    pub(super) roles: HashMap<String, Vec<String>>,
    /// Knowledge base sys_id → the users who may read it (absent: everyone).
    pub(super) kb_readers: HashMap<String, Vec<String>>,
    /// Table → the detail every write to it fails with, as an aborting business rule would.
    pub(super) business_rule_errors: HashMap<String, String>,
    /// The next number per prefix (`INC` → 10001).
    numbers: HashMap<&'static str, u32>,
    pub(super) clients: Vec<Client>,
    pub(super) codes: HashMap<String, Code>,
    pub(super) tokens: Vec<Token>,
    /// The user `GET /oauth_auth.do` approves as.
    pub(super) signed_in: Option<String>,
    /// The `grant_type` of every `POST /oauth_token.do`, oldest first.
    pub(super) token_requests: Vec<String>,
    pub(super) access_token_ttl: Span,
    pub(super) refresh_token_ttl: Span,
    /// Whether a refresh also hands out a new refresh token (and ends the old one).
    pub(super) rotate_refresh_tokens: bool,
    /// The `Retry-After` of throttled answers, in seconds.
    pub(super) retry_after: u64,
    /// Added to the real time: tests move the fake's clock forward.
    pub(super) clock_offset: Span,
    pub(super) books: Bookkeeping<Endpoint, Fault>,
}

/// The state the server and the handle share, and where the instance is reached.
pub(super) struct Shared {
    pub(super) state: Mutex<State>,
    /// `http://127.0.0.1:<port>`.
    pub(super) base_url: String,
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    pub(super) fn new() -> Self {
        Self {
            tables: schema::tables().map(|t| (t, Vec::new())).collect(),
            roles: HashMap::new(),
            kb_readers: HashMap::new(),
            business_rule_errors: HashMap::new(),
            numbers: HashMap::new(),
            clients: Vec::new(),
            codes: HashMap::new(),
            tokens: Vec::new(),
            signed_in: None,
            token_requests: Vec::new(),
            access_token_ttl: Span::seconds(1800),
            refresh_token_ttl: Span::days(100),
            rotate_refresh_tokens: false,
            retry_after: 1,
            clock_offset: Span::zero(),
            books: Bookkeeping::new(),
        }
    }

    /// The fake's time: the real time (whole seconds) plus the offset tests advanced it by.
    pub(super) fn now(&self) -> DateTime<Utc> {
        let now = Utc::now() + self.clock_offset;
        now.with_nanosecond(0).unwrap_or(now)
    }

    /// The next number with `prefix`: `INC0010001`, `INC0010002`…
    pub(super) fn next_number(&mut self, prefix: &'static str) -> String {
        let next = self.numbers.entry(prefix).or_insert(10_001);
        let number = format!("{prefix}{:07}", *next);
        *next += 1;
        number
    }

    pub(super) fn rows(&self, table: &str) -> &[Row] {
        self.tables.get(table).map_or(&[], Vec::as_slice)
    }

    pub(super) fn row(&self, table: &str, sys_id: &str) -> Option<&Row> {
        self.rows(table).iter().find(|r| get(r, "sys_id") == sys_id)
    }

    pub(super) fn row_mut(&mut self, table: &str, sys_id: &str) -> Option<&mut Row> {
        self.tables
            .get_mut(table)?
            .iter_mut()
            .find(|r| get(r, "sys_id") == sys_id)
    }

    /// The record a reference to `target` with this sys_id points at, and its table
    /// (`task` looks in every task table).
    pub(super) fn referenced(&self, target: &str, sys_id: &str) -> Option<(&'static str, &Row)> {
        if sys_id.is_empty() {
            return None;
        }
        let candidates: &[&str] = if target == "task" {
            TASK_TABLES
        } else {
            std::slice::from_ref(&target)
        };
        candidates.iter().find_map(|t| {
            let table = schema::table(t)?;
            self.row(table, sys_id).map(|row| (table, row))
        })
    }

    /// The value of `field` on `row` of `table`, following one reference for a dot-walked
    /// name (`caller_id.email`); `None` when the table has no such field.
    pub(super) fn walk(&self, table: &str, row: &Row, field: &str) -> Option<String> {
        match field.split_once('.') {
            None => schema::kind(table, field).map(|_| get(row, field).to_owned()),
            Some((reference, rest)) => {
                let Some(Kind::Reference(target)) = schema::kind(table, reference) else {
                    return None;
                };
                let target_table = if target == "task" { "incident" } else { target };
                schema::kind(target_table, rest)?;
                let value = self.referenced(target, get(row, reference));
                Some(
                    value
                        .map(|(_, r)| get(r, rest).to_owned())
                        .unwrap_or_default(),
                )
            }
        }
    }

    /// A user's roles.
    pub(super) fn roles_of(&self, user: &str) -> Vec<String> {
        self.roles.get(user).cloned().unwrap_or_default()
    }
}

/// A field's raw value (empty when unset).
pub(super) fn get<'a>(row: &'a Row, field: &str) -> &'a str {
    row.get(field).map_or("", String::as_str)
}

/// A time as ServiceNow writes it: `2026-12-01 10:00:00` (UTC here).
pub(super) fn glide_time(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// A new sys_id: 32 lowercase hex digits.
pub(super) fn new_sys_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
