//! The network between the app and its providers breaking (issue 17.4): the real
//! `google-drive` and `onedrive` connectors against the fake Drive and the fake Graph, each
//! behind a [`FaultProxy`] that the connector's `API_BASE_URL` (and Graph's download links)
//! point at. A load balancer's 5xx burst, resets and truncations mid-download, a stall, a name
//! that never resolves and slow links: every browse answers a fragment a person can act on,
//! the breaker opens and closes, and every import ends with the right bytes, once.

use crate::cloud_drives::{
    browse, configure, first_import_message, import_queued, my_drive, oauth_connection, objects_of,
    pick, with_drive,
};
use crate::cloud_import::{browse_path, create_folder, hx_get, settled_files};
use crate::helpers::{Options, TestApp, spawn_app_with};
use campuscore::models::entities::source_file;
use campuscore_testkit::drive::{self as fake_drive, Content, FakeDrive};
use campuscore_testkit::fault_proxy::{Fault, FaultProxy};
use campuscore_testkit::graph::{self as fake_graph, FakeGraph};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::time::{Duration, Instant};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * 1024;

/// An app whose breakers open after 5 failed calls and probe again after 2 s, with browsing
/// limits out of the way.
async fn app_with(extra: &[(&'static str, &str)]) -> TestApp {
    let mut env = vec![
        ("CAMPUSCORE_BREAKER_FAILURES", "5".to_owned()),
        ("CAMPUSCORE_BREAKER_COOL_DOWN_SECONDS", "2".to_owned()),
        ("CAMPUSCORE_CLOUD_BROWSE_PER_MINUTE", "1000".to_owned()),
    ];
    env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    spawn_app_with(Options {
        env,
        ..Default::default()
    })
    .await
}

/// A Google Drive user whose connector reaches `drive` through a new proxy.
async fn drive_behind_proxy(
    app: &TestApp,
    drive: &FakeDrive,
    email: &str,
) -> (FaultProxy, i64, i64) {
    let proxy = FaultProxy::start(drive.base_url()).await;
    let (folder, conn) = with_drive(app, drive, email).await;
    app.set_config("google-drive", "API_BASE_URL", &proxy.base_url())
        .await;
    (proxy, folder, conn)
}

/// A OneDrive user whose connector reaches `graph`, API and download links, through a new
/// proxy.
async fn graph_behind_proxy(
    app: &TestApp,
    graph: &FakeGraph,
    email: &str,
) -> (FaultProxy, i64, i64) {
    let proxy = FaultProxy::start(graph.base_url()).await;
    graph.set_download_base(&proxy.base_url());
    let user = app.logged_in_user(email).await;
    configure(app, "onedrive", &proxy.base_url()).await;
    let folder = create_folder(app, "Imports").await;
    let conn = oauth_connection(app, "onedrive", user.id, email).await;
    (proxy, folder, conn)
}

/// What every error fragment must be: retargeted into the page's error box, a way forward,
/// the provider named, no trace of the program's insides.
async fn assert_actionable(res: reqwest::Response, status: u16, service: &str, says: &str) {
    assert_eq!(res.status(), status, "status");
    assert_eq!(
        res.headers()
            .get("HX-Retarget")
            .and_then(|v| v.to_str().ok()),
        Some("#cloud-import-errors")
    );
    let retry_after = res.headers().contains_key("Retry-After");
    let body = res.text().await.expect("body");
    assert!(body.contains(says), "{says}: {body}");
    assert!(body.contains(service), "{service} named: {body}");
    assert!(
        body.contains(">Try again</button>"),
        "a way forward: {body}"
    );
    for inside in [
        "panicked",
        "backtrace",
        "src/",
        "reqwest",
        "hyper",
        "127.0.0.1",
    ] {
        assert!(!body.contains(inside), "{inside} leaked: {body}");
    }
    if status == 503 {
        assert!(retry_after, "503 says when to come back");
    }
}

/// The burst: the load balancer in front of the provider answers `status` (502 or 503) itself. The first
/// browse retries (4 failed calls) and answers "not available"; the second call's failure
/// opens the breaker, so it answers "having trouble"; then no call reaches the proxy until
/// the cool-down, after which the probe finds the provider back and closes the breaker.
async fn browse_through_a_burst(
    app: &TestApp,
    proxy: &FaultProxy,
    status: u16,
    url: &str,
    service: &str,
) {
    assert_eq!(hx_get(app, url).await.status(), 200, "healthy at first");

    proxy.set(Fault::HttpStatus(status));
    proxy.sever();
    let res = hx_get(app, url).await;
    assert_actionable(res, 502, service, &format!("{service} is not available")).await;
    let res = hx_get(app, url).await;
    assert_actionable(res, 503, service, &format!("{service} is having trouble")).await;

    let accepted = proxy.accepted();
    for _ in 0..5 {
        let started = Instant::now();
        let res = hx_get(app, url).await;
        assert!(started.elapsed() < Duration::from_millis(500), "fails fast");
        assert_actionable(res, 503, service, "retrying at").await;
    }
    assert_eq!(
        proxy.accepted(),
        accepted,
        "no connection reached the proxy"
    );

    // The burst ends; after the cool-down one probe goes through and closes the breaker.
    proxy.clear();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let res = hx_get(app, url).await;
        if res.status() == 200 {
            break;
        }
        assert_eq!(res.status(), 503, "only the breaker refuses now");
        assert!(Instant::now() < deadline, "the breaker never closed");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        proxy.accepted() > accepted,
        "the probe reached the provider"
    );
    for _ in 0..3 {
        assert_eq!(hx_get(app, url).await.status(), 200, "browsing works again");
    }
}

#[tokio::test]
async fn a_5xx_burst_opens_the_drive_breaker_browsing_fails_fast_and_recovers() {
    let app = app_with(&[]).await;
    let drive = FakeDrive::start().await;
    drive.add_file(fake_drive::ROOT, "a.pdf", "application/pdf", "%PDF a");
    let (proxy, folder, conn) = drive_behind_proxy(&app, &drive, "burst@campus.test").await;
    let url = format!("{}?folder=root", browse_path(folder, conn));
    browse_through_a_burst(&app, &proxy, 503, &url, "Google Drive").await;
}

#[tokio::test]
async fn a_5xx_burst_opens_the_onedrive_breaker_browsing_fails_fast_and_recovers() {
    let app = app_with(&[]).await;
    let graph = FakeGraph::start().await;
    graph.add_file(&graph.root_id(), "a.pdf", "application/pdf", "%PDF a");
    let (proxy, folder, conn) = graph_behind_proxy(&app, &graph, "burst@campus.test").await;
    // A load balancer's 503 without `Retry-After` is an outage, not OneDrive throttling.
    browse_through_a_burst(&app, &proxy, 503, &browse_path(folder, conn), "OneDrive").await;
}

/// The folder's files once `n` have settled: each `ready` with the SHA-256 `expected` gives
/// for its name, exactly `n` rows and `n` stored objects (no duplicate, no staging leftover).
async fn assert_imported_once(app: &TestApp, folder: i64, expected: &[(String, String)]) {
    let n = expected.len();
    let files = settled_files(app, folder, n, Duration::from_secs(120)).await;
    for (name, sha256) in expected {
        let file = files
            .iter()
            .find(|f| &f.name == name)
            .unwrap_or_else(|| panic!("{name} imported: {files:?}"));
        assert_eq!(file.status, "ready", "{file:?}");
        assert_eq!(file.sha256.as_deref(), Some(sha256.as_str()), "{name}");
        let stored = app
            .state
            .storage
            .read_all(&file.storage_key)
            .await
            .expect("read");
        assert_eq!(crate::cloud_drives::sha256_hex(&stored), *sha256, "{name}");
    }
    let rows = source_file::Entity::find()
        .filter(source_file::Column::KnowledgeFolderId.eq(folder))
        .all(&app.state.db)
        .await
        .expect("rows");
    assert_eq!(rows.len(), n, "one row per file: {rows:?}");
    let objects = objects_of(app, folder);
    assert_eq!(objects.len(), n, "one object per file: {objects:?}");
}

/// Six connections in a row meet a reset or a clean cut part-way through what they carry;
/// the connections open now are cut, so the next requests need new ones.
fn break_the_next_connections(proxy: &FaultProxy) {
    proxy.set_next(2, Fault::ResetAfter(MIB));
    proxy.set_next(2, Fault::TruncateAfter(MIB + 300 * KIB));
    proxy.set_next(1, Fault::ResetAfter(200 * KIB));
    proxy.set_next(1, Fault::TruncateAfter(2 * MIB));
    proxy.sever();
}

#[tokio::test]
async fn drive_imports_through_resets_and_truncations_end_ready_once_with_the_right_bytes() {
    let app = app_with(&[]).await;
    let drive = FakeDrive::start().await;
    let ids: Vec<(String, String)> = (0..4)
        .map(|i| {
            let name = format!("part-{i}.bin");
            let id = drive.add_file(
                fake_drive::ROOT,
                &name,
                "application/octet-stream",
                Content::synthetic(3 * MIB, 40 + i),
            );
            (name, id)
        })
        .collect();
    let (proxy, folder, conn) = drive_behind_proxy(&app, &drive, "reset@campus.test").await;
    let html = my_drive(&app, folder, conn).await;
    let picks: Vec<String> = ids.iter().map(|(name, _)| pick(&html, name)).collect();

    break_the_next_connections(&proxy);
    import_queued(&app, folder, conn, &picks).await;
    let expected: Vec<(String, String)> = ids
        .iter()
        .map(|(name, id)| (name.clone(), drive.content_of(id).sha256_hex()))
        .collect();
    assert_imported_once(&app, folder, &expected).await;
    assert!(
        drive.content_requests() > ids.len(),
        "some downloads were cut and fetched again: {}",
        drive.content_requests()
    );
}

#[tokio::test]
async fn onedrive_imports_through_resets_and_truncations_end_ready_once_with_the_right_bytes() {
    let app = app_with(&[]).await;
    let graph = FakeGraph::start().await;
    let root = graph.root_id();
    let ids: Vec<(String, String)> = (0..4)
        .map(|i| {
            let name = format!("part-{i}.bin");
            let id = graph.add_file(
                &root,
                &name,
                "application/octet-stream",
                fake_graph::Content::synthetic(3 * MIB, 50 + i),
            );
            (name, id)
        })
        .collect();
    let (proxy, folder, conn) = graph_behind_proxy(&app, &graph, "reset@campus.test").await;
    let html = browse(&app, folder, conn).await;
    let picks: Vec<String> = ids.iter().map(|(name, _)| pick(&html, name)).collect();

    break_the_next_connections(&proxy);
    import_queued(&app, folder, conn, &picks).await;
    let expected: Vec<(String, String)> = ids
        .iter()
        .map(|(name, id)| (name.clone(), graph.content_of(id).sha256_hex()))
        .collect();
    assert_imported_once(&app, folder, &expected).await;
    assert!(
        graph.download_requests() > ids.len(),
        "some downloads were cut and fetched again: {}",
        graph.download_requests()
    );
}

#[tokio::test]
async fn a_download_stalled_past_the_read_timeout_is_given_up_and_retried_once() {
    let app = app_with(&[("CAMPUSCORE_UPSTREAM_READ_TIMEOUT_SECONDS", "2")]).await;
    let drive = FakeDrive::start().await;
    let id = drive.add_file(
        fake_drive::ROOT,
        "stalled.bin",
        "application/octet-stream",
        Content::synthetic(2 * MIB, 61),
    );
    let (proxy, folder, conn) = drive_behind_proxy(&app, &drive, "stall@campus.test").await;
    let html = my_drive(&app, folder, conn).await;

    // The connection goes quiet half a MiB in, for far longer than the read timeout.
    proxy.set_next(
        1,
        Fault::Stall {
            after: 512 * KIB,
            pause: Duration::from_secs(30),
        },
    );
    proxy.sever();
    let started = Instant::now();
    import_queued(&app, folder, conn, &[pick(&html, "stalled.bin")]).await;
    let expected = [("stalled.bin".to_owned(), drive.content_of(&id).sha256_hex())];
    assert_imported_once(&app, folder, &expected).await;
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "the stalled attempt was given up, not waited out: {:?}",
        started.elapsed()
    );
    assert_eq!(
        drive.content_requests(),
        2,
        "one stalled attempt, one whole"
    );
    let message = first_import_message(&app).await;
    assert_eq!(message.attempts, 2, "{message:?}");
    assert!(
        message
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("could not be reached")),
        "{message:?}"
    );
}

