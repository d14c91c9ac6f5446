//! Canvas LMS end to end: the real `canvas` connector in the app against the fake Canvas of
//! the testkit (its own OAuth on the instance, enrolments, `Link` paging, throttling, the
//! file store that refuses an `Authorization` header): connecting through Canvas's sign-in,
//! importing course files and a page into a knowledge folder, another user's course refused
//! without harming the connection, the one-hour token refreshed while the refresh token is
//! kept, throttling shown as "try again", and disconnect ending the grant at Canvas.

use crate::cloud_import::{
    browse_path, create_folder, hx_get, import, link_to, picks, settled_files,
};
use crate::helpers::{TestApp, client, spawn_app};
use crate::oauth_flow::{connect_at_approving_provider, connections, creds, reload, token_field};
use campuscore_testkit::canvas::{
    Endpoint, EnrollmentState, EnrollmentType, FakeCanvas, Host, Throttle,
};
use campuscore_testkit::upstream::Content;
use serde_json::{Value, json};
use std::time::Duration;

const CLIENT_ID: &str = "10000000000042";
const CLIENT_SECRET: &str = "canvas developer key secret";

/// A fake Canvas with Ada (student in Biology) and Ben (student in Chemistry), the app
/// configured with a developer key for it.
struct Campus {
    canvas: FakeCanvas,
    ada: i64,
    biology: i64,
    chemistry: i64,
}

async fn campus(app: &TestApp) -> Campus {
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
    canvas.add_developer_key(CLIENT_ID, CLIENT_SECRET, &app.redirect_uri("canvas"));
    app.set_config("canvas", "CLIENT_ID", CLIENT_ID).await;
    app.set_config("canvas", "CLIENT_SECRET", CLIENT_SECRET)
        .await;
    app.set_config("canvas", "API_BASE_URL", canvas.base_url())
        .await;
    Campus {
        canvas,
        ada,
        biology,
        chemistry,
    }
}

/// A Canvas connection for `canvas_user`, with tokens the fake issued.
async fn connection(app: &TestApp, campus: &Campus, user_id: i64, canvas_user: i64) -> i64 {
    let (access, refresh) = campus.canvas.issue_tokens(canvas_user);
    let tokens = json!({"access_token": access, "refresh_token": refresh, "token_type": "Bearer"});
    app.insert_connection("canvas", user_id, tokens, "Ada Lovelace (alovelace)")
        .await
        .id
}

/// Ada's account with an API token and a Canvas connection: `(campus, token, connection)`.
async fn ada_through_the_api(app: &TestApp) -> (Campus, String, i64) {
    let user = app
        .create_user("ada@campus.edu", "a long enough password", false)
        .await;
    let token = crate::helpers::api_token(&app.state.db, user.id, "t").await;
    let campus = campus(app).await;
    let conn = connection(app, &campus, user.id, campus.ada).await;
    (campus, token, conn)
}

#[tokio::test]
async fn connecting_goes_through_canvas_sign_in_and_shows_the_name_and_login() {
    let app = spawn_app().await;
    app.logged_in_user("ada@campus.edu").await;
    let campus = campus(&app).await;
    campus.canvas.sign_in_as(campus.ada);

    let shown = connect_at_approving_provider(
        &app,
        "canvas",
        &format!("{}/login/oauth2/auth?", campus.canvas.base_url()),
    )
    .await;
    assert!(
        shown
            .iter()
            .any(|(level, m)| level == "success" && m.contains("Ada Lovelace (alovelace)")),
        "{shown:?}"
    );
    let rows = connections(&app).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].service_identity.as_deref(),
        Some("Ada Lovelace (alovelace)")
    );
    assert_eq!(rows[0].status.as_str(), "active");
    let stored = creds(&app, &rows[0]);
    assert!(token_field(&stored, "refresh_token").starts_with("7~"));
    assert_eq!(campus.canvas.token_requests(), ["authorization_code"]);
}

