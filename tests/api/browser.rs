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
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use crate::helpers::spawn_app;
use crate::oauth_server::{OAuthServer, OAuthServerConfig};

const CHROMIUM: &str = "/usr/bin/chromium";
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);
const CLIENT_ID: &str = "campuscore-browser";
const CLIENT_SECRET: &str = "browser-test-secret";

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn tool_available(tool: &str) -> bool {
    std::process::Command::new(tool)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether node_modules holds the playwright-core version pinned in package.json.
fn packages_installed(dir: &Path) -> bool {
    let read = |p: PathBuf| -> Option<serde_json::Value> {
        serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok()
    };
    let Some(wanted) = read(dir.join("package.json")).and_then(|v| {
        v["dependencies"]["playwright-core"]
            .as_str()
            .map(str::to_owned)
    }) else {
        return false;
    };
    // npm writes node_modules/.package-lock.json last, so its presence means a finished install.
    dir.join("node_modules/.package-lock.json").is_file()
        && read(dir.join("node_modules/playwright-core/package.json"))
            .is_some_and(|v| v["version"].as_str() == Some(wanted.as_str()))
}

/// `npm ci` once per test process (OnceLock) and across concurrently running test processes
/// (a lock directory next to package.json, taken over when older than 10 minutes).
fn ensure_installed() -> Result<(), String> {
    static INSTALL: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALL
        .get_or_init(|| {
            let dir = browser_dir();
            let lock = dir.join(".install-lock");
            let deadline = Instant::now() + Duration::from_secs(600);
            loop {
                if packages_installed(&dir) {
                    return Ok(());
                }
                match std::fs::create_dir(&lock) {
                    Ok(()) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        let stale = std::fs::metadata(&lock)
                            .and_then(|m| m.modified())
                            .ok()
                            .and_then(|t| SystemTime::now().duration_since(t).ok())
                            .is_some_and(|age| age > Duration::from_secs(600));
                        if stale {
                            let _ = std::fs::remove_dir(&lock);
                        } else if Instant::now() > deadline {
                            return Err(format!("timed out waiting for {}", lock.display()));
                        }
                        std::thread::sleep(Duration::from_millis(250));
                    }
                    Err(e) => return Err(format!("cannot create {}: {e}", lock.display())),
                }
            }
            let result = if packages_installed(&dir) {
                Ok(())
            } else {
                eprintln!("browser: running `npm ci` in {}", dir.display());
                match std::process::Command::new("npm")
                    .args(["ci", "--no-audit", "--no-fund"])
                    .current_dir(&dir)
                    .stdin(Stdio::null())
                    .output()
                {
                    Ok(out) if out.status.success() => Ok(()),
                    Ok(out) => Err(format!(
                        "`npm ci` in {} failed ({}):\n{}{}",
                        dir.display(),
                        out.status,
                        String::from_utf8_lossy(&out.stdout),
                        String::from_utf8_lossy(&out.stderr)
                    )),
                    Err(e) => Err(format!("cannot run npm: {e}")),
                }
            };
            let _ = std::fs::remove_dir(&lock);
            result
        })
        .clone()
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
    if !packages_installed(&browser_dir()) && !tool_available("npm") {
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
        return;
    }
    tokio::task::spawn_blocking(ensure_installed)
        .await
        .expect("the install task")
        .unwrap_or_else(|e| panic!("browser: installing node packages failed: {e}"));

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
