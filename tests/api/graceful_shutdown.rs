//! Graceful shutdown of a real `campuscore serve` process (SIGTERM, as a service manager or a
//! container runtime sends it): requests in flight are answered, the listener closes, queue
//! work still running after the worker grace is handed back so another process takes it over
//! at once (not after its 15 s lease), and the process exits 0.

use crate::cloud_import::picks;
use crate::import_processes::{
    EMAIL, MIB, PASSWORD, browse, drive_user, import, objects, wait_for,
};
use crate::serve_process::{Browser, Deployment};
use campuscore::models::entities::{queue_message, source_file};
use campuscore_testkit::drive::{self as fake_drive, Content, FakeDrive};
use campuscore_testkit::process::free_port;
use campuscore_testkit::upstream::FakeBooks as _;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A loopback TCP proxy to `upstream` that holds every new connection for `delay` before
/// passing it on (a slow provider), counting the connections it accepted.
async fn slow_proxy(upstream: String, delay: Duration) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("addr"));
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let upstream = upstream.clone();
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (address, accepted)
}

#[tokio::test]
async fn a_server_asked_to_stop_mid_browse_answers_the_request_then_exits_0() {
    let deployment = Deployment::new().await;
    let drive = FakeDrive::start().await;
    drive.add_file(
        fake_drive::ROOT,
        "Syllabus.pdf",
        "application/pdf",
        Content::synthetic(1024, 1),
    );
    let upstream = drive
        .base_url()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let (proxy, accepted) = slow_proxy(upstream, Duration::from_millis(1500)).await;
    let (conn, folder) = drive_user(&deployment, &proxy, "Shutdown").await;
    let mut server = deployment
        .serve_with(
            deployment.port,
            "a",
            &[("CAMPUSCORE_SHUTDOWN_GRACE_SECS", "5")],
        )
        .await;
    let browser = Browser::log_in(&server.address, EMAIL, PASSWORD).await;

    let in_flight = tokio::spawn(async move { browse(&browser, folder, conn, Some("root")).await });
    let deadline = Instant::now() + Duration::from_secs(30);
    while accepted.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the browse never reached Drive");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.terminate();
    let stopping = Instant::now();

    // The request that was on its way is answered in full.
    let html = in_flight.await.expect("the browse task");
    assert!(html.contains("Syllabus.pdf"), "{html}");
    // No new connection is accepted while the server drains.
    let refused = tokio::net::TcpStream::connect(("127.0.0.1", deployment.port)).await;
    assert!(refused.is_err(), "the listener is closed once stopping");
    let status = server
        .wait_exit(Duration::from_secs(15))
        .await
        .expect("the server exits within its grace");
    assert!(status.success(), "exit status {status:?}");
    assert!(
        stopping.elapsed() < Duration::from_secs(8),
        "bounded by CAMPUSCORE_SHUTDOWN_GRACE_SECS: {:?}",
        stopping.elapsed()
    );
}

#[tokio::test]
async fn a_server_asked_to_stop_mid_import_hands_it_to_another_process_which_finishes_it_at_once() {
    let deployment = Deployment::new().await;
    let drive = FakeDrive::start().await;
    let id = drive.add_file(
        fake_drive::ROOT,
        "lecture.mp4",
        "video/mp4",
        Content::synthetic(8 * MIB, 9),
    );
    // Slow enough that the first server is mid-download when it is asked to stop.
    drive.set_content_rate(Some(MIB / 2));
    let (conn, folder) = drive_user(&deployment, drive.base_url(), "Shutdown").await;
    let graces = [
        ("CAMPUSCORE_WORKER_GRACE_SECS", "1"),
        ("CAMPUSCORE_SHUTDOWN_GRACE_SECS", "2"),
    ];
    let mut first = deployment.serve_with(deployment.port, "a", &graces).await;
    let db = deployment.db().await;
    let browser = Browser::log_in(&first.address, EMAIL, PASSWORD).await;
    let html = browse(&browser, folder, conn, Some("root")).await;
    let (_, pick) = picks(&html).into_iter().next().expect("the lecture");
    import(&browser, folder, conn, &pick).await;
    wait_for(
        &db,
        folder,
        Duration::from_secs(60),
        "the first server's download",
        |f| f.status == "downloading" && f.bytes_received.unwrap_or(0) > 0,
    )
    .await;
    // The second process starts only now, so the first one holds the import.
    let _second = deployment.serve_with(free_port(), "b", &graces).await;

    first.terminate();
    let status = first
        .wait_exit(Duration::from_secs(20))
        .await
        .expect("the first server exits");
    assert!(status.success(), "exit status {status:?}");
    let exited = Instant::now();
    drive.set_content_rate(None);
    let done = wait_for(
        &db,
        folder,
        Duration::from_secs(2),
        "the second process finishing the handed-back import",
        |f| f.status == "ready",
    )
    .await;
    assert!(
        exited.elapsed() < Duration::from_secs(2),
        "{:?}",
        exited.elapsed()
    );
    assert_eq!(done.size_bytes as u64, 8 * MIB);
    assert_eq!(
        done.sha256.as_deref(),
        Some(drive.content_of(&id).sha256_hex().as_str())
    );
    // Exactly once: one row, one document message, one object, two downloads started.
    assert_eq!(
        source_file::Entity::find().count(&db).await.expect("count"),
        1
    );
    let uploaded = queue_message::Entity::find()
        .filter(queue_message::Column::MessageType.eq("source_file.uploaded"))
        .count(&db)
        .await
        .expect("count");
    assert_eq!(uploaded, 1, "one document message");
    let stored = objects(&deployment, folder);
    assert_eq!(
        stored.len(),
        1,
        "one object, no staging leftovers: {stored:?}"
    );
    assert_eq!(
        drive.content_requests(),
        2,
        "the second process downloaded it once"
    );
    let message = queue_message::Entity::find()
        .filter(queue_message::Column::MessageType.eq("cloud_import.file"))
        .one(&db)
        .await
        .expect("query")
        .expect("the import's message");
    assert_eq!(
        (message.status, message.attempts),
        (campuscore::models::MessageStatus::Done, 1),
        "the interrupted attempt was given back, not counted: {message:?}"
    );
}
