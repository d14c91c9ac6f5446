//! The OAuth connect flow end to end against a real provider (npm `oidc-provider`, see
//! `campuscore_testkit::oauth_server`): the start and callback pages, the JSON API, state checks, failures that
//! must store nothing, and disconnecting with RFC 7009 revocation (confirmed or queued).
//!
//! The helpers at the top are shared with `token_refresh.rs`.

use crate::helpers::{TestApp, client, location, spawn_app};
use campuscore::models::entities::{connection, connector_audit_log, oauth_state, queue_message};
use campuscore::services::credentials;
use campuscore_testkit::oauth_server::{OAuthServer, OAuthServerConfig};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

pub const SLUG: &str = "test-oauth";
pub const CLIENT_ID: &str = "campuscore-e2e";
pub const CLIENT_SECRET: &str = "campuscore-e2e-secret with spaces & symbols";
pub const PASSWORD: &str = "a long enough password";

/// Starts a provider that knows this app's redirect URI and points `test-oauth` at it.
/// `None` when node is not installed and the run may skip it (see `campuscore_test_peers`):
/// the calling test returns early.
pub async fn provider(app: &TestApp, access_token_ttl: u64) -> Option<OAuthServer> {
    let server = OAuthServer::start(OAuthServerConfig {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        redirect_uri: app.redirect_uri(SLUG),
        access_token_ttl,
    })
    .await?;
    app.configure_test_oauth(&server, CLIENT_ID, CLIENT_SECRET)
        .await;
    Some(server)
}

/// The value of query parameter `name` in `url`.
pub fn param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap_or_else(|e| panic!("not a URL ({e}): {url}"))
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// `GET /api/connectors/connect/test-oauth/start` (optionally `?connection=`): the provider URL.
pub async fn start(app: &TestApp, reconnect: Option<i64>) -> String {
    let path = match reconnect {
        Some(id) => format!("/api/connectors/connect/{SLUG}/start?connection={id}"),
        None => format!("/api/connectors/connect/{SLUG}/start"),
    };
    let res = app.get(&path).await;
    assert_eq!(res.status(), 302, "start should redirect to the provider");
    location(&res)
}

/// The `(level, message)` flashes on the next `/settings` page (which consumes them).
pub async fn settings_flashes(app: &TestApp) -> Vec<(String, String)> {
    flashes(&app.get_text("/settings").await)
}

pub fn flashes(html: &str) -> Vec<(String, String)> {
    let marker = "<div class=\"flash flash-";
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find(marker) {
        rest = &rest[i + marker.len()..];
        let level_end = rest.find('"').expect("closing quote of the class");
        let level = rest[..level_end].to_owned();
        let body_start = rest.find('>').expect("end of the flash tag") + 1;
        let body_end = body_start + rest[body_start..].find("</div>").expect("</div>");
        let message = rest[body_start..body_end]
            .replace("&#39;", "'")
            .replace("&quot;", "\"")
            .replace("&#34;", "\"")
            .replace("&#60;", "<")
            .replace("&#62;", ">")
            .replace("&#38;", "&")
            .replace("&amp;", "&");
        out.push((level, message));
        rest = &rest[body_end..];
    }
    out
}

/// GETs the provider's redirect back to us in `app`'s browser: it must land on `/settings`;
/// returns the flashes shown there.
pub async fn callback(app: &TestApp, callback_url: &str) -> Vec<(String, String)> {
    assert!(
        callback_url.starts_with(&app.redirect_uri(SLUG)),
        "the provider should send the browser back to our callback: {callback_url}"
    );
    let res = app
        .client
        .get(callback_url)
        .send()
        .await
        .expect("callback request");
    assert_eq!(
        res.status(),
        303,
        "the callback always returns to /settings"
    );
    assert_eq!(location(&res), "/settings");
    settings_flashes(app).await
}

