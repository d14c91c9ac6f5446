//! Token refresh end to end against a real provider with rotating refresh tokens: refresh
//! before expiry and after a 401, exactly one refresh for many concurrent callers (in one
//! process and across two app instances on one database), a refused refresh token, a token
//! endpoint outage, and a still-valid token used when an early refresh fails.
//!
//! The provider counts every token request (`/__stats`), so "exactly once" is measured where
//! it matters: at the provider.

use crate::helpers::{Options, TestApp, client, spawn_app_with};
use crate::oauth_flow::{
    SLUG, bearer_for, callback, connect, creds, provider, provider_refresh, reload, start, stat,
    token_field, userinfo_status, whoami,
};
use campuscore::models::entities::{connection, connector_audit_log};
use campuscore::services::credentials;
use campuscore::state::AppState;
use campuscore::{Application, Settings};
use campuscore_testkit::oauth_server::OAuthServer;
use chrono::Utc;
use futures_util::future::join_all;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, ExprTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The API action budget, raised in these tests.
const API_ACTIONS_VAR: &str = "CAMPUSCORE_API_ACTIONS_PER_MINUTE";

/// An app with `alice` connected through the pages by a logged-in user, and a bearer token.
struct Connected {
    app: TestApp,
    server: OAuthServer,
    token: String,
    id: i64,
}

async fn connected(access_token_ttl: u64) -> Option<Connected> {
    // A hundred calls at once is what the API's per-user budget stops; these tests are
    // about refreshing, so the budget is raised.
    let app = spawn_app_with(Options {
        env: vec![(API_ACTIONS_VAR, "100000".to_owned())],
        ..Default::default()
    })
    .await;
    let server = provider(&app, access_token_ttl).await?;
    let user = app.logged_in_user("rae@campus.edu").await;
    let row = connect(&app, &server, "alice").await;
    let token = bearer_for(&app, user.id).await;
    Some(Connected {
        app,
        server,
        token,
        id: row.id,
    })
}

impl Connected {
    async fn whoami(&self) -> (u16, Value) {
        whoami(&client(), &self.app.address, &self.token, self.id).await
    }

    async fn row(&self) -> connection::Model {
        reload(&self.app, self.id).await
    }

    async fn refresh_grants(&self) -> i64 {
        stat(
            &self.server.stats().await,
            &["grant_types", "refresh_token"],
        )
    }

    /// Sleeps until the stored access token has expired (at the provider too: the app's
    /// `expires_at` is computed after the provider issued the token).
    async fn wait_until_expired(&self) {
        let at = self.row().await.expires_at.expect("expires_at");
        let left = (at - Utc::now()).to_std().unwrap_or_default();
        tokio::time::sleep(left + Duration::from_millis(700)).await;
    }

    async fn set_expires_at(&self, at: chrono::DateTime<Utc>) {
        connection::Entity::update_many()
            .col_expr(connection::Column::ExpiresAt, Expr::value(at))
            .filter(connection::Column::Id.eq(self.id))
            .exec(&self.app.state.db)
            .await
            .expect("update expires_at");
    }

    /// Writes `data` as the connection's credentials, as another process storing its own
    /// refresh would (bumping `credentials_version`, releasing any lease).
    async fn store_credentials(&self, data: &Value, expires_at: chrono::DateTime<Utc>) {
        let row = self.row().await;
        let sealed = credentials::seal(&self.app.state.keyring, &row, data);
        connection::Entity::update_many()
            .col_expr(connection::Column::Credentials, Expr::value(sealed))
            .col_expr(
                connection::Column::CredentialsVersion,
                Expr::col(connection::Column::CredentialsVersion).add(1),
            )
            .col_expr(connection::Column::ExpiresAt, Expr::value(expires_at))
            .col_expr(
                connection::Column::RefreshLeaseUntil,
                Expr::value(None::<chrono::DateTime<Utc>>),
            )
            .col_expr(
                connection::Column::RefreshLeaseOwner,
                Expr::value(None::<String>),
            )
            .filter(connection::Column::Id.eq(self.id))
            .exec(&self.app.state.db)
            .await
            .expect("store credentials");
    }

