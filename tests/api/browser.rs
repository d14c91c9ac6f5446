//! A real browser (Debian's Chromium, driven by npm `playwright-core` from `tests/browser/`)
//! walks the acceptance path against the real app and the real OAuth server: log in,
//! connect `test-oauth` through the provider's own login and consent pages, land on
//! /settings with the new connection shown, and press the row's HTMX "Test" button.
//!
//! Skips with a notice when /usr/bin/chromium or node is missing, unless CI=true (then it
//! fails). Screenshots are written to the test's temp dir and copied to
//! `target/tmp/browser/` so they outlive the run.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::helpers::spawn_app;
use crate::node_packages::{ci, ensure_installed, installed, tool_available};
use crate::oauth_server::{OAuthServer, OAuthServerConfig};

const CHROMIUM: &str = "/usr/bin/chromium";
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);
const CLIENT_ID: &str = "campuscore-browser";
const CLIENT_SECRET: &str = "browser-test-secret";

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// Whether Chromium, node and the packages are there (installing the packages if needed).
/// Missing tools skip the test with a notice, or fail it under CI=true.
async fn browser_ready() -> bool {
    let missing = missing_tools();
    if !missing.is_empty() {
        let msg = format!(
            "browser: {} not found; the real-browser test needs Debian's chromium and Node.js 20+",
            missing.join(", ")
        );
        if ci() {
            panic!("{msg} (CI=true, so this is an error)");
        }
        eprintln!("{msg}; skipping this test");
        return false;
    }
    tokio::task::spawn_blocking(|| ensure_installed(&browser_dir(), "playwright-core"))
        .await
        .expect("the install task")
        .unwrap_or_else(|e| panic!("browser: installing node packages failed: {e}"));
    true
}

/// The tools the browser test needs that are missing (npm only when an install is due).
fn missing_tools() -> Vec<&'static str> {
    let mut missing = Vec::new();
    if !Path::new(CHROMIUM).is_file() {
        missing.push("/usr/bin/chromium (Debian package `chromium`)");
    }
    if !tool_available("node") {
        missing.push("node");
    }
    if !installed(&browser_dir(), "playwright-core") && !tool_available("npm") {
        missing.push("npm");
    }
    missing
}

/// Copies the run's screenshots to `target/tmp/browser/` (the temp dir dies with the test).
fn keep_screenshots(from: &Path) -> Option<PathBuf> {
    let to = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
    let _ = std::fs::remove_dir_all(&to); // no stale failure.png from an earlier run
    std::fs::create_dir_all(&to).ok()?;
    for entry in std::fs::read_dir(from).ok()?.flatten() {
        let _ = std::fs::copy(entry.path(), to.join(entry.file_name()));
    }
    Some(to)
}

#[tokio::test]
async fn browser_connects_test_oauth_and_sees_the_connection_on_settings() {
    if !browser_ready().await {
        return;
    }

    let app = spawn_app().await;
    let email = "browser@example.test";
    let password = "a long enough password";
    let user = app.create_user(email, password, false).await;

    let Some(server) = OAuthServer::start(OAuthServerConfig {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        redirect_uri: app.redirect_uri("test-oauth"),
        access_token_ttl: 3600,
    })
    .await
    else {
        eprintln!("browser: the OAuth server could not start (node missing); skipping this test");
        return;
    };
    app.configure_test_oauth(&server, CLIENT_ID, CLIENT_SECRET)
        .await;

    let screenshots = app.dir.path().join("screenshots");
    let started = Instant::now();
    let child = tokio::process::Command::new("node")
        .arg(browser_dir().join("connect_oauth.mjs"))
        .current_dir(browser_dir())
        .env("APP_URL", &app.address)
        .env("EMAIL", email)
        .env("PASSWORD", password)
        .env("PROVIDER_LOGIN", "alice")
        .env("SCREENSHOT_DIR", &screenshots)
        .env("CHROMIUM", CHROMIUM)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("browser: cannot spawn node");
    let outcome = tokio::time::timeout(SCRIPT_TIMEOUT, child.wait_with_output()).await;
    let elapsed = started.elapsed();
    let kept = keep_screenshots(&screenshots)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "(none)".into());
    let output = match outcome {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => panic!("browser: waiting for node failed: {e}"),
        Err(_) => panic!(
            "browser: connect_oauth.mjs did not finish within {SCRIPT_TIMEOUT:?} (killed); \
             screenshots: {kept}\noauth-server stderr:\n{}",
            server.stderr_log()
        ),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "browser: connect_oauth.mjs failed ({}) after {elapsed:.1?}; screenshots: {kept}\n\
         --- stdout ---\n{stdout}\n--- stderr ---\n{stderr}\n--- oauth-server stderr ---\n{}",
        output.status,
        server.stderr_log()
    );
    eprintln!("browser: connect_oauth.mjs passed in {elapsed:.1?}; screenshots: {kept}\n{stdout}");

    // The database agrees with the page: one active connection, as alice, to test-oauth.
    use campuscore::models::entities::{connection, connector};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let test_oauth = connector::Entity::find()
        .filter(connector::Column::Slug.eq("test-oauth"))
        .one(&app.state.db)
        .await
        .expect("query")
        .expect("test-oauth is in the catalog");
    let connections = connection::Entity::find()
        .filter(connection::Column::UserId.eq(user.id))
        .all(&app.state.db)
        .await
        .expect("query");
    let summary: Vec<(i64, Option<&str>, &str)> = connections
        .iter()
        .map(|c| {
            (
                c.connector_id,
                c.service_identity.as_deref(),
                c.status.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![(test_oauth.id, Some("alice@campus.test"), "active")],
        "the user's connections (connector_id, service_identity, status)"
    );
}

/// Runs a script of `tests/browser/` with `envs`; returns its output and where its
/// screenshots were kept (`target/tmp/<keep_as>/`).
async fn run_browser_script(
    script: &str,
    envs: &[(&str, &str)],
    screenshots: &Path,
    keep_as: &str,
) -> (std::process::Output, Duration, String) {
    let started = Instant::now();
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(browser_dir().join(script))
        .current_dir(browser_dir())
        .env("SCREENSHOT_DIR", screenshots)
        .env("CHROMIUM", CHROMIUM)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("browser: cannot spawn node: {e}"));
    let outcome = tokio::time::timeout(SCRIPT_TIMEOUT, child.wait_with_output()).await;
    let elapsed = started.elapsed();
    let to = Path::new(env!("CARGO_TARGET_TMPDIR")).join(keep_as);
    let _ = std::fs::remove_dir_all(&to);
    let kept = std::fs::create_dir_all(&to)
        .ok()
        .and_then(|()| std::fs::read_dir(screenshots).ok())
        .map(|entries| {
            for entry in entries.flatten() {
                let _ = std::fs::copy(entry.path(), to.join(entry.file_name()));
            }
            to.display().to_string()
        })
        .unwrap_or_else(|| "(none)".into());
    match outcome {
        Ok(Ok(output)) => (output, elapsed, kept),
        Ok(Err(e)) => panic!("browser: waiting for node failed: {e}"),
        Err(_) => panic!(
            "browser: {script} did not finish within {SCRIPT_TIMEOUT:?} (killed); screenshots: {kept}"
        ),
    }
}

