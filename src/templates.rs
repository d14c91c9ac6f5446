//! Template structs (askama). `XxxPage` renders a whole page on `base.html`; `XxxFragment`
//! is an HTMX fragment. Pages include the fragment templates (files starting with `_`), so
//! the first render and an HTMX swap come from the same markup.

use crate::auth::{csrf, keys};
use crate::models::entities::{knowledge_folder, source_file, user};
use crate::services::source_files::human_size;
use actix_session::Session;
use askama::Template;
use askama_web::WebTemplate;
use serde::{Deserialize, Serialize};

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

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub ctx: PageCtx,
    pub email: String,
    pub next: String,
    pub error: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "setup.html")]
pub struct SetupPage {
    pub ctx: PageCtx,
    pub token: String,
    pub email: String,
    pub errors: std::collections::BTreeMap<String, String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
pub struct HomePage {
    pub ctx: PageCtx,
    pub folders: usize,
    pub connections: usize,
}

#[derive(Template, WebTemplate)]
#[template(path = "folders.html")]
pub struct FoldersPage {
    pub ctx: PageCtx,
    pub folders: Vec<knowledge_folder::Model>,
    pub name: String,
    pub error: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "folder.html")]
pub struct FolderPage {
    pub ctx: PageCtx,
    pub folder: knowledge_folder::Model,
    pub files: FileRows,
    pub max_upload: String,
}

#[derive(Template, WebTemplate)]
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
    pub status: String,
    pub error: Option<String>,
    pub added: String,
}

impl FileRows {
    pub fn from_models(files: &[source_file::Model]) -> Self {
        let rows: Vec<FileRow> = files
            .iter()
            .map(|f| FileRow {
                name: f.name.clone(),
                size: human_size(f.size_bytes.max(0) as u64),
                mime_type: f.mime_type.clone(),
                origin: if f.origin == "upload" {
                    "Uploaded".into()
                } else {
                    f.origin.clone()
                },
                status: f.status.clone(),
                error: f.error.clone(),
                added: f.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            })
            .collect();
        let pending = rows
            .iter()
            .any(|r| !matches!(r.status.as_str(), "ready" | "failed"));
        Self { rows, pending }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "settings.html")]
pub struct SettingsPage {
    pub ctx: PageCtx,
    pub connectors: Vec<ConnectorCard>,
    pub connections: Vec<ConnectionRow>,
}

pub struct ConnectorCard {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub icon: String,
    pub kind: String,
}

pub struct ConnectionRow {
    pub id: i64,
    pub connector: String,
    pub identity: String,
    pub status: String,
    pub connected: String,
    pub last_used: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/index.html")]
pub struct AdminDashboardPage {
    pub ctx: PageCtx,
    pub users: u64,
    pub connections: u64,
    pub connectors: Vec<AdminConnectorRow>,
    pub actions_24h: u64,
    pub errors_24h: u64,
}

pub struct AdminConnectorRow {
    pub slug: String,
    pub name: String,
    pub kind: String,
    pub scoping: String,
    pub is_enabled: bool,
    pub actions: usize,
    pub missing_config: Vec<String>,
}

#[derive(Template, WebTemplate)]
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