    async fn refresh_audits(&self) -> Vec<connector_audit_log::Model> {
        connector_audit_log::Entity::find()
            .filter(connector_audit_log::Column::Action.eq("token.refresh"))
            .filter(connector_audit_log::Column::ConnectionId.eq(self.id))
            .order_by_asc(connector_audit_log::Column::Id)
            .all(&self.app.state.db)
            .await
            .expect("audit rows")
    }
}

fn assert_alice(status: u16, body: &Value) {
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        &json!({"result": {"sub": "alice", "email": "alice@campus.test"}})
    );
}

/// A client for many concurrent requests (one connection each; no cookies, no CSRF).
fn load_client() -> reqwest::Client {
    campuscore_testkit::http_client_builder()
        .timeout(Duration::from_secs(120))
        .build()
        .expect("client")
}

/// `n` concurrent `whoami` calls at each of `bases`; every result.
async fn concurrent_whoami(bases: &[&str], token: &str, id: i64, n: usize) -> Vec<(u16, Value)> {
    let http = load_client();
    let calls = bases
        .iter()
        .flat_map(|base| (0..n).map(move |_| *base))
        .map(|base| whoami(&http, base, token, id));
    join_all(calls).await
}

fn assert_all_alice(results: &[(u16, Value)]) {
    let failures: Vec<_> = results
        .iter()
        .filter(|(s, b)| *s != 200 || b["result"]["email"] != "alice@campus.test")
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} calls failed, e.g. {:?}",
        failures.len(),
        results.len(),
        failures.first()
    );
}

/// A second app process on the same database and keys: its own `AppState`, so its own
/// in-process refresh locks (only the database lease is shared).
async fn second_instance(app: &TestApp) -> (String, AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let settings = &app.state.settings;
    let mut env: HashMap<&str, String> = HashMap::new();
    env.insert("CAMPUSCORE_DATA_DIR", dir.path().display().to_string());
    env.insert("DATABASE_URL", settings.database_url.clone());
    // Both instances serve one public site (as behind a load balancer).
    env.insert("CAMPUSCORE_BASE_URL", app.address.clone());
    env.insert(
        "FERNET_KEYS",
        settings
            .fernet_keys
            .clone()
            .expect("the first instance has FERNET_KEYS"),
    );
    env.insert(API_ACTIONS_VAR, "100000".to_owned());
    let mut second = Settings::from_lookup(|k| env.get(k).cloned()).expect("settings");
    second.run_worker = false;
    let state = campuscore::startup::prepare(second)
        .await
        .expect("prepare the second instance");
    let server = Application::from_state(state.clone(), listener).expect("build app");
    tokio::spawn(server.run_until_stopped());
    (format!("http://127.0.0.1:{port}"), state, dir)
}

