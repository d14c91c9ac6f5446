//! Upstream addresses the app is told to use (issue 16.8): a connector's URL settings must
//! be https (plain http only to this machine), whether typed by an administrator or left
//! in the database from before the rule; and OneDrive's download links — a host Graph
//! chooses — go through the SSRF guard and the pinned client like a host a user typed.

use crate::cloud_drives::{configure, oauth_connection};
use crate::helpers::{TestApp, api_token, spawn_app};
use campuscore::error::AppError;
use campuscore::models::connector_configs;
use campuscore::services::connector_config;
use campuscore_testkit::graph::FakeGraph;
use serde_json::json;

/// `connector_config::set` as `campuscore config set` and the admin page call it.
async fn set(app: &TestApp, slug: &str, key: &str, value: &str) -> Result<(), AppError> {
    let row = app.connector(slug).await;
    let plugin = app.state.registry.get(slug).expect("registered").clone();
    connector_config::set(
        &app.state.db,
        &app.state.keyring,
        &row,
        plugin.as_ref(),
        key,
        value,
        false,
    )
    .await
    .map(|_| ())
}

#[tokio::test]
async fn an_api_base_url_that_would_send_tokens_in_clear_cannot_be_configured() {
    let app = spawn_app().await;
    for value in [
        "http://graph.campus.example",
        "http://10.0.0.5/v1.0",
        "http://169.254.169.254",
        "ftp://graph.campus.example",
    ] {
        for key in ["API_BASE_URL", "TOKEN_URL", "INSTANCE_URL"] {
            match set(&app, "onedrive", key, value).await {
                Err(AppError::Invalid(fields)) => {
                    let message = fields.get("value").cloned().unwrap_or_default();
                    assert!(
                        message.contains(key) && message.contains("https://"),
                        "{key}={value}: {message}"
                    );
                }
                other => panic!("{key}={value} was accepted: {other:?}"),
            }
        }
    }
    for value in [
        "https://graph.campus.example",
        "http://127.0.0.1:9000",
        "http://localhost:9000",
    ] {
        set(&app, "onedrive", "API_BASE_URL", value)
            .await
            .unwrap_or_else(|e| panic!("{value}: {e:?}"));
    }
    // Other keys are not URLs and are left alone.
    set(&app, "onedrive", "TENANT", "http-is-a-fine-tenant-name")
        .await
        .expect("a plain value");
}

#[tokio::test]
async fn a_plain_http_api_base_url_stored_before_the_rule_is_refused_when_used() {
    let app = spawn_app().await;
    let user = app
        .create_user("ada@campus.edu", "a long enough password", false)
        .await;
    let graph = FakeGraph::start().await;
    configure(&app, "onedrive", graph.base_url()).await;
    // Written directly, as an older version (or a hand-edited database) could have.
    let connector = app.connector("onedrive").await;
    connector_configs::upsert(
        &app.state.db,
        connector.id,
        "API_BASE_URL",
        "http://graph.campus.example".to_owned(),
        false,
    )
    .await
    .expect("a legacy row");
    let conn = oauth_connection(&app, "onedrive", user.id, "ada@campus.edu").await;
    let token = api_token(&app.state.db, user.id, "script").await;
    let (status, body) = app
        .run_action(&token, conn, "list_files", json!({"folder_id": "root"}))
        .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["code"], "misconfigured", "{body}");
    assert!(
        graph.list_requests() == 0 && graph.metadata_requests() == 0,
        "no request left with the token"
    );
}

#[tokio::test]
async fn a_onedrive_download_link_to_an_internal_host_is_refused_without_a_connection() {
    let app = spawn_app().await;
    let user = app
        .create_user("ada@campus.edu", "a long enough password", false)
        .await;
    let graph = FakeGraph::start().await;
    let file = graph.add_file(&graph.root_id(), "payroll.pdf", "application/pdf", "x");
    // An internal service on this machine, which Graph's link now points at.
    let internal = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    internal.set_nonblocking(true).expect("nonblocking");
    let port = internal.local_addr().expect("addr").port();
    graph.set_download_base(&format!("http://127.0.0.1:{port}"));
    configure(&app, "onedrive", graph.base_url()).await;
    let conn = oauth_connection(&app, "onedrive", user.id, "ada@campus.edu").await;
    let token = api_token(&app.state.db, user.id, "script").await;

    let (status, body) = app
        .run_action(
            &token,
            conn,
            "download_file",
            json!({"file_id": graph.entry_id(&file)}),
        )
        .await;
    assert_eq!(status, 502, "{body}");
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("may not fetch") && detail.contains("loopback"),
        "{body}"
    );
    assert_eq!(graph.content_requests(), 1, "Graph was asked for the link");
    assert!(
        matches!(internal.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "nothing connected to the internal host"
    );
}
