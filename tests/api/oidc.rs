//! Campus sign-in (issue 18) end to end against a real OpenID provider (npm `oidc-provider`,
//! `campuscore_testkit::oauth_server`): just-in-time accounts and their identity, every
//! spoiled ID token refused with nothing created, state bound to the browser and single-use,
//! key rollover, the administrator role from the groups claim (in the change log), linking,
//! deactivation, RP-initiated and back-channel logout (two app processes included), local
//! login switched off, and the break-glass link.

use crate::helpers::{Options, TestApp, location, spawn_app_with};
use crate::oauth_flow::param;
use crate::serve_process::Deployment;
use campuscore::models::entities::{admin_audit_log, oidc_flow, user, user_identity};
use campuscore_testkit::oauth_server::{OAuthServer, OAuthServerConfig};
use campuscore_testkit::process::free_port;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::json;

const CLIENT_ID: &str = "campuscore-sso";
const CLIENT_SECRET: &str = "sso client secret & symbols";
const ADMIN_GROUP: &str = "campuscore-admins";
const INSTITUTION: &str = "Test University";

/// A provider, then an app signing in with it (plus `env`), then the provider told the app's
/// callback. `None` when node is missing outside CI (the provider's start says so).
async fn sso_app(env: Vec<(&'static str, String)>) -> Option<(TestApp, OAuthServer)> {
    let server = OAuthServer::start(OAuthServerConfig {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        redirect_uri: "http://127.0.0.1:9/not-yet-known".into(),
        access_token_ttl: 3600,
    })
    .await?;
    let mut all = sso_env(&server);
    all.extend(env);
    let app = spawn_app_with(Options {
        env: all,
        ..Default::default()
    })
    .await;
    server
        .set_client(
            CLIENT_ID,
            CLIENT_SECRET,
            &app.url("/auth/oidc/callback"),
            &app.url("/login"),
            &app.url("/auth/oidc/backchannel-logout"),
        )
        .await;
    Some((app, server))
}

fn sso_env(server: &OAuthServer) -> Vec<(&'static str, String)> {
    vec![
        ("CAMPUSCORE_OIDC_ISSUER", server.issuer.clone()),
        ("CAMPUSCORE_OIDC_CLIENT_ID", CLIENT_ID.into()),
        ("CAMPUSCORE_OIDC_CLIENT_SECRET", CLIENT_SECRET.into()),
        ("CAMPUSCORE_OIDC_ADMIN_CLAIM", "groups".into()),
        ("CAMPUSCORE_OIDC_ADMIN_VALUE", ADMIN_GROUP.into()),
        ("CAMPUSCORE_INSTITUTION_NAME", INSTITUTION.into()),
    ]
}

/// Starts a campus sign-in on `app`'s browser: the provider's authorization URL.
async fn start(app: &TestApp) -> String {
    let res = app.get("/auth/oidc/start").await;
    assert_eq!(
        res.status(),
        303,
        "start should send the browser to the provider"
    );
    location(&res)
}

/// Signs in as `login` through the provider's own pages; the app's answer to the callback.
async fn sign_in(app: &TestApp, server: &OAuthServer, login: &str) -> reqwest::Response {
    let auth_url = start(app).await;
    let callback = server.sign_in(&auth_url, login).await;
    app.client.get(&callback).send().await.expect("callback")
}

/// Signs in and expects to land on the home page, signed in.
async fn signed_in(app: &TestApp, server: &OAuthServer, login: &str) -> user::Model {
    let res = sign_in(app, server, login).await;
    let status = res.status();
    let body = res.text().await.unwrap_or_default();
    assert_eq!(status, 303, "sign-in as {login} should succeed: {body}");
    assert!(is_signed_in(app).await, "{login} should be signed in");
    find_user(app, &format!("{login}@campus.test"))
        .await
        .expect("the account")
}

async fn is_signed_in(app: &TestApp) -> bool {
    app.get("/settings").await.status() == 200
}

async fn find_user(app: &TestApp, email: &str) -> Option<user::Model> {
    user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(&app.state.db)
        .await
        .expect("query")
}

async fn counts(app: &TestApp) -> (u64, u64) {
    let users = user::Entity::find()
        .count(&app.state.db)
        .await
        .expect("count");
    let identities = user_identity::Entity::find()
        .count(&app.state.db)
        .await
        .expect("count");
    (users, identities)
}

/// The CSRF token of a page (from the `hx-headers` every page carries).
fn page_csrf(html: &str) -> String {
    let marker = "\"X-CSRF-Token\": \"";
    let start = html.find(marker).expect("hx-headers with the token") + marker.len();
    let end = html[start..].find('"').expect("closing quote");
    html[start..start + end].to_owned()
}

async fn post_logout_token(address: &str, token: &str) -> (u16, serde_json::Value) {
    let res = campuscore_testkit::http_client()
        .post(format!("{address}/auth/oidc/backchannel-logout"))
        .form(&[("logout_token", token)])
        .send()
        .await
        .expect("back-channel logout");
    let status = res.status().as_u16();
    assert_eq!(
        res.headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    (status, res.json().await.unwrap_or_default())
}

#[tokio::test]
async fn a_first_campus_sign_in_creates_the_account_and_later_ones_map_to_it() {
    let Some((app, server)) = sso_app(vec![]).await else {
        return;
    };
    let page = app.get_text("/login").await;
    let sso = page
        .find(&format!("Sign in with {INSTITUTION}"))
        .expect("the campus button");
    let form = page.find("name=\"password\"").expect("the password form");
    assert!(sso < form, "campus sign-in comes first");

    let ada = signed_in(&app, &server, "ada").await;
    assert_eq!(ada.display_name, "Test User ada");
    assert!(!ada.is_admin);
    let identity = user_identity::Entity::find()
        .one(&app.state.db)
        .await
        .expect("query")
        .expect("an identity");
    assert_eq!(
        (
            identity.iss.as_str(),
            identity.sub.as_str(),
            identity.user_id
        ),
        (server.issuer.as_str(), "ada", ada.id)
    );
    assert!(identity.last_login_at.is_some());
    // What institution-wide connectors receive in their action context.
    let given = campuscore::services::oidc_accounts::identity_of(&app.state.db, ada.id)
        .await
        .expect("identity");
    assert_eq!(
        given,
        Some(campuscore_connectors::UserIdentity {
            issuer: server.issuer.clone(),
            subject: "ada".into(),
        })
    );
    // A JIT account has no password that works.
    let res = app
        .other_browser()
        .login("ada@campus.test", "a long enough password")
        .await;
    assert_eq!(res.status(), 401);

    // Another browser, another sign-in: the same account; email and name refreshed.
    server
        .set_account_claims(
            "ada",
            json!({"email": "ada.lovelace@campus.test", "name": "Ada Lovelace"}),
        )
        .await;
    let other = app.other_browser();
    let res = sign_in(&other, &server, "ada").await;
    assert_eq!(res.status(), 303);
    assert_eq!(counts(&app).await, (1, 1));
    let refreshed = find_user(&app, "ada.lovelace@campus.test")
        .await
        .expect("the same account, renamed");
    assert_eq!(
        (refreshed.id, refreshed.display_name.as_str()),
        (ada.id, "Ada Lovelace")
    );
    // No sign-in flow is left behind.
    assert_eq!(
        oidc_flow::Entity::find()
            .count(&app.state.db)
            .await
            .expect("count"),
        0
    );
}

#[tokio::test]
async fn spoiled_id_tokens_are_refused_and_create_nothing() {
    let Some((app, server)) = sso_app(vec![]).await else {
        return;
    };
    for mode in [
        "expired",
        "wrong_audience",
        "foreign_azp",
        "nonce",
        "forged",
        "alg_none",
    ] {
        server.tamper_next_id_token(mode).await;
        let login = format!("mallory-{}", mode.replace('_', "-"));
        let res = sign_in(&app, &server, &login).await;
        assert_eq!(res.status(), 400, "{mode}");
        let body = res.text().await.unwrap_or_default();
        assert!(body.contains("could not be verified"), "{mode}: {body}");
        assert_eq!(counts(&app).await, (0, 0), "{mode}: nothing created");
        assert!(!is_signed_in(&app).await, "{mode}: not signed in");
    }

    // A replayed ID token (another sign-in's, with its nonce) is refused too.
    let bob = app.other_browser();
    signed_in(&bob, &server, "bob").await;
    server.tamper_next_id_token("replay").await;
    let res = sign_in(&app, &server, "carol").await;
    assert_eq!(res.status(), 400);
    assert!(find_user(&app, "carol@campus.test").await.is_none());
    assert_eq!(counts(&app).await, (1, 1), "only bob");
    assert!(!is_signed_in(&app).await);
}

#[tokio::test]
async fn the_state_is_bound_to_the_browser_and_used_once() {
    let Some((app, server)) = sso_app(vec![]).await else {
        return;
    };
    let auth_url = start(&app).await;
    let callback = server.sign_in(&auth_url, "dave").await;
    let state = param(&callback, "state").expect("state");

    // A state we never issued.
    let forged = callback.replace(&state, "not-a-state-we-issued");
    let res = app.client.get(&forged).send().await.expect("callback");
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap_or_default()
            .contains("already used or is unknown")
    );

    // The right state in another browser: refused, and the flow is used up.
    let other = app.other_browser();
    let res = other.client.get(&callback).send().await.expect("callback");
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap_or_default()
            .contains("another browser")
    );
    let res = app.client.get(&callback).send().await.expect("callback");
    assert_eq!(res.status(), 400, "single use");
    assert_eq!(counts(&app).await, (0, 0));

    // A completed sign-in's callback cannot be replayed.
    let auth_url = start(&app).await;
    let callback = server.sign_in(&auth_url, "dave").await;
    assert_eq!(
        app.client.get(&callback).send().await.expect("cb").status(),
        303
    );
    let replayer = app.other_browser();
    let res = replayer.client.get(&callback).send().await.expect("cb");
    assert_eq!(res.status(), 400);
    assert!(!is_signed_in(&replayer).await);

    // The provider saying no (cancel) lands on the login page with a message.
    let auth_url = start(&replayer).await;
    let back = server.sign_in_and_cancel(&auth_url, "dave").await;
    let res = replayer.client.get(&back).send().await.expect("cb");
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap_or_default()
            .contains("cancelled or refused")
    );
}

