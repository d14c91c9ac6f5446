//! Cloud import through the three documented HTMX routes: the service list, the browser
//! (paging, breadcrumbs, errors), the import request, the pipeline that streams each file into
//! storage, and the per-user rate limits. These tests use the test-only `test-echo`
//! connector (synthetic files); `cloud_drives.rs` runs the same routes against the fake
//! Google Drive and Microsoft Graph servers.

use crate::helpers::{TestApp, location, spawn_app};
use campuscore::models::Channel;
use campuscore::models::entities::{
    connection, connector, connector_audit_log, queue_message, session, source_file, user,
};
use campuscore::services::{audit, rate_limits};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::json;
use std::time::{Duration, Instant};

/// Creates a folder in `app`'s session; returns its id.
pub async fn create_folder(app: &TestApp, name: &str) -> i64 {
    let res = app
        .post_form(
            "/knowledge-folders/",
            "/knowledge-folders/",
            &[("name", name)],
        )
        .await;
    assert_eq!(res.status(), 303, "folder created");
    location(&res)
        .trim_matches('/')
        .rsplit('/')
        .next()
        .and_then(|id| id.parse().ok())
        .expect("folder id in the redirect")
}

/// A `test-echo` connection for `user_id`.
pub async fn echo_connection(app: &TestApp, user_id: i64) -> i64 {
    app.insert_connection(
        "test-echo",
        user_id,
        json!({ "api_key": "valid-super-secret-key" }),
        "echo user",
    )
    .await
    .id
}

/// A logged-in user (on `app`'s client) with a knowledge folder and a `test-echo`
/// connection; returns (folder id, connection id).
pub async fn signed_up_with_echo(app: &TestApp, email: &str, folder: &str) -> (i64, i64) {
    let user = app.logged_in_user(email).await;
    let folder = create_folder(app, folder).await;
    (folder, echo_connection(app, user.id).await)
}

pub fn browse_path(folder: i64, conn: i64) -> String {
    format!("/api/htmx/knowledge-folders/{folder}/cloud-import/{conn}/browse/")
}

/// An HTMX GET, as the page's buttons send it.
pub async fn hx_get(app: &TestApp, path: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header("HX-Request", "true")
        .send()
        .await
        .expect("request")
}

/// Posts the import form with these checkbox values, as htmx sends it.
pub async fn import(app: &TestApp, folder: i64, conn: i64, picks: &[String]) -> reqwest::Response {
    let token = app.csrf(&format!("/knowledge-folders/{folder}/")).await;
    let form: Vec<(&str, &str)> = picks.iter().map(|p| ("file", p.as_str())).collect();
    app.client
        .post(app.url(&format!(
            "/api/htmx/knowledge-folders/{folder}/cloud-import/{conn}/import/"
        )))
        .header("HX-Request", "true")
        .header("X-CSRF-Token", token)
        .form(&form)
        .send()
        .await
        .expect("request")
}

/// The values of the file checkboxes in a browse fragment, with the row's file name.
pub fn picks(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for row in html.split("<tr class=\"cloud-file\">").skip(1) {
        let Some(start) = row.find("name=\"file\" value=\"") else {
            continue;
        };
        let rest = &row[start + 19..];
        let value = rest[..rest.find('"').expect("end of value")].to_owned();
        let label = row
            .split("aria-label=\"Select ")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or_default()
            .to_owned();
        out.push((label, value));
    }
    out
}

/// The `hx-get` URL of the link or button whose text is `text`.
pub fn link_to(html: &str, text: &str) -> Option<String> {
    html.split("hx-get=\"").skip(1).find_map(|chunk| {
        let url = &chunk[..chunk.find('"')?];
        let after = &chunk[chunk.find('>')? + 1..];
        after
            .trim_start()
            .starts_with(text)
            .then(|| url.replace("&amp;", "&").replace("&#38;", "&"))
    })
}

