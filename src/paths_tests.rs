//! Every path function against the route table: a renamed or reshaped route in `urls.rs`
//! fails here rather than as a dead link on a page.

use super::*;

/// Each path function (by name), one of its outputs, and the route in `urls.rs` it must match.
fn table() -> Vec<(&'static str, String, &'static str)> {
    let day = NaiveDate::from_ymd_opt(2025, 3, 9).expect("a valid date");
    vec![
        ("home", home().to_owned(), "/"),
        ("login", login().next("/settings").to_string(), "/login"),
        ("logout", logout().to_owned(), "/logout"),
        ("setup", setup("tok-en_1"), "/setup/{token}"),
        ("oidc_start", oidc_start().to_owned(), "/auth/oidc/start"),
        (
            "oidc_callback",
            oidc_callback().to_owned(),
            "/auth/oidc/callback",
        ),
        (
            "oidc_backchannel_logout",
            oidc_backchannel_logout().to_owned(),
            "/auth/oidc/backchannel-logout",
        ),
        ("signin_link", signin_link("tok-en_1"), "/auth/link/{token}"),
        ("settings", settings().to_owned(), "/settings"),
        (
            "connect_manual",
            connect_manual("postgres", Some(4)),
            "/settings/connect/{slug}",
        ),
        (
            "connection_test",
            connection_test(4),
            "/settings/connections/{connection_id}/test",
        ),
        (
            "connection_disconnect",
            connection_disconnect(4),
            "/settings/connections/{connection_id}/disconnect",
        ),
        (
            "connection_agent_writes",
            connection_agent_writes(4),
            "/settings/connections/{connection_id}/agent-writes",
        ),
        ("tokens", tokens().to_owned(), "/settings/tokens"),
        ("mcp", mcp().to_owned(), "/mcp"),
        (
            "token_revoke",
            token_revoke(7),
            "/settings/tokens/{token_id}/revoke",
        ),
        (
            "connection_query",
            connection_query(4),
            "/settings/connections/{connection_id}/query",
        ),
        (
            "connect_start",
            connect_start("google-drive", Some(9), Some(3)),
            "/api/connectors/connect/{slug}/start",
        ),
        (
            "oauth_callback",
            oauth_callback("canvas"),
            "/api/connectors/{slug}/callback",
        ),
        (
            "assistant_revoke",
            assistant_revoke(5),
            "/settings/assistants/{grant_id}/revoke",
        ),
        (
            "oauth_protected_resource",
            oauth_protected_resource().to_owned(),
            "/.well-known/oauth-protected-resource",
        ),
        (
            "oauth_protected_resource_mcp",
            oauth_protected_resource_mcp().to_owned(),
            "/.well-known/oauth-protected-resource/mcp",
        ),
        (
            "oauth_authorization_server",
            oauth_authorization_server().to_owned(),
            "/.well-known/oauth-authorization-server",
        ),
        (
            "oauth_authorize",
            oauth_authorize().to_owned(),
            "/oauth/authorize",
        ),
        ("oauth_token", oauth_token().to_owned(), "/oauth/token"),
        (
            "oauth_register",
            oauth_register().to_owned(),
            "/oauth/register",
        ),
        ("oauth_revoke", oauth_revoke().to_owned(), "/oauth/revoke"),
        ("folders", folders().to_owned(), "/knowledge-folders/"),
        ("folder", folder(3), "/knowledge-folders/{folder_id}/"),
        (
            "folder_files",
            folder_files(3),
            "/knowledge-folders/{folder_id}/files",
        ),
        (
            "cloud_import",
            cloud_import(3),
            "/api/htmx/knowledge-folders/{folder_id}/cloud-import/",
        ),
        (
            "cloud_browse",
            cloud_browse(3, 9),
            "/api/htmx/knowledge-folders/{folder_id}/cloud-import/{connection_id}/browse/",
        ),
        (
            "cloud_import_files",
            cloud_import_files(3, 9),
            "/api/htmx/knowledge-folders/{folder_id}/cloud-import/{connection_id}/import/",
        ),
        ("admin", admin().to_owned(), "/admin/"),
        (
            "admin_connectors",
            admin_connectors().to_owned(),
            "/admin/connectors/",
        ),
        (
            "admin_connector",
            admin_connector("canvas"),
            "/admin/connectors/{slug}/",
        ),
        (
            "admin_connector_enabled",
            admin_connector_enabled("canvas"),
            "/admin/connectors/{slug}/enabled",
        ),
        (
            "admin_connector_agent_writes",
            admin_connector_agent_writes("canvas"),
            "/admin/connectors/{slug}/agent-writes",
        ),
        (
            "admin_connector_config",
            admin_connector_config("canvas"),
            "/admin/connectors/{slug}/config",
        ),
        (
            "admin_connections",
            admin_connections().user(7).connector("canvas").to_string(),
            "/admin/connections/",
        ),
        (
            "admin_connection",
            admin_connection(4),
            "/admin/connections/{connection_id}/",
        ),
        (
            "admin_connection_revoke",
            admin_connection_revoke(4),
            "/admin/connections/{connection_id}/revoke",
        ),
        (
            "admin_audit",
            admin_audit().status("error").from(day).to_string(),
            "/admin/audit/",
        ),
        (
            "admin_audit_export",
            admin_audit_export().to_owned(),
            "/admin/audit/export.csv",
        ),
        (
            "admin_audit_entry",
            admin_audit_entry(12),
            "/admin/audit/{entry_id}/",
        ),
        (
            "admin_users",
            admin_users().search("a@b.edu").to_string(),
            "/admin/users/",
        ),
        (
            "admin_user_admin",
            admin_user_admin(7),
            "/admin/users/{user_id}/admin",
        ),
        (
            "admin_user_active",
            admin_user_active(7),
            "/admin/users/{user_id}/active",
        ),
        (
            "admin_changes",
            admin_changes().to_owned(),
            "/admin/changes/",
        ),
        (
            "connector_icon",
            connector_icon("canvas"),
            "/static/connectors/{file}",
        ),
    ]
}