#[tokio::test]
async fn a_key_rollover_at_the_provider_is_picked_up() {
    let Some((app, server)) = sso_app(vec![]).await else {
        return;
    };
    let erin = signed_in(&app, &server, "erin").await;
    // The app now holds the provider's metadata and keys; a new key starts signing.
    assert_eq!(server.rotate_keys().await, "test-key-2");
    let other = app.other_browser();
    let again = signed_in(&other, &server, "erin").await;
    assert_eq!(again.id, erin.id);
}

#[tokio::test]
async fn the_admin_role_follows_the_group_claim_and_every_change_is_logged() {
    let Some((app, server)) = sso_app(vec![]).await else {
        return;
    };
    server
        .set_account_claims("grace", json!({"groups": ["staff", ADMIN_GROUP]}))
        .await;
    let grace = signed_in(&app, &server, "grace").await;
    assert!(grace.is_admin);
    assert_eq!(app.get("/admin/").await.status(), 200);

    server
        .set_account_claims("grace", json!({"groups": ["staff"]}))
        .await;
    let later = app.other_browser();
    let grace = signed_in(&later, &server, "grace").await;
    assert!(!grace.is_admin, "taken away when the group is gone");
    signed_in(&app.other_browser(), &server, "grace").await;

    let changes = admin_audit_log::Entity::find()
        .filter(admin_audit_log::Column::TargetType.eq("user"))
        .order_by_asc(admin_audit_log::Column::Id)
        .all(&app.state.db)
        .await
        .expect("query");
    let actions: Vec<&str> = changes.iter().map(|c| c.action.as_str()).collect();
    assert_eq!(
        actions,
        ["user.make_admin", "user.unmake_admin"],
        "one row per change"
    );
    assert!(changes.iter().all(|c| c.target_id == grace.id.to_string()));
    assert!(
        changes[0].after.contains("campus sign-in claim `groups`"),
        "{}",
        changes[0].after
    );
}