/// Waits until the folder has `n` files, all `ready` or `failed`.
pub async fn settled_files(
    app: &TestApp,
    folder: i64,
    n: usize,
    within: Duration,
) -> Vec<source_file::Model> {
    let deadline = Instant::now() + within;
    loop {
        let files = source_file::Entity::find()
            .filter(source_file::Column::KnowledgeFolderId.eq(folder))
            .order_by_asc(source_file::Column::Id)
            .all(&app.state.db)
            .await
            .expect("files");
        if files.len() == n
            && files
                .iter()
                .all(|f| matches!(f.status.as_str(), "ready" | "failed"))
        {
            return files;
        }
        assert!(
            Instant::now() < deadline,
            "files did not settle in {within:?}: {:?}",
            files
                .iter()
                .map(|f| (&f.name, &f.status, &f.error))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_service_list_offers_every_file_connector_with_browse_or_connect() {
    let app = spawn_app().await;
    let (folder, conn) = signed_up_with_echo(&app, "lin@campus.edu", "Thesis").await;

    let res = hx_get(
        &app,
        &format!("/api/htmx/knowledge-folders/{folder}/cloud-import/"),
    )
    .await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.expect("body");
    for service in ["Test Echo", "Google Drive", "OneDrive", "S3 bucket"] {
        assert!(
            html.contains(&format!("<strong>{service}</strong>")),
            "{service} listed: {html}"
        );
    }
    assert!(
        !html.contains("PostgreSQL"),
        "a database is not a file source"
    );
    assert!(
        html.contains(&format!("hx-get=\"{}\"", browse_path(folder, conn))),
        "{html}"
    );
    assert!(html.contains("Browse echo user"));
    // Google Drive has no client id configured yet: no Connect button, a hint instead.
    assert!(html.contains("Not configured — ask an administrator"));
    assert!(
        html.contains(&format!(
            "href=\"/api/connectors/connect/s3-bucket/start?next=/knowledge-folders/{folder}/\""
        )),
        "Connect comes back to the folder: {html}"
    );

    // The folder page opens the panel.
    let page = app.get_text(&format!("/knowledge-folders/{folder}/")).await;
    assert!(page.contains(&format!(
        "hx-get=\"/api/htmx/knowledge-folders/{folder}/cloud-import/\""
    )));
    assert!(page.contains("id=\"cloud-import\""));
}

#[tokio::test]
async fn browsing_pages_through_a_folder_and_opens_subfolders_with_breadcrumbs() {
    let app = spawn_app().await;
    let (folder, conn) = signed_up_with_echo(&app, "ana@campus.edu", "Labs").await;

    let html = hx_get(&app, &browse_path(folder, conn))
        .await
        .text()
        .await
        .expect("body");
    assert!(html.contains("id=\"cloud-import-form\""), "{html}");
    assert!(html.contains("data-select-all"), "select-all box");
    let first = picks(&html);
    assert_eq!(
        first.len(),
        2,
        "two files and a folder on the first page: {html}"
    );
    assert!(html.contains("/static/icons/files/folder.svg"));
    assert!(html.contains("/static/icons/files/text.svg"));

    let more = link_to(&html, "Load more").expect("a Load more button");
    let res = hx_get(&app, &more).await;
    assert_eq!(res.status(), 200);
    let rows = res.text().await.expect("body");
    assert!(!rows.contains("<form"), "load more returns rows only");
    let second = picks(&rows);
    assert_eq!(second.len(), 2);
    assert!(
        second.iter().all(|p| !first.contains(p)),
        "a new page, not the same one"
    );

    // Into the folder on the first page: its name becomes the last breadcrumb.
    let sub = link_to(&html, "Folder 3").expect("a folder link");
    let inside = hx_get(&app, &sub).await.text().await.expect("body");
    assert!(
        inside.contains("<span aria-current=\"page\">root-file-3</span>"),
        "{inside}"
    );
    let inner = picks(&inside);
    assert_eq!(inner.len(), 2);
    assert!(
        inner.iter().all(|p| !first.contains(p)),
        "the subfolder's own files"
    );
}

#[tokio::test]
async fn imported_files_stream_into_the_folder_once_even_when_imported_twice() {
    let app = spawn_app().await;
    let (folder, conn) = signed_up_with_echo(&app, "kim@campus.edu", "Papers").await;
    let html = hx_get(&app, &browse_path(folder, conn))
        .await
        .text()
        .await
        .expect("body");
    let chosen: Vec<String> = picks(&html).into_iter().map(|(_, v)| v).collect();

    let twice: Vec<String> = chosen.iter().chain(&chosen).cloned().collect();
    let res = import(&app, folder, conn, &twice).await;
    assert_eq!(res.status(), 202, "queued, not done");
    assert_eq!(
        res.headers()
            .get("HX-Trigger")
            .and_then(|v| v.to_str().ok()),
        Some("files-changed"),
        "the file list refreshes"
    );
    let body = res.text().await.expect("body");
    assert!(body.contains("Importing 2 files from Test Echo."), "{body}");

    let files = settled_files(&app, folder, 2, Duration::from_secs(30)).await;
    for f in &files {
        assert_eq!(f.status, "ready", "{f:?}");
        assert_eq!(f.origin, "test-echo");
        assert!(
            f.storage_key
                .starts_with(&format!("knowledge-folders/{folder}/{}/", f.uuid))
        );
        assert_eq!(
            app.state
                .storage
                .size_of(&f.storage_key)
                .await
                .expect("head"),
            Some(f.size_bytes as u64)
        );
        assert!(f.size_bytes > 0 && f.sha256.is_some());
    }
    let uploaded = queue_message::Entity::find()
        .filter(queue_message::Column::MessageType.eq("source_file.uploaded"))
        .count(&app.state.db)
        .await
        .expect("count");
    assert_eq!(uploaded, 2, "one document message per file, as for uploads");

    // The same files again: nothing new is queued.
    let res = import(&app, folder, conn, &chosen).await;
    assert_eq!(res.status(), 202);
    assert!(
        res.text()
            .await
            .expect("body")
            .contains("already in this folder")
    );
    let count = source_file::Entity::find()
        .filter(source_file::Column::KnowledgeFolderId.eq(folder))
        .count(&app.state.db)
        .await
        .expect("count");
    assert_eq!(count, 2);

    // The folder page shows them like uploads.
    let page = app
        .get_text(&format!("/knowledge-folders/{folder}/files"))
        .await;
    assert_eq!(page.matches("status-ready").count(), 2, "{page}");
}

#[tokio::test]
async fn importing_nothing_or_a_forged_selection_gets_a_message_and_queues_nothing() {
    let app = spawn_app().await;
    let (folder, conn) = signed_up_with_echo(&app, "ola@campus.edu", "Empty").await;

    let res = import(&app, folder, conn, &[]).await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.headers()
            .get("HX-Retarget")
            .and_then(|v| v.to_str().ok()),
        Some("#cloud-import-errors")
    );
    assert!(
        res.text()
            .await
            .expect("body")
            .contains("Nothing is selected")
    );

    let res = import(&app, folder, conn, &["not-a-pick".into()]).await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .expect("body")
            .contains("could not be read")
    );
    assert_eq!(
        source_file::Entity::find()
            .count(&app.state.db)
            .await
            .expect("count"),
        0
    );
}

#[tokio::test]
async fn someone_elses_connection_or_folder_is_not_found() {
    let app = spawn_app().await;
    let (their_folder, their_conn) = signed_up_with_echo(&app, "own@campus.edu", "Mine").await;
    let html = hx_get(&app, &browse_path(their_folder, their_conn))
        .await
        .text()
        .await
        .expect("body");
    let pick = picks(&html).remove(0).1;

    let other = app.other_browser();
    let (my_folder, my_conn) = signed_up_with_echo(&other, "intruder@campus.edu", "Theirs?").await;

    assert_eq!(
        hx_get(&other, &browse_path(my_folder, their_conn))
            .await
            .status(),
        404
    );
    assert_eq!(
        hx_get(&other, &browse_path(their_folder, my_conn))
            .await
            .status(),
        404
    );
    assert_eq!(
        import(&other, my_folder, their_conn, std::slice::from_ref(&pick))
            .await
            .status(),
        404
    );
    assert_eq!(
        import(&other, their_folder, my_conn, &[pick])
            .await
            .status(),
        404
    );
    assert_eq!(
        source_file::Entity::find()
            .count(&app.state.db)
            .await
            .expect("count"),
        0
    );
}

#[tokio::test]
async fn the_31st_browse_in_a_minute_and_the_11th_import_in_an_hour_are_refused_kindly() {
    let app = spawn_app().await;
    let (folder, conn) = signed_up_with_echo(&app, "fast@campus.edu", "Busy").await;

    let mut last = String::new();
    for i in 0..30 {
        let res = hx_get(&app, &browse_path(folder, conn)).await;
        assert_eq!(res.status(), 200, "browse {}", i + 1);
        last = res.text().await.expect("body");
    }
    let res = hx_get(&app, &browse_path(folder, conn)).await;
    assert_eq!(res.status(), 429);
    let wait: u64 = res
        .headers()
        .get("Retry-After")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=60).contains(&wait), "{wait}");
    let body = res.text().await.expect("body");
    assert!(
        body.contains("Slow down a little") && body.contains(&format!("Try again in {wait} s.")),
        "{body}"
    );
    assert!(body.contains(">Try again</button>"));

    // Imports have their own budget: ten an hour.
    let all = picks(&last);
    for i in 0..10 {
        let res = import(&app, folder, conn, &[all[i % all.len()].1.clone()]).await;
        assert_eq!(res.status(), 202, "import {}", i + 1);
    }
    let res = import(&app, folder, conn, &[all[0].1.clone()]).await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("Retry-After"));

    // Another user is not affected.
    let other = app.other_browser();
    let (their_folder, their_conn) = signed_up_with_echo(&other, "slow@campus.edu", "Calm").await;
    assert_eq!(
        hx_get(&other, &browse_path(their_folder, their_conn))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn a_connection_that_needs_reconnecting_offers_the_reconnect_button() {
    let app = spawn_app().await;
    let (folder, conn) = signed_up_with_echo(&app, "old@campus.edu", "Old").await;
    set_status(&app, conn, "needs_reauth").await;

    let res = hx_get(&app, &browse_path(folder, conn)).await;
    assert_eq!(res.status(), 409);
    let body = res.text().await.expect("body");
    assert!(body.contains("Reconnect Test Echo"), "{body}");
    assert!(body.contains(&format!(
        "href=\"/api/connectors/connect/test-echo/start?connection={conn}&#38;next=/knowledge-folders/{folder}/\""
    )), "{body}");

    let list = hx_get(
        &app,
        &format!("/api/htmx/knowledge-folders/{folder}/cloud-import/"),
    )
    .await
    .text()
    .await
    .expect("body");
    assert!(list.contains("Reconnect echo user"), "{list}");
}

#[tokio::test]
async fn connecting_from_cloud_import_comes_back_to_the_folder_and_nowhere_else() {
    let app = spawn_app().await;
    app.logged_in_user("new@campus.edu").await;
    let folder = create_folder(&app, "Fresh").await;
    let back_to = format!("/knowledge-folders/{folder}/");

    // A manual connector: start → its form → saved → back in the folder.
    let res = app
        .get(&format!(
            "/api/connectors/connect/test-echo/start?next={back_to}"
        ))
        .await;
    assert_eq!(res.status(), 302);
    assert_eq!(location(&res), "/settings/connect/test-echo");
    let res = app
        .post_form(
            "/settings/connect/test-echo",
            "/settings/connect/test-echo",
            &[("api_key", "valid-from-the-folder")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), back_to);
    assert!(app.get_text(&back_to).await.contains("Connected Test Echo"));

    // Only paths on this site, and only once.
    for evil in ["//evil.example/", "https://evil.example/"] {
        let res = app
            .get(&format!(
                "/api/connectors/connect/test-echo/start?next={evil}"
            ))
            .await;
        assert_eq!(res.status(), 302);
        let res = app
            .post_form(
                "/settings/connect/test-echo",
                "/settings/connect/test-echo",
                &[("api_key", "valid-again")],
            )
            .await;
        assert_eq!(location(&res), "/settings", "{evil} is not followed");
    }
}

#[tokio::test]
async fn every_concurrent_browse_is_audited_before_its_response_arrives() {
    let app = spawn_app().await;
    let (folder, conn) = signed_up_with_echo(&app, "ana@campus.edu", "Labs").await;

    // 24 browses at once share audit commits; each must find its own row committed the
    // moment its response arrives.
    let browses = (0..24).map(|i| {
        let app = &app;
        async move {
            let path = format!("{}?folder=probe-{i}", browse_path(folder, conn));
            let res = hx_get(app, &path).await;
            assert!(res.status().is_success(), "{}", res.status());
            let rows = connector_audit_log::Entity::find()
                .filter(connector_audit_log::Column::ConnectionId.eq(conn))
                .filter(connector_audit_log::Column::Request.contains(format!("\"probe-{i}\"")))
                .count(&app.state.db)
                .await
                .expect("count");
            assert_eq!(rows, 1, "browse {i}: its audit row, committed, once");
        }
    });
    futures_util::future::join_all(browses).await;
}

#[tokio::test]
async fn a_bad_row_in_an_audit_batch_fails_only_its_own_write() {
    let app = spawn_app().await;
    let user = app.logged_in_user("ana@campus.edu").await;
    let conn = echo_connection(&app, user.id).await;
    let request = json!({});
    // Sent together, so the committer takes them as one batch; the row naming a connection
    // that does not exist breaks the batch's INSERT.
    let writes = (0..16).map(|i| {
        let request = &request;
        let app = &app;
        async move {
            let entry = audit::Entry {
                connection_id: Some(if i == 7 { conn + 1000 } else { conn }),
                user_id: Some(user.id),
                connector_slug: "test-echo",
                action: "list_files",
                request,
                error: None,
                duration: Duration::from_millis(i),
                channel: Channel::Web,
                client: None,
            };
            audit::write(&app.state.audit, entry).await
        }
    });
    let outcomes = futures_util::future::join_all(writes).await;
    for (i, outcome) in outcomes.iter().enumerate() {
        assert_eq!(outcome.is_err(), i == 7, "write {i}: {outcome:?}");
    }
    let stored = connector_audit_log::Entity::find()
        .filter(connector_audit_log::Column::UserId.eq(user.id))
        .count(&app.state.db)
        .await
        .expect("count");
    assert_eq!(stored, 15, "every good row of the batch is kept");
}

/// The user's stored browse hits.
async fn browse_hits(app: &TestApp, user_id: i64) -> usize {
    let limit = app.state.settings.cloud_browse_limit();
    rate_limits::recorded_hits(&app.state.db, user_id, &limit)
        .await
        .expect("hits")
        .len()
}

/// Sets a connection's status behind the app's back.
async fn set_status(app: &TestApp, conn: i64, status: &str) {
    connection::Entity::update_many()
        .col_expr(connection::Column::Status, Expr::value(status))
        .filter(connection::Column::Id.eq(conn))
        .exec(&app.state.db)
        .await
        .expect("update the connection");
}

/// Turns a connector on or off behind the app's back.
/// The key hash of the user's one session (the cookie's key is encrypted in the cookie).
async fn session_key_hash(app: &TestApp, user_id: i64) -> String {
    let mut rows = session::Entity::find()
        .filter(session::Column::UserId.eq(user_id))
        .all(&app.state.db)
        .await
        .expect("sessions");
    assert_eq!(rows.len(), 1, "one session");
    rows.remove(0).key_hash
}

/// Activates or deactivates the user's account in the database alone, as another process
/// would (its sessions stay: only the account's flag says no).
async fn set_active(app: &TestApp, user_id: i64, on: bool) {
    user::Entity::update_many()
        .col_expr(user::Column::IsActive, Expr::value(on))
        .filter(user::Column::Id.eq(user_id))
        .exec(&app.state.db)
        .await
        .expect("update");
}

async fn set_enabled(app: &TestApp, slug: &str, on: bool) {
    connector::Entity::update_many()
        .col_expr(connector::Column::IsEnabled, Expr::value(on))
        .filter(connector::Column::Slug.eq(slug))
        .exec(&app.state.db)
        .await
        .expect("update the connector");
}

/// A browse takes its rate-limit hit (on PostgreSQL in the statement that reads the folder
/// and connection) only when it goes ahead: a bad query, someone else's folder or
/// connection, a connector without files or turned off, and a connection that must be
/// reconnected cost nothing.
#[tokio::test]
async fn only_a_browse_that_goes_ahead_counts_against_the_limit() {
    let app = spawn_app().await;
    let me = app.logged_in_user("count@campus.edu").await;
    let folder = create_folder(&app, "Counted").await;
    let conn = echo_connection(&app, me.id).await;
    let database = app
        .insert_connection(
            "postgres",
            me.id,
            json!({ "host": "db.campus.edu", "database": "x", "username": "u", "password": "p" }),
            "u@db",
        )
        .await
        .id;
    let other = app.other_browser();
    let (their_folder, their_conn) = signed_up_with_echo(&other, "else@campus.edu", "Else").await;

    let long = "x".repeat(201);
    let refused = [
        (format!("{}?q={long}", browse_path(folder, conn)), 400),
        (browse_path(folder, their_conn), 404),
        (browse_path(their_folder, conn), 404),
        (browse_path(folder, database), 404),
    ];
    for (path, status) in &refused {
        assert_eq!(hx_get(&app, path).await.status(), *status, "{path}");
    }
    set_status(&app, conn, "needs_reauth").await;
    assert_eq!(hx_get(&app, &browse_path(folder, conn)).await.status(), 409);
    set_status(&app, conn, "active").await;
    set_enabled(&app, "test-echo", false).await;
    assert_eq!(hx_get(&app, &browse_path(folder, conn)).await.status(), 403);
    set_enabled(&app, "test-echo", true).await;
    assert_eq!(browse_hits(&app, me.id).await, 0);

    for i in 1..=2 {
        let res = hx_get(&app, &browse_path(folder, conn)).await;
        assert_eq!(res.status(), 200);
        assert_eq!(browse_hits(&app, me.id).await, i);
    }
}

/// A browse is served from the session this process read lately, without reading its row
/// first; its own read confirms the session. So a logout elsewhere (the row deleted), an
/// expiry and a deactivation in the database alone each refuse the very next browse, with
/// the HTMX sign-in redirect, the cookie cleared, no hit taken and nothing audited; and a
/// browse served this way writes no session.
#[tokio::test]
async fn a_browse_served_without_reading_its_session_still_ends_with_the_session() {
    let app = spawn_app().await;
    let me = app.logged_in_user("one@campus.edu").await.id;
    let folder = create_folder(&app, "Served unread").await;
    let conn = echo_connection(&app, me).await;
    let path = browse_path(folder, conn);
    // The first browse after the session changed (signing in wrote it) reads its row, and
    // the process keeps it; the next ones are served without reading it.
    let warm_up = async || assert_eq!(hx_get(&app, &path).await.status(), 200);
    let sign_in_again = async || {
        let res = app.login("one@campus.edu", "a long enough password").await;
        assert_eq!(res.status(), 303, "signed in again");
        warm_up().await;
    };
    let audited = async || {
        connector_audit_log::Entity::find()
            .filter(connector_audit_log::Column::ConnectionId.eq(conn))
            .count(&app.state.db)
            .await
            .expect("count")
    };
    warm_up().await;
    let served = app.state.sessions.served();
    for n in 1..=3u64 {
        let res = hx_get(&app, &path).await;
        assert_eq!(res.status(), 200);
        assert!(
            res.headers().get("set-cookie").is_none(),
            "a browse writes no session"
        );
        assert_eq!(app.state.sessions.served(), served + n, "served unread");
    }
    assert_eq!(audited().await, 4);
    assert_eq!(browse_hits(&app, me).await, 4);

    let refused = async |what: &str| {
        let before = app.state.sessions.served();
        let (audited_before, hits_before) = (audited().await, browse_hits(&app, me).await);
        let res = hx_get(&app, &path).await;
        assert_eq!(res.status(), 401, "{what}");
        assert!(
            res.headers()
                .get("hx-redirect")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("/login")),
            "{what}: sent to sign in"
        );
        assert_eq!(
            app.state.sessions.served(),
            before + 1,
            "{what}: served unread"
        );
        assert_eq!(audited().await, audited_before, "{what}: nothing audited");
        assert_eq!(
            browse_hits(&app, me).await,
            hits_before,
            "{what}: no hit taken"
        );
        // The process forgot it: the next request reads the row (and finds no session).
        let res = hx_get(&app, &path).await;
        assert_eq!(res.status(), 401, "{what}: and after");
        assert_eq!(
            app.state.sessions.served(),
            before + 1,
            "{what}: read, not served"
        );
    };

    // Deactivated in the database alone (its sessions left in place).
    set_active(&app, me, false).await;
    refused("deactivated").await;
    set_active(&app, me, true).await;

    // Logged out by another process: the row is gone.
    sign_in_again().await;
    let served = app.state.sessions.served();
    assert_eq!(hx_get(&app, &path).await.status(), 200);
    assert_eq!(app.state.sessions.served(), served + 1, "served unread");
    session::Entity::delete_many()
        .filter(session::Column::UserId.eq(me))
        .exec(&app.state.db)
        .await
        .expect("delete");
    refused("logged out elsewhere").await;

    // Expired.
    sign_in_again().await;
    session::Entity::update_many()
        .col_expr(
            session::Column::ExpiresAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::seconds(1)),
        )
        .filter(session::Column::UserId.eq(me))
        .exec(&app.state.db)
        .await
        .expect("update");
    refused("expired").await;
}