#[tokio::test]
async fn an_expiring_token_is_refreshed_once_before_use() {
    let Some(c) = connected(5).await else { return };
    let before = c.row().await;
    let old = creds(&c.app, &before);
    c.wait_until_expired().await;
    assert_eq!(
        userinfo_status(&c.server, &token_field(&old, "access_token")).await,
        401,
        "the provider has expired the access token"
    );

    let (status, body) = c.whoami().await;
    assert_alice(status, &body);
    let stats = c.server.stats().await;
    assert_eq!(
        stat(&stats, &["grant_types", "refresh_token"]),
        1,
        "{stats}"
    );
    assert_eq!(stat(&stats, &["token_requests"]), 2, "{stats}");
    // Refreshed before use: the expired token was never sent (1 at connect, 1 for whoami,
    // 1 from this test's own check above).
    assert_eq!(stat(&stats, &["userinfo_requests"]), 3, "{stats}");

    let after = c.row().await;
    let new = creds(&c.app, &after);
    assert_eq!(after.credentials_version, before.credentials_version + 1);
    assert_ne!(new["access_token"], old["access_token"]);
    assert_ne!(
        new["refresh_token"], old["refresh_token"],
        "the rotated refresh token is stored"
    );
    assert!(after.expires_at > before.expires_at);
    assert!(after.last_refresh_at.is_some());
    assert_eq!(
        (after.status.as_str(), after.refresh_failures),
        ("active", 0)
    );
    assert_eq!(
        (&after.refresh_lease_owner, &after.refresh_lease_until),
        (&None, &None),
        "the lease is released"
    );
    let audits = c.refresh_audits().await;
    assert_eq!(audits.len(), 1);
    assert_eq!(audits[0].status, "success");

    // The fresh token is used as is.
    let (status, body) = c.whoami().await;
    assert_alice(status, &body);
    assert_eq!(c.refresh_grants().await, 1);
}

#[tokio::test]
async fn a_hundred_concurrent_actions_with_an_expired_token_refresh_exactly_once() {
    let Some(c) = connected(10).await else { return };
    let before = c.row().await;
    c.server.delay_token_requests(300).await;
    c.wait_until_expired().await;

    let started = Instant::now();
    let results = concurrent_whoami(&[&c.app.address], &c.token, c.id, 100).await;
    let elapsed = started.elapsed();
    assert_eq!(results.len(), 100);
    assert_all_alice(&results);

    let stats = c.server.stats().await;
    eprintln!("100 concurrent (expired): {elapsed:?}, provider stats {stats}");
    assert_eq!(
        stat(&stats, &["grant_types", "refresh_token"]),
        1,
        "{stats}"
    );
    assert_eq!(stat(&stats, &["token_requests"]), 2, "{stats}");
    let after = c.row().await;
    assert_eq!(after.credentials_version, before.credentials_version + 1);
    assert_eq!(c.refresh_audits().await.len(), 1);
}

#[tokio::test]
async fn a_hundred_concurrent_actions_rejected_with_401_refresh_exactly_once() {
    let Some(c) = connected(10).await else { return };
    let before = c.row().await;
    c.wait_until_expired().await;
    // The app believes the token is good for a day: no refresh before use, so every call
    // meets the provider's 401 first.
    c.set_expires_at(Utc::now() + chrono::Duration::days(1))
        .await;
    c.server.delay_token_requests(300).await;

    let started = Instant::now();
    let results = concurrent_whoami(&[&c.app.address], &c.token, c.id, 100).await;
    let elapsed = started.elapsed();
    assert_all_alice(&results);

    let stats = c.server.stats().await;
    eprintln!("100 concurrent (401 path): {elapsed:?}, provider stats {stats}");
    assert_eq!(
        stat(&stats, &["grant_types", "refresh_token"]),
        1,
        "{stats}"
    );
    assert_eq!(stat(&stats, &["token_requests"]), 2, "{stats}");
    // 1 at connect + 100 calls + one retry per call that met a 401.
    let userinfo = stat(&stats, &["userinfo_requests"]);
    assert!(
        userinfo > 101,
        "no call met the provider's 401 ({userinfo} userinfo requests)"
    );
    let after = c.row().await;
    assert_eq!(after.credentials_version, before.credentials_version + 1);
    assert_eq!(c.refresh_audits().await.len(), 1);
}