#[tokio::test]
async fn course_files_and_a_page_import_into_a_folder_without_the_token_reaching_the_file_store() {
    let app = spawn_app().await;
    let user = app.logged_in_user("ada@campus.edu").await;
    let campus = campus(&app).await;
    let root = campus.canvas.root_folder(campus.biology);
    let week1 = campus.canvas.add_folder(root, "Week 1");
    let slides = Content::synthetic(700_000, 3);
    campus
        .canvas
        .add_file(week1, "Cells.pdf", "application/pdf", slides.clone());
    campus.canvas.add_file(
        week1,
        "Notes.txt",
        "text/plain",
        Content::from(b"mitochondria".to_vec()),
    );
    campus.canvas.add_file(
        week1,
        "Extra.csv",
        "text/csv",
        Content::from(b"a,b".to_vec()),
    );
    campus.canvas.add_page(
        campus.biology,
        "Lab safety",
        "<p>Wear <b>goggles</b><script>alert(1)</script></p>",
    );
    let folder = create_folder(&app, "Biology").await;
    let conn = connection(&app, &campus, user.id, campus.ada).await;

    let top = hx_get(&app, &browse_path(folder, conn))
        .await
        .text()
        .await
        .expect("body");
    assert!(
        top.contains("Biology 101") && !top.contains("Chemistry 201"),
        "{top}"
    );
    let course = hx_get(&app, &link_to(&top, "Biology 101").expect("course link"))
        .await
        .text()
        .await
        .expect("body");
    let files = hx_get(&app, &link_to(&course, "Week 1").expect("Week 1"))
        .await
        .text()
        .await
        .expect("body");
    assert!(
        files.contains("Biology 101") && files.contains("Week 1"),
        "breadcrumbs: {files}"
    );
    let in_week1 = picks(&files);
    assert_eq!(in_week1.len(), 3, "{in_week1:?}");
    let pages = hx_get(&app, &link_to(&course, "Pages").expect("Pages"))
        .await
        .text()
        .await
        .expect("body");
    let mut chosen: Vec<String> = in_week1
        .iter()
        .filter(|(name, _)| name == "Cells.pdf" || name == "Notes.txt")
        .map(|(_, value)| value.clone())
        .collect();
    chosen.extend(
        picks(&pages)
            .into_iter()
            .filter(|(n, _)| n == "Lab safety.html")
            .map(|(_, v)| v),
    );
    assert_eq!(chosen.len(), 3, "{pages}");

    let res = import(&app, folder, conn, &chosen).await;
    assert_eq!(res.status(), 202);
    let settled = settled_files(&app, folder, 3, Duration::from_secs(60)).await;
    let summary: Vec<(&str, &str, i64)> = settled
        .iter()
        .map(|f| (f.name.as_str(), f.status.as_str(), f.size_bytes))
        .collect();
    assert!(
        settled.iter().all(|f| f.status.as_str() == "ready"),
        "{summary:?}"
    );
    assert!(
        summary.contains(&("Cells.pdf", "ready", 700_000)),
        "{summary:?}"
    );
    assert!(summary.contains(&("Notes.txt", "ready", 12)), "{summary:?}");
    assert!(
        summary
            .iter()
            .any(|(name, _, size)| *name == "Lab safety.html" && *size > 0),
        "{summary:?}"
    );

    let store: Vec<_> = campus
        .canvas
        .requests()
        .into_iter()
        .filter(|r| r.endpoint.is_some_and(|e| e.host() == Host::FileStore))
        .collect();
    assert_eq!(store.len(), 2, "two files fetched from the file store");
    assert!(
        store.iter().all(|r| !r.authorization && r.status < 300),
        "{store:?}"
    );
}