#[tokio::test]
async fn local_accounts_are_linked_only_when_allowed_and_verified() {
    let Some((app, server)) = sso_app(vec![]).await else {
        return;
    };
    let local = app
        .create_user("frank@campus.test", "a long enough password", false)
        .await;
    let res = sign_in(&app, &server, "frank").await;
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap_or_default()
            .contains("already exists")
    );
    assert_eq!(counts(&app).await, (1, 0));

    let Some((linking, server)) = sso_app(vec![(
        "CAMPUSCORE_OIDC_LINK_EXISTING_ACCOUNTS",
        "true".into(),
    )])
    .await
    else {
        return;
    };
    let local = linking
        .create_user(&local.email, "a long enough password", false)
        .await;
    server
        .set_account_claims("frank", json!({"email_verified": false}))
        .await;
    let res = sign_in(&linking, &server, "frank").await;
    assert_eq!(res.status(), 400, "an unverified email links nothing");
    assert_eq!(counts(&linking).await, (1, 0));

    server
        .set_account_claims("frank", json!({"email_verified": true}))
        .await;
    let linked = signed_in(&linking, &server, "frank").await;
    assert_eq!(linked.id, local.id);
    assert_eq!(counts(&linking).await, (1, 1));
}

#[tokio::test]
async fn a_deactivated_account_is_refused_though_the_provider_says_yes() {
    let Some((app, server)) = sso_app(vec![]).await else {
        return;
    };
    let heidi = signed_in(&app, &server, "heidi").await;
    campuscore::models::users::set_active(&app.state.db, heidi, false)
        .await
        .expect("deactivate");
    let other = app.other_browser();
    let res = sign_in(&other, &server, "heidi").await;
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap_or_default().contains("deactivated"));
    assert!(!is_signed_in(&other).await);
}

