//! A real browser (Debian's Chromium, driven by npm `playwright-core` from `tests/browser/`)
//! walks the issues' acceptance paths against the real app:
//! - with the real OAuth server: log in, connect `test-oauth` through the provider's own login
//!   and consent pages, land on /settings with the new connection shown, and press the row's
//!   HTMX "Test" button;
//! - an administrator configures and enables a connector that a user then sees on /settings;
//! - with the fake Google Drive: import two files of a Drive subfolder into a knowledge folder
//!   through the cloud-import panel and watch them become `ready` in the file list;
//! - with the fake Canvas: connect Canvas LMS, open a course in the cloud-import panel, and
//!   import two course files and a page, all three becoming `ready`.
//!
//! Skips (recorded for the run's closing line) when /usr/bin/chromium or node is missing,
//! unless the run requires its peers (`cargo xtask test`, CI), where it fails. Screenshots are written to the test's temp dir and copied to
//! `target/tmp/browser*/` so they outlive the run.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::helpers::{folder_name, spawn_app};
use campuscore_testkit::drive::{self as fake_drive, Content, FakeDrive};
use campuscore_testkit::node_packages::{ensure_installed, installed, tool_available};
use campuscore_testkit::oauth_server::{OAuthServer, OAuthServerConfig};
use campuscore_testkit::upstream::FakeBooks as _;

