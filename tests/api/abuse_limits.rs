//! Rate limits on everything a signed-in user can make the app do upstream (issue 16.2): the
//! JSON API action route, the query console, manual connecting and the Test button (live
//! credential checks), and OAuth starts with their cap on pending flows. Each test is named
//! after the abuse it stops and checks the refusal in the caller's format — a JSON problem,
//! an HTMX fragment or a page — with a usable `Retry-After`, and that the refused request did
//! no work. Run with `CAMPUSCORE_TEST_DB=postgres` for PostgreSQL.

use crate::helpers::{Options, TestApp, api_token, client, csrf_from, spawn_app_with};
use crate::query_console::{Target, connect};
use campuscore::models::entities::{connection, connector_audit_log, oauth_state};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

async fn app_with(env: &[(&'static str, &str)]) -> TestApp {
    spawn_app_with(Options {
        run_worker: Some(false),
        env: env.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
        ..Default::default()
    })
    .await
}

/// The `Retry-After` of a response, in seconds (panics when missing or not a number).
fn retry_after(res: &reqwest::Response) -> u64 {
    res.headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("a numeric Retry-After on {}", res.url()))
}

/// Audit rows of `action` (each live check and each action run writes one).
async fn audited(app: &TestApp, action: &str) -> u64 {
    connector_audit_log::Entity::find()
        .filter(connector_audit_log::Column::Action.eq(action))
        .count(&app.state.db)
        .await
        .expect("count audit rows")
}

/// A JSON problem body: asserts a 429 with code `rate_limited` and a `Retry-After` within
/// `window` seconds, equal to the body's `retry_after`.
async fn assert_json_429(res: reqwest::Response, window: u64) {
    assert_eq!(res.status(), 429);
    let wait = retry_after(&res);
    assert!((1..=window).contains(&wait), "Retry-After {wait}");
    let body: Value = res.json().await.expect("a JSON problem");
    assert_eq!(body["code"], "rate_limited", "{body}");
    assert_eq!(body["retry_after"], wait, "{body}");
}

#[tokio::test]
async fn a_script_hammering_the_action_api_is_refused_with_429_and_retry_after() {
    let app = app_with(&[("CAMPUSCORE_API_ACTIONS_PER_MINUTE", "3")]).await;
    let ada = app
        .create_user("ada@campus.edu", "a long enough password", false)
        .await;
    let bob = app
        .create_user("bob@campus.edu", "a long enough password", false)
        .await;
    let (ada_token, bob_token) = (
        api_token(&app.state.db, ada.id, "script").await,
        api_token(&app.state.db, bob.id, "script").await,
    );
    let ada_conn = app
        .insert_connection("test-echo", ada.id, json!({"api_key": "valid-1"}), "ada")
        .await;
    let bob_conn = app
        .insert_connection("test-echo", bob.id, json!({"api_key": "valid-2"}), "bob")
        .await;

    for i in 0..3 {
        let (status, body) = app
            .run_action(&ada_token, ada_conn.id, "echo", json!({"message": "hi"}))
            .await;
        assert_eq!(status, 200, "call {i}: {body}");
    }
    let res = client()
        .post(app.url(&format!("/api/v1/connections/{}/actions/echo", ada_conn.id)))
        .bearer_auth(&ada_token)
        .json(&json!({"message": "one too many"}))
        .send()
        .await
        .expect("request");
    assert_json_429(res, 60).await;
    assert_eq!(
        audited(&app, "echo").await,
        3,
        "the refused call ran nothing"
    );

    // Per user: someone else's budget is untouched.
    let (status, body) = app
        .run_action(&bob_token, bob_conn.id, "echo", json!({"message": "hi"}))
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn flooding_the_query_console_is_refused_before_a_database_connection_is_opened() {
    let Some(target) = Target::create().await else {
        return;
    };
    let app = app_with(&[("CAMPUSCORE_QUERIES_PER_MINUTE", "3")]).await;
    app.logged_in_user("ada@campus.test").await;
    let id = connect(&app, &target).await;

    // The page's table list is one query of the budget.
    let page = app
        .get_text(&format!("/settings/connections/{id}/query"))
        .await;
    assert!(page.contains("public.courses"), "tables are listed");
    let csrf = csrf_from(&page);
    let query = |sql: &'static str| {
        app.client
            .post(app.url(&format!("/settings/connections/{id}/query")))
            .header("HX-Request", "true")
            .header("X-CSRF-Token", &csrf)
            .form(&[("sql", sql)])
            .send()
    };
    for _ in 0..2 {
        let res = query("SELECT count(*) FROM courses").await.expect("query");
        assert_eq!(res.status(), 200);
    }
    let res = query("SELECT count(*) FROM courses").await.expect("query");
    assert_eq!(res.status(), 429);
    let wait = retry_after(&res);
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    assert_eq!(
        res.headers()
            .get("hx-retarget")
            .and_then(|v| v.to_str().ok()),
        Some("#htmx-errors"),
        "an HTMX error fragment"
    );
    let html = res.text().await.expect("body");
    assert!(!html.contains("<html"), "a fragment, not a page: {html}");
    assert_eq!(
        audited(&app, "run_query").await,
        2,
        "the refused query never reached the database"
    );

    // Over the budget the page still opens, without the table list (no query is run).
    let res = app.get(&format!("/settings/connections/{id}/query")).await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.expect("page");
    assert!(!page.contains("public.courses"), "no table list");
    assert_eq!(audited(&app, "list_tables").await, 1);
}

#[tokio::test]
async fn password_guessing_through_manual_connect_stops_at_the_live_check_budget() {
    let app = app_with(&[("CAMPUSCORE_CONNECTION_CHECKS_PER_HOUR", "3")]).await;
    let ada = app
        .create_user("ada@campus.edu", "a long enough password", false)
        .await;
    let token = api_token(&app.state.db, ada.id, "guesser").await;
    let guess = |key: &'static str| {
        client()
            .post(app.url("/api/v1/connectors/test-echo/connections"))
            .bearer_auth(&token)
            .json(&json!({"api_key": key}))
            .send()
    };
    for i in 0..3 {
        let res = guess("wrong-guess").await.expect("request");
        assert_eq!(res.status(), 422, "guess {i} is checked live and rejected");
    }
    // A form the schema already rejects is not a live check and costs nothing...
    let res = client()
        .post(app.url("/api/v1/connectors/test-echo/connections"))
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 422);
    // ...but the fourth live check, even with the right key, is refused without running.
    let res = guess("valid-right-key").await.expect("request");
    assert_json_429(res, 3600).await;
    assert_eq!(audited(&app, "connection.connect").await, 3);

    // The browser form shares the budget and answers with a page.
    app.login("ada@campus.edu", "a long enough password").await;
    let form = app.get_text("/settings/connect/test-echo").await;
    let res = app
        .client
        .post(app.url("/settings/connect/test-echo"))
        .form(&[("api_key", "valid-x"), ("csrf_token", &csrf_from(&form))])
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 429);
    assert!(retry_after(&res) > 0);
    let html = res.text().await.expect("page");
    assert!(html.contains("<html"), "a full page: {html}");
    assert!(html.contains("Slow down"), "{html}");
}

