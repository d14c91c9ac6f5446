//! Template structs of the admin pages. Every page extends `admin/layout.html` (the admin
//! sub-navigation; `nav` names the current section). Row fragments (`_…html`) are included by
//! the pages and rendered alone for HTMX swaps, so both come from the same markup.

use crate::templates::PageCtx;
use askama::Template;
use std::collections::BTreeMap;

/// Next/previous links of a keyset-paged list (full URLs with the filters kept).
#[derive(Default)]
pub struct Pager {
    pub prev: Option<String>,
    pub next: Option<String>,
    /// Rows on this page.
    pub shown: usize,
}

#[derive(Template)]
#[template(path = "admin/index.html")]
pub struct AdminDashboardPage {
    pub ctx: PageCtx,
    pub nav: &'static str,
    pub users: u64,
    pub admins: u64,
    pub inactive_users: u64,
    pub connections: u64,
    /// (status, count), most common first.
    pub connections_by_status: Vec<(String, u64)>,
    pub connectors: Vec<AdminConnectorRow>,
    pub actions_24h: u64,
    pub errors_24h: u64,
    /// Audit-log link for the last 24 h's errors.
    pub errors_link: String,
    pub recent_changes: Vec<ChangeRow>,
    /// This process's circuit breakers that are open, probing or counting failures.
    pub breakers: Vec<BreakerRow>,
}

/// A circuit breaker as the dashboard shows it.
pub struct BreakerRow {
    /// The connector's display name (its slug when it is not in the catalog).
    pub connector: String,
    pub host: String,
    /// `open`, `half-open` or `closed`.
    pub state: &'static str,
    pub recent_failures: usize,
    /// `HH:MM` UTC when an open breaker lets its next probe through.
    pub retry_at: Option<String>,
}

