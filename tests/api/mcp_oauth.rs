//! The app as the OAuth 2.1 authorization server of its MCP endpoint, driven the way an
//! assistant and its user drive it: discovery, registration (RFC 7591) or a client metadata
//! document, the login and consent pages in a browser session, the code exchanged with PKCE
//! for tokens bound to `/mcp`, refresh rotation, and revocation from `/settings`.
//!
//! The refusals (PKCE, resources, redirect URIs, replays, metadata documents, deactivated
//! accounts) are in `mcp_oauth_refusals.rs`; the helpers here are shared with it.

use crate::helpers::{TestApp, client, location, spawn_app};
use base64::Engine;
use campuscore::services::mcp_auth;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Digest;

#[path = "mcp_oauth_refusals.rs"]
mod refusals;

pub const PASSWORD: &str = "a long enough password";
/// Where the test assistant listens for its code (nothing needs to listen: the redirect is
/// read, not followed).
pub const REDIRECT_URI: &str = "http://127.0.0.1:45678/callback";

/// A PKCE verifier and its S256 challenge.
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Self {
        let verifier = campuscore::crypto::random_token(48);
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(verifier.as_bytes()));
        Self {
            verifier,
            challenge,
        }
    }
}

/// The value of query parameter `name` in `url`.
pub fn param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap_or_else(|e| panic!("not a URL ({e}): {url}"))
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Registers a client the way the Python `mcp` client does; its `client_id`.
pub async fn register(app: &TestApp, name: &str) -> String {
    let res = client()
        .post(app.url("/oauth/register"))
        .json(&json!({
            "client_name": name,
            "redirect_uris": [REDIRECT_URI],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "application_type": "native",
            "scope": "mcp:read mcp:write",
        }))
        .send()
        .await
        .expect("register");
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.expect("json");
    body["client_id"].as_str().expect("a client_id").to_owned()
}

/// The path and query of an authorization request for this app's `/mcp`; `overrides`
/// replace parameters (`None` leaves one out).
pub fn authorize_path(
    app: &TestApp,
    client_id: &str,
    pkce: &Pkce,
    overrides: &[(&str, Option<&str>)],
) -> String {
    let resource = format!("{}/mcp", app.address);
    let defaults = [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT_URI),
        ("code_challenge", pkce.challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("state", "opaque-state-42"),
        ("scope", "mcp:read"),
        ("resource", resource.as_str()),
    ];
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in defaults {
        let value = overrides
            .iter()
            .find(|(k, _)| *k == name)
            .map_or(Some(value), |(_, v)| *v);
        if let Some(value) = value {
            query.append_pair(name, value);
        }
    }
    format!("/oauth/authorize?{}", query.finish())
}

/// The hidden fields of a page's form (the consent form carries the request in them).
pub fn hidden_fields(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for tag in html.split("<input type=\"hidden\" ").skip(1) {
        let attr = |name: &str| {
            let marker = format!("{name}=\"");
            let start = tag.find(&marker)? + marker.len();
            let end = tag[start..].find('"')?;
            Some(unescape(&tag[start..start + end]))
        };
        if let (Some(name), Some(value)) = (attr("name"), attr("value")) {
            out.push((name, value));
        }
    }
    out
}

/// Undoes askama's HTML escaping.
pub fn unescape(s: &str) -> String {
    s.replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&quot;", "\"")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

/// The consent page of an authorization request in `app`'s (logged-in) browser.
pub async fn consent_page(app: &TestApp, path: &str) -> String {
    let res = app.get(path).await;
    assert_eq!(res.status(), StatusCode::OK, "the consent page");
    res.text().await.expect("body")
}

/// Posts the consent form of `page` with `decision`, the chosen connections and the write
/// box; the redirect back to the assistant.
pub async fn decide(
    app: &TestApp,
    page: &str,
    decision: &str,
    connections: &[i64],
    write: bool,
) -> String {
    let mut form = hidden_fields(page);
    form.push(("decision".into(), decision.into()));
    for id in connections {
        form.push(("connection".into(), id.to_string()));
    }
    if write {
        form.push(("write".into(), "on".into()));
    }
    let res = app
        .client
        .post(app.url("/oauth/authorize"))
        .form(&form)
        .send()
        .await
        .expect("consent");
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "the decision redirects"
    );
    let back = location(&res);
    assert!(back.starts_with(REDIRECT_URI), "{back}");
    back
}