#[tokio::test]
async fn hammering_the_test_button_is_refused_and_leaves_the_connection_as_it_was() {
    let app = app_with(&[("CAMPUSCORE_CONNECTION_CHECKS_PER_HOUR", "2")]).await;
    let ada = app.logged_in_user("ada@campus.edu").await;
    let conn = app
        .insert_connection("test-echo", ada.id, json!({"api_key": "valid-1"}), "ada")
        .await;
    let path = format!("/settings/connections/{}/test", conn.id);
    let csrf = app.csrf("/settings").await;
    for _ in 0..2 {
        let res = app.hx_post(&path, &csrf, &[]).await;
        assert_eq!(res.status(), 200);
    }
    let tested = reload(&app, conn.id).await;
    let res = app.hx_post(&path, &csrf, &[]).await;
    assert_eq!(res.status(), 429);
    assert!((1..=3600).contains(&retry_after(&res)));
    assert_eq!(
        reload(&app, conn.id).await,
        tested,
        "a refused test records nothing"
    );
    assert_eq!(
        res.headers()
            .get("hx-retarget")
            .and_then(|v| v.to_str().ok()),
        Some("#htmx-errors")
    );
    assert_eq!(audited(&app, "connection.test").await, 2);
}

async fn reload(app: &TestApp, id: i64) -> connection::Model {
    connection::Entity::find_by_id(id)
        .one(&app.state.db)
        .await
        .expect("query")
        .expect("the connection")
}

