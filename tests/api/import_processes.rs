//! Cloud import in real `campuscore serve` processes: a server killed in the middle of an
//! import finishes the file after a restart (no partial object, no lost file, no duplicate),
//! and a 200 MiB object from an S3-compatible server (moto) imports while the server's peak
//! memory stays bounded.

use crate::cloud_import::picks;
use crate::serve_process::{Browser, Deployment};
use campuscore::models::entities::{connector, queue_message, source_file, user};
use campuscore::models::folders;
use campuscore::services::credentials;
use campuscore::services::storage::Storage;
use campuscore_testkit::drive::{self as fake_drive, Content, FakeDrive};
use campuscore_testkit::process::{Server, free_port};
use campuscore_testkit::upstream::FakeBooks as _;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;
use std::time::{Duration, Instant};

pub(crate) const MIB: u64 = 1024 * 1024;
pub(crate) const EMAIL: &str = "ada@campus.test";
pub(crate) const PASSWORD: &str = "a long enough password";

pub(crate) async fn user_id(db: &DatabaseConnection) -> i64 {
    user::Entity::find()
        .filter(user::Column::Email.eq(EMAIL))
        .one(db)
        .await
        .expect("query")
        .expect("the user")
        .id
}

pub(crate) async fn connector_id(db: &DatabaseConnection, slug: &str) -> i64 {
    connector::Entity::find()
        .filter(connector::Column::Slug.eq(slug))
        .one(db)
        .await
        .expect("query")
        .expect("catalog row")
        .id
}

/// The browse fragment of `folder_param` (absent: the top level) in the browser's session.
pub(crate) async fn browse(
    browser: &Browser,
    folder: i64,
    conn: i64,
    folder_param: Option<&str>,
) -> String {
    let mut url = format!(
        "{}/api/htmx/knowledge-folders/{folder}/cloud-import/{conn}/browse/",
        browser.address
    );
    if let Some(f) = folder_param {
        url.push_str(&format!("?folder={f}"));
    }
    let res = browser
        .http
        .get(url)
        .header("HX-Request", "true")
        .send()
        .await
        .expect("browse");
    assert_eq!(res.status(), 200);
    res.text().await.expect("body")
}

pub(crate) async fn import(browser: &Browser, folder: i64, conn: i64, pick: &str) {
    let token = browser.csrf(&format!("/knowledge-folders/{folder}/")).await;
    let res = browser
        .http
        .post(format!(
            "{}/api/htmx/knowledge-folders/{folder}/cloud-import/{conn}/import/",
            browser.address
        ))
        .header("HX-Request", "true")
        .header("X-CSRF-Token", token)
        .form(&[("file", pick)])
        .send()
        .await
        .expect("import");
    assert_eq!(res.status(), 202);
}