/// Connects `slug` in `app`'s browser through a provider that approves at once (the fake
/// Canvas and ServiceNow): the start must send the browser to `authorize_prefix` with a PKCE
/// challenge, the provider's redirect goes to our callback, which lands on `/settings`.
/// Returns the flashes shown there.
pub async fn connect_at_approving_provider(
    app: &TestApp,
    slug: &str,
    authorize_prefix: &str,
) -> Vec<(String, String)> {
    let res = app
        .get(&format!("/api/connectors/connect/{slug}/start"))
        .await;
    assert_eq!(res.status(), 302);
    let authorize = location(&res);
    assert!(authorize.starts_with(authorize_prefix), "{authorize}");
    assert!(authorize.contains("code_challenge="), "PKCE: {authorize}");
    let no_redirects = campuscore_testkit::http_client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let approved = no_redirects
        .get(&authorize)
        .send()
        .await
        .expect("authorize");
    assert_eq!(approved.status(), 302);
    let back = approved.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    let res = app.client.get(&back).send().await.expect("callback");
    assert_eq!(res.status(), 303);
    settings_flashes(app).await
}

/// Connects `login` at the provider through the pages in `app`'s (logged-in) browser.
pub async fn connect(app: &TestApp, server: &OAuthServer, login: &str) -> connection::Model {
    let auth_url = start(app, None).await;
    let back = server.sign_in(&auth_url, login).await;
    let shown = callback(app, &back).await;
    assert!(
        shown.iter().any(|(level, m)| level == "success"
            && (m == &format!("Connected as {login}@campus.test.")
                || m == &format!("Reconnected as {login}@campus.test."))),
        "{shown:?}"
    );
    let identity = format!("{login}@campus.test");
    connections(app)
        .await
        .into_iter()
        .find(|c| c.service_identity.as_deref() == Some(identity.as_str()))
        .expect("the connection row")
}

/// Every connection row, oldest first.
pub async fn connections(app: &TestApp) -> Vec<connection::Model> {
    connection::Entity::find()
        .order_by_asc(connection::Column::Id)
        .all(&app.state.db)
        .await
        .expect("connections")
}

pub async fn reload(app: &TestApp, id: i64) -> connection::Model {
    connection::Entity::find_by_id(id)
        .one(&app.state.db)
        .await
        .expect("query")
        .expect("the connection still exists")
}

/// The decrypted credentials JSON of `row`.
pub fn creds(app: &TestApp, row: &connection::Model) -> Value {
    credentials::open(&app.state.keyring, row).expect("credentials decrypt")
}

pub fn token_field(creds: &Value, name: &str) -> String {
    creds[name]
        .as_str()
        .unwrap_or_else(|| panic!("credentials lack {name}"))
        .to_owned()
}

