//! Two real `campuscore serve` processes on one database (a shared SQLite file, or
//! PostgreSQL with `CAMPUSCORE_TEST_DB=postgres`), set up with the CLI as an operator would,
//! connected to the real OAuth server through the JSON API, then hammered with actions on
//! a connection whose access token has expired: the provider must see exactly one refresh.
//! And a connector's config changed by the CLI reaches a serving process on its next request
//! (the process caches decrypted settings by `connector.config_version`).

use crate::helpers::folder_name;
use crate::oauth_flow::{CLIENT_ID, CLIENT_SECRET, SLUG, param, stat};
use crate::serve_process::Browser;
use crate::serve_process::Deployment;
use campuscore::models::entities::{connector, connector_config, user};
use campuscore::models::folders;
use campuscore::services::credentials::{self, NewConnection};
use campuscore_testkit::drive::{self as fake_drive, FakeDrive};
use campuscore_testkit::oauth_server::{OAuthServer, OAuthServerConfig};
use campuscore_testkit::process::free_port;
use futures_util::future::join_all;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use std::time::Duration;

async fn post_json(http: &reqwest::Client, url: &str, token: &str, body: Value) -> (u16, Value) {
    let res = http
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn two_serve_processes_on_one_database_refresh_an_expired_token_once() {
    let shared = Deployment::new().await;
    let (port_a, port_b) = (shared.port, free_port());
    let redirect_uri = format!("{}/api/connectors/{SLUG}/callback", shared.base_url);
    let Some(server) = OAuthServer::start(OAuthServerConfig {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        redirect_uri,
        access_token_ttl: 4,
    })
    .await
    else {
        return;
    };

    // The operator's set-up, through the CLI.
    shared.cli(&[
        "createuser",
        "--email",
        "ada@campus.test",
        "--password",
        "a long enough password",
    ]);
    for (key, value) in [
        ("CLIENT_ID", CLIENT_ID.to_owned()),
        ("AUTH_URL", server.authorize_url()),
        ("TOKEN_URL", server.token_url()),
        ("REVOKE_URL", server.revocation_url()),
        ("API_BASE_URL", server.issuer.clone()),
    ] {
        shared.cli(&["config", "set", SLUG, key, &value]);
    }
    shared.cli(&[
        "config",
        "set",
        SLUG,
        "CLIENT_SECRET",
        CLIENT_SECRET,
        "--secret",
    ]);
    let token = shared
        .cli(&["token", "create", "--email", "ada@campus.test"])
        .lines()
        .last()
        .expect("the token on the last line")
        .trim()
        .to_owned();

    let a = shared.serve(port_a, "a").await;
    let b = shared.serve(port_b, "b").await;
    let http = campuscore_testkit::http_client();

    // Connect through the JSON API of process A.
    let auth = format!("{}/api/v1/connectors/{SLUG}/auth", a.address);
    let (status, started) = post_json(&http, &auth, &token, json!({})).await;
    assert_eq!(status, 200, "{started}");
    let auth_url = started["auth_url"].as_str().expect("auth_url");
    let back = server.sign_in(auth_url, "alice").await;
    let code = param(&back, "code").expect("code in the redirect");
    let state = param(&back, "state").expect("state in the redirect");
    let (status, done) =
        post_json(&http, &auth, &token, json!({"state": state, "code": code})).await;
    assert_eq!(status, 201, "{done}");
    let id = done["credential_id"].as_i64().expect("credential id");

    // Let the access token expire, slow the token endpoint so every caller overlaps the
    // refresh, then call through both processes at once.
    tokio::time::sleep(Duration::from_secs(5)).await;
    server.delay_token_requests(300).await;
    let calls = (0..60).map(|i| {
        let base = if i % 2 == 0 { &a.address } else { &b.address };
        let url = format!("{base}/api/v1/connections/{id}/actions/whoami");
        let (http, token) = (http.clone(), token.clone());
        async move { post_json(&http, &url, &token, json!({})).await }
    });
    let results = join_all(calls).await;
    for (status, body) in &results {
        assert_eq!(*status, 200, "{body}");
        assert_eq!(body["result"]["email"], "alice@campus.test");
    }
    let stats = server.stats().await;
    assert_eq!(
        stat(&stats, &["grant_types", "refresh_token"]),
        1,
        "{stats}"
    );
    assert_eq!(
        stat(&stats, &["grant_types", "authorization_code"]),
        1,
        "{stats}"
    );

    drop((a, b));
}

/// Browses My Drive on `browser`'s server; the fragment.
async fn my_drive(browser: &Browser, folder: i64, conn: i64) -> String {
    let res = browser
        .http
        .get(format!(
            "{}/api/htmx/knowledge-folders/{folder}/cloud-import/{conn}/browse/?folder=root",
            browser.address
        ))
        .header("HX-Request", "true")
        .send()
        .await
        .expect("browse");
    assert_eq!(res.status(), 200);
    res.text().await.expect("body")
}

#[tokio::test]
async fn a_config_change_from_the_cli_reaches_a_serving_process_on_its_next_browse() {
    let shared = Deployment::new().await;
    let (one, two) = (FakeDrive::start().await, FakeDrive::start().await);
    one.add_file(
        fake_drive::ROOT,
        "On drive one.txt",
        "text/plain",
        b"1".to_vec(),
    );
    two.add_file(
        fake_drive::ROOT,
        "On drive two.txt",
        "text/plain",
        b"2".to_vec(),
    );
    let (email, password) = ("ada@campus.test", "a long enough password");
    shared.cli(&["createuser", "--email", email, "--password", password]);
    shared.cli(&[
        "config",
        "set",
        "google-drive",
        "CLIENT_ID",
        "campuscore-test",
    ]);
    shared.cli(&[
        "config",
        "set",
        "google-drive",
        "CLIENT_SECRET",
        "s3cret",
        "--secret",
    ]);
    shared.cli(&[
        "config",
        "set",
        "google-drive",
        "API_BASE_URL",
        one.base_url(),
    ]);
    let _server = shared.serve(shared.port, "a").await;

    let db = shared.db().await;
    let user = user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(&db)
        .await
        .expect("query")
        .expect("the user");
    let drive = connector::Entity::find()
        .filter(connector::Column::Slug.eq("google-drive"))
        .one(&db)
        .await
        .expect("query")
        .expect("the catalog row");
    let conn = credentials::insert(
        &db,
        &shared.keyring(),
        NewConnection {
            user_id: user.id,
            connector_id: drive.id,
            data: json!({ "access_token": "access", "refresh_token": "refresh" }),
            service_identity: Some(email.into()),
            scopes: None,
            expires_at: None,
        },
    )
    .await
    .expect("a connection")
    .id;
    let folder = folders::create(&db, user.id, &folder_name("Imports"))
        .await
        .expect("a folder")
        .id;
    let browser = Browser::log_in(&shared.base_url, email, password).await;
    assert!(
        my_drive(&browser, folder, conn)
            .await
            .contains("On drive one.txt")
    );

    // The server runs with the settings it decrypted at this config version: a value changed
    // behind the version's back (no admin path does that) is not read again...
    connector_config::Entity::update_many()
        .col_expr(connector_config::Column::Value, Expr::value(two.base_url()))
        .filter(connector_config::Column::ConnectorId.eq(drive.id))
        .filter(connector_config::Column::Key.eq("API_BASE_URL"))
        .exec(&db)
        .await
        .expect("update behind the version");
    assert!(
        my_drive(&browser, folder, conn)
            .await
            .contains("On drive one.txt")
    );
    // ...while a change through the CLI (another process) is seen on the very next request.
    shared.cli(&[
        "config",
        "set",
        "google-drive",
        "API_BASE_URL",
        two.base_url(),
    ]);
    let after = my_drive(&browser, folder, conn).await;
    assert!(after.contains("On drive two.txt"), "{after}");
    assert!(!after.contains("On drive one.txt"), "{after}");
}
