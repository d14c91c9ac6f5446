//! The built-in admin pages: who may see them (admins only; everyone else a 404 on every
//! route, fragments and POSTs included), the dashboard, connectors and their enable switch,
//! connector config with write-only secrets, connections and revoke, the audit log with
//! filters, keyset paging and CSV export, users, and the admin trail of every change.

use crate::helpers::{TestApp, location, spawn_app};
use campuscore::models::connector_audit_logs::AuditKey;
use campuscore::models::entities::{
    admin_audit_log, connection, connector, connector_audit_log, session,
};
use campuscore::models::keyset::Keyset;
use campuscore::services::secrets::fingerprint;
use campuscore::services::{connector_config, credentials};
use campuscore::views::admin::audit::{self, AuditQuery};
use chrono::{DateTime, Duration, TimeZone, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

const PASSWORD: &str = "a long enough password";

/// An app with an administrator logged in on `app.client`.
async fn admin_app() -> (TestApp, campuscore::models::entities::user::Model) {
    let app = spawn_app().await;
    let admin = app.create_user("root@campus.edu", PASSWORD, true).await;
    assert_eq!(app.login("root@campus.edu", PASSWORD).await.status(), 303);
    (app, admin)
}

/// A second browser with a user (not an admin) logged in.
async fn user_browser(
    app: &TestApp,
    email: &str,
) -> (TestApp, campuscore::models::entities::user::Model) {
    let browser = app.other_browser();
    let user = browser.create_user(email, PASSWORD, false).await;
    assert_eq!(browser.login(email, PASSWORD).await.status(), 303);
    (browser, user)
}

/// POST a form with this session's CSRF token, as a plain browser would.
async fn post(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let token = app.csrf("/").await;
    let mut form: Vec<(&str, &str)> = fields.to_vec();
    form.push(("csrf_token", &token));
    app.client
        .post(app.url(path))
        .form(&form)
        .send()
        .await
        .expect("request")
}

/// POST as htmx does: the token in the header, `HX-Request` set.
async fn htmx_post(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let token = app.csrf("/").await;
    app.client
        .post(app.url(path))
        .header("HX-Request", "true")
        .header("X-CSRF-Token", token)
        .form(fields)
        .send()
        .await
        .expect("request")
}

async fn text(res: reqwest::Response) -> String {
    res.text().await.expect("body")
}

async fn echo_connection(
    app: &TestApp,
    user_id: i64,
    api_key: &str,
    label: &str,
) -> connection::Model {
    let row = app.echo_connector().await;
    credentials::insert(
        &app.state.db,
        &app.state.keyring,
        credentials::NewConnection {
            user_id,
            connector_id: row.id,
            data: json!({ "api_key": api_key, "label": label }),
            service_identity: Some(label.into()),
            scopes: None,
            expires_at: None,
        },
    )
    .await
    .expect("insert connection")
}

async fn admin_changes(app: &TestApp) -> Vec<admin_audit_log::Model> {
    admin_audit_log::Entity::find()
        .order_by_asc(admin_audit_log::Column::Id)
        .all(&app.state.db)
        .await
        .expect("query")
}

/// An audit row to seed.
fn audit_row(
    user_id: Option<i64>,
    slug: &str,
    action: &str,
    status: &str,
    error: Option<&str>,
    at: DateTime<Utc>,
) -> connector_audit_log::ActiveModel {
    use sea_orm::ActiveValue::Set;
    connector_audit_log::ActiveModel {
        connection_id: Set(None),
        user_id: Set(user_id),
        connector_slug: Set(slug.into()),
        action: Set(action.into()),
        status: Set(status.into()),
        request: Set("{}".into()),
        error: Set(error.map(str::to_owned)),
        error_code: Set(error.map(|_| "upstream_error".to_owned())),
        duration_ms: Set(12),
        created_at: Set(at),
        ..Default::default()
    }
}

async fn seed_audit(app: &TestApp, rows: Vec<connector_audit_log::ActiveModel>) {
    for chunk in rows.chunks(1000) {
        connector_audit_log::Entity::insert_many(chunk.to_vec())
            .exec(&app.state.db)
            .await
            .expect("seed audit rows");
    }
}

/// The ids of the audit rows listed on a page, in order.
fn audit_ids(page: &str) -> Vec<i64> {
    page.split("<tr id=\"audit-")
        .skip(1)
        .filter_map(|s| s.split('"').next()?.parse().ok())
        .collect()
}

/// The `href` of the pager link with `rel`, HTML entities decoded.
fn pager_link(page: &str, rel: &str) -> Option<String> {
    let marker = format!("rel=\"{rel}\" href=\"");
    let start = page.find(&marker)? + marker.len();
    let end = page[start..].find('"')?;
    Some(
        page[start..start + end]
            .replace("&#38;", "&")
            .replace("&amp;", "&"),
    )
}

// ---------------------------------------------------------------------------------------
// Log capture: every log line of this test binary, to check that no secret is ever logged.

#[derive(Clone)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut b = self.0.lock().expect("log buffer");
        if b.len() < 256 * 1024 * 1024 {
            b.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs a process-wide subscriber that records every line (once): the app and connectors at
/// debug level, dependencies at the production default `info`; `None`
/// when another subscriber was installed first (e.g. `RUST_LOG` is set).
fn captured_logs() -> Option<LogBuffer> {
    static LOGS: OnceLock<Option<LogBuffer>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = LogBuffer(Arc::new(Mutex::new(Vec::new())));
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "info,campuscore=debug,campuscore_connectors=debug,migration=debug",
            ))
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .ok()
            .map(|()| buf)
    })
    .clone()
}

// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn every_admin_route_is_a_404_for_a_non_admin_including_fragments_and_posts() {
    let (app, admin) = admin_app().await;
    let (user, someone) = user_browser(&app, "student@campus.edu").await;
    let conn = echo_connection(&app, someone.id, "valid-key-0001", "me").await;
    seed_audit(
        &app,
        vec![audit_row(
            Some(someone.id),
            "test-echo",
            "echo",
            "success",
            None,
            Utc::now(),
        )],
    )
    .await;
    let entry = connector_audit_log::Entity::find()
        .one(&app.state.db)
        .await
        .expect("query")
        .expect("a row");

    let gets = [
        "/admin/".to_owned(),
        "/admin/connectors/".into(),
        "/admin/connectors/test-echo/".into(),
        "/admin/connectors/test-echo/config".into(),
        "/admin/connections/".into(),
        format!("/admin/connections/{}/", conn.id),
        "/admin/audit/".into(),
        "/admin/audit/?status=error".into(),
        "/admin/audit/export.csv".into(),
        format!("/admin/audit/{}/", entry.id),
        "/admin/users/".into(),
        "/admin/changes/".into(),
    ];
    let posts: [(String, Vec<(&str, &str)>); 5] = [
        (
            "/admin/connectors/test-echo/enabled".into(),
            vec![("enabled", "false")],
        ),
        (
            "/admin/connectors/test-echo/config".into(),
            vec![("value_API_BASE_URL", "http://127.0.0.1:1")],
        ),
        (format!("/admin/connections/{}/revoke", conn.id), vec![]),
        (
            format!("/admin/users/{}/admin", admin.id),
            vec![("is_admin", "false")],
        ),
        (
            format!("/admin/users/{}/active", admin.id),
            vec![("is_active", "false")],
        ),
    ];
    for path in &gets {
        let res = user.get(path).await;
        assert_eq!(res.status(), 404, "GET {path}");
        assert!(!text(res).await.contains("Administration"), "GET {path}");
        let res = user
            .client
            .get(user.url(path))
            .header("HX-Request", "true")
            .send()
            .await
            .expect("get");
        assert_eq!(res.status(), 404, "htmx GET {path}");
    }
    for (path, fields) in &posts {
        assert_eq!(post(&user, path, fields).await.status(), 404, "POST {path}");
        assert_eq!(
            htmx_post(&user, path, fields).await.status(),
            404,
            "htmx POST {path}"
        );
    }
    // Nothing changed.
    assert!(app.echo_connector().await.is_enabled);
    assert!(
        connection::Entity::find_by_id(conn.id)
            .one(&app.state.db)
            .await
            .expect("query")
            .is_some()
    );
    let admin_now = campuscore::models::users::find_by_email(&app.state.db, "root@campus.edu")
        .await
        .expect("query")
        .expect("admin");
    assert!(admin_now.is_admin && admin_now.is_active);
    assert!(admin_changes(&app).await.is_empty());
    assert!(
        connector_config::list(
            &app.state.db,
            &app.state.keyring,
            app.echo_connector().await.id
        )
        .await
        .expect("list")
        .is_empty()
    );

    // Anonymous visitors get the same 404 (the pages do not exist for them); the admin sees
    // every page.
    let anonymous = app.other_browser();
    for path in &gets {
        assert_eq!(
            anonymous.get(path).await.status(),
            404,
            "anonymous GET {path}"
        );
    }
    for path in &gets {
        assert_eq!(app.get(path).await.status(), 200, "admin GET {path}");
    }
}

#[tokio::test]
async fn admin_posts_without_a_csrf_token_are_refused_and_change_nothing() {
    let (app, _admin) = admin_app().await;
    let res = app
        .client
        .post(app.url("/admin/connectors/test-echo/enabled"))
        .form(&[("enabled", "false")])
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 403);
    assert!(app.echo_connector().await.is_enabled);
    assert!(admin_changes(&app).await.is_empty());
}

#[tokio::test]
async fn the_dashboard_counts_users_connections_activity_and_connectors_needing_configuration() {
    let (app, _admin) = admin_app().await;
    let (_browser, user) = user_browser(&app, "kim@campus.edu").await;
    let c = echo_connection(&app, user.id, "valid-1", "kim").await;
    echo_connection(&app, user.id, "valid-2", "kim 2").await;
    connection::Entity::update_many()
        .col_expr(connection::Column::Status, Expr::value("needs_reauth"))
        .filter(connection::Column::Id.eq(c.id))
        .exec(&app.state.db)
        .await
        .expect("update");
    let now = Utc::now();
    seed_audit(
        &app,
        vec![
            audit_row(Some(user.id), "test-echo", "echo", "success", None, now),
            audit_row(
                Some(user.id),
                "test-echo",
                "echo",
                "error",
                Some("boom"),
                now,
            ),
            audit_row(
                Some(user.id),
                "test-echo",
                "echo",
                "error",
                Some("old"),
                now - Duration::days(3),
            ),
        ],
    )
    .await;
    let page = app.get_text("/admin/").await;
    assert!(page.contains("Administration") && page.contains("test-echo"));
    assert!(page.contains("<strong>2</strong> users"), "{page}");
    assert!(page.contains("<strong>2</strong> connections"), "{page}");
    assert!(
        page.contains("1 active") && page.contains("1 needs_reauth"),
        "{page}"
    );
    assert!(
        page.contains("<strong>2</strong> actions in 24 h"),
        "{page}"
    );
    assert!(page.contains("<strong>1</strong> errors in 24 h"), "{page}");
    let needing = &page[page
        .find("Connectors that need configuration")
        .expect("section")..];
    let needing = &needing[..needing.find("</section>").expect("end")];
    assert!(
        needing.contains("/admin/connectors/test-oauth/config")
            && needing.contains("CLIENT_ID, CLIENT_SECRET")
            && !needing.contains("test-echo"),
        "{needing}"
    );
}