/// A refresh_token grant straight at the provider (client_secret_basic, form-encoded).
pub async fn provider_refresh(server: &OAuthServer, refresh_token: &str) -> (u16, Value) {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let res = campuscore_testkit::http_client()
        .post(server.token_url())
        .basic_auth(enc(CLIENT_ID), Some(enc(CLIENT_SECRET)))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
        .send()
        .await
        .expect("token request");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// GET the provider's userinfo with `access_token`: the HTTP status.
pub async fn userinfo_status(server: &OAuthServer, access_token: &str) -> u16 {
    campuscore_testkit::http_client()
        .get(server.userinfo_url())
        .bearer_auth(access_token)
        .send()
        .await
        .expect("userinfo request")
        .status()
        .as_u16()
}

pub fn stat(stats: &Value, path: &[&str]) -> i64 {
    let mut v = stats;
    for p in path {
        v = &v[*p];
    }
    v.as_i64().unwrap_or(0)
}

/// A personal access token for the user `email` (created by `logged_in_user`).
pub async fn bearer_for(app: &TestApp, user_id: i64) -> String {
    crate::helpers::api_token(&app.state.db, user_id, "e2e").await
}

/// `POST /api/v1/connections/{id}/actions/whoami` with a bearer token.
pub async fn whoami(http: &reqwest::Client, base: &str, token: &str, id: i64) -> (u16, Value) {
    let res = http
        .post(format!("{base}/api/v1/connections/{id}/actions/whoami"))
        .bearer_auth(token)
        .json(&json!({}))
        .send()
        .await
        .expect("action request");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn audit_rows(app: &TestApp, action: &str) -> Vec<connector_audit_log::Model> {
    connector_audit_log::Entity::find()
        .filter(connector_audit_log::Column::Action.eq(action))
        .order_by_asc(connector_audit_log::Column::Id)
        .all(&app.state.db)
        .await
        .expect("audit rows")
}

async fn oauth_state_count(app: &TestApp) -> u64 {
    oauth_state::Entity::find()
        .count(&app.state.db)
        .await
        .expect("count")
}

const STATE_REFUSED: &str = "This sign-in link is not valid: it has expired, was already used, or was started in another browser session. Please start again.";

fn has_error(shown: &[(String, String)], message: &str) -> bool {
    shown.iter().any(|(l, m)| l == "error" && m == message)
}

#[tokio::test]
async fn connecting_through_the_pages_stores_encrypted_tokens_for_the_signed_in_account() {
    let app = spawn_app().await;
    let Some(server) = provider(&app, 600).await else {
        return;
    };
    let user = app.logged_in_user("ana@campus.edu").await;

    let auth_url = start(&app, None).await;
    assert!(
        auth_url.starts_with(&server.authorize_url()),
        "start should send the browser to the configured AUTH_URL: {auth_url}"
    );
    let p = |name: &str| param(&auth_url, name);
    assert_eq!(p("response_type").as_deref(), Some("code"));
    assert_eq!(p("client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(
        p("redirect_uri").as_deref(),
        Some(app.redirect_uri(SLUG).as_str())
    );
    assert_eq!(p("code_challenge_method").as_deref(), Some("S256"));
    assert_eq!(
        p("code_challenge").map(|c| c.len()),
        Some(43),
        "an S256 challenge is 43 base64url characters"
    );
    assert_eq!(p("prompt").as_deref(), Some("consent"));
    let scope = p("scope").unwrap_or_default();
    for s in ["openid", "email", "offline_access"] {
        assert!(
            scope.split(' ').any(|x| x == s),
            "scope {scope:?} lacks {s}"
        );
    }
    let state = p("state").expect("a state");
    assert!(state.len() >= 43, "state has < 256 bits: {state:?}");
    let stored = oauth_state::Entity::find()
        .all(&app.state.db)
        .await
        .expect("oauth_state rows");
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0].state_hash, state, "the state is stored hashed");
    assert_eq!(stored[0].state_hash.len(), 64);
    assert!(!stored[0].pkce_verifier.is_empty());

    let back = server.sign_in(&auth_url, "alice").await;
    assert_eq!(param(&back, "state").as_deref(), Some(state.as_str()));
    let shown = callback(&app, &back).await;
    assert_eq!(
        shown,
        vec![(
            "success".to_owned(),
            "Connected as alice@campus.test.".to_owned()
        )]
    );
    assert_eq!(oauth_state_count(&app).await, 0, "the state is single-use");

    let rows = connections(&app).await;
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row.user_id, user.id);
    assert_eq!(row.status, "active");
    assert_eq!(row.service_identity.as_deref(), Some("alice@campus.test"));
    assert!(
        row.scopes.as_deref().unwrap_or_default().contains("email"),
        "{:?}",
        row.scopes
    );
    let expires_at = row.expires_at.expect("expires_at is set");
    let in_secs = (expires_at - chrono::Utc::now()).num_seconds();
    assert!((590..=600).contains(&in_secs), "expires in {in_secs}s");

    let data = creds(&app, row);
    let access = token_field(&data, "access_token");
    let refresh = token_field(&data, "refresh_token");
    assert!(data["expires_at"].is_string(), "{data}");
    assert_eq!(data["expires_in"], 600);
    for secret in [&access, &refresh] {
        assert!(
            !row.credentials.contains(secret.as_str()),
            "tokens are encrypted at rest"
        );
    }
    assert!(
        row.credentials.starts_with("gAAAAA"),
        "a Fernet token: {}",
        &row.credentials[..10]
    );
    assert_eq!(userinfo_status(&server, &access).await, 200);

    // The stored tokens work through the action path.
    let token = bearer_for(&app, user.id).await;
    let (status, body) = whoami(&client(), &app.address, &token, row.id).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"result": {"sub": "alice", "email": "alice@campus.test"}})
    );

    let audit = audit_rows(&app, "connection.connect").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].status, "success");
    assert!(!audit[0].request.contains(&refresh));

    let stats = server.stats().await;
    assert_eq!(
        stat(&stats, &["grant_types", "authorization_code"]),
        1,
        "{stats}"
    );
    assert_eq!(stat(&stats, &["token_requests"]), 1, "{stats}");
}

