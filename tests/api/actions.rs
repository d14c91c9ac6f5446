//! The whole action path with the test-only connector: JSON API, bearer tokens, validation,
//! audit rows with redacted params, ownership, and a disabled connector.

use crate::helpers::{TestApp, client, spawn_app};
use campuscore::models::entities::{connector, connector_audit_log};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

async fn echo_connection(app: &TestApp, user_id: i64) -> i64 {
    let conn = app
        .insert_connection(
            "test-echo",
            user_id,
            json!({ "api_key": "valid-super-secret-key" }),
            "echo user",
        )
        .await;
    assert!(
        !conn.credentials.contains("super-secret"),
        "credentials are encrypted at rest"
    );
    conn.id
}

async fn post_action(
    app: &TestApp,
    token: &str,
    id: i64,
    action: &str,
    body: Value,
) -> reqwest::Response {
    client()
        .post(app.url(&format!("/api/v1/connections/{id}/actions/{action}")))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn an_action_runs_through_the_api_and_is_audited_with_secrets_redacted() {
    let app = spawn_app().await;
    let user = app
        .create_user("mo@campus.edu", "a long enough password", false)
        .await;
    let token = crate::helpers::api_token(&app.state.db, user.id, "test").await;
    let id = echo_connection(&app, user.id).await;

    let res = post_action(&app, &token, id, "echo", json!({ "message": "héllo" })).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["result"]["message"], "héllo");
    assert_eq!(body["result"]["length"], 5);

    let res = post_action(
        &app,
        &token,
        id,
        "echo",
        json!({ "message": "" , "password": "hunter2hunter2" }),
    )
    .await;
    assert_eq!(res.status(), 422);
    let problem: Value = res.json().await.expect("json");
    assert_eq!(problem["code"], "invalid_input");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("password")
            || problem["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("message")
    );

    let res = post_action(&app, &token, id, "fail", json!({ "kind": "rate_limited" })).await;
    assert_eq!(res.status(), 429);
    assert_eq!(
        res.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("7")
    );

    let rows = connector_audit_log::Entity::find()
        .order_by_asc(connector_audit_log::Column::Id)
        .all(&app.state.db)
        .await
        .expect("audit");
    assert_eq!(rows.len(), 3);
    assert_eq!(
        (rows[0].action.as_str(), rows[0].status.as_str()),
        ("echo", "success")
    );
    assert_eq!(rows[0].connection_id, Some(id));
    assert_eq!(rows[0].user_id, Some(user.id));
    assert_eq!(rows[0].connector_slug, "test-echo");
    assert_eq!(rows[1].status, "error");
    assert_eq!(rows[1].error_code.as_deref(), Some("invalid_input"));
    assert!(
        !rows[1].request.contains("hunter2"),
        "secrets are redacted: {}",
        rows[1].request
    );
    assert!(rows[1].request.contains("[redacted]"));
    assert_eq!(rows[2].error_code.as_deref(), Some("rate_limited"));
}

#[tokio::test]
async fn another_users_connection_is_not_found_and_nothing_runs() {
    let app = spawn_app().await;
    let owner = app
        .create_user("ned@campus.edu", "a long enough password", false)
        .await;
    let intruder = app
        .create_user("oz@campus.edu", "a long enough password", false)
        .await;
    let id = echo_connection(&app, owner.id).await;
    let token = crate::helpers::api_token(&app.state.db, intruder.id, "t").await;
    let res = post_action(&app, &token, id, "echo", json!({ "message": "hi" })).await;
    assert_eq!(res.status(), 404);
    let res = post_action(&app, &token, 424242, "echo", json!({ "message": "hi" })).await;
    assert_eq!(res.status(), 404);
    assert_eq!(
        connector_audit_log::Entity::find()
            .count(&app.state.db)
            .await
            .expect("count"),
        0
    );

    let res = post_action(
        &app,
        "ccpat_not-a-token",
        id,
        "echo",
        json!({ "message": "hi" }),
    )
    .await;
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["code"], "unauthenticated");
}

#[tokio::test]
async fn a_disabled_connector_refuses_actions_with_a_clear_message() {
    let app = spawn_app().await;
    let user = app
        .create_user("pat@campus.edu", "a long enough password", false)
        .await;
    let token = crate::helpers::api_token(&app.state.db, user.id, "t").await;
    let id = echo_connection(&app, user.id).await;
    connector::Entity::update_many()
        .col_expr(connector::Column::IsEnabled, Expr::value(false))
        .filter(connector::Column::Slug.eq("test-echo"))
        .exec(&app.state.db)
        .await
        .expect("disable");
    let res = post_action(&app, &token, id, "echo", json!({ "message": "hi" })).await;
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["code"], "connector_disabled");
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("turned off")
    );

    // A restart's catalog sync keeps the admin's choice.
    campuscore::services::catalog::sync(&app.state.db, &app.state.registry)
        .await
        .expect("sync");
    let row = app.echo_connector().await;
    assert!(!row.is_enabled);
}