/// On PostgreSQL the folder, the connection and the hit are one statement: it takes the hit
/// only under its conditions (a session it was given to confirm among them), answers a
/// refusal like a check, and takes nothing for what it does not find. On SQLite it reads
/// nothing (the read and the hit are on the calling thread).
#[tokio::test]
async fn the_read_that_takes_a_browse_hit_takes_it_only_when_the_browse_can_go_ahead() {
    use campuscore::models::connections::{
        HitIf, InFolder, SessionToConfirm, find_owned_in_folder_taking,
    };
    use campuscore::models::rate_limits::Taken;
    let app = spawn_app().await;
    let me = app.logged_in_user("one@campus.edu").await;
    let folder = create_folder(&app, "One statement").await;
    let conn = echo_connection(&app, me.id).await;
    let key_hash = session_key_hash(&app, me.id).await;
    let (echo, none) = (vec!["test-echo".to_owned()], Vec::new());
    let take_confirming = async |folder_id: i64,
                                 connector_slugs: &[String],
                                 session: Option<&str>|
           -> Option<InFolder> {
        let hit = HitIf {
            name: "cloud_browse",
            max: 2,
            window_ms: 60_000,
            connector_slugs,
        };
        let session = session.map(|key_hash| SessionToConfirm { key_hash });
        find_owned_in_folder_taking(&app.state.db, me.id, folder_id, conn, &hit, session)
            .await
            .expect("the statement")
    };
    let take = async |folder_id: i64, connector_slugs: &[String]| {
        take_confirming(folder_id, connector_slugs, None).await
    };
    let taken = |found: Option<InFolder>| {
        let found = found.expect("found");
        assert_eq!(
            (
                found.conn.id,
                found.connector.slug.as_str(),
                found.folder.id
            ),
            (conn, "test-echo", folder)
        );
        assert!(found.session_live, "no session to confirm, or a live one");
        found.taken
    };

    if app.state.db.get_database_backend() == DbBackend::Postgres {
        let first = taken(take(folder, &echo).await);
        assert_eq!(first, Some(Taken::Allowed { fresh: true }));
        // Not a file connector here, waiting to be reconnected, turned off: read, not taken.
        assert_eq!(taken(take(folder, &none).await), None);
        set_status(&app, conn, "needs_reauth").await;
        assert_eq!(taken(take(folder, &echo).await), None);
        set_status(&app, conn, "active").await;
        set_enabled(&app, "test-echo", false).await;
        assert_eq!(taken(take(folder, &echo).await), None);
        set_enabled(&app, "test-echo", true).await;
        // Another folder: nothing found, nothing taken.
        assert!(take(folder + 1000, &echo).await.is_none());
        assert_eq!(browse_hits(&app, me.id).await, 1);
        // A session to confirm that is not live (unknown, or its user deactivated): read,
        // said so, not taken. A live one: taken as without.
        let dead = take_confirming(folder, &echo, Some("0".repeat(64).as_str()))
            .await
            .expect("found");
        assert!(!dead.session_live);
        assert_eq!(dead.taken, None);
        set_active(&app, me.id, false).await;
        let deactivated = take_confirming(folder, &echo, Some(&key_hash))
            .await
            .expect("found");
        assert!(!deactivated.session_live);
        assert_eq!(deactivated.taken, None);
        set_active(&app, me.id, true).await;
        assert_eq!(browse_hits(&app, me.id).await, 1);

        let second = taken(take_confirming(folder, &echo, Some(&key_hash)).await);
        assert_eq!(second, Some(Taken::Allowed { fresh: false }));
        match taken(take(folder, &echo).await) {
            Some(Taken::Refused { gate_at, now }) => {
                let gate_at = gate_at.expect("the first hit is the gate");
                assert!(gate_at <= now && now - gate_at < 60_000, "{gate_at} {now}");
            }
            other => panic!("the third hit of two is refused: {other:?}"),
        }
        assert_eq!(browse_hits(&app, me.id).await, 2);
    } else {
        assert!(take(folder, &echo).await.is_none());
        assert_eq!(browse_hits(&app, me.id).await, 0);
    }
}
