//! What the MCP authorization server refuses, and how: before the redirect URI is trusted
//! an error page and no redirect; after it an error redirect to the assistant; at the
//! token endpoint RFC 6749 errors. Client metadata documents, fetched only through the
//! SSRF guard. And tokens that speak for less once their account or connections go.

use super::{
    Pkce, REDIRECT_URI, authorize_path, consent_page, decide, exchange, param, principal, register,
    s, signed_in_tokens, token_request,
};
use crate::helpers::{Options, TestApp, client, location, spawn_app, spawn_app_with};
use reqwest::StatusCode;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// GETs an authorization request that must be refused on a page: its HTML.
async fn refused_on_a_page(app: &TestApp, path: &str) -> String {
    let res = app.get(path).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{path}");
    assert!(
        res.headers().get("location").is_none(),
        "no redirect: {path}"
    );
    super::unescape(&res.text().await.expect("body"))
}

/// GETs an authorization request that must be refused back at the assistant: the
/// redirect's `error`.
async fn refused_to_the_assistant(app: &TestApp, path: &str) -> String {
    let res = app.get(path).await;
    assert_eq!(res.status(), StatusCode::FOUND, "{path}");
    let back = location(&res);
    assert!(back.starts_with(REDIRECT_URI), "{back}");
    assert_eq!(param(&back, "state").as_deref(), Some("opaque-state-42"));
    assert_eq!(param(&back, "iss").as_deref(), Some(app.address.as_str()));
    param(&back, "error").expect("an error")
}

/// A logged-in user with one connection, and a registered assistant's id.
async fn user_and_client(app: &TestApp, email: &str) -> (i64, String) {
    let client_id = register(app, "Test Assistant").await;
    let user = app.logged_in_user(email).await;
    let conn = app
        .insert_connection("test-echo", user.id, json!({"api_key": "k"}), "me")
        .await;
    (conn.id, client_id)
}