#[tokio::test]
async fn two_app_instances_sharing_one_database_refresh_once() {
    let Some(c) = connected(10).await else { return };
    let (second, state2, _dir2) = second_instance(&c.app).await;
    assert!(
        !Arc::ptr_eq(&c.app.state.refresh_locks, &state2.refresh_locks),
        "each instance has its own in-process locks"
    );
    // The second instance serves the same connection.
    let (status, body) = whoami(&client(), &second, &c.token, c.id).await;
    assert_alice(status, &body);

    let before = c.row().await;
    c.server.delay_token_requests(300).await;
    c.wait_until_expired().await;

    let started = Instant::now();
    let results = concurrent_whoami(&[&c.app.address, &second], &c.token, c.id, 50).await;
    let elapsed = started.elapsed();
    assert_eq!(results.len(), 100);
    assert_all_alice(&results);

    let stats = c.server.stats().await;
    eprintln!("2 instances x 50 concurrent: {elapsed:?}, provider stats {stats}");
    assert_eq!(
        stat(&stats, &["grant_types", "refresh_token"]),
        1,
        "{stats}"
    );
    assert_eq!(stat(&stats, &["token_requests"]), 2, "{stats}");
    let after = c.row().await;
    assert_eq!(after.credentials_version, before.credentials_version + 1);
    assert_eq!(
        (&after.refresh_lease_owner, &after.refresh_lease_until),
        (&None, &None)
    );
    assert_eq!(c.refresh_audits().await.len(), 1);
}

#[tokio::test]
async fn a_refused_refresh_token_marks_the_connection_needs_reauth() {
    let Some(c) = connected(5).await else { return };
    c.server.revoke_all().await;
    c.wait_until_expired().await;

    let (status, body) = c.whoami().await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "auth_expired", "{body}");
    let row = c.row().await;
    assert_eq!(row.status, "needs_reauth");
    assert!(row.last_error.is_some());
    assert_eq!(
        (&row.refresh_lease_owner, &row.refresh_lease_until),
        (&None, &None)
    );
    let stats = c.server.stats().await;
    assert_eq!(
        stat(&stats, &["grant_types", "refresh_token"]),
        1,
        "{stats}"
    );
    assert_eq!(
        stat(&stats, &["token_errors", "invalid_grant"]),
        1,
        "{stats}"
    );
    let audits = c.refresh_audits().await;
    assert_eq!(audits.len(), 1);
    assert_eq!(
        (audits[0].status.as_str(), audits[0].error_code.as_deref()),
        ("error", Some("auth_expired"))
    );

    // The settings page offers to reconnect it.
    let page = c.app.get_text("/settings").await;
    let row_html = {
        let start_at = page
            .find(&format!("<tr id=\"connection-{}\"", c.id))
            .expect("the connection's row");
        let end = start_at + page[start_at..].find("</tr>").expect("</tr>");
        &page[start_at..end]
    };
    assert!(
        row_html.contains(&format!(
            "href=\"/api/connectors/connect/{SLUG}/start?connection={}\">Reconnect</a>",
            c.id
        )),
        "{row_html}"
    );
    assert!(
        !row_html.contains("/test\""),
        "no Test button for a connection that needs reconnecting: {row_html}"
    );

    // Another call fails at once, without asking the provider.
    let token_requests = stat(&c.server.stats().await, &["token_requests"]);
    let (status, body) = c.whoami().await;
    assert_eq!((status, &body["code"]), (409, &json!("auth_expired")));
    assert_eq!(
        stat(&c.server.stats().await, &["token_requests"]),
        token_requests
    );

    // Reconnecting renews the same connection.
    let auth_url = start(&c.app, Some(c.id)).await;
    let back = c.server.sign_in(&auth_url, "alice").await;
    let shown = callback(&c.app, &back).await;
    assert_eq!(
        shown,
        vec![(
            "success".to_owned(),
            "Reconnected as alice@campus.test.".to_owned()
        )]
    );
    let row = c.row().await;
    assert_eq!((row.status.as_str(), &row.last_error), ("active", &None));
    let (status, body) = c.whoami().await;
    assert_alice(status, &body);
}

