//! Cloud import from Google Drive and OneDrive, end to end: the app's HTMX routes, the real
//! connectors, and the fake Drive v3 / Graph servers (`campuscore_testkit::{drive, graph}`):
//! paging, search, Google Docs export, a 1 GiB file, damaged and cut-off downloads, rate
//! limits, a permission error, the size limit, a token refresh in the middle of an import,
//! and OneDrive's `/content` redirect.

use crate::cloud_import::{
    browse_path, create_folder, hx_get, import, link_to, picks, settled_files,
};
use crate::helpers::{Options, TestApp, files_under, location, spawn_app, spawn_app_with};
use campuscore::models::entities::{connection, queue_message, source_file};
use campuscore_testkit::drive::{self as fake_drive, Content, Endpoint, FakeDrive, Fault};
use campuscore_testkit::graph::{self as fake_graph, FakeGraph};
use campuscore_testkit::oauth_server::{OAuthServer, OAuthServerConfig};
use campuscore_testkit::upstream::FakeBooks as _;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;
use sha2::Digest;
use std::time::Duration;

const MIB: u64 = 1024 * 1024;

/// Points `slug` at `base_url` with a client id and secret, so it counts as configured.
pub async fn configure(app: &TestApp, slug: &str, base_url: &str) {
    app.set_config(slug, "CLIENT_ID", "campuscore-test").await;
    app.set_config(slug, "CLIENT_SECRET", "client secret").await;
    app.set_config(slug, "API_BASE_URL", base_url).await;
}

/// A connection of `slug` for `user_id` with tokens the fakes accept.
pub async fn oauth_connection(app: &TestApp, slug: &str, user_id: i64, identity: &str) -> i64 {
    let tokens = json!({
        "access_token": format!("access-{user_id}"),
        "refresh_token": format!("refresh-{user_id}"),
        "token_type": "Bearer",
    });
    app.insert_connection(slug, user_id, tokens, identity)
        .await
        .id
}

/// A logged-in user with a knowledge folder and a Google Drive connection to `drive`.
pub async fn with_drive(app: &TestApp, drive: &FakeDrive, email: &str) -> (i64, i64) {
    let user = app.logged_in_user(email).await;
    configure(app, "google-drive", drive.base_url()).await;
    let folder = create_folder(app, "Imports").await;
    let conn = oauth_connection(app, "google-drive", user.id, email).await;
    (folder, conn)
}

/// Posts the import form; it must be queued (202).
pub async fn import_queued(app: &TestApp, folder: i64, conn: i64, picks: &[String]) {
    let res = import(app, folder, conn, picks).await;
    assert_eq!(res.status(), 202, "queued");
}

/// The checkbox value of the file called `name` in a browse fragment.
pub fn pick(html: &str, name: &str) -> String {
    picks(html)
        .into_iter()
        .find(|(label, _)| label == name)
        .unwrap_or_else(|| panic!("{name} is not in the listing: {html}"))
        .1
}

pub async fn browse(app: &TestApp, folder: i64, conn: i64) -> String {
    let res = hx_get(app, &browse_path(folder, conn)).await;
    assert_eq!(res.status(), 200);
    res.text().await.expect("body")
}

/// Google Drive's top level lists places (My Drive, Shared with me, Shared drives); this
/// opens My Drive from it.
pub async fn my_drive(app: &TestApp, folder: i64, conn: i64) -> String {
    let top = browse(app, folder, conn).await;
    let url = link_to(&top, "My Drive").unwrap_or_else(|| panic!("My Drive at the top: {top}"));
    let res = hx_get(app, &url).await;
    assert_eq!(res.status(), 200);
    res.text().await.expect("body")
}