#[tokio::test]
async fn a_stall_shorter_than_the_read_timeout_only_delays_the_download() {
    let app = app_with(&[("CAMPUSCORE_UPSTREAM_READ_TIMEOUT_SECONDS", "3")]).await;
    let drive = FakeDrive::start().await;
    let id = drive.add_file(
        fake_drive::ROOT,
        "slow.bin",
        "application/octet-stream",
        Content::synthetic(2 * MIB, 62),
    );
    let (proxy, folder, conn) = drive_behind_proxy(&app, &drive, "pause@campus.test").await;
    let html = my_drive(&app, folder, conn).await;

    proxy.set_next(
        1,
        Fault::Stall {
            after: 512 * KIB,
            pause: Duration::from_millis(1500),
        },
    );
    proxy.sever();
    let started = Instant::now();
    import_queued(&app, folder, conn, &[pick(&html, "slow.bin")]).await;
    let expected = [("slow.bin".to_owned(), drive.content_of(&id).sha256_hex())];
    assert_imported_once(&app, folder, &expected).await;
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "the stall was met"
    );
    assert_eq!(drive.content_requests(), 1, "no retry");
    let message = first_import_message(&app).await;
    assert_eq!((message.attempts, message.last_error), (1, None));
}

#[tokio::test]
async fn a_provider_name_that_never_resolves_gets_clear_answers_and_nothing_half_written() {
    let app = app_with(&[]).await;
    let drive = FakeDrive::start().await;
    drive.add_file(fake_drive::ROOT, "a.pdf", "application/pdf", "%PDF a");
    let (folder, conn) = with_drive(&app, &drive, "dns@campus.test").await;
    let html = my_drive(&app, folder, conn).await;
    // `.invalid` never resolves (RFC 2606).
    app.set_config(
        "google-drive",
        "API_BASE_URL",
        "https://drive.fault-test.invalid",
    )
    .await;
    let url = format!("{}?folder=root", browse_path(folder, conn));

    let res = hx_get(&app, &url).await;
    assert_actionable(res, 504, "Google Drive", "Google Drive is not available").await;
    import_queued(&app, folder, conn, &[pick(&html, "a.pdf")]).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let file = loop {
        let file = source_file::Entity::find()
            .filter(source_file::Column::KnowledgeFolderId.eq(folder))
            .one(&app.state.db)
            .await
            .expect("query")
            .expect("the file's row");
        if file.error.is_some() {
            break file;
        }
        assert!(Instant::now() < deadline, "no reason given: {file:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_ne!(file.status, "ready", "{file:?}");
    let reason = file.error.as_deref().unwrap_or_default();
    assert!(
        reason.starts_with("Google Drive is having trouble")
            || reason.starts_with("Google Drive could not be reached"),
        "a reason a person can read, naming the provider: {reason}"
    );
    for inside in ["panicked", "reqwest", "hyper", "dns error", "fault-test"] {
        assert!(!reason.contains(inside), "{inside}: {reason}");
    }
    assert!(objects_of(&app, folder).is_empty(), "nothing stored");
    // The app still answers, and says the same thing again.
    let res = hx_get(&app, &url).await;
    assert!([503, 504].contains(&res.status().as_u16()), "{res:?}");
    assert_eq!(drive.content_requests(), 0);

    // The name resolves again (the administrator fixed it): the waiting import completes,
    // once, and browsing works, without a restart.
    app.set_config("google-drive", "API_BASE_URL", drive.base_url())
        .await;
    assert_imported_once(
        &app,
        folder,
        &[(
            "a.pdf".to_owned(),
            crate::cloud_drives::sha256_hex(b"%PDF a"),
        )],
    )
    .await;
    assert_eq!(drive.content_requests(), 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    while hx_get(&app, &url).await.status() != 200 {
        assert!(Instant::now() < deadline, "browsing never came back");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn drive_browse_and_import_work_over_a_slow_link() {
    let app = app_with(&[]).await;
    let drive = FakeDrive::start().await;
    let id = drive.add_file(
        fake_drive::ROOT,
        "slides.pdf",
        "application/pdf",
        Content::synthetic(64 * KIB, 63),
    );
    let (proxy, folder, conn) = drive_behind_proxy(&app, &drive, "slow@campus.test").await;
    proxy.set(Fault::Latency(Duration::from_millis(300)));
    proxy.sever();
    let started = Instant::now();
    let html = my_drive(&app, folder, conn).await;
    assert!(started.elapsed() >= Duration::from_millis(300), "slow");
    import_queued(&app, folder, conn, &[pick(&html, "slides.pdf")]).await;
    assert_imported_once(
        &app,
        folder,
        &[("slides.pdf".to_owned(), drive.content_of(&id).sha256_hex())],
    )
    .await;
    assert_eq!(drive.content_requests(), 1, "slow is not failed");
}

#[tokio::test]
async fn onedrive_browse_and_import_work_over_a_slow_link() {
    let app = app_with(&[]).await;
    let graph = FakeGraph::start().await;
    let item = graph.add_file(
        &graph.root_id(),
        "notes.pdf",
        "application/pdf",
        fake_graph::Content::synthetic(64 * KIB, 64),
    );
    let (proxy, folder, conn) = graph_behind_proxy(&app, &graph, "slow@campus.test").await;
    proxy.set(Fault::Latency(Duration::from_millis(300)));
    let started = Instant::now();
    let top = browse(&app, folder, conn).await;
    assert!(started.elapsed() >= Duration::from_millis(300), "slow");
    import_queued(&app, folder, conn, &[pick(&top, "notes.pdf")]).await;
    assert_imported_once(
        &app,
        folder,
        &[("notes.pdf".to_owned(), graph.content_of(&item).sha256_hex())],
    )
    .await;
    assert_eq!(graph.download_requests(), 1, "slow is not failed");
}