#[tokio::test]
async fn the_catalog_lists_connectors_with_action_schemas_for_a_session_user() {
    let app = spawn_app().await;
    app.logged_in_user("quin@campus.edu").await;
    let res = app.get("/api/v1/connectors").await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("json");
    let echo = body["connectors"]
        .as_array()
        .expect("list")
        .iter()
        .find(|c| c["connector_id"] == "test-echo")
        .expect("test-echo listed")
        .clone();
    assert_eq!(echo["kind"], "manual");
    let actions = echo["actions"].as_array().expect("actions");
    let names: Vec<&str> = actions.iter().filter_map(|a| a["name"].as_str()).collect();
    assert!(names.contains(&"echo") && names.contains(&"download_file"));
    let echo_action = actions.iter().find(|a| a["name"] == "echo").expect("echo");
    assert_eq!(echo_action["input_schema"]["type"], "object");
    assert!(
        !echo_action["description"]
            .as_str()
            .unwrap_or_default()
            .is_empty()
    );
    assert!(
        echo["capabilities"]
            .as_array()
            .expect("caps")
            .iter()
            .any(|c| c == "file_browse")
    );
}

#[tokio::test]
async fn connector_icons_are_served_from_the_registry_and_named_in_the_catalog() {
    let app = spawn_app().await;
    app.logged_in_user("ivy@campus.edu").await;
    let body: Value = app
        .get("/api/v1/connectors")
        .await
        .json()
        .await
        .expect("json");
    let drive = body["connectors"]
        .as_array()
        .expect("list")
        .iter()
        .find(|c| c["connector_id"] == "google-drive")
        .expect("google-drive listed")
        .clone();
    assert_eq!(drive["icon"], "/static/connectors/google-drive.svg");

    let res = app.get("/static/connectors/google-drive.svg").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/svg+xml");
    let svg = res.text().await.expect("body");
    let plugin = app.state.registry.get("google-drive").expect("registered");
    assert_eq!(svg, plugin.spec().icon);

    // A catalog row of a connector this build does not have still gets an icon.
    let res = app.get("/static/connectors/retired-lms.svg").await;
    assert_eq!(res.status(), 200);
    let fallback = res.text().await.expect("body");
    assert!(fallback.starts_with("<svg") && fallback != svg);

    let settings = app.get_text("/settings").await;
    assert!(settings.contains("src=\"/static/connectors/test-echo.svg\""));
}

#[tokio::test]
async fn a_session_api_call_needs_the_csrf_header_but_a_bearer_call_does_not() {
    let app = spawn_app().await;
    let user = app.logged_in_user("ray@campus.edu").await;
    let id = echo_connection(&app, user.id).await;
    let url = app.url(&format!("/api/v1/connections/{id}/actions/echo"));
    let res = app
        .client
        .post(&url)
        .json(&json!({ "message": "hi" }))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 403);
    let token = app.csrf("/").await;
    let res = app
        .client
        .post(&url)
        .header("X-CSRF-Token", token)
        .json(&json!({ "message": "hi" }))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_download_action_streams_exactly_the_declared_bytes() {
    let app = spawn_app().await;
    let user = app
        .create_user("sal@campus.edu", "a long enough password", false)
        .await;
    let token = crate::helpers::api_token(&app.state.db, user.id, "t").await;
    let id = echo_connection(&app, user.id).await;
    let res = post_action(
        &app,
        &token,
        id,
        "download_file",
        json!({ "file_id": "f1", "size": 300000 }),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()
            .get("content-disposition")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .contains("f1.bin")
    );
    assert_eq!(res.bytes().await.expect("body").len(), 300000);
}

#[tokio::test]
async fn last_used_at_is_written_at_most_once_a_minute_and_is_never_older_than_that() {
    use campuscore::models::entities::connection;
    let app = spawn_app().await;
    let user = app
        .create_user("lu@campus.edu", "a long enough password", false)
        .await;
    let token = crate::helpers::api_token(&app.state.db, user.id, "test").await;
    let id = echo_connection(&app, user.id).await;
    let last_used = || async {
        connection::Entity::find_by_id(id)
            .one(&app.state.db)
            .await
            .expect("query")
            .expect("the connection")
            .last_used_at
    };
    let echo = || async {
        let (status, _) = app
            .run_action(&token, id, "echo", json!({ "message": "hi" }))
            .await;
        assert_eq!(status, 200);
    };
    assert_eq!(last_used().await, None);

    echo().await;
    let first = last_used().await.expect("the first use is recorded");
    for _ in 0..3 {
        echo().await;
    }
    assert_eq!(
        last_used().await,
        Some(first),
        "uses within a minute of the recorded one write nothing"
    );

    // Recorded over a minute ago: the next use is written.
    let long_ago = first - chrono::Duration::seconds(61);
    connection::Entity::update_many()
        .col_expr(connection::Column::LastUsedAt, Expr::value(long_ago))
        .filter(connection::Column::Id.eq(id))
        .exec(&app.state.db)
        .await
        .expect("backdate");
    echo().await;
    let now = last_used().await.expect("still recorded");
    assert!(now >= first, "{now} is the new use, not {long_ago}");

    let audited = connector_audit_log::Entity::find()
        .filter(connector_audit_log::Column::ConnectionId.eq(id))
        .count(&app.state.db)
        .await
        .expect("count");
    assert_eq!(audited, 5, "every use is audited, coalesced or not");
}
