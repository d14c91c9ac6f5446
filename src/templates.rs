//! Template structs (askama). `XxxPage` renders a whole page on `base.html`; `XxxFragment`
//! is an HTMX fragment. Pages include the fragment templates (files starting with `_`), so
//! the first render and an HTMX swap come from the same markup.

use crate::auth::{csrf, keys};
use crate::models::entities::{connection, connector, knowledge_folder, source_file, user};
use crate::models::{ConnectionStatus, SourceFileStatus};
use crate::services::source_files::human_size;
use actix_session::Session;
use askama::Template;
use campuscore_connectors::FieldKind;
use serde::{Deserialize, Serialize};

pub mod mcp;

/// What every page needs: who is logged in, the CSRF token, one-shot messages.
pub struct PageCtx {
    pub user: Option<NavUser>,
    pub csrf: String,
    pub flashes: Vec<Flash>,
}

/// The logged-in user as the navigation shows them.
pub struct NavUser {
    pub email: String,
    pub is_admin: bool,
}

/// A one-shot message shown at the top of the next page.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Flash {
    /// `success`, `info` or `error`.
    pub level: String,
    pub message: String,
}

impl PageCtx {
    /// Build the context, taking (and clearing) pending flash messages.
    pub fn new(session: &Session, user: Option<&user::Model>) -> Self {
        let flashes = session
            .remove_as::<Vec<Flash>>(keys::FLASH)
            .and_then(Result::ok)
            .unwrap_or_default();
        Self {
            user: user.map(|u| NavUser {
                email: u.email.clone(),
                is_admin: u.is_admin,
            }),
            csrf: csrf::token(session),
            flashes,
        }
    }

    /// A context that reads nothing: no user, no token, no flashes, and the session left
    /// untouched — for the page that says the database is away, which must neither wait for
    /// it nor give the session middleware a change to save into it.
    pub fn bare() -> Self {
        Self {
            user: None,
            csrf: String::new(),
            flashes: Vec::new(),
        }
    }
}

/// Queue a message for the next page.
pub fn flash(session: &Session, level: &str, message: impl Into<String>) {
    let mut list = session
        .get::<Vec<Flash>>(keys::FLASH)
        .ok()
        .flatten()
        .unwrap_or_default();
    list.push(Flash {
        level: level.into(),
        message: message.into(),
    });
    let _ = session.insert(keys::FLASH, list);
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub ctx: PageCtx,
    pub email: String,
    pub next: String,
    pub error: Option<String>,
    /// Which ways to sign in the page offers.
    pub options: LoginOptions,
}

/// The ways to sign in: campus sign-in (first, when configured) and the password form
/// (unless `CAMPUSCORE_LOCAL_LOGIN=false`).
pub struct LoginOptions {
    /// The institution's name, when campus sign-in is configured.
    pub institution: Option<String>,
    /// Whether the password form is shown (and its POST accepted).
    pub local_login: bool,
}

impl LoginOptions {
    pub fn of(settings: &crate::config::Settings) -> Self {
        Self {
            institution: settings.oidc.as_ref().map(|o| o.institution_name.clone()),
            local_login: settings.local_login,
        }
    }

    /// The campus sign-in link, coming back to `next` afterwards.
    pub fn sso_href(&self, next: &str) -> String {
        let start = crate::paths::oidc_start();
        if next.is_empty() {
            return start.to_owned();
        }
        let next: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
        format!("{start}?next={next}")
    }
}

#[derive(Template)]
#[template(path = "setup.html")]
pub struct SetupPage {
    pub ctx: PageCtx,
    pub token: String,
    pub email: String,
    pub errors: std::collections::BTreeMap<String, String>,
}

#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage {
    pub ctx: PageCtx,
    pub folders: usize,
    pub connections: usize,
}

#[derive(Template)]
#[template(path = "folders.html")]
pub struct FoldersPage {
    pub ctx: PageCtx,
    pub folders: Vec<knowledge_folder::Model>,
    pub name: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "folder.html")]
pub struct FolderPage {
    pub ctx: PageCtx,
    pub folder: knowledge_folder::Model,
    pub files: FileRows,
    pub max_upload: String,
    /// The user's storage: "1.2 GiB of 10.0 GiB".
    pub storage: String,
}

#[derive(Template)]
#[template(path = "_files.html")]
pub struct FilesFragment {
    pub folder: knowledge_folder::Model,
    pub files: FileRows,
}

/// The rows of a folder's file table.
pub struct FileRows {
    pub rows: Vec<FileRow>,
    /// Some file is still being processed: the table polls for updates.
    pub pending: bool,
}