impl AdminDashboardPage {
    /// Connectors that are enabled but lack required configuration.
    pub fn needing_config(&self) -> Vec<&AdminConnectorRow> {
        self.connectors
            .iter()
            .filter(|c| !c.missing_config.is_empty())
            .collect()
    }
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

/// A connector as the list, its detail page and the enable switch show it.
pub struct ConnectorSummary {
    pub slug: String,
    pub name: String,
    pub description: String,
    pub icon: String,
    pub kind: String,
    pub scoping: String,
    pub is_enabled: bool,
    /// Compiled into this version (a catalog row can outlive its plugin).
    pub registered: bool,
    pub actions: usize,
    pub missing_config: Vec<String>,
    pub connections: u64,
    /// For the switch's no-JavaScript form post.
    pub csrf: String,
    /// A one-shot message next to the switch, after a toggle.
    pub notice: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/connectors.html")]
pub struct ConnectorsPage {
    pub ctx: PageCtx,
    pub nav: &'static str,
    pub rows: Vec<ConnectorSummary>,
}

/// The enable/disable switch of one connector (HTMX swap).
#[derive(Template)]
#[template(path = "admin/_connector_switch.html")]
pub struct ConnectorSwitchFragment {
    pub s: ConnectorSummary,
}

/// One action of a connector, with its schemas pretty-printed.
pub struct ActionView {
    pub name: String,
    pub description: String,
    pub tags: Vec<String>,
    pub input_schema: String,
    pub output_schema: String,
    pub downloads: bool,
}

#[derive(Template)]
#[template(path = "admin/connector.html")]
pub struct ConnectorPage {
    pub ctx: PageCtx,
    pub nav: &'static str,
    pub s: ConnectorSummary,
    pub version: String,
    pub redirect_uri: Option<String>,
    pub actions: Vec<ActionView>,
    pub config: Vec<ConfigField>,
    /// Whether assistants may use the write actions.
    pub agent_writes: bool,
    /// The actions that make changes (what the switch above governs).
    pub write_actions: Vec<String>,
}

/// One config key on the config page.
pub struct ConfigField {
    pub key: String,
    pub label: String,
    pub help: String,
    pub secret: bool,
    pub required: bool,
    /// Declared by the connector (else a free key).
    pub declared: bool,
    pub default: Option<String>,
    /// The input's value: the stored or posted value of a plain key; always empty for secrets.
    pub value: String,
    /// What is stored, as it may be shown (the mask of a secret); `None` when unset.
    pub stored: Option<String>,
    pub updated: Option<String>,
    pub error: Option<String>,
}

impl ConfigField {
    /// The effective value as the connector sees it, for display (masked for secrets).
    pub fn effective(&self) -> String {
        match (&self.stored, &self.default) {
            (Some(s), _) => s.clone(),
            (None, Some(d)) => format!("{d} (default)"),
            (None, None) => "not set".into(),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/config.html")]
pub struct ConfigPage {
    pub ctx: PageCtx,
    pub nav: &'static str,
    pub s: ConnectorSummary,
    pub redirect_uri: Option<String>,
    pub declared: Vec<ConfigField>,
    pub free: Vec<ConfigField>,
    pub new_key: String,
    pub new_value: String,
    pub new_secret: bool,
    /// Errors of the "add a key" fields (`new_key`, `new_value`) and the form as a whole.
    pub errors: BTreeMap<String, String>,
}

/// A connection as the admin list, its row fragment and the detail page show it. Never a
/// token: credentials are not even decrypted for this.
pub struct AdminConnectionRow {
    pub id: i64,
    pub user_id: i64,
    pub user_email: String,
    pub connector_slug: String,
    pub connector_name: String,
    pub identity: String,
    pub status: String,
    pub created: String,
    pub last_used: String,
    pub expires: String,
    pub csrf: String,
}

#[derive(Template)]
#[template(path = "admin/connections.html")]
pub struct ConnectionsPage {
    pub ctx: PageCtx,
    pub nav: &'static str,
    pub connector: String,
    pub status: String,
    pub user: String,
    pub q: String,
    pub connectors: Vec<(String, String)>,
    pub statuses: Vec<&'static str>,
    pub rows: Vec<AdminConnectionRow>,
    pub pager: Pager,
    pub errors: BTreeMap<String, String>,
}

/// What replaces a connection row after Revoke.
#[derive(Template)]
#[template(path = "admin/_connection_revoked.html")]
pub struct ConnectionRevokedFragment {
    pub id: i64,
    pub message: String,
}

#[derive(Template)]
#[template(path = "admin/connection.html")]
pub struct ConnectionPage {
    pub ctx: PageCtx,
    pub nav: &'static str,
    pub c: AdminConnectionRow,
    pub scopes: String,
    pub updated: String,
    pub last_refresh: String,
    pub refresh_failures: i32,
    pub refresh_lease: String,
    pub last_error: Option<String>,
    pub credentials_version: i64,
    pub rows: Vec<AuditRowView>,
    pub audit_link: String,
}

/// One `connector_audit_log` row as the admin pages show it.
pub struct AuditRowView {
    pub id: i64,
    pub created: String,
    pub user_id: Option<i64>,
    pub user_email: String,
    pub connector: String,
    pub action: String,
    pub status: String,
    pub error_code: String,
    pub error: String,
    pub duration_ms: i64,
    pub connection_id: Option<i64>,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
pub struct AuditPage {
    pub ctx: PageCtx,
    pub nav: &'static str,
    pub user: String,
    pub connector: String,
    pub action: String,
    pub status: String,
    pub from: String,
    pub to: String,
    pub q: String,
    pub connectors: Vec<String>,
    pub actions: Vec<String>,
    pub rows: Vec<AuditRowView>,
    pub pager: Pager,
    pub export_url: String,
    pub errors: BTreeMap<String, String>,
}

#[derive(Template)]
#[template(path = "admin/audit_entry.html")]
pub struct AuditEntryPage {
    pub ctx: PageCtx,
    pub nav: &'static str,
    pub r: AuditRowView,
    pub request: String,
}

/// An account as the users list and its row fragment show it.
pub struct UserRow {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub is_admin: bool,
    pub is_active: bool,
    /// The row of the administrator looking at the page (no demote/deactivate buttons).
    pub is_self: bool,
    pub created: String,
    pub last_login: String,
    pub connections: u64,
    pub csrf: String,
    /// A one-shot result in the row: (level, message).
    pub notice: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
pub struct UsersPage {
    pub ctx: PageCtx,
    pub nav: &'static str,
    pub q: String,
    pub role: String,
    pub state: String,
    pub rows: Vec<UserRow>,
    pub pager: Pager,
}

/// One user row (HTMX swap after a change).
#[derive(Template)]
#[template(path = "admin/_user_row.html")]
pub struct UserRowFragment {
    pub u: UserRow,
}

/// One `admin_audit_log` row.
pub struct ChangeRow {
    pub id: i64,
    pub created: String,
    pub admin: String,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub target_link: Option<String>,
    pub before: String,
    pub after: String,
}

#[derive(Template)]
#[template(path = "admin/changes.html")]
pub struct ChangesPage {
    pub ctx: PageCtx,
    pub nav: &'static str,
    pub target_type: String,
    pub target_id: String,
    pub action: String,
    pub rows: Vec<ChangeRow>,
    pub pager: Pager,
}