#[tokio::test]
async fn a_grant_revoked_at_the_provider_is_found_by_a_401_and_needs_reconnecting() {
    let Some(c) = connected(600).await else {
        return;
    };
    c.server.revoke_all().await;
    let (status, body) = c.whoami().await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "auth_expired", "{body}");
    assert_eq!(c.row().await.status, "needs_reauth");
    let stats = c.server.stats().await;
    assert_eq!(
        stat(&stats, &["grant_types", "refresh_token"]),
        1,
        "{stats}"
    );
    // connect + the call that met 401; no retry with the refused grant.
    assert_eq!(stat(&stats, &["userinfo_requests"]), 2, "{stats}");
}

/// The `invalid_grant` re-read: a refresher whose refresh token is refused must first check
/// whether another process stored newer tokens meanwhile, and use them.
///
/// With a lease held, no other refresher can rotate the token underneath, so the test plays
/// the other process itself: it refreshes at the provider and stores the result while this
/// app's refresh request is in flight (the provider delays it). The token the app sends must
/// be one the provider refuses *without* revoking the grant, so it is a token the provider
/// does not know: re-presenting a really rotated one would make oidc-provider revoke the
/// whole grant (reuse detection), which is exactly what the lease exists to prevent.
#[tokio::test]
async fn a_rotated_refresh_token_from_another_process_is_not_mistaken_for_revocation() {
    let Some(c) = connected(600).await else {
        return;
    };
    let original = creds(&c.app, &c.row().await);

    // The other process's refresh, done before this app's view goes stale.
    let (status, rotated) =
        provider_refresh(&c.server, &token_field(&original, "refresh_token")).await;
    assert_eq!(status, 200, "{rotated}");
    let mut theirs = original.clone();
    theirs["access_token"] = rotated["access_token"].clone();
    theirs["refresh_token"] = rotated["refresh_token"].clone();

    // This app's view: an expired token and a refresh token that is no longer current.
    let mut stale = original.clone();
    stale["refresh_token"] = json!("rotated-away-by-another-process");
    c.store_credentials(&stale, Utc::now() - chrono::Duration::seconds(1))
        .await;
    let version_seen = c.row().await.credentials_version;

    c.server.delay_token_requests(1500).await;
    let call = {
        let (base, token, id) = (c.app.address.clone(), c.token.clone(), c.id);
        tokio::spawn(async move { whoami(&client(), &base, &token, id).await })
    };
    // Wait until the app holds the lease and its refresh request is at the provider...
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.row().await.refresh_lease_owner.is_none() {
        assert!(Instant::now() < deadline, "the app never took the lease");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // ...then the other process stores its tokens.
    c.store_credentials(&theirs, Utc::now() + chrono::Duration::seconds(600))
        .await;
    let (status, body) = call.await.expect("the call task");
    assert_alice(status, &body);

    let row = c.row().await;
    assert_eq!(
        row.status, "active",
        "a refused token that was already replaced is not a revocation"
    );
    assert_eq!((row.refresh_failures, &row.last_error), (0, &None));
    assert_eq!(row.credentials_version, version_seen + 1);
    assert_eq!(creds(&c.app, &row)["access_token"], theirs["access_token"]);
    let stats = c.server.stats().await;
    assert_eq!(
        stat(&stats, &["grant_types", "refresh_token"]),
        2,
        "{stats}"
    );
    assert_eq!(
        stat(&stats, &["token_errors", "invalid_grant"]),
        1,
        "{stats}"
    );
    assert_eq!(
        userinfo_status(&c.server, theirs["access_token"].as_str().expect("a token")).await,
        200,
        "the grant is intact"
    );

    // The next call uses the stored tokens without a token request.
    c.server.delay_token_requests(0).await;
    let (status, body) = c.whoami().await;
    assert_alice(status, &body);
    assert_eq!(c.refresh_grants().await, 2);

    // The refused token request is part of the audit trail like any other refresh.
    assert_eq!(
        c.refresh_audits().await.len(),
        1,
        "the refresh attempt that met invalid_grant is audited"
    );
}

#[tokio::test]
async fn token_endpoint_outage_keeps_the_connection_and_retries_later() {
    let Some(c) = connected(5).await else { return };
    c.wait_until_expired().await;

    // 503 from the token endpoint: a retryable failure, the connection stays.
    c.server.fail_token_requests(503, 1, None).await;
    let (status, body) = c.whoami().await;
    assert_eq!(status, 504, "{body}");
    assert_eq!(body["code"], "transport", "{body}");
    let row = c.row().await;
    assert_eq!(row.status, "active");
    assert_eq!(row.refresh_failures, 1);
    assert!(row.last_error.is_some());
    assert_eq!(
        (&row.refresh_lease_owner, &row.refresh_lease_until),
        (&None, &None)
    );
    assert_eq!(c.refresh_grants().await, 1);

    let (status, body) = c.whoami().await;
    assert_alice(status, &body);
    assert_eq!(
        c.refresh_grants().await,
        2,
        "one more refresh, which worked"
    );
    let row = c.row().await;
    assert_eq!((row.refresh_failures, &row.last_error), (0, &None));

    // 429 with Retry-After is passed on as such.
    c.wait_until_expired().await;
    c.server.fail_token_requests(429, 1, Some(7)).await;
    let res = client()
        .post(
            c.app
                .url(&format!("/api/v1/connections/{}/actions/whoami", c.id)),
        )
        .bearer_auth(&c.token)
        .json(&json!({}))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 429);
    assert_eq!(
        res.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("7")
    );
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["code"], "rate_limited", "{body}");
    let row = c.row().await;
    assert_eq!((row.status.as_str(), row.refresh_failures), ("active", 1));

    let (status, body) = c.whoami().await;
    assert_alice(status, &body);
    let stats = c.server.stats().await;
    assert_eq!(
        stat(&stats, &["grant_types", "refresh_token"]),
        4,
        "{stats}"
    );
    assert_eq!(stat(&stats, &["injected_failures"]), 2, "{stats}");
    let outcomes: Vec<_> = c
        .refresh_audits()
        .await
        .into_iter()
        .map(|a| a.error_code)
        .collect();
    assert_eq!(
        outcomes,
        [
            Some("transport".to_owned()),
            None,
            Some("rate_limited".to_owned()),
            None
        ]
    );
}