#[tokio::test]
async fn connecting_the_same_account_again_renews_the_same_connection() {
    let app = spawn_app().await;
    let Some(server) = provider(&app, 600).await else {
        return;
    };
    app.logged_in_user("ben@campus.edu").await;
    let first = connect(&app, &server, "alice").await;
    let first_tokens = creds(&app, &first);

    let auth_url = start(&app, None).await;
    let back = server.sign_in(&auth_url, "alice").await;
    let shown = callback(&app, &back).await;
    assert_eq!(
        shown,
        vec![(
            "success".to_owned(),
            "Reconnected as alice@campus.test.".to_owned()
        )]
    );
    let rows = connections(&app).await;
    assert_eq!(rows.len(), 1, "the same account renews its connection");
    assert_eq!(rows[0].id, first.id);
    assert_eq!(rows[0].credentials_version, first.credentials_version + 1);
    let renewed = creds(&app, &rows[0]);
    assert_ne!(renewed["access_token"], first_tokens["access_token"]);
    assert_ne!(renewed["refresh_token"], first_tokens["refresh_token"]);

    // Another account at the same provider is a second connection.
    let auth_url = start(&app, None).await;
    let back = server.sign_in(&auth_url, "bob").await;
    let shown = callback(&app, &back).await;
    assert!(
        shown.contains(&(
            "success".to_owned(),
            "Connected as bob@campus.test.".to_owned()
        )),
        "{shown:?}"
    );
    assert_eq!(connections(&app).await.len(), 2);
}

#[tokio::test]
async fn cancelling_at_the_provider_stores_nothing_and_says_so() {
    let app = spawn_app().await;
    let Some(server) = provider(&app, 600).await else {
        return;
    };
    app.logged_in_user("cy@campus.edu").await;
    let auth_url = start(&app, None).await;
    let back = server.sign_in_and_cancel(&auth_url, "alice").await;
    assert_eq!(param(&back, "error").as_deref(), Some("access_denied"));
    let shown = callback(&app, &back).await;
    assert_eq!(
        shown,
        vec![(
            "error".to_owned(),
            "You cancelled connecting Test OAuth; nothing was saved.".to_owned()
        )]
    );
    assert!(connections(&app).await.is_empty());
    assert_eq!(
        oauth_state_count(&app).await,
        0,
        "a cancelled flow's state is used up"
    );
    assert_eq!(stat(&server.stats().await, &["token_requests"]), 0);
}