/// The route patterns of `urls.rs`: its string literals that start with `/`.
fn routes() -> Vec<&'static str> {
    include_str!("urls.rs")
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| s.starts_with('/'))
        .collect()
}

/// The functions this module declares at its top level that build paths (not the `is_…`
/// tests of a path's shape).
fn path_functions() -> Vec<&'static str> {
    include_str!("paths.rs")
        .lines()
        .filter_map(|l| l.strip_prefix("pub fn "))
        .map(|l| l.split(['(', '<']).next().expect("a function name"))
        .filter(|name| !name.starts_with("is_"))
        .collect()
}

/// Whether `path` (without its query) has the shape of `pattern`: equal literal segments,
/// and a non-empty segment for each `{param}`.
fn matches(path: &str, pattern: &str) -> bool {
    let path = path.split('?').next().unwrap_or_default();
    let (got, want): (Vec<_>, Vec<_>) = (path.split('/').collect(), pattern.split('/').collect());
    got.len() == want.len()
        && got.iter().zip(&want).all(|(g, w)| {
            if w.starts_with('{') && w.ends_with('}') {
                !g.is_empty()
            } else {
                g == w
            }
        })
}

#[test]
fn every_path_function_builds_a_route_of_the_route_table() {
    let routes = routes();
    for (name, path, pattern) in table() {
        assert!(
            routes.contains(&pattern),
            "{name}: no route {pattern} in urls.rs"
        );
        assert!(matches(&path, pattern), "{name}: {path} is not {pattern}");
    }
}

#[test]
fn every_path_function_is_checked_against_the_route_table() {
    let checked: Vec<_> = table().into_iter().map(|(name, ..)| name).collect();
    let declared = path_functions();
    assert!(declared.len() > 30, "found only {declared:?}");
    for name in &declared {
        assert!(checked.contains(name), "paths::{name} is not in the table");
    }
    for name in &checked {
        assert!(declared.contains(name), "{name} is not a function of paths");
    }
}

#[test]
fn route_shapes_are_matched_segment_by_segment() {
    assert!(matches(
        "/knowledge-folders/3/",
        "/knowledge-folders/{folder_id}/"
    ));
    assert!(matches("/admin/audit/?user=7", "/admin/audit/"));
    assert!(!matches(
        "/knowledge-folders/3",
        "/knowledge-folders/{folder_id}/"
    ));
    assert!(!matches(
        "/knowledge-folders//",
        "/knowledge-folders/{folder_id}/"
    ));
    assert!(!matches("/admin/audits/", "/admin/audit/"));
}

#[test]
fn paths_carry_their_query_parameters() {
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
        login().next("/admin/?a=1").to_string(),
        "/login?next=%2Fadmin%2F%3Fa%3D1"
    );
    assert_eq!(login().to_string(), "/login");
    let day = NaiveDate::from_ymd_opt(2025, 3, 9).expect("a valid date");
    assert_eq!(
        admin_audit().status("error").from(day).to_string(),
        "/admin/audit/?status=error&from=2025-03-09"
    );
    assert_eq!(admin_audit().user(7).to_string(), "/admin/audit/?user=7");
    assert_eq!(
        admin_connections().connector("canvas").to_string(),
        "/admin/connections/?connector=canvas"
    );
    assert_eq!(
        admin_users().search("a b@c.edu").to_string(),
        "/admin/users/?q=a+b%40c.edu"
    );
    assert_eq!(admin_users().search("").to_string(), "/admin/users/");
}

#[test]
fn the_cloud_browser_is_told_from_every_other_route() {
    let pattern = "/api/htmx/knowledge-folders/{folder_id}/cloud-import/{connection_id}/browse/";
    assert!(routes().contains(&pattern));
    for (folder, connection) in [(3, 9), (0, i64::MAX), (-1, 12)] {
        assert!(is_cloud_browse(&cloud_browse(folder, connection)));
    }
    // Every other path of the table, and near misses, are not it.
    for (name, path, _) in table() {
        assert_eq!(
            is_cloud_browse(&path),
            name == "cloud_browse",
            "{name}: {path}"
        );
    }
    for path in [
        "/api/htmx/knowledge-folders/3/cloud-import/9/browse",
        "/api/htmx/knowledge-folders/3/cloud-import//browse/",
        "/api/htmx/knowledge-folders//cloud-import/9/browse/",
        "/api/htmx/knowledge-folders/3/x/cloud-import/9/browse/",
        "/api/htmx/knowledge-folders/3/cloud-import/9/x/browse/",
        "/api/htmx/knowledge-folders/3/cloud-import/9/import/",
        "/x/api/htmx/knowledge-folders/3/cloud-import/9/browse/",
    ] {
        assert!(!is_cloud_browse(path), "{path}");
        assert!(!matches(path, pattern), "{path}");
    }
}