/// The queue message of the first cloud import.
pub async fn first_import_message(app: &TestApp) -> queue_message::Model {
    queue_message::Entity::find()
        .filter(queue_message::Column::MessageType.eq("cloud_import.file"))
        .one(&app.state.db)
        .await
        .expect("query")
        .expect("the import message")
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Every stored object under the folder's prefix (staging leftovers included).
pub fn objects_of(app: &TestApp, folder: i64) -> Vec<std::path::PathBuf> {
    files_under(
        &app.dir
            .path()
            .join("objects/knowledge-folders")
            .join(folder.to_string()),
    )
}

#[tokio::test]
async fn drive_folders_page_by_100_and_search_finds_a_doc_that_imports_as_docx() {
    let app = spawn_app().await;
    let drive = FakeDrive::start().await;
    let course = drive.add_folder(fake_drive::ROOT, "Course");
    for i in 0..130 {
        drive.add_file(
            &course,
            &format!("Note {i:03}.txt"),
            "text/plain",
            format!("note {i}").into_bytes(),
        );
    }
    drive.add_native(fake_drive::ROOT, "Essay", fake_drive::DOCUMENT_MIME);
    drive.add_file(
        fake_drive::ROOT,
        "Syllabus.pdf",
        "application/pdf",
        "%PDF-1.7 syllabus",
    );
    let (folder, conn) = with_drive(&app, &drive, "ada@campus.test").await;

    let top = my_drive(&app, folder, conn).await;
    assert!(
        top.contains("/static/icons/files/folder.svg")
            && top.contains("/static/icons/files/pdf.svg"),
        "{top}"
    );
    let into_course = link_to(&top, "Course").expect("Course opens");
    let first = hx_get(&app, &into_course).await.text().await.expect("body");
    assert!(
        first.contains("<span aria-current=\"page\">Course</span>"),
        "breadcrumbs: {first}"
    );
    assert_eq!(picks(&first).len(), 100, "Drive's first page");
    let more = link_to(&first, "Load more").expect("Load more");
    let second = hx_get(&app, &more).await.text().await.expect("body");
    assert_eq!(picks(&second).len(), 30);
    assert!(
        link_to(&second, "Load more").is_none(),
        "the last page has no Load more"
    );
    let paged = drive
        .requests()
        .into_iter()
        .filter(|r| r.endpoint == Some(Endpoint::List) && r.param("pageToken").is_some())
        .count();
    assert_eq!(
        paged, 1,
        "the second page was asked for with Drive's nextPageToken"
    );

    let found = hx_get(&app, &format!("{}?q=Essay", browse_path(folder, conn)))
        .await
        .text()
        .await
        .expect("body");
    assert!(found.contains("Results for “Essay”"), "{found}");
    let res = import(&app, folder, conn, &[pick(&found, "Essay")]).await;
    assert_eq!(res.status(), 202);
    let files = settled_files(&app, folder, 1, Duration::from_secs(30)).await;
    let doc = &files[0];
    assert_eq!(doc.status, "ready", "{doc:?}");
    assert_eq!(
        doc.name, "Essay.docx",
        "exported in the administrator's default format"
    );
    assert_eq!(
        doc.mime_type,
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    );
    assert!(doc.storage_key.ends_with("/Essay.docx"));
    let export = drive
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/export"))
        .expect("an export request");
    assert_eq!(
        export.param("mimeType").as_deref(),
        Some("application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    );
}

#[tokio::test]
async fn a_1_gib_drive_file_streams_into_storage_with_its_checksum_checked() {
    let app = spawn_app().await;
    let drive = FakeDrive::start().await;
    let id = drive.add_file(
        fake_drive::ROOT,
        "lectures.mp4",
        "video/mp4",
        Content::synthetic(1024 * MIB, 7),
    );
    let (folder, conn) = with_drive(&app, &drive, "big@campus.test").await;
    let html = my_drive(&app, folder, conn).await;
    assert!(html.contains("1.0 GiB"), "sizes are shown: {html}");

    import_queued(&app, folder, conn, &[pick(&html, "lectures.mp4")]).await;
    let files = settled_files(&app, folder, 1, Duration::from_secs(600)).await;
    let file = &files[0];
    assert_eq!(file.status, "ready", "{file:?}");
    assert_eq!(file.size_bytes as u64, 1024 * MIB);
    assert_eq!(
        file.sha256.as_deref(),
        Some(drive.content_of(&id).sha256_hex().as_str())
    );
    assert_eq!(drive.content_requests(), 1);
    assert_eq!(objects_of(&app, folder).len(), 1);
}

#[tokio::test]
async fn damaged_or_cut_off_downloads_are_retried_and_only_whole_files_are_stored() {
    let app = spawn_app().await;
    let drive = FakeDrive::start().await;
    let damaged = drive.add_file(
        fake_drive::ROOT,
        "damaged.bin",
        "application/octet-stream",
        Content::synthetic(3 * MIB, 1),
    );
    drive.add_file(
        fake_drive::ROOT,
        "cut.bin",
        "application/octet-stream",
        Content::synthetic(3 * MIB, 2),
    );
    let (folder, conn) = with_drive(&app, &drive, "net@campus.test").await;
    let html = my_drive(&app, folder, conn).await;

    drive.fail_next(Endpoint::Content, Fault::CorruptContent);
    import_queued(&app, folder, conn, &[pick(&html, "damaged.bin")]).await;
    let files = settled_files(&app, folder, 1, Duration::from_secs(60)).await;
    assert_eq!(files[0].status, "ready", "{:?}", files[0]);
    assert_eq!(
        files[0].sha256.as_deref(),
        Some(drive.content_of(&damaged).sha256_hex().as_str())
    );
    assert_eq!(
        drive.content_requests(),
        2,
        "the damaged copy was fetched again"
    );
    let retried = first_import_message(&app).await;
    assert!(
        retried
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("checksum does not match")),
        "{retried:?}"
    );

    drive.fail_next(Endpoint::Content, Fault::Truncate { after: MIB });
    import_queued(&app, folder, conn, &[pick(&html, "cut.bin")]).await;
    let files = settled_files(&app, folder, 2, Duration::from_secs(60)).await;
    assert!(files.iter().all(|f| f.status == "ready"), "{files:?}");
    assert_eq!(drive.content_requests(), 4);
    assert_eq!(
        objects_of(&app, folder).len(),
        2,
        "no partial object was left behind"
    );
}

#[tokio::test]
async fn rate_limited_downloads_wait_as_asked_and_then_succeed() {
    let app = spawn_app().await;
    let drive = FakeDrive::start().await;
    drive.add_file(fake_drive::ROOT, "a.pdf", "application/pdf", "%PDF a");
    drive.add_file(fake_drive::ROOT, "b.pdf", "application/pdf", "%PDF b");
    let (folder, conn) = with_drive(&app, &drive, "busy@campus.test").await;
    let html = my_drive(&app, folder, conn).await;

    for _ in 0..3 {
        drive.fail_next(
            Endpoint::Content,
            Fault::Status {
                status: 429,
                retry_after: Some(1),
                reason: None,
            },
        );
    }
    for _ in 0..3 {
        drive.fail_next(
            Endpoint::Content,
            Fault::RateLimit403 {
                reason: "userRateLimitExceeded",
            },
        );
    }
    let res = import(
        &app,
        folder,
        conn,
        &[pick(&html, "a.pdf"), pick(&html, "b.pdf")],
    )
    .await;
    assert_eq!(res.status(), 202);
    let files = settled_files(&app, folder, 2, Duration::from_secs(120)).await;
    assert!(files.iter().all(|f| f.status == "ready"), "{files:?}");
    assert_eq!(
        drive.pending_faults(Endpoint::Content),
        0,
        "every refusal was met"
    );
    assert_eq!(
        drive.content_requests(),
        8,
        "six refusals, then one download each"
    );
}

#[tokio::test]
async fn a_download_the_account_may_not_make_fails_once_with_a_reason_and_can_be_imported_again() {
    let app = spawn_app().await;
    let drive = FakeDrive::start().await;
    drive.add_file(
        fake_drive::ROOT,
        "secret.pdf",
        "application/pdf",
        "%PDF secret",
    );
    let (folder, conn) = with_drive(&app, &drive, "denied@campus.test").await;
    let html = my_drive(&app, folder, conn).await;

    drive.fail_next(Endpoint::Content, Fault::InsufficientPermissions);
    import_queued(&app, folder, conn, &[pick(&html, "secret.pdf")]).await;
    let files = settled_files(&app, folder, 1, Duration::from_secs(30)).await;
    assert_eq!(files[0].status, "failed");
    assert!(
        files[0].error.as_deref().is_some_and(|e| !e.is_empty()),
        "{:?}",
        files[0]
    );
    assert_eq!(
        drive.content_requests(),
        1,
        "a permission error is not retried"
    );
    let page = app
        .get_text(&format!("/knowledge-folders/{folder}/files"))
        .await;
    assert!(page.contains("status-failed"));

    // Importing the same revision again retries the failed row instead of adding one.
    let res = import(&app, folder, conn, &[pick(&html, "secret.pdf")]).await;
    assert!(res.text().await.expect("body").contains("Importing 1 file"));
    let files = settled_files(&app, folder, 1, Duration::from_secs(30)).await;
    assert_eq!(files[0].status, "ready", "{:?}", files[0]);
}

#[tokio::test]
async fn a_file_over_the_size_limit_fails_without_storing_anything() {
    let app = spawn_app_with(Options {
        max_upload_bytes: Some(MIB),
        ..Default::default()
    })
    .await;
    let drive = FakeDrive::start().await;
    drive.add_file(
        fake_drive::ROOT,
        "huge.zip",
        "application/zip",
        Content::synthetic(2 * MIB, 3),
    );
    let (folder, conn) = with_drive(&app, &drive, "limit@campus.test").await;
    let html = my_drive(&app, folder, conn).await;
    import_queued(&app, folder, conn, &[pick(&html, "huge.zip")]).await;
    let files = settled_files(&app, folder, 1, Duration::from_secs(30)).await;
    assert_eq!(files[0].status, "failed");
    assert_eq!(
        files[0].error.as_deref(),
        Some("The file is larger than the 1.0 MiB limit.")
    );
    assert!(objects_of(&app, folder).is_empty());
}

#[tokio::test]
async fn browse_failures_come_back_as_fragments_a_person_can_act_on() {
    let app = spawn_app().await;
    let drive = FakeDrive::start().await;
    let (folder, conn) = with_drive(&app, &drive, "err@campus.test").await;

    for _ in 0..4 {
        drive.fail_next(
            Endpoint::List,
            Fault::Status {
                status: 429,
                retry_after: Some(40),
                reason: None,
            },
        );
    }
    let my_drive_url = format!("{}?folder=root", browse_path(folder, conn));
    let res = hx_get(&app, &my_drive_url).await;
    assert_eq!(res.status(), 429);
    assert_eq!(
        res.headers()
            .get("HX-Retarget")
            .and_then(|v| v.to_str().ok()),
        Some("#cloud-import-errors")
    );
    assert!(res.headers().contains_key("Retry-After"));
    let body = res.text().await.expect("body");
    assert!(
        body.contains("Google Drive is busy") && body.contains(">Try again</button>"),
        "{body}"
    );
    drive.clear_faults();

    for _ in 0..4 {
        drive.fail_next(Endpoint::List, Fault::ServerError(503));
    }
    let res = hx_get(&app, &my_drive_url).await;
    let body = res.text().await.expect("body");
    assert!(body.contains("Google Drive is not available"), "{body}");
    drive.clear_faults();

    // The tokens stop working and the provider refuses the refresh token: the user is
    // asked to reconnect, with the button.
    let provider = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(400).set_body_json(
            json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}),
        ))
        .expect(1)
        .mount(&provider)
        .await;
    app.set_config(
        "google-drive",
        "TOKEN_URL",
        &format!("{}/token", provider.uri()),
    )
    .await;
    drive.expire_all_tokens();
    let res = hx_get(&app, &my_drive_url).await;
    let body = res.text().await.expect("body");
    assert!(body.contains("Reconnect Google Drive"), "{body}");
    assert!(body.contains(&format!(
        "/api/connectors/connect/google-drive/start?connection={conn}"
    )));
}

