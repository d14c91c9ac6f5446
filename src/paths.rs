//! Paths the app links to, posts to and redirects to, built in one place (the reverse of
//! `urls.rs`: one function per route, named after it), so a route's shape is spelled once for
//! Rust code and for templates (which call these as `crate::paths::…`). A leaf module: every
//! layer may use it. Ids are numbers and slugs are kebab-case, so path segments need no
//! escaping; query parameters a link carries are typed methods of the list's link
//! (`admin_audit().user(7)`) and are form-encoded. Ids are taken by value or by reference
//! (templates pass references). The tests match every function against `urls.rs`.

use chrono::NaiveDate;
use std::borrow::Borrow;
use std::fmt;

/// `/`: the start page.
pub fn home() -> &'static str {
    "/"
}

/// `/login` (GET: the form; POST: logging in); `.next(path)` comes back to `path` afterwards.
pub fn login() -> LoginLink {
    LoginLink(Link::new("/login"))
}

/// `/logout` (POST).
pub fn logout() -> &'static str {
    "/logout"
}

/// `/auth/oidc/start`: campus sign-in, to the identity provider; `?next=` comes back there.
pub fn oidc_start() -> &'static str {
    "/auth/oidc/start"
}

/// `/auth/oidc/callback`: where the identity provider sends the browser back (the redirect
/// URI registered at the provider is `$CAMPUSCORE_BASE_URL` + this).
pub fn oidc_callback() -> &'static str {
    "/auth/oidc/callback"
}

/// `/auth/oidc/backchannel-logout` (POST, by the identity provider).
pub fn oidc_backchannel_logout() -> &'static str {
    "/auth/oidc/backchannel-logout"
}

/// A one-time sign-in link (the break-glass way in; `campuscore sso signin-link`).
pub fn signin_link(token: &str) -> String {
    format!("/auth/link/{token}")
}

/// The one-time page that creates the first admin account.
pub fn setup(token: &str) -> String {
    format!("/setup/{token}")
}

/// `/settings`: the user's connections.
pub fn settings() -> &'static str {
    "/settings"
}

/// Tests a connection of the user's (POST).
pub fn connection_test(connection_id: impl Borrow<i64>) -> String {
    let connection_id = *connection_id.borrow();
    format!("/settings/connections/{connection_id}/test")
}

/// Disconnects a connection of the user's (POST).
pub fn connection_disconnect(connection_id: impl Borrow<i64>) -> String {
    let connection_id = *connection_id.borrow();
    format!("/settings/connections/{connection_id}/disconnect")
}

/// The switch that lets assistants make changes through a connection.
pub fn connection_agent_writes(connection_id: impl Borrow<i64>) -> String {
    let connection_id = *connection_id.borrow();
    format!("/settings/connections/{connection_id}/agent-writes")
}

/// The MCP endpoint.
pub fn mcp() -> &'static str {
    "/mcp"
}

/// The user's personal access tokens (POST: create one).
pub fn tokens() -> &'static str {
    "/settings/tokens"
}

/// Revokes one of the user's personal access tokens.
pub fn token_revoke(token_id: impl Borrow<i64>) -> String {
    let token_id = *token_id.borrow();
    format!("/settings/tokens/{token_id}/revoke")
}

/// The query page of a connection (GET: the page; POST: runs the query).
pub fn connection_query(connection_id: impl Borrow<i64>) -> String {
    let connection_id = *connection_id.borrow();
    format!("/settings/connections/{connection_id}/query")
}

/// Revokes one of the user's connected assistants (an MCP grant; POST).
pub fn assistant_revoke(grant_id: impl Borrow<i64>) -> String {
    let grant_id = *grant_id.borrow();
    format!("/settings/assistants/{grant_id}/revoke")
}

/// Protected resource metadata of the whole site (RFC 9728), for clients that look at the
/// host's root.
pub fn oauth_protected_resource() -> &'static str {
    "/.well-known/oauth-protected-resource"
}

/// Protected resource metadata of the MCP endpoint (RFC 9728), which a 401 from it names.
pub fn oauth_protected_resource_mcp() -> &'static str {
    "/.well-known/oauth-protected-resource/mcp"
}

/// Authorization server metadata (RFC 8414).
pub fn oauth_authorization_server() -> &'static str {
    "/.well-known/oauth-authorization-server"
}

/// The authorization endpoint (GET: the consent page; POST: the user's decision).
pub fn oauth_authorize() -> &'static str {
    "/oauth/authorize"
}

/// The token endpoint (POST).
pub fn oauth_token() -> &'static str {
    "/oauth/token"
}

/// Dynamic client registration (RFC 7591; POST).
pub fn oauth_register() -> &'static str {
    "/oauth/register"
}