pub struct FileRow {
    pub name: String,
    pub size: String,
    pub mime_type: String,
    pub origin: String,
    pub status: SourceFileStatus,
    pub error: Option<String>,
    /// While an import downloads: "12.0 MiB of 40.0 MiB" and the percentage.
    pub progress: Option<(String, u8)>,
    pub added: String,
}

/// Download progress of an import in flight, when its size is known.
fn progress(f: &source_file::Model) -> Option<(String, u8)> {
    let received = f
        .bytes_received
        .filter(|_| f.status == SourceFileStatus::Downloading)?
        .max(0) as u64;
    let total = f.size_bytes.max(0) as u64;
    if total == 0 {
        return Some((human_size(received), 0));
    }
    let percent = (received.min(total) * 100 / total) as u8;
    Some((
        format!("{} of {}", human_size(received), human_size(total)),
        percent,
    ))
}

impl FileRows {
    /// `service_name` gives the name people know a connector slug by.
    pub fn from_models(
        files: &[source_file::Model],
        service_name: impl Fn(&str) -> Option<&'static str>,
    ) -> Self {
        let rows: Vec<FileRow> = files
            .iter()
            .map(|f| FileRow {
                name: f.name.clone(),
                size: human_size(f.size_bytes.max(0) as u64),
                mime_type: f.mime_type.clone(),
                origin: if f.origin == "upload" {
                    "Uploaded".into()
                } else {
                    service_name(&f.origin).map_or_else(|| f.origin.clone(), str::to_owned)
                },
                status: f.status,
                error: f.error.clone(),
                progress: progress(f),
                added: f.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            })
            .collect();
        let pending = rows.iter().any(|r| r.status.is_pending());
        Self { rows, pending }
    }
}

#[derive(Template)]
#[template(path = "settings.html")]
pub struct SettingsPage {
    pub ctx: PageCtx,
    pub connectors: Vec<ConnectorCard>,
    pub connections: Vec<ConnectionRow>,
    pub tokens: TokensSection,
    /// "Connected assistants" (MCP grants), from `_assistants.html`.
    pub assistants: mcp::Assistants,
}

/// The personal access tokens on the settings page (its own fragment, `#tokens`).
#[derive(Template)]
#[template(path = "_tokens.html")]
pub struct TokensSection {
    pub csrf: String,
    pub rows: Vec<TokenRow>,
    /// A token just created, shown this once: (name, token).
    pub created: Option<(String, String)>,
    /// What went wrong with the last create, if anything.
    pub error: Option<String>,
}

/// One personal access token, as the settings page lists it (never the token itself).
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub scopes: String,
    pub created: String,
    pub expires: String,
    pub expired: bool,
    pub last_used: String,
}

/// Whether assistants may make changes through a connection (for connectors that have
/// write actions).
pub struct AssistantWrites {
    /// The user's switch.
    pub on: bool,
    /// The administrator's switch for the connector.
    pub allowed: bool,
}

/// A connector the user can connect, on the settings page.
pub struct ConnectorCard {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub icon: String,
    /// How connecting works, in words.
    pub kind: String,
    /// Whether an administrator has provided the required config.
    pub configured: bool,
}

/// One of my connections, as the settings page and its HTMX row fragment show it.
pub struct ConnectionRow {
    pub id: i64,
    pub connector: String,
    pub slug: String,
    pub icon: String,
    pub identity: String,
    pub status: ConnectionStatus,
    pub status_label: String,
    pub needs_reauth: bool,
    pub last_error: Option<String>,
    pub connected: String,
    pub last_used: String,
    /// A one-shot result shown in the row (after Test): (level, message).
    pub notice: Option<(String, String)>,
    /// Whether the connector offers the query console (`run_query`).
    pub can_query: bool,
    /// The "let assistants make changes" switch, where the connector can make changes.
    pub assistant_writes: Option<AssistantWrites>,
}

impl ConnectionRow {
    pub fn new(c: &connection::Model, connector: Option<&connector::Model>) -> Self {
        let fmt = |t: Option<chrono::DateTime<chrono::Utc>>| {
            t.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_else(|| "never".into())
        };
        let status_label = c.status.as_str().replace('_', " ");
        Self {
            id: c.id,
            connector: connector.map(|k| k.name.clone()).unwrap_or_default(),
            slug: connector.map(|k| k.slug.clone()).unwrap_or_default(),
            icon: connector
                .map(|k| k.icon.clone())
                .unwrap_or_else(|| "/static/icons/plug.svg".into()),
            identity: c.service_identity.clone().unwrap_or_else(|| "—".into()),
            needs_reauth: c.status == ConnectionStatus::NeedsReauth,
            status: c.status,
            status_label,
            last_error: c.last_error.clone(),
            connected: fmt(Some(c.created_at)),
            last_used: fmt(c.last_used_at),
            notice: None,
            can_query: false,
            assistant_writes: None,
        }
    }
}