const CHROMIUM: &str = "/usr/bin/chromium";
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);
const CLIENT_ID: &str = "campuscore-browser";
const CLIENT_SECRET: &str = "browser-test-secret";

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// Whether Chromium, node and the packages are there (installing the packages if needed).
/// Missing tools skip the test, or fail it where the run requires its peers (see
/// `campuscore_test_peers`).
pub(crate) async fn browser_ready() -> bool {
    let missing = missing_tools();
    if !missing.is_empty() {
        campuscore_test_peers::unavailable(
            campuscore_test_peers::Peer::Browser,
            "the real-browser tests (Chromium)",
            &format!("{} not found", missing.join(", ")),
        );
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
        return; // node is missing and the run skips it: `OAuthServer::start` recorded that
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
pub(crate) async fn run_browser_script(
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

/// A `google-drive` connection for `user_id`, signed in as `identity` (the fake Drive takes
/// any bearer token), with the connector pointed at `drive` and counted as configured.
async fn google_drive_connection(
    app: &crate::helpers::TestApp,
    drive: &FakeDrive,
    user_id: i64,
    identity: &str,
) -> i64 {
    crate::cloud_drives::configure(app, "google-drive", drive.base_url()).await;
    crate::cloud_drives::oauth_connection(app, "google-drive", user_id, identity).await
}

#[tokio::test]
async fn browser_imports_two_files_from_a_google_drive_subfolder_and_sees_them_ready() {
    if !browser_ready().await {
        return;
    }

    use campuscore::models::entities::source_file;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

    let app = spawn_app().await;
    let email = "ada@example.test";
    let password = "a long enough password";
    let user = app.create_user(email, password, false).await;
    let folder =
        campuscore::models::folders::create(&app.state.db, user.id, &folder_name("BIO 101"))
            .await
            .expect("create the knowledge folder");

    // My Drive: "Week 1" with four files, and more files at the top than one page holds
    // (the connector asks for 100 items a page, folders first).
    let drive = FakeDrive::start().await;
    let week = drive.add_folder(fake_drive::ROOT, "Week 1");
    let lecture = drive.add_file(
        &week,
        "Lecture 1.pdf",
        "application/pdf",
        Content::synthetic(600 * 1024, 11),
    );
    let lab = drive.add_file(
        &week,
        "Lab sheet.txt",
        "text/plain",
        "Lab 1: pipettes, buffers and a careful notebook.\n",
    );
    drive.add_file(
        &week,
        "Reading list.pdf",
        "application/pdf",
        Content::synthetic(40 * 1024, 12),
    );
    drive.add_file(
        &week,
        "Photo of the board.png",
        "image/png",
        Content::synthetic(90 * 1024, 13),
    );
    let top_files = 103;
    for i in 1..=top_files {
        drive.add_file(
            fake_drive::ROOT,
            &format!("Handout {i:03}.txt"),
            "text/plain",
            format!("Handout {i}\n").into_bytes(),
        );
    }
    let account = "ada@campus.test";
    let conn = google_drive_connection(&app, &drive, user.id, account).await;
    let picks = [("Lecture 1.pdf", &lecture), ("Lab sheet.txt", &lab)];
    let pick_names = serde_json::to_string(&picks.map(|(name, _)| name)).expect("json");

    let screenshots = app.dir.path().join("cloud-import-screenshots");
    let (output, elapsed, kept) = run_browser_script(
        "cloud_import.mjs",
        &[
            ("APP_URL", &app.address),
            ("EMAIL", email),
            ("PASSWORD", password),
            ("FOLDER_NAME", "BIO 101"),
            ("ACCOUNT", account),
            ("SUBFOLDER", "Week 1"),
            ("PICKS", &pick_names),
            ("TOP_FILES", &top_files.to_string()),
        ],
        &screenshots,
        "browser-cloud-import",
    )
    .await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "browser: cloud_import.mjs failed ({}) after {elapsed:.1?}; screenshots: {kept}\n\
         --- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        output.status
    );
    eprintln!("browser: cloud_import.mjs passed in {elapsed:.1?}; screenshots: {kept}\n{stdout}");

    // The database agrees with the page: two ready rows from this connection, whose stored
    // bytes are the ones Drive served, each downloaded exactly once.
    let rows = source_file::Entity::find()
        .filter(source_file::Column::KnowledgeFolderId.eq(folder.id))
        .order_by_asc(source_file::Column::Name)
        .all(&app.state.db)
        .await
        .expect("query");
    let summary: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| (r.name.as_str(), r.status.as_str(), r.origin.as_str()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("Lab sheet.txt", "ready", "google-drive"),
            ("Lecture 1.pdf", "ready", "google-drive"),
        ],
        "the folder's files (name, status, origin)"
    );
    for row in &rows {
        let (_, drive_id) = picks
            .iter()
            .find(|(name, _)| *name == row.name)
            .expect("a picked file");
        let origin: serde_json::Value =
            serde_json::from_str(row.origin_ref.as_deref().unwrap_or_default())
                .expect("origin_ref is JSON");
        assert_eq!(origin["file_id"], drive_id.as_str(), "{}", row.name);
        assert_eq!(origin["connection_id"], conn, "{}", row.name);
        let served = drive.content_of(drive_id);
        let stored = app
            .state
            .storage
            .read_all(&row.storage_key)
            .await
            .expect("read the stored file");
        assert_eq!(stored.len() as u64, served.len(), "{} length", row.name);
        assert_eq!(
            row.size_bytes as u64,
            served.len(),
            "{} size_bytes",
            row.name
        );
        let mut md5 = fake_drive::Md5::new();
        md5.update(&stored);
        assert_eq!(
            hex::encode(md5.finish()),
            drive.md5_of(drive_id),
            "{}: stored bytes differ from what Drive served",
            row.name
        );
        if let Some(sha256) = &row.sha256 {
            assert_eq!(*sha256, served.sha256_hex(), "{} sha256", row.name);
        }
    }
    let downloads: Vec<String> = drive
        .requests()
        .into_iter()
        .filter(|r| r.endpoint == Some(fake_drive::Endpoint::Content))
        .map(|r| r.path)
        .collect();
    assert_eq!(
        drive.content_requests(),
        2,
        "one download per imported file: {downloads:?}"
    );
    for (name, id) in picks {
        assert_eq!(
            downloads.iter().filter(|p| p.contains(id.as_str())).count(),
            1,
            "{name} downloaded once: {downloads:?}"
        );
    }
}

#[tokio::test]
async fn browser_connects_canvas_and_imports_course_files_and_a_page() {
    if !browser_ready().await {
        return;
    }

    use campuscore::models::entities::{connection, source_file};
    use campuscore_testkit::canvas::{EnrollmentState, EnrollmentType, FakeCanvas, Host};
    use campuscore_testkit::upstream::Content as CanvasContent;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

    const CANVAS_CLIENT_ID: &str = "10000000000077";
    const CANVAS_SECRET: &str = "canvas browser developer key secret";

    let app = spawn_app().await;
    let email = "ada@example.test";
    let password = "a long enough password";
    let user = app.create_user(email, password, false).await;
    let folder =
        campuscore::models::folders::create(&app.state.db, user.id, &folder_name("BIO 101"))
            .await
            .expect("create the knowledge folder");

    // Ada is a student in Biology 101 (Week 1: three files; a page with a script in it);
    // Ben is in Chemistry 201, which Ada must not see.
    let canvas = FakeCanvas::start().await;
    let term = canvas.add_term("Fall 2026");
    let ada = canvas.add_user("alovelace", "Ada Lovelace");
    let ben = canvas.add_user("bfranklin", "Ben Franklin");
    let biology = canvas.add_course("Biology 101", "BIO-101", term);
    let chemistry = canvas.add_course("Chemistry 201", "CHEM-201", term);
    canvas.enroll(
        ada,
        biology,
        EnrollmentType::Student,
        EnrollmentState::Active,
    );
    canvas.enroll(
        ben,
        chemistry,
        EnrollmentType::Student,
        EnrollmentState::Active,
    );
    let week1 = canvas.add_folder(canvas.root_folder(biology), "Week 1");
    let slides = canvas.add_file(
        week1,
        "Cells.pdf",
        "application/pdf",
        CanvasContent::synthetic(400 * 1024, 21),
    );
    let notes = canvas.add_file(
        week1,
        "Notes.txt",
        "text/plain",
        "Mitochondria are the powerhouse of the cell.\n",
    );
    canvas.add_file(
        week1,
        "Extra.csv",
        "text/csv",
        "organelle,count\nnucleus,1\n",
    );
    canvas.add_file(
        canvas.root_folder(chemistry),
        "Titration.pdf",
        "application/pdf",
        CanvasContent::synthetic(10 * 1024, 22),
    );
    canvas.add_page(
        biology,
        "Lab safety",
        "<h2>Lab safety</h2><p>Wear <b>goggles</b> at all times.</p>\
         <script>alert('pwned')</script><p>No food in the lab.</p>",
    );
    canvas.add_page(biology, "Syllabus notes", "<p>Read chapter 1.</p>");
    canvas.sign_in_as(ada);
    canvas.add_developer_key(CANVAS_CLIENT_ID, CANVAS_SECRET, &app.redirect_uri("canvas"));
    app.set_config("canvas", "CLIENT_ID", CANVAS_CLIENT_ID)
        .await;
    app.set_config("canvas", "CLIENT_SECRET", CANVAS_SECRET)
        .await;
    app.set_config("canvas", "API_BASE_URL", canvas.base_url())
        .await;

    let account = "Ada Lovelace (alovelace)";
    let file_picks = [("Cells.pdf", slides), ("Notes.txt", notes)];
    let pick_names = serde_json::to_string(&file_picks.map(|(name, _)| name)).expect("json");
    let page_pick = "Lab safety.html";

    let screenshots = app.dir.path().join("canvas-import-screenshots");
    let (output, elapsed, kept) = run_browser_script(
        "canvas_import.mjs",
        &[
            ("APP_URL", &app.address),
            ("EMAIL", email),
            ("PASSWORD", password),
            ("FOLDER_NAME", "BIO 101"),
            ("ACCOUNT", account),
            ("COURSE", "Biology 101"),
            ("OTHER_COURSE", "Chemistry 201"),
            ("SUBFOLDER", "Week 1"),
            ("FILE_PICKS", &pick_names),
            ("PAGE_PICK", page_pick),
        ],
        &screenshots,
        "browser-canvas-import",
    )
    .await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "browser: canvas_import.mjs failed ({}) after {elapsed:.1?}; screenshots: {kept}\n\
         --- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        output.status
    );
    eprintln!("browser: canvas_import.mjs passed in {elapsed:.1?}; screenshots: {kept}\n{stdout}");

    // One active connection, made through Canvas's own sign-in (one code exchange).
    let connections = connection::Entity::find()
        .filter(connection::Column::UserId.eq(user.id))
        .all(&app.state.db)
        .await
        .expect("query");
    let summary: Vec<(Option<&str>, &str)> = connections
        .iter()
        .map(|c| (c.service_identity.as_deref(), c.status.as_str()))
        .collect();
    assert_eq!(summary, vec![(Some(account), "active")], "the connections");
    assert_eq!(canvas.token_requests(), ["authorization_code"]);

    // The database agrees with the page: three ready rows from Canvas, the files' stored bytes
    // the ones Canvas served, the page stored without its script.
    let rows = source_file::Entity::find()
        .filter(source_file::Column::KnowledgeFolderId.eq(folder.id))
        .order_by_asc(source_file::Column::Name)
        .all(&app.state.db)
        .await
        .expect("query");
    let summary: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| (r.name.as_str(), r.status.as_str(), r.origin.as_str()))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("Cells.pdf", "ready", "canvas"),
            ("Lab safety.html", "ready", "canvas"),
            ("Notes.txt", "ready", "canvas"),
        ],
        "the folder's files (name, status, origin)"
    );
    for row in &rows {
        let stored = app
            .state
            .storage
            .read_all(&row.storage_key)
            .await
            .expect("read the stored file");
        assert_eq!(
            row.size_bytes as u64,
            stored.len() as u64,
            "{} size_bytes",
            row.name
        );
        match file_picks.iter().find(|(name, _)| *name == row.name) {
            Some((_, id)) => {
                let served = canvas.content_of(*id);
                assert_eq!(row.size_bytes as u64, served.len(), "{} size", row.name);
                assert!(
                    stored == served.to_bytes(),
                    "{}: stored bytes differ from what Canvas served",
                    row.name
                );
            }
            None => {
                let html = String::from_utf8_lossy(&stored);
                assert!(row.size_bytes > 0, "{} is empty", row.name);
                assert!(
                    !html.to_ascii_lowercase().contains("<script"),
                    "the stored page keeps its script: {html}"
                );
                assert!(
                    html.contains("goggles") && html.contains("No food in the lab."),
                    "the stored page lost its text: {html}"
                );
            }
        }
    }

    // The two files came from the file store, without the token.
    let store: Vec<_> = canvas
        .requests()
        .into_iter()
        .filter(|r| r.endpoint.map(|e| e.host()) == Some(Host::FileStore))
        .collect();
    assert_eq!(
        store.len(),
        2,
        "two downloads from the file store: {store:?}"
    );
    assert!(
        store.iter().all(|r| !r.authorization && r.status < 300),
        "the file store saw an Authorization header or refused: {store:?}"
    );
}