#[tokio::test]
async fn a_replayed_callback_is_refused_and_leaves_one_connection() {
    let app = spawn_app().await;
    let Some(server) = provider(&app, 600).await else {
        return;
    };
    app.logged_in_user("di@campus.edu").await;
    let auth_url = start(&app, None).await;
    let back = server.sign_in(&auth_url, "alice").await;
    let shown = callback(&app, &back).await;
    assert_eq!(shown[0].0, "success", "{shown:?}");
    let before = connections(&app).await;
    assert_eq!(before.len(), 1);

    let shown = callback(&app, &back).await;
    assert!(has_error(&shown, STATE_REFUSED), "{shown:?}");
    let after = connections(&app).await;
    assert_eq!(after.len(), 1);
    assert_eq!(
        after[0].credentials_version, before[0].credentials_version,
        "a replay changes nothing"
    );
    // The replayed code never reached the provider.
    assert_eq!(stat(&server.stats().await, &["token_requests"]), 1);

    // A made-up state is refused the same way.
    let forged = format!(
        "{}?code=abc&state={}",
        app.redirect_uri(SLUG),
        "x".repeat(43)
    );
    let shown = callback(&app, &forged).await;
    assert!(has_error(&shown, STATE_REFUSED), "{shown:?}");
    assert_eq!(connections(&app).await.len(), 1);
}

#[tokio::test]
async fn an_expired_state_is_refused() {
    let app = spawn_app().await;
    let Some(server) = provider(&app, 600).await else {
        return;
    };
    app.logged_in_user("eli@campus.edu").await;
    let auth_url = start(&app, None).await;
    let back = server.sign_in(&auth_url, "alice").await;
    // Eleven minutes later (the flow lives ten).
    oauth_state::Entity::update_many()
        .col_expr(
            oauth_state::Column::ExpiresAt,
            sea_orm::sea_query::Expr::value(chrono::Utc::now() - chrono::Duration::minutes(1)),
        )
        .exec(&app.state.db)
        .await
        .expect("age the flow");
    let shown = callback(&app, &back).await;
    assert!(has_error(&shown, STATE_REFUSED), "{shown:?}");
    assert!(connections(&app).await.is_empty());
    assert_eq!(stat(&server.stats().await, &["token_requests"]), 0);
}

#[tokio::test]
async fn two_simultaneous_callbacks_with_one_state_connect_once() {
    let app = spawn_app().await;
    let Some(server) = provider(&app, 600).await else {
        return;
    };
    app.logged_in_user("eva@campus.edu").await;
    let auth_url = start(&app, None).await;
    let back = server.sign_in(&auth_url, "alice").await;
    let (a, b) = tokio::join!(app.client.get(&back).send(), app.client.get(&back).send());
    for res in [a, b] {
        let res = res.expect("callback request");
        assert_eq!(res.status(), 303);
        assert_eq!(location(&res), "/settings");
    }
    assert_eq!(connections(&app).await.len(), 1);
    let stats = server.stats().await;
    assert_eq!(
        stat(&stats, &["grant_types", "authorization_code"]),
        1,
        "only one callback may exchange the code: {stats}"
    );
}

#[tokio::test]
async fn a_callback_without_a_login_goes_to_the_login_page_and_keeps_the_state() {
    let app = spawn_app().await;
    let Some(server) = provider(&app, 600).await else {
        return;
    };
    app.logged_in_user("fox@campus.edu").await;
    let auth_url = start(&app, None).await;
    let back = server.sign_in(&auth_url, "alice").await;
    let res = client().get(&back).send().await.expect("request");
    assert!(res.status().is_redirection(), "{}", res.status());
    assert!(location(&res).starts_with("/login"), "{}", location(&res));
    assert_eq!(oauth_state_count(&app).await, 1);
    assert_eq!(stat(&server.stats().await, &["token_requests"]), 0);
    let shown = callback(&app, &back).await;
    assert_eq!(shown[0].0, "success", "{shown:?}");
}

