//! Paths the app links to, built in one place (the reverse of `urls.rs`), so a route's
//! shape is spelled once for Rust code and for templates (which call these as
//! `crate::paths::…`). A leaf module: every layer may use it. Ids are numbers and slugs are
//! kebab-case, so nothing here needs escaping; query values that come from users go
//! through `form_urlencoded` where they are added. Ids are taken by value or by reference
//! (templates pass references).

use std::borrow::Borrow;

/// Where a connector's icon is served (from the registry, see `views::icons`).
pub fn connector_icon(slug: &str) -> String {
    format!("/static/connectors/{slug}.svg")
}

/// `/settings`: the user's connections.
pub fn settings() -> &'static str {
    "/settings"
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

/// Cloud import's import request for one connection.
pub fn cloud_import_files(folder_id: impl Borrow<i64>, connection_id: impl Borrow<i64>) -> String {
    let (folder_id, connection_id) = (*folder_id.borrow(), *connection_id.borrow());
    format!("/api/htmx/knowledge-folders/{folder_id}/cloud-import/{connection_id}/import/")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_the_routes() {
        assert_eq!(folder(3), "/knowledge-folders/3/");
        assert_eq!(
            connect_start("google-drive", Some(9), Some(3)),
            "/api/connectors/connect/google-drive/start?connection=9&next=/knowledge-folders/3/"
        );
        assert_eq!(
            connect_start("onedrive", None, None),
            "/api/connectors/connect/onedrive/start"
        );
        assert_eq!(
            connect_manual("postgres", Some(4)),
            "/settings/connect/postgres?connection=4"
        );
        assert_eq!(
            cloud_browse(3, 9),
            "/api/htmx/knowledge-folders/3/cloud-import/9/browse/"
        );
        assert_eq!(oauth_callback("canvas"), "/api/connectors/canvas/callback");
    }
}