#[tokio::test]
async fn browser_admin_configures_and_enables_a_connector_that_a_user_then_sees_on_settings() {
    if !browser_ready().await {
        return;
    }

    use campuscore::models::entities::{admin_audit_log, connector};
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

    let app = spawn_app().await;
    let password = "a long enough password";
    let admin = app
        .create_user("it-admin@example.test", password, true)
        .await;
    app.create_user("student@example.test", password, false)
        .await;
    let slug = "test-oauth";
    let secret = "browser-admin-client-secret-4e7d";
    connector::Entity::update_many()
        .col_expr(connector::Column::IsEnabled, Expr::value(false))
        .filter(connector::Column::Slug.eq(slug))
        .exec(&app.state.db)
        .await
        .expect("start with the connector disabled");

    let screenshots = app.dir.path().join("admin-screenshots");
    let (output, elapsed, kept) = run_browser_script(
        "admin_config.mjs",
        &[
            ("APP_URL", &app.address),
            ("ADMIN_EMAIL", "it-admin@example.test"),
            ("USER_EMAIL", "student@example.test"),
            ("PASSWORD", password),
            ("SLUG", slug),
            ("CLIENT_ID", "campus-browser-client"),
            ("CLIENT_SECRET", secret),
        ],
        &screenshots,
        "browser-admin",
    )
    .await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "browser: admin_config.mjs failed ({}) after {elapsed:.1?}; screenshots: {kept}\n\
         --- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        output.status
    );
    eprintln!("browser: admin_config.mjs passed in {elapsed:.1?}; screenshots: {kept}\n{stdout}");

    // The database agrees: enabled, the secret stored encrypted, both changes audited.
    let row = connector::Entity::find()
        .filter(connector::Column::Slug.eq(slug))
        .one(&app.state.db)
        .await
        .expect("query")
        .expect("test-oauth is in the catalog");
    assert!(row.is_enabled);
    let plugin = app.state.registry.get(slug).expect("registered").clone();
    let settings = campuscore::services::connector_config::settings_for(
        &app.state.db,
        &app.state.keyring,
        row.id,
        plugin.as_ref(),
    )
    .await
    .expect("settings");
    assert_eq!(settings.get("CLIENT_ID"), Some("campus-browser-client"));
    assert_eq!(settings.get("CLIENT_SECRET"), Some(secret));
    let changes: Vec<(Option<i64>, String)> = admin_audit_log::Entity::find()
        .order_by_asc(admin_audit_log::Column::Id)
        .all(&app.state.db)
        .await
        .expect("query")
        .into_iter()
        .map(|c| (c.admin_user_id, c.action))
        .collect();
    assert_eq!(
        changes,
        vec![
            (Some(admin.id), "connector_config.update".to_owned()),
            (Some(admin.id), "connector.enable".to_owned()),
        ]
    );
}