/// Posts a token request; the status and the JSON body.
pub async fn token_request(app: &TestApp, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let res = client()
        .post(app.url("/oauth/token"))
        .form(form)
        .send()
        .await
        .expect("token request");
    let status = res.status();
    if status == StatusCode::OK {
        let cache = res.headers().get("cache-control").cloned();
        assert_eq!(
            cache.as_ref().and_then(|v| v.to_str().ok()),
            Some("no-store")
        );
    }
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Exchanges `code` with `verifier`; the status and the JSON body.
pub async fn exchange(
    app: &TestApp,
    client_id: &str,
    code: &str,
    verifier: &str,
) -> (StatusCode, Value) {
    let resource = format!("{}/mcp", app.address);
    token_request(
        app,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier),
            ("resource", &resource),
        ],
    )
    .await
}

/// Refreshes with `refresh_token`; the status and the JSON body.
pub async fn refresh(app: &TestApp, client_id: &str, refresh_token: &str) -> (StatusCode, Value) {
    let resource = format!("{}/mcp", app.address);
    token_request(
        app,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", client_id),
            ("refresh_token", refresh_token),
            ("resource", &resource),
        ],
    )
    .await
}

/// A logged-in user who allowed `client_id` (reading, and writing when `write`) on
/// `connections`: the token response.
pub async fn signed_in_tokens(
    app: &TestApp,
    client_id: &str,
    connections: &[i64],
    write: bool,
) -> Value {
    let pkce = Pkce::new();
    let page = consent_page(app, &authorize_path(app, client_id, &pkce, &[])).await;
    let back = decide(app, &page, "allow", connections, write).await;
    let code = param(&back, "code").expect("a code");
    let (status, tokens) = exchange(app, client_id, &code, &pkce.verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    tokens
}

/// Who `access_token` speaks for at this app's `/mcp`.
pub async fn principal(app: &TestApp, access_token: &str) -> Option<mcp_auth::McpGrantPrincipal> {
    let resource = mcp_auth::resource(&app.state.settings);
    mcp_auth::authenticate(&app.state.db, access_token, &resource)
        .await
        .expect("authenticate")
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

#[tokio::test]
async fn metadata_documents_point_clients_from_the_resource_to_this_authorization_server() {
    let app = spawn_app().await;
    let base = &app.address;
    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        let res = client().get(app.url(path)).send().await.expect("prm");
        assert_eq!(res.status(), StatusCode::OK);
        let prm: Value = res.json().await.expect("json");
        assert_eq!(prm["resource"], format!("{base}/mcp"));
        assert_eq!(prm["authorization_servers"], json!([base]));
        assert_eq!(prm["bearer_methods_supported"], json!(["header"]));
        assert_eq!(prm["scopes_supported"], json!(["mcp:read", "mcp:write"]));
    }
    let res = client()
        .get(app.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .expect("as metadata");
    assert_eq!(res.status(), StatusCode::OK);
    let meta: Value = res.json().await.expect("json");
    assert_eq!(meta["issuer"], base.as_str());
    assert_eq!(
        meta["authorization_endpoint"],
        format!("{base}/oauth/authorize")
    );
    assert_eq!(meta["token_endpoint"], format!("{base}/oauth/token"));
    assert_eq!(
        meta["registration_endpoint"],
        format!("{base}/oauth/register")
    );
    assert_eq!(meta["revocation_endpoint"], format!("{base}/oauth/revoke"));
    assert_eq!(meta["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        meta["token_endpoint_auth_methods_supported"],
        json!(["none"])
    );
    assert_eq!(meta["client_id_metadata_document_supported"], json!(true));
    assert_eq!(
        meta["authorization_response_iss_parameter_supported"],
        json!(true)
    );
    assert_eq!(
        mcp_auth::challenge(&app.state.settings),
        format!(
            "Bearer resource_metadata=\"{base}/.well-known/oauth-protected-resource/mcp\", scope=\"mcp:read\""
        )
    );
}

#[tokio::test]
async fn a_registered_assistant_signs_in_with_consent_and_pkce_and_its_token_is_only_for_mcp() {
    let app = spawn_app().await;
    let client_id = register(&app, "Campus Helper").await;
    assert!(client_id.starts_with("ccmcpc_"), "{client_id}");
    let user = app.create_user("ana@campus.example", PASSWORD, false).await;
    let echo = app
        .insert_connection("test-echo", user.id, json!({"api_key": "k"}), "ana-echo")
        .await;
    let drive = app
        .insert_connection("google-drive", user.id, json!({}), "ana@drive")
        .await;

    // Logged out: the login page, which comes back to the request afterwards.
    let pkce = Pkce::new();
    let authorize = authorize_path(&app, &client_id, &pkce, &[]);
    let res = app.get(&authorize).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let login = location(&res);
    assert!(login.starts_with("/login?next="), "{login}");
    let next = param(&app.url(&login), "next").expect("next");
    assert_eq!(next, authorize);
    let res = app
        .post_form(
            "/login",
            &login,
            &[
                ("email", "ana@campus.example"),
                ("password", PASSWORD),
                ("next", &next),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), authorize);

    // The consent page names the assistant and offers the connections and writing.
    let page = consent_page(&app, &authorize).await;
    assert!(page.contains("Campus Helper"), "{page}");
    assert!(page.contains("registered itself"), "{page}");
    assert!(page.contains("an app on this computer"), "{page}");
    assert!(
        page.contains("Test Echo") && page.contains("ana-echo"),
        "{page}"
    );
    assert!(
        page.contains("Google Drive") && page.contains("ana@drive"),
        "{page}"
    );
    assert!(
        page.contains(&format!(
            "name=\"connection\" value=\"{}\" checked",
            echo.id
        )),
        "{page}"
    );
    assert!(
        page.contains("<input type=\"checkbox\" name=\"write\" value=\"on\">"),
        "the write box is off by default: {page}"
    );

    // The form is the session's: without its CSRF token it is refused.
    let res = app
        .client
        .post(app.url("/oauth/authorize"))
        .form(&[("decision", "allow"), ("client_id", client_id.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    // Allow, with one of the two connections and write tools.
    let back = decide(&app, &page, "allow", &[echo.id], true).await;
    assert_eq!(param(&back, "state").as_deref(), Some("opaque-state-42"));
    assert_eq!(param(&back, "iss").as_deref(), Some(app.address.as_str()));
    let code = param(&back, "code").expect("a code");
    let (status, tokens) = exchange(&app, &client_id, &code, &pkce.verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 1800);
    assert_eq!(tokens["scope"], "mcp:read mcp:write");
    let access = s(&tokens["access_token"]);
    assert!(access.starts_with("ccmcp_"), "{access}");
    assert!(s(&tokens["refresh_token"]).starts_with("ccmcpr_"));

    // The token speaks for the user, the assistant and the chosen connection, at /mcp only.
    let who = principal(&app, access).await.expect("a live token");
    assert_eq!(who.user.id, user.id);
    assert_eq!(who.client_id, client_id);
    assert_eq!(who.client_name, "Campus Helper");
    assert!(who.allow_write);
    assert_eq!(who.connection_ids, [echo.id]);
    assert_ne!(drive.id, echo.id);
    let elsewhere = mcp_auth::authenticate(
        &app.state.db,
        access,
        &format!("{}/api/v1/connectors", app.address),
    )
    .await
    .expect("authenticate");
    assert!(elsewhere.is_none(), "another audience");
    assert!(principal(&app, s(&tokens["refresh_token"])).await.is_none());

    // Tokens for /mcp are refused everywhere else.
    for path in ["/api/v1/connectors", "/api/v1/connector-credentials"] {
        let res = client()
            .get(app.url(path))
            .bearer_auth(access)
            .send()
            .await
            .expect("api");
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    let res = client()
        .get(app.url("/admin/"))
        .bearer_auth(access)
        .send()
        .await
        .expect("admin");
    assert_eq!(
        res.status(),
        StatusCode::NOT_FOUND,
        "admin pages never take a bearer token"
    );

    // The grant is listed on /settings.
    let settings = app.get_text("/settings").await;
    assert!(settings.contains("Connected assistants"), "{settings}");
    assert!(settings.contains("Campus Helper"), "{settings}");
    assert!(settings.contains("Read and make changes"), "{settings}");
    assert!(settings.contains("Test Echo (ana-echo)"), "{settings}");
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_ends_the_grant() {
    let app = spawn_app().await;
    let client_id = register(&app, "Rotating Assistant").await;
    let user = app.logged_in_user("ben@campus.example").await;
    let conn = app
        .insert_connection("test-echo", user.id, json!({"api_key": "k"}), "ben")
        .await;
    let first = signed_in_tokens(&app, &client_id, &[conn.id], false).await;
    assert_eq!(first["scope"], "mcp:read");
    let who = principal(&app, s(&first["access_token"]))
        .await
        .expect("live");
    assert!(!who.allow_write);

    // A refresh gives a new pair; the old access token lives on until it expires.
    let (status, second) = refresh(&app, &client_id, s(&first["refresh_token"])).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert_ne!(second["access_token"], first["access_token"]);
    assert!(principal(&app, s(&second["access_token"])).await.is_some());

    // Asking for more than was granted is refused, and leaves the token usable.
    let resource = format!("{}/mcp", app.address);
    let (status, body) = token_request(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &client_id),
            ("refresh_token", s(&second["refresh_token"])),
            ("resource", &resource),
            ("scope", "mcp:read mcp:write"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_scope");

    // The old refresh token again: refused, and the whole grant ends.
    let (status, body) = refresh(&app, &client_id, s(&first["refresh_token"])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    assert!(principal(&app, s(&second["access_token"])).await.is_none());
    let (status, body) = refresh(&app, &client_id, s(&second["refresh_token"])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    let settings = app.get_text("/settings").await;
    assert!(!settings.contains("Rotating Assistant"), "{settings}");

    // A client gives back its refresh token (RFC 7009): its grant ends too.
    let third = signed_in_tokens(&app, &client_id, &[conn.id], false).await;
    let res = client()
        .post(app.url("/oauth/revoke"))
        .form(&[
            ("token", s(&third["refresh_token"])),
            ("token_type_hint", "refresh_token"),
            ("client_id", &client_id),
        ])
        .send()
        .await
        .expect("revoke");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(principal(&app, s(&third["access_token"])).await.is_none());
    let (_, body) = refresh(&app, &client_id, s(&third["refresh_token"])).await;
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn revoking_an_assistant_on_settings_stops_its_token_at_once() {
    let app = spawn_app().await;
    let client_id = register(&app, "Soon Revoked").await;
    let user = app.logged_in_user("cleo@campus.example").await;
    let conn = app
        .insert_connection("test-echo", user.id, json!({"api_key": "k"}), "cleo")
        .await;
    let tokens = signed_in_tokens(&app, &client_id, &[conn.id], true).await;
    let access = s(&tokens["access_token"]);
    let who = principal(&app, access).await.expect("live");

    // Another user neither sees the grant nor can revoke it.
    let other = app.other_browser();
    other.logged_in_user("dev@campus.example").await;
    assert!(!other.get_text("/settings").await.contains("Soon Revoked"));
    let path = format!("/settings/assistants/{}/revoke", who.grant_id);
    let res = other.post_form(&path, "/settings", &[]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(principal(&app, access).await.is_some());

    // Its user revokes it (HTMX): the section comes back without it, and the token is dead.
    let token = app.csrf("/settings").await;
    let res = app
        .client
        .post(app.url(&path))
        .header("HX-Request", "true")
        .header("X-CSRF-Token", token)
        .send()
        .await
        .expect("revoke");
    assert_eq!(res.status(), StatusCode::OK);
    let fragment = res.text().await.expect("body");
    assert!(
        fragment.starts_with("<section class=\"card assistants\" id=\"assistants\""),
        "{fragment}"
    );
    assert!(
        fragment.contains("Soon Revoked can no longer use your account."),
        "{fragment}"
    );
    assert!(!fragment.contains("id=\"assistant-"), "{fragment}");
    assert!(principal(&app, access).await.is_none());
    let (_, body) = refresh(&app, &client_id, s(&tokens["refresh_token"])).await;
    assert_eq!(body["error"], "invalid_grant");
    // Once revoked it is gone: revoking again is a 404.
    let res = app.post_form(&path, "/settings", &[]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // Without JavaScript the form posts and comes back to /settings with a message.
    let tokens = signed_in_tokens(&app, &client_id, &[conn.id], false).await;
    let who = principal(&app, s(&tokens["access_token"]))
        .await
        .expect("live");
    let path = format!("/settings/assistants/{}/revoke", who.grant_id);
    let res = app.post_form(&path, "/settings", &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/settings");
    let settings = app.get_text("/settings").await;
    assert!(settings.contains("Soon Revoked can no longer use your account."));
    assert!(principal(&app, s(&tokens["access_token"])).await.is_none());
}