/// Token revocation (RFC 7009; POST).
pub fn oauth_revoke() -> &'static str {
    "/oauth/revoke"
}

/// The user's knowledge folders (GET: the list; POST: creates one).
pub fn folders() -> &'static str {
    "/knowledge-folders/"
}

/// A knowledge folder's page.
pub fn folder(folder_id: impl Borrow<i64>) -> String {
    let folder_id = *folder_id.borrow();
    format!("/knowledge-folders/{folder_id}/")
}

/// A knowledge folder's file list (GET: the fragment; POST: an upload).
pub fn folder_files(folder_id: impl Borrow<i64>) -> String {
    let folder_id = *folder_id.borrow();
    format!("/knowledge-folders/{folder_id}/files")
}

/// The manual credential form of `slug`; with `connection`, the form that updates it.
pub fn connect_manual(slug: &str, connection: Option<i64>) -> String {
    match connection {
        Some(id) => format!("/settings/connect/{slug}?connection={id}"),
        None => format!("/settings/connect/{slug}"),
    }
}

/// Starts connecting `slug` (OAuth or the manual form); with `connection`, reconnects it;
/// with `back_to_folder`, comes back to that folder afterwards.
pub fn connect_start(slug: &str, connection: Option<i64>, back_to_folder: Option<i64>) -> String {
    let mut query = Vec::new();
    if let Some(id) = connection {
        query.push(format!("connection={id}"));
    }
    if let Some(folder_id) = back_to_folder {
        query.push(format!("next={}", folder(folder_id)));
    }
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{}", query.join("&"))
    };
    format!("/api/connectors/connect/{slug}/start{query}")
}

/// The OAuth redirect URI's path for `slug` (DESIGN §3).
pub fn oauth_callback(slug: &str) -> String {
    format!("/api/connectors/{slug}/callback")
}

/// Cloud import's list of services for a folder.
pub fn cloud_import(folder_id: impl Borrow<i64>) -> String {
    let folder_id = *folder_id.borrow();
    format!("/api/htmx/knowledge-folders/{folder_id}/cloud-import/")
}

/// Cloud import's browser of one connection (without query).
pub fn cloud_browse(folder_id: impl Borrow<i64>, connection_id: impl Borrow<i64>) -> String {
    let (folder_id, connection_id) = (*folder_id.borrow(), *connection_id.borrow());
    format!("/api/htmx/knowledge-folders/{folder_id}/cloud-import/{connection_id}/browse/")
}

/// Whether `path` has the shape of [`cloud_browse`]'s (any two segments where its ids go):
/// the requests the session layer may serve without reading the session's row, because
/// their handler confirms it (`auth::session_store`). A path it misses is served the usual
/// way; one it takes that routes elsewhere is confirmed by that handler's extractor.
pub fn is_cloud_browse(path: &str) -> bool {
    let segment = |s: &str| !s.is_empty() && !s.contains('/');
    path.strip_prefix("/api/htmx/knowledge-folders/")
        .and_then(|rest| rest.strip_suffix("/browse/"))
        .and_then(|rest| rest.split_once("/cloud-import/"))
        .is_some_and(|(folder, connection)| segment(folder) && segment(connection))
}

/// Cloud import's import request for one connection.
pub fn cloud_import_files(folder_id: impl Borrow<i64>, connection_id: impl Borrow<i64>) -> String {
    let (folder_id, connection_id) = (*folder_id.borrow(), *connection_id.borrow());
    format!("/api/htmx/knowledge-folders/{folder_id}/cloud-import/{connection_id}/import/")
}

/// The admin dashboard.
pub fn admin() -> &'static str {
    "/admin/"
}

/// The admin list of connectors.
pub fn admin_connectors() -> &'static str {
    "/admin/connectors/"
}

/// An admin's page of a connector.
pub fn admin_connector(slug: &str) -> String {
    format!("/admin/connectors/{slug}/")
}

/// An admin's config page of a connector.
pub fn admin_connector_config(slug: &str) -> String {
    format!("/admin/connectors/{slug}/config")
}

/// An admin's enable switch of a connector.
pub fn admin_connector_enabled(slug: &str) -> String {
    format!("/admin/connectors/{slug}/enabled")
}

/// The admin switch that lets assistants use a connector's write tools.
pub fn admin_connector_agent_writes(slug: &str) -> String {
    format!("/admin/connectors/{slug}/agent-writes")
}

/// The admin list of connections, filtered by what the link carries
/// (`admin_connections().user(7)`).
pub fn admin_connections() -> AdminConnectionsLink {
    AdminConnectionsLink(Link::new("/admin/connections/"))
}