#[tokio::test]
async fn logging_out_of_a_campus_session_ends_the_providers_session_too() {
    let Some((app, server)) = sso_app(vec![]).await else {
        return;
    };
    signed_in(&app, &server, "ivan").await;
    // The logout form's answer leads on to the provider: pages allow its origin there.
    let res = app.get("/settings").await;
    let csp = res
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        csp.ends_with(&format!("form-action 'self' {}", server.issuer)),
        "{csp}"
    );
    let csrf = page_csrf(&res.text().await.unwrap_or_default());
    let res = app
        .client
        .post(app.url("/logout"))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .expect("logout");
    assert_eq!(res.status(), 303);
    let to = location(&res);
    let end_session = server.discovery["end_session_endpoint"]
        .as_str()
        .expect("end_session_endpoint");
    assert!(to.starts_with(end_session), "{to}");
    assert_eq!(param(&to, "client_id").as_deref(), Some(CLIENT_ID));
    assert_eq!(
        param(&to, "post_logout_redirect_uri"),
        Some(app.url("/login"))
    );
    assert!(!is_signed_in(&app).await);
    // The provider accepts the request (it asks to confirm the logout).
    let res = campuscore_testkit::http_client()
        .get(&to)
        .send()
        .await
        .expect("end session");
    assert_eq!(
        res.status(),
        200,
        "{}",
        res.text().await.unwrap_or_default()
    );

    // A password session logs out to our own login page.
    let local = app.other_browser();
    local.logged_in_user("judy@campus.test").await;
    let csrf = page_csrf(&local.get_text("/settings").await);
    let res = local
        .client
        .post(local.url("/logout"))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .expect("logout");
    assert_eq!(location(&res), "/login");
}