/// Points `test-oauth` at a provider that is never contacted: starting a flow only builds
/// the provider's URL.
async fn configure_oauth(app: &TestApp) {
    for (key, value) in [
        ("CLIENT_ID", "campuscore"),
        ("CLIENT_SECRET", "not used by a start"),
        ("AUTH_URL", "https://idp.campus.example/authorize"),
        ("TOKEN_URL", "https://idp.campus.example/token"),
        ("API_BASE_URL", "https://idp.campus.example"),
    ] {
        app.set_config("test-oauth", key, value).await;
    }
}

async fn flows_of(app: &TestApp, user_id: i64) -> u64 {
    oauth_state::Entity::find()
        .filter(oauth_state::Column::UserId.eq(user_id))
        .count(&app.state.db)
        .await
        .expect("count flows")
}

#[tokio::test]
async fn reloading_oauth_start_cannot_fill_the_flow_table() {
    let app = app_with(&[("CAMPUSCORE_OAUTH_PENDING_FLOWS", "3")]).await;
    configure_oauth(&app).await;
    let ada = app.logged_in_user("ada@campus.edu").await;
    let start = "/api/connectors/connect/test-oauth/start";
    for i in 0..3 {
        let res = app.get(start).await;
        assert_eq!(res.status(), 302, "start {i}");
    }
    let res = app.get(start).await;
    assert_eq!(res.status(), 429, "the fourth pending flow is refused");
    let wait = retry_after(&res);
    assert!(
        (540..=600).contains(&wait),
        "until the oldest flow expires (10 min): {wait}"
    );
    let html = res.text().await.expect("page");
    assert!(html.contains("Slow down"), "{html}");
    assert_eq!(flows_of(&app, ada.id).await, 3, "no row for the refusal");

    // The JSON API's initiation counts the same flows and answers with a problem.
    let token = api_token(&app.state.db, ada.id, "script").await;
    let res = client()
        .post(app.url("/api/v1/connectors/test-oauth/auth"))
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .expect("request");
    assert_json_429(res, 600).await;
    assert_eq!(flows_of(&app, ada.id).await, 3);

    // Another user has their own cap.
    let bob = app.other_browser();
    bob.logged_in_user("bob@campus.edu").await;
    assert_eq!(bob.get(start).await.status(), 302);
}

#[tokio::test]
async fn a_loop_of_oauth_starts_is_rate_limited_even_when_flows_finish() {
    let app = app_with(&[("CAMPUSCORE_OAUTH_STARTS_PER_HOUR", "2")]).await;
    configure_oauth(&app).await;
    let ada = app.logged_in_user("ada@campus.edu").await;
    let start = "/api/connectors/connect/test-oauth/start";
    for _ in 0..2 {
        assert_eq!(app.get(start).await.status(), 302);
    }
    let res = app.get(start).await;
    assert_eq!(res.status(), 429);
    assert!((3500..=3600).contains(&retry_after(&res)));
    assert_eq!(flows_of(&app, ada.id).await, 2);
}