#[tokio::test]
async fn a_still_valid_token_is_used_when_an_early_refresh_fails() {
    let Some(c) = connected(200).await else {
        return;
    };
    let before = c.row().await;
    // Inside the refresh margin (a quarter of 200 s), but still valid for 10 s.
    let soon = Utc::now() + chrono::Duration::seconds(10);
    c.set_expires_at(soon).await;

    c.server.fail_token_requests(503, 1, None).await;
    let (status, body) = c.whoami().await;
    assert_alice(status, &body);
    let row = c.row().await;
    assert_eq!(row.status, "active");
    assert_eq!(row.refresh_failures, 1);
    assert!(row.last_error.is_some());
    assert_eq!(row.credentials_version, before.credentials_version);
    assert_eq!(c.refresh_grants().await, 1);

    c.set_expires_at(soon).await;
    c.server.fail_token_requests(429, 1, Some(30)).await;
    let (status, body) = c.whoami().await;
    assert_alice(status, &body);
    assert_eq!(c.refresh_grants().await, 2);
    assert_eq!(c.row().await.refresh_failures, 2);

    // With the provider back, the next call refreshes.
    let (status, body) = c.whoami().await;
    assert_alice(status, &body);
    assert_eq!(c.refresh_grants().await, 3);
    let row = c.row().await;
    assert_eq!((row.refresh_failures, &row.last_error), (0, &None));
    assert_eq!(row.credentials_version, before.credentials_version + 1);
    let left = (row.expires_at.expect("expires_at") - Utc::now()).num_seconds();
    assert!(left > 150, "a fresh 200 s token: {left}s left");
}