#[tokio::test]
async fn back_channel_logout_ends_every_session_and_refuses_bad_tokens() {
    let Some((app, server)) = sso_app(vec![]).await else {
        return;
    };
    let (laptop, phone) = (app.other_browser(), app.other_browser());
    let kim = signed_in(&laptop, &server, "kim").await;
    signed_in(&phone, &server, "kim").await;
    let bystander = app.other_browser();
    signed_in(&bystander, &server, "leo").await;

    let bad = [
        (
            "forged",
            json!({"claims": {"sub": "kim"}, "forged": true}),
            "signature",
        ),
        (
            "other audience",
            json!({"claims": {"sub": "kim"}, "aud": "someone-else"}),
            "another client",
        ),
        (
            "other issuer",
            json!({"claims": {"sub": "kim", "iss": "https://evil.example"}}),
            "another issuer",
        ),
        (
            "no event",
            json!({"claims": {"sub": "kim", "events": null}}),
            "event",
        ),
        (
            "a nonce",
            json!({"claims": {"sub": "kim", "nonce": "n"}}),
            "nonce",
        ),
        (
            "no jti",
            json!({"claims": {"sub": "kim", "jti": null}}),
            "jti",
        ),
        (
            "old",
            json!({"claims": {"sub": "kim", "iat": 1_700_000_000}}),
            "issued",
        ),
        ("no subject", json!({"claims": {}}), "neither sub nor sid"),
        (
            "alg none",
            json!({"claims": {"sub": "kim"}, "header": {"alg": "none"}}),
            "algorithm",
        ),
        (
            "HMAC",
            json!({"claims": {"sub": "kim"}, "header": {"alg": "HS256"}}),
            "algorithm",
        ),
    ];
    for (what, body, reason) in bad {
        let token = server.logout_token(body).await;
        let (status, answer) = post_logout_token(&app.address, &token).await;
        assert_eq!(status, 400, "{what}: {answer}");
        assert_eq!(answer["error"], "invalid_request", "{what}");
        let description = answer["error_description"].as_str().unwrap_or_default();
        assert!(description.contains(reason), "{what}: {description}");
    }
    let (status, _) = post_logout_token(&app.address, "not.a-token").await;
    assert_eq!(status, 400);
    assert!(is_signed_in(&laptop).await && is_signed_in(&phone).await);

    let token = server.logout_token(json!({"claims": {"sub": "kim"}})).await;
    let (status, answer) = post_logout_token(&app.address, &token).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["sessions_ended"], 2);
    assert!(!is_signed_in(&laptop).await && !is_signed_in(&phone).await);
    assert!(
        is_signed_in(&bystander).await,
        "other users keep their sessions"
    );
    let (status, answer) = post_logout_token(&app.address, &token).await;
    assert_eq!(status, 400, "a replayed token");
    assert!(
        answer["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("already used")
    );

    // By provider session id alone, the account whose latest sign-in was in it.
    signed_in(&laptop, &server, "kim").await;
    let identity = user_identity::Entity::find()
        .filter(user_identity::Column::UserId.eq(kim.id))
        .one(&app.state.db)
        .await
        .expect("query")
        .expect("identity");
    let sid = identity
        .last_sid
        .expect("the provider sends sid in the ID token");
    let token = server.logout_token(json!({"claims": {"sid": sid}})).await;
    let (status, _) = post_logout_token(&app.address, &token).await;
    assert_eq!(status, 200);
    assert!(!is_signed_in(&laptop).await);
}

#[tokio::test]
async fn local_login_off_hides_the_form_refuses_its_post_and_leaves_a_break_glass_link() {
    let Some((app, server)) = sso_app(vec![("CAMPUSCORE_LOCAL_LOGIN", "false".into())]).await
    else {
        return;
    };
    let admin = app
        .create_user("root@campus.test", "a long enough password", true)
        .await;
    let page = app.get_text("/login").await;
    assert!(page.contains(&format!("Sign in with {INSTITUTION}")));
    assert!(!page.contains("name=\"password\""), "no password form");
    let res = app
        .client
        .post(app.url("/login"))
        .form(&[
            ("email", "root@campus.test"),
            ("password", "a long enough password"),
            ("csrf_token", &page_csrf(&page)),
        ])
        .send()
        .await
        .expect("login");
    assert_eq!(res.status(), 403);
    assert!(
        res.text()
            .await
            .unwrap_or_default()
            .contains("Passwords are switched off")
    );
    assert!(!is_signed_in(&app).await);

    // Campus sign-in still works.
    signed_in(&app.other_browser(), &server, "mia").await;

    // Break-glass: a one-time link for the admin.
    let token = campuscore::services::oidc_accounts::issue_signin_link(&app.state.db, &admin.email)
        .await
        .expect("link");
    let res = app.get(&format!("/auth/link/{token}")).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/admin/");
    assert_eq!(app.get("/admin/").await.status(), 200);
    let res = app
        .other_browser()
        .get(&format!("/auth/link/{token}"))
        .await;
    assert_eq!(res.status(), 410, "used once");
}

#[tokio::test]
async fn without_campus_sign_in_its_routes_are_not_found_and_the_page_is_unchanged() {
    let app = spawn_app_with(Options::default()).await;
    let page = app.get_text("/login").await;
    assert!(!page.contains("Sign in with") && page.contains("name=\"password\""));
    assert_eq!(app.get("/auth/oidc/start").await.status(), 404);
    assert_eq!(
        app.get("/auth/oidc/callback?code=x&state=y").await.status(),
        404
    );
}