#[tokio::test]
async fn a_token_that_expires_mid_import_is_refreshed_once_and_the_import_completes() {
    let app = spawn_app().await;
    let drive = FakeDrive::start().await;
    drive.set_user("Ada Lovelace", "ada@campus.test");
    let file = drive.add_file(
        fake_drive::ROOT,
        "thesis.pdf",
        "application/pdf",
        Content::synthetic(8 * MIB, 9),
    );
    let Some(server) = OAuthServer::start(OAuthServerConfig {
        client_id: "campuscore-drive".into(),
        client_secret: "drive secret".into(),
        redirect_uri: app.redirect_uri("google-drive"),
        access_token_ttl: 3600,
    })
    .await
    else {
        return;
    };
    app.logged_in_user("ada@campus.edu").await;
    for (key, value) in [
        ("CLIENT_ID", "campuscore-drive".to_owned()),
        ("CLIENT_SECRET", "drive secret".to_owned()),
        ("AUTH_URL", server.authorize_url()),
        ("TOKEN_URL", server.token_url()),
        ("REVOKE_URL", server.revocation_url()),
        ("SCOPES", "openid email offline_access".to_owned()),
        ("API_BASE_URL", drive.base_url().to_owned()),
    ] {
        app.set_config("google-drive", key, &value).await;
    }
    // Connect through the provider's own pages, as a person would.
    let start = app.get("/api/connectors/connect/google-drive/start").await;
    assert_eq!(start.status(), 302);
    let back = server.sign_in(&location(&start), "ada").await;
    let res = app.client.get(&back).send().await.expect("callback");
    assert_eq!(res.status(), 303);
    let conn = connection::Entity::find()
        .one(&app.state.db)
        .await
        .expect("query")
        .expect("connected");
    assert_eq!(conn.service_identity.as_deref(), Some("ada@campus.test"));
    let folder = create_folder(&app, "Thesis").await;
    let html = my_drive(&app, folder, conn.id).await;

    // The token dies while the import is queued: the download meets a 401, the connector
    // refreshes at the provider once, and the download goes on with the new token.
    drive.expire_all_tokens();
    import_queued(&app, folder, conn.id, &[pick(&html, "thesis.pdf")]).await;
    let files = settled_files(&app, folder, 1, Duration::from_secs(60)).await;
    assert_eq!(files[0].status, "ready", "{:?}", files[0]);
    assert_eq!(
        files[0].sha256.as_deref(),
        Some(drive.content_of(&file).sha256_hex().as_str())
    );
    let stats = server.stats().await;
    assert_eq!(
        crate::oauth_flow::stat(&stats, &["grant_types", "refresh_token"]),
        1,
        "{stats}"
    );
    let after = connection::Entity::find_by_id(conn.id)
        .one(&app.state.db)
        .await
        .expect("query")
        .expect("row");
    assert!(
        after.credentials_version > conn.credentials_version,
        "the new tokens were stored"
    );
    assert_eq!(after.status, "active");
}