#[tokio::test]
async fn the_connector_pages_show_kind_scoping_actions_with_tags_and_schemas_and_config_status() {
    let (app, _admin) = admin_app().await;
    let page = app.get_text("/admin/connectors/").await;
    for want in [
        "id=\"connector-test-echo\"",
        "id=\"connector-test-oauth\"",
        "manual",
        "oauth2",
        "user_supplied",
        "upstream",
        "needs CLIENT_ID, CLIENT_SECRET",
        "id=\"switch-test-echo\"",
    ] {
        assert!(page.contains(want), "{want} on the list: {page}");
    }
    let page = app.get_text("/admin/connectors/test-echo/").await;
    let plugin = app.state.registry.get("test-echo").expect("registered");
    for action in plugin.actions() {
        assert!(
            page.contains(&format!("id=\"action-{}\"", action.name)),
            "{}",
            action.name
        );
        for tag in action.tags {
            assert!(page.contains(&format!("<span class=\"tag\">{}</span>", tag.as_str())));
        }
    }
    assert!(page.contains("Input schema") && page.contains("Output schema"));
    assert!(
        page.contains("&#34;message&#34;") || page.contains("&quot;message&quot;"),
        "the echo input schema names its field"
    );
    assert!(page.contains("API_BASE_URL"));
    let page = app.get_text("/admin/connectors/test-oauth/").await;
    assert!(
        page.contains("/api/connectors/test-oauth/callback"),
        "the redirect URI to register"
    );
    assert_eq!(app.get("/admin/connectors/no-such/").await.status(), 404);
}

#[tokio::test]
async fn disabling_a_connector_hides_it_and_stops_its_actions_but_keeps_its_connections() {
    let (app, admin) = admin_app().await;
    let (browser, user) = user_browser(&app, "pat@campus.edu").await;
    let token = crate::helpers::api_token(&app.state.db, user.id, "t").await;
    let conn = echo_connection(&app, user.id, "valid-key-pat", "pat").await;
    let run = || async {
        helpers_client()
            .post(app.url(&format!("/api/v1/connections/{}/actions/echo", conn.id)))
            .bearer_auth(&token)
            .json(&json!({"message": "hi"}))
            .send()
            .await
            .expect("action")
    };
    assert_eq!(run().await.status(), 200);

    let res = htmx_post(
        &app,
        "/admin/connectors/test-echo/enabled",
        &[("enabled", "false")],
    )
    .await;
    assert_eq!(res.status(), 200);
    let fragment = text(res).await;
    assert!(
        fragment.starts_with("<form id=\"switch-test-echo\""),
        "{fragment}"
    );
    assert!(
        fragment.contains("disabled") && fragment.contains(">Enable</button>"),
        "{fragment}"
    );
    assert!(
        fragment.contains("Existing connections are kept"),
        "{fragment}"
    );
    assert!(!app.echo_connector().await.is_enabled);

    assert!(
        !browser
            .get_text("/settings")
            .await
            .contains("id=\"connector-test-echo\"")
    );
    let res = run().await;
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["code"], "connector_disabled");
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("turned off")
    );
    assert!(
        connection::Entity::find_by_id(conn.id)
            .one(&app.state.db)
            .await
            .expect("query")
            .is_some(),
        "the connection is kept"
    );

    // A plain form post (no JavaScript) enables it again and comes back with a message.
    let res = post(
        &app,
        "/admin/connectors/test-echo/enabled",
        &[("enabled", "true")],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/admin/connectors/");
    assert!(
        app.get_text("/admin/connectors/")
            .await
            .contains("is enabled")
    );
    assert!(
        browser
            .get_text("/settings")
            .await
            .contains("id=\"connector-test-echo\"")
    );
    assert_eq!(run().await.status(), 200);

    let changes = admin_changes(&app).await;
    let summary: Vec<(&str, &str, &str, &str)> = changes
        .iter()
        .map(|c| {
            (
                c.action.as_str(),
                c.target_id.as_str(),
                c.before.as_str(),
                c.after.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "connector.disable",
                "test-echo",
                "{\"is_enabled\":true}",
                "{\"is_enabled\":false}"
            ),
            (
                "connector.enable",
                "test-echo",
                "{\"is_enabled\":false}",
                "{\"is_enabled\":true}"
            ),
        ]
    );
    assert!(changes.iter().all(|c| c.admin_user_id == Some(admin.id)));
    let page = app.get_text("/admin/changes/").await;
    assert!(page.contains("connector.disable") && page.contains("root@campus.edu"));
}

fn helpers_client() -> reqwest::Client {
    crate::helpers::client()
}