#[tokio::test]
async fn back_channel_logout_ends_sessions_in_two_app_processes() {
    let Some(server) = OAuthServer::start(OAuthServerConfig {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        redirect_uri: "http://127.0.0.1:9/not-yet-known".into(),
        access_token_ttl: 3600,
    })
    .await
    else {
        return;
    };
    let mut shared = Deployment::new().await;
    shared.env = sso_env(&server)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .filter(|(k, _)| k != "CAMPUSCORE_OIDC_CLIENT_SECRET")
        .collect();
    server
        .set_client(
            CLIENT_ID,
            CLIENT_SECRET,
            &format!("{}/auth/oidc/callback", shared.base_url),
            &format!("{}/login", shared.base_url),
            &format!("{}/auth/oidc/backchannel-logout", shared.base_url),
        )
        .await;
    // The secret set as an operator would, kept encrypted in the shared database.
    shared.cli(&["migrate"]);
    shared.cli(&["sso", "set-client-secret", CLIENT_SECRET]);
    let (port_a, port_b) = (shared.port, free_port());
    let a = shared.serve(port_a, "a").await;
    let b = shared.serve(port_b, "b").await;

    // One browser on each process, both signed in as nora.
    let mut browsers = Vec::new();
    for address in [&a.address, &b.address] {
        let http = crate::helpers::client();
        let res = http
            .get(format!("{address}/auth/oidc/start"))
            .send()
            .await
            .expect("start");
        assert_eq!(res.status(), 303);
        let callback = server.sign_in(&location(&res), "nora").await;
        // The provider sends the browser to the public address; this one goes to `address`.
        let path = callback
            .strip_prefix(&shared.base_url)
            .expect("callback on the public address");
        let res = http
            .get(format!("{address}{path}"))
            .send()
            .await
            .expect("callback");
        assert_eq!(
            res.status(),
            303,
            "{}",
            res.text().await.unwrap_or_default()
        );
        browsers.push((http, address.clone()));
    }
    let signed_in = |http: reqwest::Client, address: String| async move {
        http.get(format!("{address}/settings"))
            .send()
            .await
            .expect("settings")
            .status()
            == 200
    };
    for (http, address) in &browsers {
        assert!(signed_in(http.clone(), address.clone()).await);
    }

    // The provider tells process A; the session on process B ends as well.
    let token = server
        .logout_token(json!({"claims": {"sub": "nora"}}))
        .await;
    let (status, answer) = post_logout_token(&a.address, &token).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["sessions_ended"], 2);
    for (http, address) in &browsers {
        assert!(!signed_in(http.clone(), address.clone()).await, "{address}");
    }
    // Replayed at the other process: refused (the jti is in the shared database).
    let (status, _) = post_logout_token(&b.address, &token).await;
    assert_eq!(status, 400);

    // The break-glass link, made by the CLI, works on either process.
    shared.cli(&[
        "createuser",
        "--email",
        "ops@campus.test",
        "--password",
        "a long enough password",
        "--admin",
    ]);
    let out = shared.cli(&["sso", "signin-link", "--email", "ops@campus.test"]);
    let link = out.lines().last().expect("the link").trim().to_owned();
    let path = link
        .strip_prefix(&shared.base_url)
        .expect("a link on the public address");
    let http = crate::helpers::client();
    let res = http
        .get(format!("{}{path}", b.address))
        .send()
        .await
        .expect("link");
    assert_eq!(res.status(), 303);
    assert!(signed_in(http.clone(), b.address.clone()).await);
}

#[tokio::test]
async fn browser_signs_in_through_the_providers_pages_and_out_again() {
    if !crate::browser::browser_ready().await {
        return;
    }
    let Some((app, _server)) = sso_app(vec![]).await else {
        return;
    };
    let screenshots = app.dir.path().join("screenshots");
    let (output, elapsed, kept) = crate::browser::run_browser_script(
        "sso_sign_in.mjs",
        &[
            ("APP_URL", app.address.as_str()),
            ("INSTITUTION", INSTITUTION),
            ("PROVIDER_LOGIN", "olivia"),
        ],
        &screenshots,
        "browser-sso",
    )
    .await;
    assert!(
        output.status.success(),
        "browser: sso_sign_in.mjs failed after {elapsed:.1?}; screenshots: {kept}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // The database agrees with the page.
    let olivia = find_user(&app, "olivia@campus.test")
        .await
        .expect("the account the browser signed in to");
    let identity = user_identity::Entity::find()
        .filter(user_identity::Column::UserId.eq(olivia.id))
        .one(&app.state.db)
        .await
        .expect("query");
    assert_eq!(identity.map(|i| i.sub), Some("olivia".to_owned()));
}