#[tokio::test]
async fn pkce_with_s256_is_required_and_a_wrong_verifier_gets_no_tokens() {
    let app = spawn_app().await;
    let (conn, client_id) = user_and_client(&app, "pk@campus.example").await;
    let pkce = Pkce::new();
    for overrides in [
        [("code_challenge_method", None)],
        [("code_challenge_method", Some("plain"))],
        [("code_challenge", None)],
        [("code_challenge", Some("short"))],
    ] {
        let path = authorize_path(&app, &client_id, &pkce, &overrides);
        assert_eq!(
            refused_to_the_assistant(&app, &path).await,
            "invalid_request"
        );
    }

    let page = consent_page(&app, &authorize_path(&app, &client_id, &pkce, &[])).await;
    let back = decide(&app, &page, "allow", &[conn], false).await;
    let code = param(&back, "code").expect("a code");
    let wrong = Pkce::new();
    let (status, body) = exchange(&app, &client_id, &code, &wrong.verifier).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    let (status, body) = exchange(&app, &client_id, &code, "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_request");
    // A failed check does not spend the code: the holder of the verifier still gets tokens.
    let (status, body) = exchange(&app, &client_id, &code, &pkce.verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_resource_other_than_this_servers_mcp_is_an_invalid_target() {
    let app = spawn_app().await;
    let (conn, client_id) = user_and_client(&app, "rt@campus.example").await;
    let pkce = Pkce::new();
    let elsewhere = [("resource", Some("https://elsewhere.example/mcp"))];
    let path = authorize_path(&app, &client_id, &pkce, &elsewhere);
    assert_eq!(
        refused_to_the_assistant(&app, &path).await,
        "invalid_target"
    );
    let api = format!("{}/api/v1/connectors", app.address);
    let path = authorize_path(&app, &client_id, &pkce, &[("resource", Some(&api))]);
    assert_eq!(
        refused_to_the_assistant(&app, &path).await,
        "invalid_target"
    );
    let path = authorize_path(&app, &client_id, &pkce, &[("resource", None)]);
    assert_eq!(
        refused_to_the_assistant(&app, &path).await,
        "invalid_request"
    );
    let path = authorize_path(&app, &client_id, &pkce, &[("scope", Some("admin"))]);
    assert_eq!(refused_to_the_assistant(&app, &path).await, "invalid_scope");
    let path = authorize_path(&app, &client_id, &pkce, &[("response_type", Some("token"))]);
    assert_eq!(
        refused_to_the_assistant(&app, &path).await,
        "unsupported_response_type"
    );

    let page = consent_page(&app, &authorize_path(&app, &client_id, &pkce, &[])).await;
    let back = decide(&app, &page, "allow", &[conn], false).await;
    let code = param(&back, "code").expect("a code");
    let (status, body) = token_request(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &client_id),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &pkce.verifier),
            ("resource", &api),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_target");
    let (status, tokens) = exchange(&app, &client_id, &code, &pkce.verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let (status, body) = token_request(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &client_id),
            ("refresh_token", s(&tokens["refresh_token"])),
            ("resource", &api),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_target");
}

#[tokio::test]
async fn an_unknown_client_or_redirect_uri_gets_an_error_page_and_no_redirect() {
    let app = spawn_app().await;
    let (conn, client_id) = user_and_client(&app, "ru@campus.example").await;
    let pkce = Pkce::new();
    let other = "http://127.0.0.1:45678/elsewhere";
    let page = refused_on_a_page(
        &app,
        &authorize_path(&app, &client_id, &pkce, &[("redirect_uri", Some(other))]),
    )
    .await;
    assert!(
        page.contains("not one of its registered addresses"),
        "{page}"
    );
    let evil = "https://evil.example/callback";
    let page = refused_on_a_page(
        &app,
        &authorize_path(&app, &client_id, &pkce, &[("redirect_uri", Some(evil))]),
    )
    .await;
    assert!(page.contains("evil.example"), "{page}");
    let page = refused_on_a_page(
        &app,
        &authorize_path(&app, &client_id, &pkce, &[("redirect_uri", None)]),
    )
    .await;
    assert!(page.contains("redirect_uri is missing"), "{page}");
    let page = refused_on_a_page(&app, &authorize_path(&app, "ccmcpc_unknown", &pkce, &[])).await;
    assert!(page.contains("not registered here"), "{page}");
    let page = refused_on_a_page(
        &app,
        &authorize_path(&app, &client_id, &pkce, &[("client_id", None)]),
    )
    .await;
    assert!(page.contains("client_id is missing"), "{page}");
    // A parameter sent twice is refused before anything else.
    let twice = format!(
        "{}&state=again",
        authorize_path(&app, &client_id, &pkce, &[])
    );
    let page = refused_on_a_page(&app, &twice).await;
    assert!(page.contains("state was sent more than once"), "{page}");

    // At the token endpoint, a redirect URI other than the code's is refused.
    let page = consent_page(&app, &authorize_path(&app, &client_id, &pkce, &[])).await;
    let back = decide(&app, &page, "allow", &[conn], false).await;
    let code = param(&back, "code").expect("a code");
    let resource = format!("{}/mcp", app.address);
    let (status, body) = token_request(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", &client_id),
            ("code", &code),
            ("redirect_uri", other),
            ("code_verifier", &pkce.verifier),
            ("resource", &resource),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    // And so is another client's code.
    let intruder = register(&app, "Intruder").await;
    let (status, body) = exchange(&app, &intruder, &code, &pkce.verifier).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn a_replayed_code_is_refused_and_ends_what_it_issued() {
    let app = spawn_app().await;
    let (conn, client_id) = user_and_client(&app, "rp@campus.example").await;
    let pkce = Pkce::new();
    let page = consent_page(&app, &authorize_path(&app, &client_id, &pkce, &[])).await;
    let back = decide(&app, &page, "allow", &[conn], false).await;
    let code = param(&back, "code").expect("a code");
    let (status, tokens) = exchange(&app, &client_id, &code, &pkce.verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert!(principal(&app, s(&tokens["access_token"])).await.is_some());

    let (status, body) = exchange(&app, &client_id, &code, &pkce.verifier).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    assert!(principal(&app, s(&tokens["access_token"])).await.is_none());
    let (_, body) = super::refresh(&app, &client_id, s(&tokens["refresh_token"])).await;
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn denying_sends_access_denied_back_to_the_assistant_and_grants_nothing() {
    let app = spawn_app().await;
    let (conn, client_id) = user_and_client(&app, "dn@campus.example").await;
    let pkce = Pkce::new();
    let page = consent_page(&app, &authorize_path(&app, &client_id, &pkce, &[])).await;
    let back = decide(&app, &page, "deny", &[conn], true).await;
    assert_eq!(param(&back, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&back, "state").as_deref(), Some("opaque-state-42"));
    assert_eq!(param(&back, "iss").as_deref(), Some(app.address.as_str()));
    assert!(param(&back, "code").is_none());
    let settings = app.get_text("/settings").await;
    assert!(settings.contains("No assistant has access."), "{settings}");
    assert!(
        settings.contains(&format!("{}/mcp", app.address)),
        "{settings}"
    );
}

#[tokio::test]
async fn registration_and_the_token_endpoint_refuse_what_they_cannot_serve() {
    let app = spawn_app().await;
    let register_with = |body: Value| {
        let url = app.url("/oauth/register");
        async move {
            let res = client()
                .post(url)
                .json(&body)
                .send()
                .await
                .expect("register");
            let status = res.status();
            (status, res.json::<Value>().await.expect("json"))
        }
    };
    let (status, body) = register_with(json!({"redirect_uris": ["http://evil.example/cb"]})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_redirect_uri");
    let (status, body) = register_with(json!({"client_name": "No redirect"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_redirect_uri");
    let (status, body) = register_with(json!({
        "redirect_uris": [REDIRECT_URI],
        "token_endpoint_auth_method": "client_secret_basic",
    }))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_client_metadata");
    let (status, body) = register_with(json!(["not", "an", "object"])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_client_metadata");
    // An app's own scheme is fine, and the answer echoes what was registered.
    let (status, body) = register_with(json!({
        "client_name": "Desktop Assistant",
        "redirect_uris": ["com.example.assistant:/oauth/callback"],
    }))
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["token_endpoint_auth_method"], "none");
    assert_eq!(
        body["redirect_uris"],
        json!(["com.example.assistant:/oauth/callback"])
    );
    assert!(body["client_id_issued_at"].is_i64());

    let (status, body) = token_request(&app, &[("grant_type", "password")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "unsupported_grant_type");
    let (status, body) = token_request(&app, &[("code", "x")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_request");
    let (status, body) = token_request(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "ccmcpc_nobody"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_client");
    let res = client()
        .post(app.url("/oauth/token"))
        .json(&json!({"grant_type": "authorization_code"}))
        .send()
        .await
        .expect("json body");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["error"], "invalid_request");
}

/// A client metadata document served by `server` at `path`, naming `client_id`.
async fn serve_document(server: &MockServer, at: &str, client_id: &str, expect: u64) {
    Mock::given(method("GET"))
        .and(path(at))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "client_id": client_id,
            "client_name": "Doc Assistant",
            "client_uri": "https://assistant.example.com",
            "redirect_uris": [REDIRECT_URI],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "none",
        })))
        .expect(expect)
        .mount(server)
        .await;
}

#[tokio::test]
async fn client_metadata_documents_are_fetched_through_the_ssrf_guard() {
    // The document server listens on loopback: an operator allows it, and plain http is
    // allowed for this test only.
    let server = MockServer::start().await;
    let document = format!("{}/assistant.json", server.uri());
    serve_document(&server, "/assistant.json", &document, 1).await;
    let wrong = format!("{}/wrong.json", server.uri());
    serve_document(
        &server,
        "/wrong.json",
        "https://assistant.example.com/client.json",
        1,
    )
    .await;
    let app = spawn_app_with(Options {
        env: vec![
            ("CAMPUSCORE_MCP_CIMD_ALLOWED_HOSTS", "127.0.0.1".into()),
            ("CAMPUSCORE_MCP_CIMD_TEST_ALLOW_HTTP", "true".into()),
        ],
        ..Default::default()
    })
    .await;
    let user = app.logged_in_user("doc@campus.example").await;
    let conn = app
        .insert_connection("test-echo", user.id, json!({"api_key": "k"}), "doc")
        .await;

    let pkce = Pkce::new();
    let page = consent_page(&app, &authorize_path(&app, &document, &pkce, &[])).await;
    let host = server.uri().trim_start_matches("http://").to_owned();
    assert!(page.contains("Doc Assistant"), "{page}");
    assert!(
        page.contains(&format!("Published at <strong>{host}</strong>")),
        "{page}"
    );
    assert!(!page.contains("registered itself"), "{page}");
    let back = decide(&app, &page, "allow", &[conn.id], false).await;
    let code = param(&back, "code").expect("a code");
    let (status, tokens) = exchange(&app, &document, &code, &pkce.verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let who = principal(&app, s(&tokens["access_token"]))
        .await
        .expect("live");
    assert_eq!(who.client_id, document);
    assert_eq!(who.client_name, "Doc Assistant");
    // Within its cache lifetime the document is not fetched again (the mock expects one GET).
    signed_in_tokens(&app, &document, &[conn.id], false).await;

    let page = refused_on_a_page(&app, &authorize_path(&app, &wrong, &pkce, &[])).await;
    assert!(
        page.contains("its client_id is not the URL it was fetched from"),
        "{page}"
    );

    // Without the operator's allowance, loopback is refused before anything is sent.
    let guarded = spawn_app().await;
    guarded.logged_in_user("guarded@campus.example").await;
    let untouched = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&untouched)
        .await;
    let port = untouched.address().port();
    for (client_id, reason) in [
        (
            format!("https://127.0.0.1:{port}/assistant.json"),
            "127.0.0.1 is a loopback address",
        ),
        (
            format!("https://localhost:{port}/assistant.json"),
            "localhost resolves to a loopback address",
        ),
        (
            format!("https://10.1.2.3:{port}/assistant.json"),
            "10.1.2.3 is a private address",
        ),
        (
            format!("http://127.0.0.1:{port}/assistant.json"),
            "a client id URL must use https",
        ),
    ] {
        let page =
            refused_on_a_page(&guarded, &authorize_path(&guarded, &client_id, &pkce, &[])).await;
        assert!(page.contains(reason), "{client_id}: {page}");
    }
}

#[tokio::test]
async fn a_token_of_a_deactivated_account_or_a_deleted_connection_speaks_for_less() {
    let app = spawn_app().await;
    let client_id = register(&app, "Careful Assistant").await;
    let user = app.logged_in_user("eve@campus.example").await;
    let kept = app
        .insert_connection("test-echo", user.id, json!({"api_key": "k"}), "eve")
        .await;
    let dropped = app
        .insert_connection("google-drive", user.id, json!({}), "eve@drive")
        .await;
    let tokens = signed_in_tokens(&app, &client_id, &[kept.id, dropped.id], false).await;
    let access = s(&tokens["access_token"]);
    let who = principal(&app, access).await.expect("live");
    assert_eq!(who.connection_ids, [kept.id, dropped.id]);

    campuscore::models::connections::delete_owned(&app.state.db, user.id, dropped.id)
        .await
        .expect("delete");
    let who = principal(&app, access).await.expect("live");
    assert_eq!(who.connection_ids, [kept.id]);

    campuscore::models::users::set_active(&app.state.db, user, false)
        .await
        .expect("deactivate");
    assert!(principal(&app, access).await.is_none());
    let (_, body) = super::refresh(&app, &client_id, s(&tokens["refresh_token"])).await;
    assert_eq!(body["error"], "invalid_grant");
}