#[tokio::test]
async fn onedrive_pages_with_next_links_and_imports_through_the_content_redirect() {
    let app = spawn_app().await;
    let graph = FakeGraph::start().await;
    let root = graph.root_id();
    let course = graph.add_folder(&root, "Course");
    for i in 0..150 {
        graph.add_file(
            &course,
            &format!("Slide {i:03}.pptx"),
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            format!("slide {i}").into_bytes(),
        );
    }
    let report = graph.add_file(
        &root,
        "report.pdf",
        "application/pdf",
        fake_graph::Content::synthetic(5 * MIB, 4),
    );
    let notes = graph.add_file(&root, "notes.txt", "text/plain", "plain notes");
    let user = app.logged_in_user("bo@campus.edu").await;
    configure(&app, "onedrive", graph.base_url()).await;
    let folder = create_folder(&app, "Slides").await;
    let conn = oauth_connection(&app, "onedrive", user.id, "bo@campus.edu").await;

    let top = browse(&app, folder, conn).await;
    let first = hx_get(&app, &link_to(&top, "Course").expect("Course opens"))
        .await
        .text()
        .await
        .expect("body");
    assert_eq!(picks(&first).len(), 100);
    let second = hx_get(&app, &link_to(&first, "Load more").expect("Load more"))
        .await
        .text()
        .await
        .expect("body");
    assert_eq!(picks(&second).len(), 50);

    graph.fail_next(
        fake_graph::Endpoint::Content,
        fake_graph::Fault::Status {
            status: 429,
            retry_after: Some(1),
            reason: None,
        },
    );
    let res = import(
        &app,
        folder,
        conn,
        &[pick(&top, "report.pdf"), pick(&top, "notes.txt")],
    )
    .await;
    assert_eq!(res.status(), 202);
    let files = settled_files(&app, folder, 2, Duration::from_secs(60)).await;
    assert!(files.iter().all(|f| f.status == "ready"), "{files:?}");
    let by_name = |n: &str| files.iter().find(|f| f.name == n).expect("imported");
    assert_eq!(
        by_name("report.pdf").sha256.as_deref(),
        Some(graph.sha256_of(&report).to_ascii_lowercase().as_str())
    );
    let stored = app
        .state
        .storage
        .read_all(&by_name("notes.txt").storage_key)
        .await
        .expect("read");
    assert_eq!(
        sha256_hex(&stored),
        graph.sha256_of(&notes).to_ascii_lowercase()
    );
    assert!(
        graph
            .requests()
            .iter()
            .filter(|r| r.endpoint == Some(fake_graph::Endpoint::Download))
            .all(|r| !r.authorization),
        "the pre-authenticated download URL never gets the bearer token"
    );
    assert!(graph.download_requests() >= 2);
    let rows = source_file::Entity::find()
        .all(&app.state.db)
        .await
        .expect("rows");
    assert!(rows.iter().all(|r| r.origin == "onedrive"));
}