#[tokio::test]
async fn another_users_course_is_no_access_and_the_connection_stays_active() {
    let app = spawn_app().await;
    let (campus, token, conn) = ada_through_the_api(&app).await;

    let (status, own) = app
        .run_action(&token, conn, "list_courses", json!({}))
        .await;
    assert_eq!(status, 200, "{own}");
    let ids: Vec<u64> = own["result"]["courses"]
        .as_array()
        .expect("courses")
        .iter()
        .map(|c| c["id"].as_u64().expect("id"))
        .collect();
    assert_eq!(ids, [campus.biology as u64]);
    for (action, params) in [
        ("get_course", json!({"course_id": campus.chemistry})),
        ("list_modules", json!({"course_id": campus.chemistry})),
        (
            "list_course_files",
            json!({"folder_id": format!("course:{}", campus.chemistry)}),
        ),
    ] {
        let (status, body) = app.run_action(&token, conn, action, params).await;
        assert_eq!(status, 403, "{action}: {body}");
        assert_eq!(body["code"], "permission_denied", "{action}: {body}");
    }
    assert_eq!(reload(&app, conn).await.status.as_str(), "active");
    assert!(
        campus.canvas.token_requests().is_empty(),
        "no refresh for a 401 without WWW-Authenticate"
    );
}

#[tokio::test]
async fn an_expired_hour_token_is_refreshed_once_and_the_refresh_token_is_kept() {
    let app = spawn_app().await;
    let (campus, token, conn) = ada_through_the_api(&app).await;
    let before = creds(&app, &reload(&app, conn).await);
    campus.canvas.expire_access_tokens();

    let (status, body) = app
        .run_action(
            &token,
            conn,
            "get_course",
            json!({"course_id": campus.biology}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["name"], "Biology 101");
    let after = creds(&app, &reload(&app, conn).await);
    assert_ne!(
        token_field(&after, "access_token"),
        token_field(&before, "access_token")
    );
    assert_eq!(
        token_field(&after, "refresh_token"),
        token_field(&before, "refresh_token")
    );
    assert_eq!(campus.canvas.token_requests(), ["refresh_token"]);
    assert_eq!(reload(&app, conn).await.status.as_str(), "active");
}

#[tokio::test]
async fn throttling_of_either_kind_is_try_again_and_harms_nothing() {
    let app = spawn_app().await;
    let (campus, token, conn) = ada_through_the_api(&app).await;
    for kind in [Throttle::Forbidden, Throttle::TooManyRequests] {
        // More throttled answers than the client retries: the action gives up.
        campus.canvas.throttle_next(12, kind);
        let (status, body) = app
            .run_action(&token, conn, "list_courses", json!({}))
            .await;
        assert_eq!(status, 429, "{kind:?}: {body}");
        assert_eq!(body["code"], "rate_limited", "{kind:?}: {body}");
        let retried = 12 - campus.canvas.pending_faults(Endpoint::Api);
        assert!(
            retried > 1,
            "{kind:?}: retried with backoff ({retried} requests)"
        );
        assert_eq!(reload(&app, conn).await.status.as_str(), "active");
        while campus.canvas.pending_faults(Endpoint::Api) > 0 {
            app.run_action(&token, conn, "list_courses", json!({}))
                .await;
        }
    }
    let (status, _) = app
        .run_action(&token, conn, "list_courses", json!({}))
        .await;
    assert_eq!(status, 200, "works again once Canvas stops throttling");
}

#[tokio::test]
async fn disconnecting_deletes_the_grant_at_canvas() {
    let app = spawn_app().await;
    let (campus, token, conn) = ada_through_the_api(&app).await;
    let stored = creds(&app, &reload(&app, conn).await);
    let refresh = token_field(&stored, "refresh_token");

    let res = client()
        .delete(app.url(&format!("/api/v1/connector-credentials/{conn}")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["service_revocation_status"], "confirmed", "{body}");
    assert!(
        campus.canvas.is_revoked(&refresh),
        "Canvas no longer knows the grant"
    );
    let deletes = campus
        .canvas
        .requests()
        .into_iter()
        .filter(|r| r.method == "DELETE" && r.endpoint == Some(Endpoint::OAuth))
        .count();
    assert_eq!(deletes, 1);
}