/// Polls the folder's only file until `done` says so.
pub(crate) async fn wait_for(
    db: &DatabaseConnection,
    folder: i64,
    within: Duration,
    what: &str,
    done: impl Fn(&source_file::Model) -> bool,
) -> source_file::Model {
    let deadline = Instant::now() + within;
    loop {
        let file = source_file::Entity::find()
            .filter(source_file::Column::KnowledgeFolderId.eq(folder))
            .one(db)
            .await
            .expect("query");
        if let Some(f) = file.filter(|f| done(f)) {
            return f;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every file under the folder's prefix in the deployment's local object storage.
pub(crate) fn objects(deployment: &Deployment, folder: i64) -> Vec<std::path::PathBuf> {
    crate::helpers::files_under(
        &deployment
            .data_dir()
            .join("objects/knowledge-folders")
            .join(folder.to_string()),
    )
}

pub(crate) async fn setup_user(deployment: &Deployment) {
    deployment.cli(&["createuser", "--email", EMAIL, "--password", PASSWORD]);
}

/// Points `google-drive` at `api_base`, makes the user, a Drive connection and a folder;
/// returns (connection id, folder id).
pub(crate) async fn drive_user(
    deployment: &Deployment,
    api_base: &str,
    folder_name: &str,
) -> (i64, i64) {
    setup_user(deployment).await;
    for (key, value) in [("CLIENT_ID", "x"), ("API_BASE_URL", api_base)] {
        deployment.cli(&["config", "set", "google-drive", key, value]);
    }
    deployment.cli(&[
        "config",
        "set",
        "google-drive",
        "CLIENT_SECRET",
        "y",
        "--secret",
    ]);
    let db = deployment.db().await;
    let owner = user_id(&db).await;
    let conn = credentials::insert(
        &db,
        &deployment.keyring(),
        credentials::NewConnection {
            user_id: owner,
            connector_id: connector_id(&db, "google-drive").await,
            data: json!({"access_token": "a", "refresh_token": "r", "token_type": "Bearer"}),
            service_identity: Some(EMAIL.into()),
            scopes: None,
            expires_at: None,
        },
    )
    .await
    .expect("connection")
    .id;
    let folder = folders::create(&db, owner, &crate::helpers::folder_name(folder_name))
        .await
        .expect("folder")
        .id;
    (conn, folder)
}

#[tokio::test]
async fn a_server_killed_mid_import_finishes_the_file_after_a_restart_exactly_once() {
    let deployment = Deployment::new().await;
    let drive = FakeDrive::start().await;
    let id = drive.add_file(
        fake_drive::ROOT,
        "recording.mp4",
        "video/mp4",
        Content::synthetic(256 * MIB, 5),
    );
    // Slow enough to kill the server in the middle of the download.
    drive.set_content_rate(Some(16 * MIB));
    let (conn, folder) = drive_user(&deployment, drive.base_url(), "Recordings").await;
    let first = deployment.serve(deployment.port, "a").await;
    let db = deployment.db().await;

    let browser = Browser::log_in(&first.address, EMAIL, PASSWORD).await;
    let html = browse(&browser, folder, conn, Some("root")).await;
    let (_, pick) = picks(&html).into_iter().next().expect("the recording");
    import(&browser, folder, conn, &pick).await;

    wait_for(
        &db,
        folder,
        Duration::from_secs(60),
        "a download in progress",
        |f| f.status == "downloading" && f.bytes_received.unwrap_or(0) >= 32 * MIB as i64,
    )
    .await;
    first.kill();
    let interrupted = wait_for(&db, folder, Duration::ZERO, "", |_| true).await;
    assert_eq!(
        interrupted.status, "downloading",
        "nothing pretends it finished"
    );
    assert!(
        objects(&deployment, folder).iter().all(|p| p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().contains('#'))),
        "only the unfinished upload's staging file may exist, never the object itself: {:?}",
        objects(&deployment, folder)
    );

    // A new process takes the import over once the dead worker's lease ends.
    drive.set_content_rate(None);
    let _second: Server = deployment.serve(free_port(), "b").await;
    let done = wait_for(
        &db,
        folder,
        Duration::from_secs(180),
        "the import after restart",
        |f| matches!(f.status.as_str(), "ready" | "failed"),
    )
    .await;
    assert_eq!(done.status, "ready", "{done:?}");
    assert_eq!(done.size_bytes as u64, 256 * MIB);
    assert_eq!(
        done.sha256.as_deref(),
        Some(drive.content_of(&id).sha256_hex().as_str())
    );
    let rows = source_file::Entity::find().count(&db).await.expect("count");
    assert_eq!(rows, 1, "no duplicate row");
    let messages = queue_message::Entity::find()
        .filter(queue_message::Column::MessageType.eq("source_file.uploaded"))
        .count(&db)
        .await
        .expect("count");
    assert_eq!(messages, 1, "one document message");
    let stored = objects(&deployment, folder);
    assert_eq!(
        stored.len(),
        1,
        "exactly one object, no partial leftovers: {stored:?}"
    );
    assert_eq!(
        std::fs::metadata(&stored[0]).expect("stat").len(),
        256 * MIB
    );
    assert!(drive.content_requests() >= 2, "the download started over");
}

#[tokio::test]
async fn a_200_mib_s3_object_imports_into_a_folder_with_bounded_server_memory() {
    let Some((_moto, port)) = campuscore_testkit::moto::start_moto().await else {
        return;
    };
    let endpoint = format!("http://127.0.0.1:{port}");
    let http = campuscore_testkit::http_client();
    let created = http
        .put(format!("{endpoint}/lab-data"))
        .send()
        .await
        .expect("bucket");
    assert!(created.status().is_success());
    // Put the object with a streamed multipart upload (never whole in this process either).
    let bucket = Storage::from_url_with(
        "s3://lab-data",
        &[
            ("aws_access_key_id", "AKIDLABDATA"),
            ("aws_secret_access_key", "lab data secret"),
            ("aws_region", "us-east-1"),
            ("aws_endpoint", &endpoint),
            ("aws_allow_http", "true"),
        ],
    )
    .expect("s3");
    let content = Content::synthetic(200 * MIB, 11);
    let mut upload = bucket
        .begin_upload("runs/2026/trace.bin")
        .await
        .expect("begin");
    let mut offset = 0;
    while offset < content.len() {
        let chunk = content.read(offset, 8 * MIB as usize);
        offset += chunk.len() as u64;
        upload.write(chunk).await.expect("part");
    }
    upload.finish().await.expect("finish");

    let deployment = Deployment::new().await;
    setup_user(&deployment).await;
    deployment.cli(&["config", "set", "s3-bucket", "ALLOWED_HOSTS", "127.0.0.1"]);
    let token = deployment
        .cli(&["token", "create", "--email", EMAIL])
        .lines()
        .last()
        .expect("token")
        .trim()
        .to_owned();
    let server = deployment.serve(deployment.port, "a").await;
    let res = http
        .post(format!(
            "{}/api/v1/connectors/s3-bucket/connections",
            server.address
        ))
        .bearer_auth(&token)
        .json(&json!({
            "access_key_id": "AKIDLABDATA",
            "secret_access_key": "lab data secret",
            "region": "us-east-1",
            "bucket": "lab-data",
            "prefix": "runs/",
            "endpoint_url": endpoint,
        }))
        .send()
        .await
        .expect("connect");
    assert_eq!(
        res.status(),
        201,
        "{}",
        res.text().await.unwrap_or_default()
    );
    let conn = res.json::<serde_json::Value>().await.expect("json")["credential_id"]
        .as_i64()
        .expect("credential id");
    let db = deployment.db().await;
    let folder = folders::create(&db, user_id(&db).await, &crate::helpers::folder_name("Lab"))
        .await
        .expect("folder")
        .id;

    let browser = Browser::log_in(&server.address, EMAIL, PASSWORD).await;
    let top = browse(&browser, folder, conn, None).await;
    assert!(top.contains("2026"), "the prefix shows as a folder: {top}");
    let inside = browse(&browser, folder, conn, Some("runs/2026/")).await;
    let (name, pick) = picks(&inside).into_iter().next().expect("the object");
    assert_eq!(name, "trace.bin");

    let before = server.peak_rss_kib();
    import(&browser, folder, conn, &pick).await;
    let done = wait_for(
        &db,
        folder,
        Duration::from_secs(300),
        "the S3 import",
        |f| matches!(f.status.as_str(), "ready" | "failed"),
    )
    .await;
    let after = server.peak_rss_kib();
    assert_eq!(done.status, "ready", "{done:?}");
    assert_eq!(done.origin, "s3-bucket");
    assert_eq!(done.size_bytes as u64, 200 * MIB);
    assert_eq!(done.sha256.as_deref(), Some(content.sha256_hex().as_str()));
    let growth_mib = after.saturating_sub(before) / 1024;
    assert!(
        growth_mib < 64,
        "importing 200 MiB raised the server's peak memory by {growth_mib} MiB ({before} → {after} KiB)"
    );
}