#[tokio::test]
async fn onedrive_for_business_downloads_are_checked_with_quickxorhash() {
    let app = spawn_app().await;
    let graph = FakeGraph::start().await;
    // Like OneDrive for Business and SharePoint: no SHA-1/SHA-256, only QuickXorHash.
    graph.set_sha256_hashes(false);
    let root = graph.root_id();
    let item = graph.add_file(
        &root,
        "minutes.docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        fake_graph::Content::synthetic(2 * MIB, 12),
    );
    let user = app.logged_in_user("sp@campus.edu").await;
    configure(&app, "onedrive", graph.base_url()).await;
    let folder = create_folder(&app, "Minutes").await;
    let conn = oauth_connection(&app, "onedrive", user.id, "sp@campus.edu").await;
    let top = browse(&app, folder, conn).await;

    graph.fail_next(
        fake_graph::Endpoint::Content,
        fake_graph::Fault::CorruptContent,
    );
    import_queued(&app, folder, conn, &[pick(&top, "minutes.docx")]).await;
    let files = settled_files(&app, folder, 1, Duration::from_secs(60)).await;
    assert_eq!(files[0].status, "ready", "{:?}", files[0]);
    assert_eq!(
        files[0].sha256.as_deref(),
        Some(graph.content_of(&item).sha256_hex().as_str())
    );
    let message = first_import_message(&app).await;
    assert!(
        message
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("QuickXorHash checksum does not match")),
        "the damaged copy was caught by QuickXorHash: {message:?}"
    );
    assert_eq!(graph.download_requests(), 2);
}