#[tokio::test]
async fn a_state_from_another_session_of_the_same_user_is_refused_without_consuming_it() {
    let app = spawn_app().await;
    let Some(server) = provider(&app, 600).await else {
        return;
    };
    app.logged_in_user("ed@campus.edu").await;
    let other = app.other_browser();
    assert_eq!(other.login("ed@campus.edu", PASSWORD).await.status(), 303);

    let auth_url = start(&app, None).await;
    let back = server.sign_in(&auth_url, "alice").await;

    let shown = callback(&other, &back).await;
    assert!(has_error(&shown, STATE_REFUSED), "{shown:?}");
    assert!(connections(&app).await.is_empty());
    assert_eq!(
        stat(&server.stats().await, &["token_requests"]),
        0,
        "the foreign session's code was never exchanged"
    );
    assert_eq!(oauth_state_count(&app).await, 1, "the state is still there");

    // The session that started the flow still completes it.
    let shown = callback(&app, &back).await;
    assert_eq!(
        shown,
        vec![(
            "success".to_owned(),
            "Connected as alice@campus.test.".to_owned()
        )]
    );
    assert_eq!(connections(&app).await.len(), 1);
}

#[tokio::test]
async fn a_state_from_another_user_is_refused() {
    let app = spawn_app().await;
    let Some(server) = provider(&app, 600).await else {
        return;
    };
    let owner = app.logged_in_user("fay@campus.edu").await;
    let intruder = app.other_browser();
    intruder.logged_in_user("gil@campus.edu").await;

    let auth_url = start(&app, None).await;
    let back = server.sign_in(&auth_url, "alice").await;
    let shown = callback(&intruder, &back).await;
    assert!(has_error(&shown, STATE_REFUSED), "{shown:?}");
    assert!(connections(&app).await.is_empty());
    assert_eq!(stat(&server.stats().await, &["token_requests"]), 0);

    let shown = callback(&app, &back).await;
    assert_eq!(shown[0].0, "success", "{shown:?}");
    let rows = connections(&app).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].user_id, owner.id);
}

#[tokio::test]
async fn a_tampered_code_is_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    let Some(server) = provider(&app, 600).await else {
        return;
    };
    app.logged_in_user("hal@campus.edu").await;
    let auth_url = start(&app, None).await;
    let back = server.sign_in(&auth_url, "alice").await;
    let code = param(&back, "code").expect("a code");
    let state = param(&back, "state").expect("a state");
    let tampered = format!(
        "{}?code={}&state={state}",
        app.redirect_uri(SLUG),
        code.chars().rev().collect::<String>()
    );
    let shown = callback(&app, &tampered).await;
    assert!(
        has_error(
            &shown,
            "The sign-in could not be completed: the provider did not accept the authorization (it may have expired). Please try again."
        ),
        "{shown:?}"
    );
    assert!(connections(&app).await.is_empty());
    let stats = server.stats().await;
    assert_eq!(
        stat(&stats, &["token_errors", "invalid_grant"]),
        1,
        "{stats}"
    );
    let audit = audit_rows(&app, "connection.connect").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].status, "error");
}

#[tokio::test]
async fn a_token_endpoint_outage_during_the_code_exchange_stores_nothing() {
    let app = spawn_app().await;
    let Some(server) = provider(&app, 600).await else {
        return;
    };
    app.logged_in_user("ida@campus.edu").await;
    let auth_url = start(&app, None).await;
    let back = server.sign_in(&auth_url, "alice").await;
    server.fail_token_requests(503, 1, None).await;
    let shown = callback(&app, &back).await;
    assert!(
        has_error(
            &shown,
            "The service could not be reached. Try again in a moment."
        ),
        "{shown:?}"
    );
    assert!(connections(&app).await.is_empty());
    let stats = server.stats().await;
    assert_eq!(stat(&stats, &["injected_failures"]), 1, "{stats}");
    assert_eq!(stat(&stats, &["token_requests"]), 1, "{stats}");

    // Starting again works once the provider is back.
    connect(&app, &server, "alice").await;
    assert_eq!(connections(&app).await.len(), 1);
}