#[tokio::test]
async fn connector_secrets_are_write_only_masked_kept_when_not_retyped_and_audited_as_fingerprints()
{
    let logs = captured_logs();
    let secret = "campus-oauth-client-secret-7f3c9a1b";
    let (app, _admin) = admin_app().await;
    let (browser, _user) = user_browser(&app, "lee@campus.edu").await;
    let slug = "test-oauth";
    let config_path = format!("/admin/connectors/{slug}/config");

    let page = app.get_text(&config_path).await;
    assert!(
        page.contains("OAuth client secret.")
            && page.contains("Default: <code>http://127.0.0.1:9/token</code>"),
        "help text and defaults: {page}"
    );
    assert!(
        !browser
            .get_text("/settings")
            .await
            .contains("/api/connectors/connect/test-oauth/start")
    );

    let res = post(
        &app,
        &config_path,
        &[
            ("value_CLIENT_ID", "campus-client"),
            ("value_CLIENT_SECRET", secret),
            ("value_AUTH_URL", ""),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), config_path);
    let page = app.get_text(&config_path).await;
    assert!(
        page.contains("Saved Test OAuth: CLIENT_ID, CLIENT_SECRET"),
        "{page}"
    );
    assert!(page.contains("••••9a1b"), "the mask is shown: {page}");
    assert!(page.contains("value=\"campus-client\""));
    // The secret input never carries a value.
    let input = &page[page
        .find("name=\"value_CLIENT_SECRET\"")
        .expect("secret input")..];
    let input = &input[..input.find('>').expect("end of tag")];
    assert!(!input.contains("value="), "{input}");

    // Takes effect at once: the user can now connect.
    assert!(
        browser
            .get_text("/settings")
            .await
            .contains("href=\"/api/connectors/connect/test-oauth/start\">Connect</a>")
    );

    // Save without retyping the secret: it is kept.
    let res = post(
        &app,
        &config_path,
        &[
            ("value_CLIENT_ID", "campus-client-2"),
            ("value_CLIENT_SECRET", ""),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let row = connector::Entity::find()
        .filter(connector::Column::Slug.eq(slug))
        .one(&app.state.db)
        .await
        .expect("query")
        .expect("row");
    let plugin = app.state.registry.get(slug).expect("registered").clone();
    let settings =
        connector_config::settings_for(&app.state.db, &app.state.keyring, row.id, plugin.as_ref())
            .await
            .expect("settings");
    assert_eq!(settings.get("CLIENT_SECRET"), Some(secret));
    assert_eq!(settings.get("CLIENT_ID"), Some("campus-client-2"));

    // The admin trail has the secret's fingerprint, never the secret.
    let changes = admin_changes(&app).await;
    assert_eq!(changes.len(), 2, "one row per save that changed something");
    assert_eq!(changes[0].action, "connector_config.update");
    let first_after: Value = serde_json::from_str(&changes[0].after).expect("json");
    assert_eq!(first_after["CLIENT_SECRET"], fingerprint(secret));
    assert_eq!(first_after["CLIENT_ID"], "campus-client");
    let second_before: Value = serde_json::from_str(&changes[1].before).expect("json");
    assert_eq!(
        second_before,
        json!({"CLIENT_ID": "campus-client"}),
        "an untouched secret is not a change"
    );

    // Nowhere in any page, fragment, API answer, audit row or log line.
    let mut seen = String::new();
    for path in [
        "/admin/",
        "/admin/connectors/",
        "/admin/connectors/test-oauth/",
        config_path.as_str(),
        "/admin/changes/",
        "/admin/audit/",
        "/admin/audit/export.csv",
    ] {
        seen.push_str(&app.get_text(path).await);
    }
    seen.push_str(&browser.get_text("/settings").await);
    seen.push_str(&browser.get_text("/api/v1/connectors").await);
    seen.push_str(
        &text(
            htmx_post(
                &app,
                "/admin/connectors/test-oauth/enabled",
                &[("enabled", "true")],
            )
            .await,
        )
        .await,
    );
    assert!(!seen.contains(secret), "a page shows the secret");
    assert!(
        !seen.contains(&secret[..20]),
        "a page shows part of the secret"
    );
    for c in admin_changes(&app).await {
        assert!(!c.before.contains(secret) && !c.after.contains(secret));
    }
    let stored = campuscore::models::entities::connector_config::Entity::find()
        .all(&app.state.db)
        .await
        .expect("query");
    assert!(
        stored.iter().all(|r| !r.value.contains(secret)),
        "stored encrypted"
    );
    match logs {
        Some(buf) => {
            let logged = String::from_utf8_lossy(&buf.0.lock().expect("logs")).into_owned();
            assert!(logged.contains("connector config set"), "the capture works");
            assert!(!logged.contains(secret), "a log line shows the secret");
        }
        None => eprintln!(
            "log capture unavailable (another subscriber is installed); skipped the log check"
        ),
    }

    // An explicit clear removes it.
    let res = post(
        &app,
        &config_path,
        &[("clear_CLIENT_SECRET", "on"), ("value_CLIENT_SECRET", "")],
    )
    .await;
    assert_eq!(res.status(), 303);
    let page = app.get_text(&config_path).await;
    assert!(
        page.contains("CLIENT_SECRET (removed)") && page.contains("Still needed: CLIENT_SECRET"),
        "{page}"
    );
    let last = admin_changes(&app).await.pop().expect("a change");
    let before: Value = serde_json::from_str(&last.before).expect("json");
    let after: Value = serde_json::from_str(&last.after).expect("json");
    assert_eq!(before["CLIENT_SECRET"], fingerprint(secret));
    assert_eq!(after["CLIENT_SECRET"], Value::Null);
}

#[tokio::test]
async fn the_config_form_rejects_bad_input_with_422_and_manages_free_keys() {
    let (app, _admin) = admin_app().await;
    let path = "/admin/connectors/test-echo/config";
    let res = post(
        &app,
        path,
        &[
            ("value_API_BASE_URL", "not a url"),
            ("new_key", "bad-key"),
            ("new_value", "x"),
        ],
    )
    .await;
    assert_eq!(res.status(), 422);
    let page = text(res).await;
    assert!(page.contains("Enter an absolute https:// URL."), "{page}");
    assert!(page.contains("Use UPPER_SNAKE_CASE"), "{page}");
    assert!(
        page.contains("value=\"not a url\""),
        "the typed value comes back"
    );
    let id = app.echo_connector().await.id;
    assert!(
        connector_config::list(&app.state.db, &app.state.keyring, id)
            .await
            .expect("list")
            .is_empty(),
        "nothing saved"
    );

    // A new secret key's value is never echoed back, even on an error elsewhere.
    let res = post(
        &app,
        path,
        &[
            ("value_API_BASE_URL", "ftp://x"),
            ("new_key", "TENANT_TOKEN"),
            ("new_value", "tenant-secret-value"),
            ("new_secret", "on"),
        ],
    )
    .await;
    assert_eq!(res.status(), 422);
    assert!(!text(res).await.contains("tenant-secret-value"));

    // Free keys: add a plain and a secret one, then remove one.
    let res = post(
        &app,
        path,
        &[("new_key", "TENANT_ID"), ("new_value", "campus-42")],
    )
    .await;
    assert_eq!(res.status(), 303);
    let res = post(
        &app,
        path,
        &[
            ("new_key", "TENANT_TOKEN"),
            ("new_value", "tenant-secret-value"),
            ("new_secret", "on"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let page = app.get_text(path).await;
    assert!(
        page.contains("id=\"config-TENANT_ID\"") && page.contains("value=\"campus-42\""),
        "{page}"
    );
    assert!(
        page.contains("id=\"config-TENANT_TOKEN\"") && page.contains("••••alue"),
        "{page}"
    );
    assert!(!page.contains("tenant-secret-value"));
    let res = post(
        &app,
        path,
        &[("new_key", "TENANT_ID"), ("new_value", "again")],
    )
    .await;
    assert_eq!(res.status(), 422, "an existing key is edited in place");
    let res = post(
        &app,
        path,
        &[("clear_TENANT_ID", "on"), ("value_TENANT_ID", "campus-42")],
    )
    .await;
    assert_eq!(res.status(), 303);
    let keys: Vec<String> = connector_config::list(&app.state.db, &app.state.keyring, id)
        .await
        .expect("list")
        .into_iter()
        .map(|e| e.key)
        .collect();
    assert_eq!(keys, ["TENANT_TOKEN"]);
    // Emptying a plain declared key's input returns it to its default.
    post(
        &app,
        path,
        &[("value_API_BASE_URL", "http://127.0.0.1:7777")],
    )
    .await;
    assert!(
        app.get_text(path)
            .await
            .contains("value=\"http://127.0.0.1:7777\"")
    );
    post(&app, path, &[("value_API_BASE_URL", "")]).await;
    assert!(
        !app.get_text(path)
            .await
            .contains("value=\"http://127.0.0.1:7777\"")
    );
    let actions: Vec<String> = admin_changes(&app)
        .await
        .into_iter()
        .map(|c| c.action)
        .collect();
    assert_eq!(actions.len(), 5);
}

#[tokio::test]
async fn the_connections_list_filters_and_searches_and_the_detail_never_shows_a_token() {
    let (app, _admin) = admin_app().await;
    let (_b1, ann) = user_browser(&app, "ann@campus.edu").await;
    let (_b2, bob) = user_browser(&app, "bob@campus.edu").await;
    let a = echo_connection(&app, ann.id, "valid-ann-secret-key", "ann-upstream").await;
    let b = echo_connection(&app, bob.id, "valid-bob-secret-key", "bob-upstream").await;
    let expires = Utc
        .with_ymd_and_hms(2030, 1, 2, 3, 4, 5)
        .single()
        .expect("time");
    connection::Entity::update_many()
        .col_expr(connection::Column::Status, Expr::value("needs_reauth"))
        .col_expr(connection::Column::RefreshFailures, Expr::value(3))
        .col_expr(connection::Column::ExpiresAt, Expr::value(expires))
        .col_expr(
            connection::Column::LastError,
            Expr::value("the refresh token was revoked"),
        )
        .filter(connection::Column::Id.eq(b.id))
        .exec(&app.state.db)
        .await
        .expect("update");
    let row = |page: &str, id: i64| page.contains(&format!("id=\"admin-connection-{id}\""));

    let page = app.get_text("/admin/connections/").await;
    assert!(row(&page, a.id) && row(&page, b.id));
    let page = app
        .get_text("/admin/connections/?status=needs_reauth")
        .await;
    assert!(!row(&page, a.id) && row(&page, b.id));
    let page = app
        .get_text("/admin/connections/?user=ann%40campus.edu")
        .await;
    assert!(row(&page, a.id) && !row(&page, b.id));
    let page = app
        .get_text(&format!("/admin/connections/?user={}", bob.id))
        .await;
    assert!(!row(&page, a.id) && row(&page, b.id));
    let page = app
        .get_text("/admin/connections/?user=nobody%40campus.edu")
        .await;
    assert!(!row(&page, a.id) && !row(&page, b.id));
    let page = app.get_text("/admin/connections/?q=ANN-UP").await;
    assert!(
        row(&page, a.id) && !row(&page, b.id),
        "search is case-insensitive"
    );
    let page = app.get_text("/admin/connections/?q=bob%40").await;
    assert!(
        !row(&page, a.id) && row(&page, b.id),
        "search finds the user's email"
    );
    let page = app
        .get_text("/admin/connections/?connector=test-oauth")
        .await;
    assert!(!row(&page, a.id) && !row(&page, b.id));
    assert_eq!(
        app.get("/admin/connections/?status=bogus").await.status(),
        422
    );

    let page = app.get_text(&format!("/admin/connections/{}/", b.id)).await;
    for want in [
        "bob@campus.edu",
        "bob-upstream",
        "needs_reauth",
        "2030-01-02 03:04:05 UTC",
        "Refresh failures</dt><dd>3",
        "the refresh token was revoked",
    ] {
        assert!(page.contains(want), "{want}: {page}");
    }
    let stored = connection::Entity::find_by_id(b.id)
        .one(&app.state.db)
        .await
        .expect("q")
        .expect("row");
    assert!(!page.contains("valid-bob-secret-key") && !page.contains(&stored.credentials));
    assert_eq!(app.get("/admin/connections/999999/").await.status(), 404);
}

#[tokio::test]
async fn revoking_a_connection_takes_the_disconnect_path_and_is_audited() {
    let (app, admin) = admin_app().await;
    let (_browser, user) = user_browser(&app, "ray@campus.edu").await;
    let a = echo_connection(&app, user.id, "valid-ray-1", "ray 1").await;
    let b = echo_connection(&app, user.id, "valid-ray-2", "ray 2").await;

    let res = htmx_post(&app, &format!("/admin/connections/{}/revoke", a.id), &[]).await;
    assert_eq!(res.status(), 200);
    let fragment = text(res).await;
    assert!(
        fragment.contains(&format!("id=\"admin-connection-{}\"", a.id))
            && fragment.contains("revoked"),
        "{fragment}"
    );
    let res = post(&app, &format!("/admin/connections/{}/revoke", b.id), &[]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/admin/connections/");
    assert!(
        app.get_text("/admin/connections/")
            .await
            .contains(&format!("Connection {} (Test Echo) revoked.", b.id))
    );
    assert_eq!(
        connection::Entity::find()
            .count(&app.state.db)
            .await
            .expect("count"),
        0
    );

    // The user's own disconnect path wrote its audit rows.
    let disconnects = connector_audit_log::Entity::find()
        .filter(connector_audit_log::Column::Action.eq("connection.disconnect"))
        .filter(connector_audit_log::Column::UserId.eq(user.id))
        .count(&app.state.db)
        .await
        .expect("count");
    assert_eq!(disconnects, 2);
    let changes = admin_changes(&app).await;
    assert_eq!(changes.len(), 2);
    assert!(
        changes
            .iter()
            .all(|c| c.action == "connection.revoke" && c.admin_user_id == Some(admin.id))
    );
    assert_eq!(changes[0].target_id, a.id.to_string());
    assert!(changes[0].before.contains("ray 1") && changes[0].after.contains("unsupported"));
    assert_eq!(
        post(&app, &format!("/admin/connections/{}/revoke", a.id), &[])
            .await
            .status(),
        404
    );
}

/// Seeds the audit rows of the filter tests: (user, slug, action, status, error, day offset).
async fn seed_filter_rows(app: &TestApp) -> (i64, i64, DateTime<Utc>) {
    let (_b1, u1) = user_browser(app, "una@campus.edu").await;
    let (_b2, u2) = user_browser(app, "vic@campus.edu").await;
    let day = Utc
        .with_ymd_and_hms(2026, 3, 10, 12, 0, 0)
        .single()
        .expect("time");
    seed_audit(
        app,
        vec![
            audit_row(Some(u1.id), "test-echo", "echo", "success", None, day),
            audit_row(
                Some(u1.id),
                "test-echo",
                "fail",
                "error",
                Some("=HYPERLINK(\"http://evil\",\"x\")"),
                day + Duration::days(1),
            ),
            audit_row(
                Some(u2.id),
                "test-oauth",
                "userinfo",
                "success",
                None,
                day + Duration::days(2),
            ),
            audit_row(
                Some(u2.id),
                "test-echo",
                "echo",
                "error",
                Some("upstream said, \"no\""),
                day + Duration::days(3),
            ),
            audit_row(
                None,
                "test-oauth",
                "connection.connect",
                "error",
                Some("-1 bad grant"),
                day + Duration::days(4),
            ),
        ],
    )
    .await;
    (u1.id, u2.id, day)
}

#[tokio::test]
async fn the_audit_log_filters_by_user_connector_action_status_and_dates_and_searches() {
    let (app, _admin) = admin_app().await;
    let (u1, u2, _day) = seed_filter_rows(&app).await;
    let all: Vec<i64> = connector_audit_log::Entity::find()
        .order_by_desc(connector_audit_log::Column::CreatedAt)
        .all(&app.state.db)
        .await
        .expect("query")
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(all.len(), 5);
    // Newest first; `all[0]` is the connection.connect row (day 4), `all[4]` the first echo.
    let ids = |q: &str| {
        let app = &app;
        let q = q.to_owned();
        async move {
            let res = app.get(&format!("/admin/audit/{q}")).await;
            assert_eq!(res.status(), 200, "{q}");
            audit_ids(&text(res).await)
        }
    };
    assert_eq!(ids("").await, all);
    assert_eq!(ids(&format!("?user={u1}")).await, vec![all[3], all[4]]);
    assert_eq!(ids("?user=vic%40campus.edu").await, vec![all[1], all[2]]);
    assert_eq!(ids("?user=nobody%40campus.edu").await, Vec::<i64>::new());
    assert_eq!(ids("?connector=test-oauth").await, vec![all[0], all[2]]);
    assert_eq!(ids("?action=echo").await, vec![all[1], all[4]]);
    assert_eq!(ids("?status=error").await, vec![all[0], all[1], all[3]]);
    assert_eq!(
        ids("?status=error&connector=test-echo").await,
        vec![all[1], all[3]]
    );
    assert_eq!(
        ids("?from=2026-03-11&to=2026-03-12").await,
        vec![all[2], all[3]]
    );
    assert_eq!(ids("?from=2026-03-13T12:01").await, vec![all[0]]);
    assert_eq!(
        ids("?to=2026-03-13T12:00").await,
        vec![all[1], all[2], all[3], all[4]],
        "the end minute is included"
    );
    assert_eq!(ids("?to=2026-03-10").await, vec![all[4]]);
    assert_eq!(ids("?q=HYPERLINK").await, vec![all[3]]);
    assert_eq!(ids("?q=userinfo").await, vec![all[2]]);
    assert_eq!(
        ids("?q=una%40").await,
        vec![all[3], all[4]],
        "search finds the user's email"
    );
    assert_eq!(
        ids(&format!("?q={}", all[2])).await,
        vec![all[2]],
        "a number finds the row id"
    );
    assert_eq!(
        ids("?q=100%25").await,
        Vec::<i64>::new(),
        "wildcards are literal"
    );
    assert_eq!(ids(&format!("?user={u2}")).await, vec![all[1], all[2]]);

    let res = app.get("/admin/audit/?from=yesterday&status=maybe").await;
    assert_eq!(res.status(), 422);
    let page = text(res).await;
    assert!(
        page.contains("Use YYYY-MM-DD") && page.contains("Choose success or error."),
        "{page}"
    );
    assert_eq!(
        app.get("/admin/audit/?to=2026-03-01&from=2026-03-05")
            .await
            .status(),
        422
    );
    assert_eq!(app.get("/admin/audit/?before=garbage").await.status(), 400);

    let detail = app.get_text(&format!("/admin/audit/{}/", all[3])).await;
    assert!(
        detail.contains("upstream_error")
            && detail.contains("una@campus.edu")
            && detail.contains("Request (secrets redacted)"),
        "{detail}"
    );
    assert_eq!(app.get("/admin/audit/99999999/").await.status(), 404);

    // The export link on the page carries the filter.
    let page = app
        .get_text("/admin/audit/?status=error&connector=test-echo")
        .await;
    assert!(
        page.contains("href=\"/admin/audit/export.csv?connector=test-echo&#38;status=error\"")
            || page
                .contains("href=\"/admin/audit/export.csv?connector=test-echo&amp;status=error\""),
        "{page}"
    );
}

#[tokio::test]
async fn the_csv_export_honours_the_filters_and_neutralises_formulas() {
    let (app, _admin) = admin_app().await;
    let (_u1, _u2, _day) = seed_filter_rows(&app).await;
    let res = app
        .get("/admin/audit/export.csv?status=error&connector=test-echo")
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("text/csv; charset=utf-8")
    );
    let disposition = res
        .headers()
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        disposition.starts_with("attachment; filename=\"audit-log-"),
        "{disposition}"
    );
    let csv = text(res).await;
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines[0],
        "id,created_at,user_id,user_email,connector,action,status,error_code,error,duration_ms,connection_id,request"
    );
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(
        lines[1].contains(
            "vic@campus.edu,test-echo,echo,error,upstream_error,\"upstream said, \"\"no\"\"\""
        ),
        "{csv}"
    );
    assert!(
        lines[2].contains(",\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\","),
        "formula neutralised: {csv}"
    );
    let csv = app
        .get_text("/admin/audit/export.csv?connector=test-oauth&status=error")
        .await;
    assert!(csv.contains(",'-1 bad grant,"), "{csv}");
    assert_eq!(
        app.get_text("/admin/audit/export.csv")
            .await
            .split("\r\n")
            .filter(|l| !l.is_empty())
            .count(),
        6
    );
    assert_eq!(
        app.get_text("/admin/audit/export.csv?user=nobody%40x.edu")
            .await
            .split("\r\n")
            .filter(|l| !l.is_empty())
            .count(),
        1
    );
    assert_eq!(
        app.get("/admin/audit/export.csv?from=nope").await.status(),
        422
    );
}

#[tokio::test]
async fn keyset_paging_walks_20000_audit_rows_forward_and_back_without_gaps_or_repeats() {
    let (app, _admin) = admin_app().await;
    let (_b, user) = user_browser(&app, "walker@campus.edu").await;
    let base = Utc
        .with_ymd_and_hms(2026, 6, 1, 0, 0, 0)
        .single()
        .expect("time");
    let n = 20_000;
    // Many rows share a timestamp (seven per second, some with sub-second parts), so the id
    // must break ties.
    let rows = (0..n)
        .map(|i| {
            let at = base
                + Duration::seconds(i / 7)
                + Duration::microseconds(if i % 3 == 0 { 0 } else { 250_000 });
            let status = if i % 5 == 0 { "error" } else { "success" };
            audit_row(
                Some(user.id),
                if i % 2 == 0 {
                    "test-echo"
                } else {
                    "test-oauth"
                },
                "echo",
                status,
                None,
                at,
            )
        })
        .collect();
    seed_audit(&app, rows).await;
    let expected: Vec<i64> = connector_audit_log::Entity::find()
        .order_by_desc(connector_audit_log::Column::CreatedAt)
        .order_by_desc(connector_audit_log::Column::Id)
        .all(&app.state.db)
        .await
        .expect("query")
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(expected.len(), n as usize);

    // The whole walk through the page function, forward then back.
    let query = AuditQuery::default();
    let walk = |q: AuditQuery, limit: u64| {
        let db = app.state.db.clone();
        async move {
            let cond = audit::condition(&db, &q)
                .await
                .expect("condition")
                .expect("some");
            let mut pages: Vec<Vec<i64>> = Vec::new();
            let mut before = None;
            loop {
                let at = Keyset {
                    below: before,
                    above: None,
                };
                let window = audit::page(&db, cond.clone(), &at, limit)
                    .await
                    .expect("page");
                pages.push(window.rows.iter().map(|r| r.id).collect());
                if !window.has_next {
                    break;
                }
                before = window.rows.last().map(AuditKey::of);
            }
            // And back from the last page with `after` cursors.
            let mut back: Vec<Vec<i64>> = vec![pages.last().cloned().unwrap_or_default()];
            let last = Keyset {
                below: before,
                above: None,
            };
            let mut after_rows = audit::page(&db, cond.clone(), &last, limit)
                .await
                .expect("page")
                .rows;
            while let Some(first) = after_rows.first() {
                let at = Keyset {
                    below: None,
                    above: Some(AuditKey::of(first)),
                };
                let window = audit::page(&db, cond.clone(), &at, limit)
                    .await
                    .expect("page");
                back.push(window.rows.iter().map(|r| r.id).collect());
                if !window.has_prev {
                    break;
                }
                after_rows = window.rows;
            }
            back.reverse();
            (pages, back)
        }
    };
    let (pages, back) = walk(query.clone(), 50).await;
    assert_eq!(pages.len(), 400);
    let flat: Vec<i64> = pages.concat();
    assert_eq!(flat, expected, "forward: every row once, in order");
    assert_eq!(back, pages, "backward: the same pages");
    assert_eq!(flat.iter().collect::<HashSet<_>>().len(), n as usize);

    let errors = AuditQuery {
        status: Some("error".into()),
        ..Default::default()
    };
    let (pages, _) = walk(errors, 200).await;
    let expected_errors: Vec<i64> = connector_audit_log::Entity::find()
        .filter(connector_audit_log::Column::Status.eq("error"))
        .order_by_desc(connector_audit_log::Column::CreatedAt)
        .order_by_desc(connector_audit_log::Column::Id)
        .all(&app.state.db)
        .await
        .expect("query")
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(pages.concat(), expected_errors);

    // Over HTTP, the pager's links do the same.
    let mut url = "/admin/audit/?connector=test-echo".to_owned();
    let mut seen = Vec::new();
    let mut visited = Vec::new();
    for _ in 0..5 {
        let page = app.get_text(&url).await;
        seen.extend(audit_ids(&page));
        visited.push(url.clone());
        url = pager_link(&page, "next").expect("a next page");
    }
    let echo_expected: Vec<i64> = connector_audit_log::Entity::find()
        .filter(connector_audit_log::Column::ConnectorSlug.eq("test-echo"))
        .order_by_desc(connector_audit_log::Column::CreatedAt)
        .order_by_desc(connector_audit_log::Column::Id)
        .all(&app.state.db)
        .await
        .expect("query")
        .iter()
        .map(|r| r.id)
        .take(250)
        .collect();
    assert_eq!(seen, echo_expected);
    let page = app.get_text(&visited[4]).await;
    let prev = pager_link(&page, "prev").expect("a previous page");
    assert!(
        prev.contains("connector=test-echo") && prev.contains("after="),
        "{prev}"
    );
    assert_eq!(
        audit_ids(&app.get_text(&prev).await),
        echo_expected[150..200]
    );
    let first = app.get_text(&visited[0]).await;
    assert!(
        pager_link(&first, "prev").is_none(),
        "the first page has no previous page"
    );
}

#[tokio::test]
async fn users_can_be_searched_promoted_and_demoted_but_an_admin_cannot_demote_or_deactivate_themself()
 {
    let (app, admin) = admin_app().await;
    let (_b, ann) = user_browser(&app, "ann@campus.edu").await;
    let (_b2, _bo) = user_browser(&app, "bo@campus.edu").await;
    let page = app.get_text("/admin/users/").await;
    assert!(
        page.contains("ann@campus.edu")
            && page.contains("bo@campus.edu")
            && page.contains("root@campus.edu")
    );
    let page = app.get_text("/admin/users/?q=ANN").await;
    assert!(page.contains("ann@campus.edu") && !page.contains("bo@campus.edu"));
    let page = app.get_text("/admin/users/?role=admin").await;
    assert!(page.contains("root@campus.edu") && !page.contains("ann@campus.edu"));

    let res = htmx_post(
        &app,
        &format!("/admin/users/{}/admin", ann.id),
        &[("is_admin", "true")],
    )
    .await;
    assert_eq!(res.status(), 200);
    let row = text(res).await;
    assert!(
        row.starts_with(&format!("<tr id=\"user-{}\"", ann.id))
            && row.contains("is now an administrator")
            && row.contains(">Remove admin</button>"),
        "{row}"
    );
    assert!(
        app.get_text("/admin/users/?role=admin")
            .await
            .contains("ann@campus.edu")
    );
    let res = post(
        &app,
        &format!("/admin/users/{}/admin", ann.id),
        &[("is_admin", "false")],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert!(
        app.get_text(&location(&res))
            .await
            .contains("is no longer an administrator")
    );

    // Not yourself.
    let res = htmx_post(
        &app,
        &format!("/admin/users/{}/admin", admin.id),
        &[("is_admin", "false")],
    )
    .await;
    assert_eq!(res.status(), 200);
    assert!(
        text(res)
            .await
            .contains("You cannot remove your own administrator rights")
    );
    let res = post(
        &app,
        &format!("/admin/users/{}/active", admin.id),
        &[("is_active", "false")],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert!(
        app.get_text(&location(&res))
            .await
            .contains("You cannot deactivate your own account")
    );
    let me = campuscore::models::users::find_by_email(&app.state.db, "root@campus.edu")
        .await
        .expect("q")
        .expect("me");
    assert!(me.is_admin && me.is_active);
    let own_row = app.get_text("/admin/users/?q=root").await;
    assert!(
        !own_row.contains(&format!("/admin/users/{}/active", admin.id)),
        "no buttons on your own row"
    );
    let actions: Vec<String> = admin_changes(&app)
        .await
        .into_iter()
        .map(|c| c.action)
        .collect();
    assert_eq!(actions, ["user.make_admin", "user.unmake_admin"]);
    assert_eq!(
        post(&app, "/admin/users/999999/admin", &[("is_admin", "true")])
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn deactivating_a_user_ends_their_sessions_at_once_and_reactivating_lets_them_log_in() {
    let (app, admin) = admin_app().await;
    let (browser, user) = user_browser(&app, "dee@campus.edu").await;
    let other_device = app.other_browser();
    assert_eq!(
        other_device
            .login("dee@campus.edu", PASSWORD)
            .await
            .status(),
        303
    );
    assert_eq!(browser.get("/settings").await.status(), 200);
    let cookie = browser.session_cookie().await;

    let res = htmx_post(
        &app,
        &format!("/admin/users/{}/active", user.id),
        &[("is_active", "false")],
    )
    .await;
    assert_eq!(res.status(), 200);
    let row = text(res).await;
    assert!(
        row.contains("is deactivated; 2 session(s) ended") && row.contains(">Reactivate</button>"),
        "{row}"
    );
    let sessions = session::Entity::find()
        .filter(session::Column::UserId.eq(user.id))
        .count(&app.state.db)
        .await
        .expect("count");
    assert_eq!(sessions, 0);

    // The old cookie is bounced to the login page on the very next request, on both devices.
    for b in [&browser, &other_device] {
        let res = b.get("/settings").await;
        assert_eq!(res.status(), 303);
        assert_eq!(location(&res), "/login?next=%2Fsettings");
    }
    let replay = crate::helpers::client()
        .get(app.url("/knowledge-folders/"))
        .header("Cookie", cookie)
        .send()
        .await
        .expect("get");
    assert_eq!(replay.status(), 303);
    assert_eq!(
        browser.login("dee@campus.edu", PASSWORD).await.status(),
        401
    );

    let res = post(
        &app,
        &format!("/admin/users/{}/active", user.id),
        &[("is_active", "true")],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        browser.login("dee@campus.edu", PASSWORD).await.status(),
        303
    );
    let changes = admin_changes(&app).await;
    let summary: Vec<(&str, &str)> = changes
        .iter()
        .map(|c| (c.action.as_str(), c.target_id.as_str()))
        .collect();
    let id = user.id.to_string();
    assert_eq!(
        summary,
        vec![
            ("user.deactivate", id.as_str()),
            ("user.reactivate", id.as_str())
        ]
    );
    assert!(
        changes[0].after.contains("\"sessions_ended\":2")
            && changes[0].before.contains("\"is_active\":true")
    );
    assert!(changes.iter().all(|c| c.admin_user_id == Some(admin.id)));
    let page = app
        .get_text(&format!(
            "/admin/changes/?target_type=user&target_id={}",
            user.id
        ))
        .await;
    assert!(page.contains("user.deactivate") && page.contains("user.reactivate"));
    let page = app
        .get_text("/admin/changes/?action=connector.disable")
        .await;
    assert!(page.contains("No admin changes match."));
}
