//! The database going away and coming back, and a pool exhausted by a slow database, with the
//! app on PostgreSQL behind a `FaultProxy`: every page, fragment and API call answers 503
//! "temporarily unavailable" in its caller's format with `Retry-After` within seconds,
//! `/readyz` says so at once, nothing is half-written, and the same session, import and
//! sign-in carry on once the database is back — without a restart.

use crate::cloud_drives::{configure, import_queued, my_drive, objects_of, pick, with_drive};
use crate::cloud_import::{browse_path, hx_get, settled_files, signed_up_with_echo};
use crate::helpers::{Options, TestApp, api_token, spawn_app_behind_db_proxy};
use crate::oauth_flow::{callback, connections, provider, start};
use campuscore::models::Channel;
use campuscore::models::entities::{connection, connector_audit_log, queue_message};
use campuscore::services::audit;
use campuscore_testkit::drive::{self as fake_drive, Content, FakeDrive};
use campuscore_testkit::fault_proxy::{Fault, FaultProxy};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The bound: during an outage every answer comes within this.
const WITHIN: Duration = Duration::from_secs(5);

/// The app behind its database proxy, with `env`; `None` without PostgreSQL.
async fn app_behind_proxy(env: Vec<(&'static str, String)>) -> Option<(TestApp, Arc<FaultProxy>)> {
    let app = spawn_app_behind_db_proxy(Options {
        env,
        ..Default::default()
    })
    .await?;
    let proxy = app.db_proxy.clone().expect("behind the proxy");
    Some((app, proxy))
}

/// The user who owns connection `conn`.
async fn owner_of(app: &TestApp, conn: i64) -> i64 {
    connection::Entity::find_by_id(conn)
        .one(&app.state.db)
        .await
        .expect("query")
        .expect("the connection")
        .user_id
}

/// `res` is the app's "temporarily unavailable" (503 with `Retry-After`); returns its body.
async fn unavailable(res: reqwest::Response, asked: Instant, what: &str) -> String {
    let took = asked.elapsed();
    assert!(took < WITHIN, "{what}: answered after {took:?}");
    assert_eq!(res.status(), 503, "{what}");
    let retry = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    assert!(
        retry.is_some_and(|s| s >= 1),
        "{what}: Retry-After {retry:?}"
    );
    assert_eq!(
        res.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store"),
        "{what}"
    );
    res.text().await.expect("body")
}

#[tokio::test]
async fn while_the_database_is_away_pages_fragments_and_the_api_answer_503_at_once_and_the_session_carries_on()
 {
    let Some((app, proxy)) = app_behind_proxy(Vec::new()).await else {
        return;
    };
    let drive = FakeDrive::start().await;
    drive.add_file(
        fake_drive::ROOT,
        "syllabus.pdf",
        "application/pdf",
        Content::synthetic(10_000, 3),
    );
    let (folder, conn) = with_drive(&app, &drive, "away@campus.test").await;
    my_drive(&app, folder, conn).await;
    let user = owner_of(&app, conn).await;
    let token = api_token(&app.state.db, user, "outage").await;
    let browse = format!("{}?folder=root", browse_path(folder, conn));
    let csrf = app.csrf("/knowledge-folders/").await;
    // A visitor who is not signed in has no session row: their login form reads nothing
    // from the database until it is posted.
    let visitor = app.other_browser();
    let login_csrf = visitor.csrf("/login").await;

    proxy.down();

    let asked = Instant::now();
    let page = unavailable(app.get("/settings").await, asked, "a page").await;
    assert!(
        page.contains("Temporarily unavailable") && page.contains("try again"),
        "{page}"
    );
    assert!(!page.contains("away@campus.test"), "the page reads nothing");

    let asked = Instant::now();
    let res = hx_get(&app, &browse).await;
    assert_eq!(
        res.headers()
            .get("hx-retarget")
            .and_then(|v| v.to_str().ok()),
        Some("#htmx-errors"),
        "a fragment goes where HTMX shows errors"
    );
    let fragment = unavailable(res, asked, "an HTMX fragment").await;
    assert!(!fragment.contains("<html"), "{fragment}");
    assert!(fragment.contains("Temporarily unavailable"), "{fragment}");

    // A program with a token and no session: its token cannot be looked up.
    let asked = Instant::now();
    let res = campuscore_testkit::http_client()
        .get(app.url("/api/v1/connector-credentials"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(
        res.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    let problem: serde_json::Value =
        serde_json::from_str(&unavailable(res, asked, "the JSON API").await).expect("JSON");
    assert_eq!(problem["status"], 503);
    assert_eq!(problem["code"], "unavailable");

    // A form post is refused the same way, and nothing it asked for happens later.
    let asked = Instant::now();
    let res = app
        .client
        .post(app.url("/knowledge-folders/"))
        .form(&[("name", "Made during the outage"), ("csrf_token", &csrf)])
        .send()
        .await
        .expect("request");
    unavailable(res, asked, "a form post").await;

    let asked = Instant::now();
    let res = visitor
        .client
        .post(visitor.url("/login"))
        .form(&[
            ("email", "away@campus.test"),
            ("password", "whatever it is"),
            ("csrf_token", &login_csrf),
        ])
        .send()
        .await
        .expect("request");
    let page = unavailable(res, asked, "signing in").await;
    assert!(page.contains("Temporarily unavailable"), "{page}");

    let asked = Instant::now();
    let ready = app.get("/readyz").await;
    assert!(
        asked.elapsed() < Duration::from_millis(1500),
        "/readyz took {:?}",
        asked.elapsed()
    );
    assert_eq!(ready.status(), 503);
    let body: serde_json::Value = ready.json().await.expect("JSON");
    assert_eq!(body["checks"]["database"]["ok"], false);
    assert_eq!(
        app.get("/healthz").await.status(),
        200,
        "the process is alive"
    );

    // Back after five seconds: the same browser, the same session, at once.
    tokio::time::sleep(Duration::from_secs(4)).await;
    proxy.up().await;
    let res = hx_get(&app, &browse).await;
    assert_eq!(res.status(), 200, "the session survived the outage");
    assert!(res.text().await.expect("body").contains("syllabus.pdf"));
    assert_eq!(app.get("/readyz").await.status(), 200);
    let page = app.get_text("/knowledge-folders/").await;
    assert!(
        !page.contains("Made during the outage"),
        "the refused post did nothing"
    );
}

#[tokio::test]
async fn an_import_cut_off_by_the_database_going_away_finishes_once_when_it_returns() {
    // A wait for a connection shorter than the outage: the import's writes fail, rather than
    // wait the outage out.
    let Some((app, db_proxy)) =
        app_behind_proxy(vec![("CAMPUSCORE_DB_ACQUIRE_TIMEOUT_SECS", "1".into())]).await
    else {
        return;
    };
    let drive = FakeDrive::start().await;
    let id = drive.add_file(
        fake_drive::ROOT,
        "lecture.mp4",
        "video/mp4",
        Content::synthetic(2 * 1024 * 1024, 9),
    );
    // Drive through a proxy of its own, which holds the download halfway.
    let drive_proxy = FaultProxy::start(drive.base_url()).await;
    let (folder, conn) = with_drive(&app, &drive, "cut@campus.test").await;
    configure(&app, "google-drive", &drive_proxy.base_url()).await;
    let html = my_drive(&app, folder, conn).await;
    drive_proxy.set(Fault::Stall {
        after: 512 * 1024,
        pause: Duration::from_secs(2),
    });
    drive_proxy.sever();

    import_queued(&app, folder, conn, &[pick(&html, "lecture.mp4")]).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while drive.content_requests() == 0 {
        assert!(Instant::now() < deadline, "the download never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    db_proxy.down();
    tokio::time::sleep(Duration::from_secs(5)).await;
    drive_proxy.clear();
    db_proxy.up().await;

    let files = settled_files(&app, folder, 1, Duration::from_secs(60)).await;
    assert_eq!(files[0].status, "ready", "{:?}", files[0]);
    assert_eq!(
        files[0].sha256.as_deref(),
        Some(drive.content_of(&id).sha256_hex().as_str())
    );
    assert_eq!(
        objects_of(&app, folder).len(),
        1,
        "one object, no staging leftovers"
    );
    let message = queue_message::Entity::find()
        .filter(queue_message::Column::MessageType.eq("cloud_import.file"))
        .one(&app.state.db)
        .await
        .expect("query")
        .expect("the import message");
    assert_eq!(message.status, "done", "{message:?}");
    assert!(
        message.attempts <= 2,
        "the outage did not use up attempts: {message:?}"
    );
}

#[tokio::test]
async fn an_oauth_callback_while_the_database_is_away_is_refused_and_works_when_repeated() {
    let Some((app, proxy)) = app_behind_proxy(Vec::new()).await else {
        return;
    };
    let Some(server) = provider(&app, 600).await else {
        return;
    };
    app.logged_in_user("callback@campus.test").await;
    let auth_url = start(&app, None).await;
    let back = server.sign_in(&auth_url, "alice").await;

    proxy.down();
    let asked = Instant::now();
    let res = app.client.get(&back).send().await.expect("callback");
    let page = unavailable(res, asked, "the callback").await;
    assert!(page.contains("Temporarily unavailable"), "{page}");
    proxy.up().await;
    assert!(connections(&app).await.is_empty(), "nothing was stored");

    // The provider's redirect, followed again, completes the sign-in once.
    let shown = callback(&app, &back).await;
    assert!(
        shown
            .iter()
            .any(|(level, m)| level == "success" && m.contains("alice@campus.test")),
        "{shown:?}"
    );
    assert_eq!(connections(&app).await.len(), 1);
}

#[tokio::test]
async fn a_pool_held_by_a_slow_database_makes_requests_wait_briefly_then_answer_503() {
    let Some((app, proxy)) = app_behind_proxy(vec![
        ("CAMPUSCORE_DB_MAX_CONNECTIONS", "2".into()),
        ("CAMPUSCORE_DB_ACQUIRE_TIMEOUT_SECS", "1".into()),
        ("CAMPUSCORE_CLOUD_BROWSE_PER_MINUTE", "1000".into()),
    ])
    .await
    else {
        return;
    };
    let (folder, conn) = signed_up_with_echo(&app, "slow@campus.test", "Slow").await;
    let browse = browse_path(folder, conn);
    assert_eq!(hx_get(&app, &browse).await.status(), 200);

    // Every exchange with the database now takes a second: the two connections are held by
    // the first requests, and the rest wait their turn — for a second, not for ever.
    proxy.slow_down(Duration::from_millis(500));
    let asked = Instant::now();
    let answers = futures_util::future::join_all((0..10).map(|_| async {
        let res = hx_get(&app, &browse).await;
        let status = res.status().as_u16();
        let retry = res.headers().contains_key("retry-after");
        let body = res.text().await.unwrap_or_default();
        (status, retry, body, asked.elapsed())
    }))
    .await;
    proxy.slow_down(Duration::ZERO);

    let refused: Vec<_> = answers.iter().filter(|(s, ..)| *s == 503).collect();
    assert!(
        !refused.is_empty(),
        "some requests found no connection: {answers:?}"
    );
    for (status, retry, body, took) in &answers {
        assert!(
            matches!(*status, 200 | 503),
            "{status} after {took:?}: {body}"
        );
        if *status == 503 {
            assert!(*retry, "Retry-After");
            assert!(body.contains("Temporarily unavailable"), "{body}");
            // A refused browse has waited for a connection at most three times (the
            // session, the folder and connection with the hit, the audit row), a second each,
            // and been served by the slowed database at most twice (a second each): 5 s at
            // most, and the box's load on top (it took 4.1 s once in CI).
            assert!(
                *took < Duration::from_secs(6),
                "refused only after {took:?}"
            );
        }
    }
    assert_eq!(
        hx_get(&app, &browse).await.status(),
        200,
        "all well once the database is quick again"
    );
}

#[tokio::test]
async fn the_audit_row_of_an_action_that_happened_is_kept_through_an_outage() {
    let Some((app, proxy)) =
        app_behind_proxy(vec![("CAMPUSCORE_DB_ACQUIRE_TIMEOUT_SECS", "1".into())]).await
    else {
        return;
    };
    let (_, conn) = signed_up_with_echo(&app, "kept@campus.test", "Kept").await;
    let user = owner_of(&app, conn).await;
    let request = serde_json::json!({ "title": "Printer on fire" });
    let entry = || audit::Entry {
        connection_id: Some(conn),
        user_id: Some(user),
        connector_slug: "test-echo",
        action: "create_ticket",
        request: &request,
        error: None,
        duration: Duration::from_millis(12),
        channel: Channel::Api,
        client: None,
    };

    proxy.down();
    // A read's row cannot be written: the caller learns so (and answers 503)…
    let refused = audit::write(&app.state.audit, entry()).await;
    assert!(
        refused.as_ref().is_err_and(campuscore::db::is_unavailable),
        "{refused:?}"
    );
    // …while the row of something that happened is kept, and written once the database is
    // back.
    audit::record(&app.state.audit, entry()).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    proxy.up().await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let rows = connector_audit_log::Entity::find()
            .filter(connector_audit_log::Column::ConnectionId.eq(conn))
            .filter(connector_audit_log::Column::Action.eq("create_ticket"))
            .all(&app.state.db)
            .await
            .expect("query");
        if !rows.is_empty() {
            assert_eq!(rows.len(), 1, "kept once, not once per try: {rows:?}");
            assert!(rows[0].request.contains("Printer on fire"));
            break;
        }
        assert!(Instant::now() < deadline, "the kept row never arrived");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