#[tokio::test]
async fn a_failing_provider_trips_its_breaker_which_fails_fast_defers_imports_and_recovers() {
    let app = spawn_app_with(Options {
        env: vec![
            ("CAMPUSCORE_BREAKER_FAILURES", "5".into()),
            ("CAMPUSCORE_BREAKER_COOL_DOWN_SECONDS", "10".into()),
        ],
        ..Default::default()
    })
    .await;
    let drive = FakeDrive::start().await;
    drive.add_file(
        fake_drive::ROOT,
        "notes.bin",
        "application/octet-stream",
        Content::synthetic(256 * 1024, 7),
    );
    let (folder, conn) = with_drive(&app, &drive, "trip@campus.test").await;
    let html = my_drive(&app, folder, conn).await;
    let url = format!("{}?folder=root", browse_path(folder, conn));
    let listed = drive.count(Endpoint::List);

    // Drive fails: the first browse makes four attempts (one and three retries), the second
    // fails once more, which opens the breaker, and stops retrying at once.
    for _ in 0..8 {
        drive.fail_next(Endpoint::List, Fault::ServerError(503));
    }
    let body = hx_get(&app, &url).await.text().await.expect("body");
    assert!(body.contains("Google Drive is not available"), "{body}");
    let res = hx_get(&app, &url).await;
    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("Retry-After"));
    let body = res.text().await.expect("body");
    assert!(
        body.contains("Google Drive is having trouble; retrying at") && body.contains("Try again"),
        "{body}"
    );
    assert_eq!(drive.count(Endpoint::List), listed + 5);

    // While it is open, browsing fails fast: Drive is not called at all.
    let res = hx_get(&app, &url).await;
    assert_eq!(res.status(), 503);
    assert_eq!(drive.count(Endpoint::List), listed + 5, "no call went out");

    // An import pressed now waits for the provider instead of failing, without using up
    // an attempt…
    drive.clear_faults();
    import_queued(&app, folder, conn, &[pick(&html, "notes.bin")]).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(8);
    loop {
        let file = source_file::Entity::find()
            .filter(source_file::Column::KnowledgeFolderId.eq(folder))
            .one(&app.state.db)
            .await
            .expect("query")
            .expect("the imported file");
        if file
            .error
            .as_deref()
            .is_some_and(|m| m.contains("Google Drive is having trouble"))
        {
            assert_eq!(
                file.status,
                campuscore::models::SourceFileStatus::Queued,
                "waiting, not failed: {file:?}"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never waited: {file:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // …and the admin dashboard shows the open breaker.
    let admin = app.other_browser();
    admin
        .create_user("ops@campus.test", "a long enough password", true)
        .await;
    assert_eq!(
        admin
            .login("ops@campus.test", "a long enough password")
            .await
            .status(),
        303
    );
    let dashboard = admin.get_text("/admin/").await;
    assert!(
        dashboard.contains("Providers having trouble") && dashboard.contains(">open<"),
        "{dashboard}"
    );

    // Once the breaker lets a probe through, the import completes.
    let files = settled_files(&app, folder, 1, Duration::from_secs(60)).await;
    assert_eq!(files[0].status, "ready", "{:?}", files[0]);
    let message = first_import_message(&app).await;
    assert!(
        message
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("having trouble")),
        "{message:?}"
    );
    assert_eq!(message.attempts, 1, "waiting used up no attempt");

    // The probe closed the breaker: browsing works and the dashboard is quiet again.
    let res = hx_get(&app, &url).await;
    assert_eq!(res.status(), 200);
    assert!(
        !admin
            .get_text("/admin/")
            .await
            .contains("Providers having trouble")
    );
}