/// An admin's page of a connection.
pub fn admin_connection(connection_id: impl Borrow<i64>) -> String {
    let connection_id = *connection_id.borrow();
    format!("/admin/connections/{connection_id}/")
}

/// An admin's revocation of a connection (POST).
pub fn admin_connection_revoke(connection_id: impl Borrow<i64>) -> String {
    let connection_id = *connection_id.borrow();
    format!("/admin/connections/{connection_id}/revoke")
}

/// The audit log, filtered by what the link carries (`admin_audit().connector("canvas")`).
pub fn admin_audit() -> AdminAuditLink {
    AdminAuditLink(Link::new("/admin/audit/"))
}

/// The audit log as CSV (the list's filters are appended by the list).
pub fn admin_audit_export() -> &'static str {
    "/admin/audit/export.csv"
}

/// One audit log entry.
pub fn admin_audit_entry(entry_id: impl Borrow<i64>) -> String {
    let entry_id = *entry_id.borrow();
    format!("/admin/audit/{entry_id}/")
}

/// The admin list of users, filtered by what the link carries (`admin_users().search(email)`).
pub fn admin_users() -> AdminUsersLink {
    AdminUsersLink(Link::new("/admin/users/"))
}

/// Grants or removes a user's admin rights (POST).
pub fn admin_user_admin(user_id: impl Borrow<i64>) -> String {
    let user_id = *user_id.borrow();
    format!("/admin/users/{user_id}/admin")
}

/// Activates or deactivates a user (POST).
pub fn admin_user_active(user_id: impl Borrow<i64>) -> String {
    let user_id = *user_id.borrow();
    format!("/admin/users/{user_id}/active")
}

/// The log of admin changes.
pub fn admin_changes() -> &'static str {
    "/admin/changes/"
}

/// Where a connector's icon is served (from the registry, see `views::icons`).
pub fn connector_icon(slug: &str) -> String {
    format!("/static/connectors/{slug}.svg")
}

/// A path and the query parameters a link carries, shown as `path?a=1&b=2`: values are
/// form-encoded in the order they were added, empty ones left out (as the lists read them).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Link {
    path: &'static str,
    query: Vec<(&'static str, String)>,
}

impl Link {
    fn new(path: &'static str) -> Self {
        Self {
            path,
            query: Vec::new(),
        }
    }

    fn with(mut self, key: &'static str, value: impl fmt::Display) -> Self {
        let value = value.to_string();
        if !value.is_empty() {
            self.query.push((key, value));
        }
        self
    }
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.path)?;
        if !self.query.is_empty() {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            query.extend_pairs(&self.query);
            write!(f, "?{}", query.finish())?;
        }
        Ok(())
    }
}

/// Route-specific links: each takes only the query parameters its route reads.
macro_rules! typed_links {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct $name(Link);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    )*};
}

typed_links! {
    /// A link to `/login`.
    LoginLink;
    /// A link to the admin list of connections.
    AdminConnectionsLink;
    /// A link to the audit log.
    AdminAuditLink;
    /// A link to the admin list of users.
    AdminUsersLink;
}

impl LoginLink {
    /// Where to go once logged in (a path on this site).
    pub fn next(self, path: &str) -> Self {
        Self(self.0.with("next", path))
    }
}

impl AdminConnectionsLink {
    /// Only this user's connections.
    pub fn user(self, user_id: impl Borrow<i64>) -> Self {
        Self(self.0.with("user", user_id.borrow()))
    }

    /// Only connections to this connector.
    pub fn connector(self, slug: &str) -> Self {
        Self(self.0.with("connector", slug))
    }
}

impl AdminAuditLink {
    /// Only this user's actions.
    pub fn user(self, user_id: impl Borrow<i64>) -> Self {
        Self(self.0.with("user", user_id.borrow()))
    }

    /// Only actions of this connector.
    pub fn connector(self, slug: &str) -> Self {
        Self(self.0.with("connector", slug))
    }

    /// Only actions with this outcome (`success`, `error`).
    pub fn status(self, status: &str) -> Self {
        Self(self.0.with("status", status))
    }

    /// Only actions from this day on.
    pub fn from(self, day: NaiveDate) -> Self {
        Self(self.0.with("from", day.format("%Y-%m-%d")))
    }

    /// Entries matching this text (an id, a name, an error).
    pub fn search(self, q: impl fmt::Display) -> Self {
        Self(self.0.with("q", q))
    }
}

impl AdminUsersLink {
    /// Users matching this text (an id or part of an email).
    pub fn search(self, q: impl fmt::Display) -> Self {
        Self(self.0.with("q", q))
    }
}

#[cfg(test)]
#[path = "paths_tests.rs"]
mod tests;
