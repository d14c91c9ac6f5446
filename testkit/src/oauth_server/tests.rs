//! Self-tests: the peer behaves as the connection tests need (they run only where Node.js is
//! installed, and must where the run requires its peers: `cargo xtask test`, `CI=true`).

use std::time::{Duration, Instant};

use base64::Engine as _;
use sha2::Digest as _;
use url::Url;

use super::{OAuthServer, OAuthServerConfig};

const CLIENT_ID: &str = "campuscore-test";
const CLIENT_SECRET: &str = "s3cret-value";
const REDIRECT_URI: &str = "http://127.0.0.1:9/api/connectors/test-oauth/callback";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn pkce() -> (String, String) {
    let verifier = b64(&rand::random::<[u8; 32]>());
    let challenge = b64(&sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

async fn server() -> Option<OAuthServer> {
    OAuthServer::start(OAuthServerConfig {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        redirect_uri: REDIRECT_URI.into(),
        access_token_ttl: 600,
    })
    .await
}

fn auth_url(server: &OAuthServer, state: &str, challenge: Option<&str>) -> String {
    let mut url = Url::parse(&server.authorize_url()).expect("a URL");
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", CLIENT_ID)
            .append_pair("redirect_uri", REDIRECT_URI)
            .append_pair("scope", "openid email offline_access")
            .append_pair("state", state);
        if let Some(c) = challenge {
            q.append_pair("code_challenge", c)
                .append_pair("code_challenge_method", "S256");
        }
    }
    url.to_string()
}

fn param(location: &str, name: &str) -> Option<String> {
    Url::parse(location)
        .expect("a redirect URL")
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// POSTs to the token endpoint with client_secret_basic; returns (status, JSON body).
async fn token(server: &OAuthServer, form: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let res = crate::http_client()
        .post(server.token_url())
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(form)
        .send()
        .await
        .expect("the request to succeed");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(serde_json::Value::Null))
}

async fn refresh(server: &OAuthServer, refresh_token: &str) -> (u16, serde_json::Value) {
    token(
        server,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

async fn sign_in_and_exchange(server: &OAuthServer, login: &str) -> serde_json::Value {
    let (verifier, challenge) = pkce();
    let location = server
        .sign_in(&auth_url(server, "st", Some(&challenge)), login)
        .await;
    let code = param(&location, "code").unwrap_or_else(|| panic!("no code: {location}"));
    let (status, body) = token(
        server,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn oauth_server_issues_rotating_refresh_tokens_with_pkce() {
    let Some(server) = server().await else { return };
    assert!(
        server.issuer.starts_with("http://127.0.0.1:"),
        "{}",
        server.issuer
    );
    assert_eq!(server.authorize_url(), format!("{}/auth", server.issuer));
    assert_eq!(server.token_url(), format!("{}/token", server.issuer));
    assert_eq!(
        server.revocation_url(),
        format!("{}/token/revocation", server.issuer)
    );
    assert_eq!(server.userinfo_url(), format!("{}/me", server.issuer));
    assert_eq!(
        server.discovery["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );

    // Authorization code + PKCE, through the provider's own login and consent pages.
    let (verifier, challenge) = pkce();
    let location = server
        .sign_in(&auth_url(&server, "state-123", Some(&challenge)), "alice")
        .await;
    assert!(location.starts_with(REDIRECT_URI), "{location}");
    assert_eq!(param(&location, "state").as_deref(), Some("state-123"));
    assert_eq!(
        param(&location, "iss").as_deref(),
        Some(server.issuer.as_str())
    );
    let code = param(&location, "code").unwrap_or_else(|| panic!("no code: {location}"));

    // The code exchanged without its verifier is refused (and burnt).
    let (status, body) = token(
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );

    // A fresh sign-in; the code exchanged with client_secret_basic and the verifier.
    let location = server
        .sign_in(&auth_url(&server, "state-456", Some(&challenge)), "alice")
        .await;
    let code = param(&location, "code").unwrap_or_else(|| panic!("no code: {location}"));
    let (status, tokens) = token(
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 600);
    let access = tokens["access_token"]
        .as_str()
        .expect("a token string")
        .to_owned();
    let first_refresh = tokens["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_owned();
    assert!(
        !access.contains('.'),
        "access token should be opaque: {access}"
    );
    assert!(tokens["id_token"].is_string());

    // Userinfo with the opaque access token.
    let me: serde_json::Value = crate::http_client()
        .get(server.userinfo_url())
        .bearer_auth(&access)
        .send()
        .await
        .expect("the request to succeed")
        .error_for_status()
        .expect("a successful response")
        .json()
        .await
        .expect("a JSON body");
    assert_eq!(me["sub"], "alice");
    assert_eq!(me["email"], "alice@campus.test");
    assert_eq!(me["email_verified"], true);

    // Refresh rotates the refresh token...
    let (status, rotated) = refresh(&server, &first_refresh).await;
    assert_eq!(status, 200, "{rotated}");
    let second_refresh = rotated["refresh_token"]
        .as_str()
        .expect("rotated")
        .to_owned();
    assert_ne!(second_refresh, first_refresh);
    assert_ne!(
        rotated["access_token"].as_str().expect("a token string"),
        access
    );

    // ...reusing the old one is invalid_grant and revokes the whole grant.
    let (status, body) = refresh(&server, &first_refresh).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let (status, body) = refresh(&server, &second_refresh).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    let status = crate::http_client()
        .get(server.userinfo_url())
        .bearer_auth(rotated["access_token"].as_str().expect("a token string"))
        .send()
        .await
        .expect("the request to succeed")
        .status();
    assert_eq!(status, 401);

    // client_secret_post works too.
    let fresh = sign_in_and_exchange(&server, "bob").await;
    let (status, body) = {
        let res = crate::http_client()
            .post(server.token_url())
            .form(&[
                ("grant_type", "refresh_token"),
                (
                    "refresh_token",
                    fresh["refresh_token"].as_str().expect("a token string"),
                ),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
            ])
            .send()
            .await
            .expect("the request to succeed");
        (
            res.status().as_u16(),
            res.json::<serde_json::Value>().await.expect("a JSON body"),
        )
    };
    assert_eq!(status, 200, "{body}");

    // Without PKCE the authorization request itself is refused.
    let location = server
        .sign_in(&auth_url(&server, "no-pkce", None), "alice")
        .await;
    assert_eq!(
        param(&location, "error").as_deref(),
        Some("invalid_request"),
        "{location}"
    );
    assert_eq!(param(&location, "state").as_deref(), Some("no-pkce"));

    // The user cancels on the consent page.
    let location = server
        .sign_in_and_cancel(&auth_url(&server, "cancel", Some(&challenge)), "alice")
        .await;
    assert!(location.starts_with(REDIRECT_URI), "{location}");
    assert_eq!(
        param(&location, "error").as_deref(),
        Some("access_denied"),
        "{location}"
    );
    assert_eq!(param(&location, "state").as_deref(), Some("cancel"));

    let stats = server.stats().await;
    assert_eq!(stats["token_requests"], 7, "{stats}");
    assert_eq!(stats["grant_types"]["authorization_code"], 3, "{stats}");
    assert_eq!(stats["grant_types"]["refresh_token"], 4, "{stats}");
    assert_eq!(stats["token_errors"]["invalid_grant"], 3, "{stats}");
    assert_eq!(stats["userinfo_requests"], 2, "{stats}");
    assert_eq!(stats["revocations"], 0, "{stats}");
}

#[tokio::test]
async fn oauth_server_test_controls_fail_delay_revoke() {
    let Some(server) = server().await else { return };
    let tokens = sign_in_and_exchange(&server, "carol").await;
    let refresh_token = tokens["refresh_token"]
        .as_str()
        .expect("a token string")
        .to_owned();

    // Injected failures: 503 then 429 with Retry-After, then the real thing.
    server.fail_token_requests(503, 1, None).await;
    let (status, body) = refresh(&server, &refresh_token).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("temporarily_unavailable"))
    );
    server.fail_token_requests(429, 1, Some(5)).await;
    let res = crate::http_client()
        .post(server.token_url())
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh_token),
        ])
        .send()
        .await
        .expect("the request to succeed");
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["retry-after"], "5");
    assert_eq!(
        res.json::<serde_json::Value>().await.expect("a JSON body")["error"],
        "slow_down"
    );

    // Delay.
    server.delay_token_requests(300).await;
    let started = Instant::now();
    let (status, rotated) = refresh(&server, &refresh_token).await;
    assert_eq!(status, 200, "{rotated}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    server.delay_token_requests(0).await;

    // RFC 7009 revocation of an access token.
    let res = crate::http_client()
        .post(server.revocation_url())
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[(
            "token",
            rotated["access_token"].as_str().expect("a token string"),
        )])
        .send()
        .await
        .expect("the request to succeed");
    assert_eq!(res.status(), 200);

    // Revoke everything: the current refresh token dies.
    server.revoke_all().await;
    let (status, body) = refresh(
        &server,
        rotated["refresh_token"].as_str().expect("a token string"),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );

    let stats = server.stats().await;
    assert_eq!(stats["token_requests"], 5, "{stats}");
    assert_eq!(stats["injected_failures"], 2, "{stats}");
    assert_eq!(stats["grant_types"]["refresh_token"], 4, "{stats}");
    assert_eq!(stats["token_errors"]["invalid_grant"], 1, "{stats}");
    assert_eq!(stats["revocations"], 1, "{stats}");
}