#[tokio::test]
async fn the_json_api_starts_and_completes_a_sign_in_once() {
    let app = spawn_app().await;
    let Some(server) = provider(&app, 600).await else {
        return;
    };
    let user = app.create_user("jo@campus.edu", PASSWORD, false).await;
    let token = bearer_for(&app, user.id).await;
    let http = client();
    let auth = |body: Value| {
        http.post(app.url(&format!("/api/v1/connectors/{SLUG}/auth")))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };

    let res = auth(json!({})).await.expect("request");
    assert_eq!(res.status(), 200);
    let started: Value = res.json().await.expect("json");
    let auth_url = started["auth_url"].as_str().expect("auth_url").to_owned();
    let state = started["state"].as_str().expect("state").to_owned();
    assert_eq!(started["redirect_uri"], app.redirect_uri(SLUG));
    assert!(state.len() >= 43);
    assert_eq!(param(&auth_url, "state").as_deref(), Some(state.as_str()));
    assert_eq!(
        param(&auth_url, "code_challenge_method").as_deref(),
        Some("S256")
    );
    let expiry: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(started["expiry"].clone()).expect("expiry is a timestamp");
    let ttl = (expiry - chrono::Utc::now()).num_seconds();
    assert!((590..=600).contains(&ttl), "expiry in {ttl}s");

    let back = server.sign_in(&auth_url, "alice").await;
    let code = param(&back, "code").expect("code");
    assert_eq!(param(&back, "state").as_deref(), Some(state.as_str()));

    let res = auth(json!({"state": state, "code": code}))
        .await
        .expect("request");
    assert_eq!(res.status(), 201);
    let done: Value = res.json().await.expect("json");
    assert_eq!(done["status"], "active", "{done}");
    assert_eq!(done["service_user_id"], "alice@campus.test", "{done}");
    let id = done["credential_id"].as_i64().expect("credential_id");
    let rows = connections(&app).await;
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].id, rows[0].user_id), (id, user.id));

    let res = auth(json!({"state": state, "code": code}))
        .await
        .expect("request");
    assert_eq!(res.status(), 400);
    let problem: Value = res.json().await.expect("json");
    assert_eq!(problem["code"], "oauth_flow_rejected", "{problem}");
    assert_eq!(connections(&app).await.len(), 1);
    assert_eq!(
        stat(&server.stats().await, &["token_requests"]),
        1,
        "the replay never reached the provider"
    );

    let (status, body) = whoami(&http, &app.address, &token, id).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["email"], "alice@campus.test");

    let listed: Value = http
        .get(app.url("/api/v1/connector-credentials"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    let data = creds(&app, &rows[0]);
    let text = listed.to_string();
    assert!(text.contains("alice@campus.test"), "{text}");
    for secret in ["access_token", "refresh_token"] {
        assert!(!text.contains(&token_field(&data, secret)), "{text}");
    }
}

#[tokio::test]
async fn disconnecting_revokes_the_refresh_token_at_the_provider() {
    let app = spawn_app().await;
    let Some(server) = provider(&app, 600).await else {
        return;
    };
    app.logged_in_user("kim@campus.edu").await;
    let row = connect(&app, &server, "alice").await;
    let data = creds(&app, &row);
    let refresh = token_field(&data, "refresh_token");
    let access = token_field(&data, "access_token");

    let csrf = app.csrf("/settings").await;
    let res = app
        .client
        .post(app.url(&format!("/settings/connections/{}/disconnect", row.id)))
        .header("HX-Request", "true")
        .header("X-CSRF-Token", csrf)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
    let fragment = res.text().await.expect("body");
    assert!(
        fragment.contains("Test OAuth disconnected. The service confirmed the sign-in is revoked."),
        "{fragment}"
    );
    assert!(connections(&app).await.is_empty());

    let stats = server.stats().await;
    assert_eq!(stat(&stats, &["revocations"]), 1, "{stats}");
    let (status, body) = provider_refresh(&server, &refresh).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "the revoked refresh token must be dead: {body}"
    );
    assert_eq!(userinfo_status(&server, &access).await, 401);
    assert_eq!(
        queue_message::Entity::find()
            .filter(queue_message::Column::MessageType.eq("oauth.revoke_token"))
            .count(&app.state.db)
            .await
            .expect("count"),
        0,
        "nothing to retry"
    );
    let audit = audit_rows(&app, "connection.disconnect").await;
    assert_eq!(audit.len(), 1);
    assert!(
        audit[0].request.contains("confirmed"),
        "{}",
        audit[0].request
    );
    assert!(!audit[0].request.contains(&refresh));
}