/// One connection row, swapped in place by Test.
#[derive(Template)]
#[template(path = "_connection_row.html")]
pub struct ConnectionRowFragment {
    pub c: ConnectionRow,
}

/// What replaces a row after Disconnect.
#[derive(Template)]
#[template(path = "_disconnected_row.html")]
pub struct DisconnectedRowFragment {
    pub id: i64,
    pub message: String,
}

/// One input of a manual connector's credential form.
pub struct FormInput {
    pub name: String,
    pub label: String,
    pub help: String,
    /// `text`, `password`, `number`, `url`, `select` or `checkbox`.
    pub kind: String,
    pub required: bool,
    pub placeholder: String,
    /// The value to show again (never for passwords).
    pub value: String,
    pub checked: bool,
    pub options: Vec<(String, String, bool)>,
    pub error: Option<String>,
}

/// The credential form of a manual connector, with values and errors.
pub struct ManualFormView {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub icon: String,
    pub action: String,
    pub reconnect: bool,
    pub inputs: Vec<FormInput>,
    /// An error not tied to a field (the service was unreachable, …).
    pub general_error: Option<String>,
    /// The CSRF token for the plain (non-HTMX) form post.
    pub csrf: String,
}

impl ManualFormView {
    /// The form for `connector`, refilled from `input` (secrets excepted) with `errors`.
    pub fn new(
        connector: &crate::services::connections::ResolvedConnector,
        reconnect: Option<i64>,
        input: &std::collections::HashMap<String, String>,
        mut errors: std::collections::BTreeMap<String, String>,
    ) -> Self {
        let spec = connector.plugin.spec();
        let inputs = spec
            .form
            .iter()
            .map(|f| {
                let secret = f.kind.is_secret();
                let value = if secret {
                    String::new()
                } else {
                    input
                        .get(f.name)
                        .cloned()
                        .or_else(|| f.default.map(str::to_owned))
                        .unwrap_or_default()
                };
                let options = match f.kind {
                    FieldKind::Select(options) => options
                        .iter()
                        .map(|(v, l)| ((*v).to_owned(), (*l).to_owned(), *v == value))
                        .collect(),
                    _ => Vec::new(),
                };
                FormInput {
                    name: f.name.to_owned(),
                    label: f.label.to_owned(),
                    help: f.help.to_owned(),
                    kind: f.kind.as_str().to_owned(),
                    required: f.required,
                    placeholder: f.placeholder.unwrap_or_default().to_owned(),
                    checked: matches!(value.as_str(), "on" | "true" | "1" | "yes"),
                    value,
                    options,
                    error: errors.remove(f.name),
                }
            })
            .collect();
        let general_error = if errors.is_empty() {
            None
        } else {
            Some(errors.into_values().collect::<Vec<_>>().join(" "))
        };
        let action = crate::paths::connect_manual(spec.slug, reconnect);
        Self {
            slug: spec.slug.to_owned(),
            name: connector.row.name.clone(),
            description: connector.row.description.clone(),
            icon: connector.row.icon.clone(),
            action,
            reconnect: reconnect.is_some(),
            inputs,
            general_error,
            csrf: String::new(),
        }
    }
}

/// The query console of a connection offering `run_query`.
#[derive(Template)]
#[template(path = "query.html")]
pub struct QueryPage {
    pub ctx: PageCtx,
    pub connection_id: i64,
    pub connector: String,
    pub identity: String,
    /// `(schema.table, "~N rows")` for the sidebar.
    pub tables: Vec<(String, String)>,
    pub sql: String,
    pub result: Option<QueryResult>,
}

/// A query's result as the console shows it.
#[derive(Default)]
pub struct QueryResult {
    /// `(name, type)` per column.
    pub columns: Vec<(String, String)>,
    /// Cells as text; `None` is NULL.
    pub rows: Vec<Vec<Option<String>>>,
    pub row_count: u64,
    pub elapsed_ms: u64,
    /// Why only part of the result is shown.
    pub truncated: Option<String>,
    pub notes: Vec<String>,
    /// The database's (or the connector's) message when the query failed.
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "_query_result.html")]
pub struct QueryResultFragment {
    pub result: QueryResult,
}

#[derive(Template)]
#[template(path = "connect_manual.html")]
pub struct ManualConnectPage {
    pub ctx: PageCtx,
    pub form: ManualFormView,
}

#[derive(Template)]
#[template(path = "_manual_form.html")]
pub struct ManualFormFragment {
    pub form: ManualFormView,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub ctx: PageCtx,
    pub status: u16,
    pub title: String,
    pub message: String,
}

#[derive(Template)]
#[template(path = "_error.html")]
pub struct ErrorFragment {
    pub title: String,
    pub message: String,
    pub retry_after: Option<u64>,
}