#[tokio::test]
async fn disconnecting_while_the_provider_is_unreachable_queues_the_revocation() {
    let app = spawn_app().await;
    let Some(server) = provider(&app, 600).await else {
        return;
    };
    let user = app.logged_in_user("lee@campus.edu").await;
    let row = connect(&app, &server, "alice").await;
    let refresh = token_field(&creds(&app, &row), "refresh_token");
    app.set_config(SLUG, "REVOKE_URL", "http://127.0.0.1:9/revoke")
        .await;

    let token = bearer_for(&app, user.id).await;
    let res = client()
        .delete(app.url(&format!("/api/v1/connector-credentials/{}", row.id)))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["status"], "revoked", "{body}");
    assert_eq!(body["service_revocation_status"], "pending", "{body}");
    assert!(body["revocation_time"].is_string(), "{body}");
    assert!(
        connections(&app).await.is_empty(),
        "the credentials are gone at once"
    );

    let queued = queue_message::Entity::find()
        .filter(queue_message::Column::MessageType.eq("oauth.revoke_token"))
        .all(&app.state.db)
        .await
        .expect("queue rows");
    assert_eq!(queued.len(), 1);
    assert!(
        !queued[0].payload.contains(&refresh),
        "the queued token is encrypted: {}",
        queued[0].payload
    );
    assert_eq!(stat(&server.stats().await, &["revocations"]), 0);

    // Once the provider is reachable again, the queue worker finishes the revocation.
    app.set_config(SLUG, "REVOKE_URL", &server.revocation_url())
        .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        let msg = queue_message::Entity::find_by_id(queued[0].id)
            .one(&app.state.db)
            .await
            .expect("query")
            .expect("the message stays as a record");
        if msg.status != "pending" || Instant::now() > deadline {
            break msg.status;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(status, "done");
    assert_eq!(stat(&server.stats().await, &["revocations"]), 1);
    let (status, body) = provider_refresh(&server, &refresh).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn with_the_provider_down_the_start_route_still_redirects_and_the_callback_fails_cleanly() {
    let app = spawn_app().await;
    let Some(server) = provider(&app, 600).await else {
        return;
    };
    app.logged_in_user("max@campus.edu").await;
    let auth_url = start(&app, None).await;
    let back = server.sign_in(&auth_url, "alice").await;
    let token_url = server.token_url();
    drop(server);
    // Wait until the provider's port really refuses connections.
    let deadline = Instant::now() + Duration::from_secs(10);
    while campuscore_testkit::http_client()
        .get(&token_url)
        .send()
        .await
        .is_ok()
    {
        assert!(Instant::now() < deadline, "the provider did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Starting needs nothing from the provider.
    let again = start(&app, None).await;
    assert!(again.starts_with(&auth_url[..auth_url.find('?').expect("query")]));

    let shown = callback(&app, &back).await;
    assert!(
        has_error(
            &shown,
            "The service could not be reached. Try again in a moment."
        ),
        "{shown:?}"
    );
    assert!(connections(&app).await.is_empty());
    let audit = audit_rows(&app, "connection.connect").await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].error_code.as_deref(), Some("transport"));
    // The settings page still renders.
    assert_eq!(app.get("/settings").await.status(), 200);
}
