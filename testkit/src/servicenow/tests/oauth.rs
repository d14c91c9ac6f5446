//! The instance's OAuth: authorization code with PKCE, refresh (same refresh token by
//! default, rotation when configured), the generic refusal, expiry, revocation.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest as _, Sha256};

use super::*;

const CLIENT: &str = "3f1c5a7e9b2d4c6e8a0b1c2d3e4f5a6b";
const SECRET: &str = "registry-secret";
const REDIRECT: &str = "http://app.campus.example/oauth/servicenow/callback";

/// `GET /oauth_auth.do`; the status and the `Location` of a 302.
async fn authorize(now: &FakeServiceNow, extra: &[(&str, &str)]) -> (StatusCode, Option<url::Url>) {
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", CLIENT),
        ("redirect_uri", REDIRECT),
        ("state", "xyz"),
    ];
    params.extend_from_slice(extra);
    let response = client()
        .get(format!("{}/oauth_auth.do", now.base_url()))
        .query(&params)
        .send()
        .await
        .expect("answers");
    let location = header(&response, "location").and_then(|l| url::Url::parse(&l).ok());
    (response.status(), location)
}

fn param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

async fn token(now: &FakeServiceNow, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let response = client()
        .post(format!("{}/oauth_token.do", now.base_url()))
        .form(form)
        .send()
        .await
        .expect("answers");
    (response.status(), json_of(response).await)
}

async fn refresh(now: &FakeServiceNow, refresh_token: &str) -> (StatusCode, Value) {
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", CLIENT),
        ("client_secret", SECRET),
        ("refresh_token", refresh_token),
    ];
    token(now, &form).await
}

async fn status_with(now: &FakeServiceNow, access: &str) -> StatusCode {
    get(now, "/api/now/table/sys_user", Some(access))
        .await
        .status()
}

async fn signed_in() -> (Campus, String) {
    let c = campus().await;
    c.now.add_oauth_client(CLIENT, SECRET, REDIRECT);
    c.now.sign_in_as(&c.ada);
    let ada = c.ada.clone();
    (c, ada)
}

fn denied() -> Value {
    serde_json::json!({"error_description": "access_denied", "error": "server_error"})
}

#[tokio::test]
async fn the_code_flow_with_pkce_gives_tokens_for_the_signed_in_user() {
    let (c, ada) = signed_in().await;
    let verifier = "a-long-random-verifier-of-at-least-43-characters-0123456789";
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let (status, location) = authorize(
        &c.now,
        &[
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::FOUND);
    let location = location.expect("a redirect");
    assert!(location.as_str().starts_with(REDIRECT));
    assert_eq!(param(&location, "state").as_deref(), Some("xyz"));
    let code = param(&location, "code").expect("a code");

    let exchange = |verifier: &'static str, code: String| {
        let now = &c.now;
        async move {
            let form = [
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT),
                ("client_id", CLIENT),
                ("client_secret", SECRET),
                ("code_verifier", verifier),
            ];
            token(now, &form).await
        }
    };
    // A wrong verifier fails, and the code is spent.
    assert_eq!(
        exchange("wrong", code.clone()).await,
        (StatusCode::UNAUTHORIZED, denied())
    );
    assert_eq!(exchange(verifier, code).await.0, StatusCode::UNAUTHORIZED);

    let (_, location) = authorize(
        &c.now,
        &[
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    let code = location.and_then(|l| param(&l, "code")).expect("a code");
    let (status, body) = exchange(verifier, code).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["scope"], "useraccount");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 1799);
    let access = body["access_token"].as_str().expect("access");
    assert!(
        body["refresh_token"]
            .as_str()
            .is_some_and(|r| !r.is_empty())
    );
    let me = json_of(
        get(
            &c.now,
            &format!("/api/now/table/sys_user/{ada}"),
            Some(access),
        )
        .await,
    )
    .await;
    assert_eq!(me["result"]["user_name"], "ada");
    assert_eq!(c.now.token_requests(), vec!["authorization_code"; 3]);
}

#[tokio::test]
async fn bad_clients_and_redirects_are_refused_on_the_instance() {
    let (c, _) = signed_in().await;
    for (name, value) in [
        ("client_id", "unknown"),
        ("redirect_uri", "http://evil.example/callback"),
    ] {
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", CLIENT),
            ("redirect_uri", REDIRECT),
        ];
        params.retain(|(n, _)| *n != name);
        params.push((name, value));
        let response = client()
            .get(format!("{}/oauth_auth.do", c.now.base_url()))
            .query(&params)
            .send()
            .await
            .expect("answers");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{name}");
        assert!(header(&response, "location").is_none());
        assert!(header(&response, "content-type").is_some_and(|t| t.starts_with("text/html")));
    }
    let (status, location) = authorize(
        &c.now,
        &[("code_challenge", "x"), ("code_challenge_method", "plain")],
    )
    .await;
    assert_eq!(status, StatusCode::FOUND);
    assert_eq!(
        location.and_then(|l| param(&l, "error")).as_deref(),
        Some("invalid_request")
    );
    // A wrong secret, also through HTTP Basic.
    let (_, refresh_token) = c.now.issue_tokens(&c.ada);
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", CLIENT),
        ("client_secret", "nope"),
        ("refresh_token", &refresh_token),
    ];
    assert_eq!(
        token(&c.now, &form).await,
        (StatusCode::UNAUTHORIZED, denied())
    );
    let basic = STANDARD.encode(format!("{CLIENT}:{SECRET}"));
    let response = client()
        .post(format!("{}/oauth_token.do", c.now.base_url()))
        .header("Authorization", format!("Basic {basic}"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh_token),
        ])
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_refresh_keeps_the_refresh_token_unless_rotation_is_configured() {
    let (c, ada) = signed_in().await;
    let (first_access, refresh_token) = c.now.issue_tokens(&ada);
    c.now.expire_access_tokens();
    assert_eq!(
        status_with(&c.now, &first_access).await,
        StatusCode::UNAUTHORIZED
    );
    let (status, body) = refresh(&c.now, &refresh_token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["refresh_token"], refresh_token.as_str());
    let second = body["access_token"].as_str().expect("access").to_owned();
    assert_ne!(second, first_access);
    assert_eq!(status_with(&c.now, &second).await, StatusCode::OK);
    // The same refresh token keeps working; earlier access tokens live out their lifespan.
    let (_, body) = refresh(&c.now, &refresh_token).await;
    let third = body["access_token"].as_str().expect("access").to_owned();
    assert_eq!(status_with(&c.now, &second).await, StatusCode::OK);

    c.now.set_refresh_token_rotation(true);
    let (_, body) = refresh(&c.now, &refresh_token).await;
    let rotated = body["refresh_token"].as_str().expect("refresh").to_owned();
    assert_ne!(rotated, refresh_token);
    assert!(c.now.is_revoked(&refresh_token));
    assert_eq!(
        refresh(&c.now, &refresh_token).await,
        (StatusCode::UNAUTHORIZED, denied())
    );
    assert_eq!(refresh(&c.now, &rotated).await.0, StatusCode::OK);
    assert_eq!(
        status_with(&c.now, &third).await,
        StatusCode::OK,
        "access tokens outlive a rotation"
    );
    assert_eq!(c.now.token_requests(), vec!["refresh_token"; 5]);
}

#[tokio::test]
async fn tokens_expire_by_the_clock_and_revocation_ends_a_grant() {
    let (c, ada) = signed_in().await;
    c.now
        .set_access_token_ttl(std::time::Duration::from_secs(60));
    let (access, refresh_token) = c.now.issue_tokens(&ada);
    assert_eq!(status_with(&c.now, &access).await, StatusCode::OK);
    c.now.advance_clock(std::time::Duration::from_secs(61));
    assert_eq!(status_with(&c.now, &access).await, StatusCode::UNAUTHORIZED);
    let (_, body) = refresh(&c.now, &refresh_token).await;
    assert_eq!(body["expires_in"], 59);
    let fresh = body["access_token"].as_str().expect("access").to_owned();

    // Revoking an access token ends only it; revoking the refresh token ends the grant.
    let (other_access, _) = c.now.issue_tokens(&ada);
    let response = client()
        .post(format!("{}/oauth_revoke_token.do", c.now.base_url()))
        .form(&[("token", other_access.as_str())])
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(c.now.is_revoked(&other_access));
    assert_eq!(
        status_with(&c.now, &other_access).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(status_with(&c.now, &fresh).await, StatusCode::OK);
    let url = format!(
        "{}/oauth_revoke_token.do?token={refresh_token}",
        c.now.base_url()
    );
    assert_eq!(
        client().get(url).send().await.expect("answers").status(),
        StatusCode::OK
    );
    assert!(c.now.is_revoked(&refresh_token));
    assert_eq!(status_with(&c.now, &fresh).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        refresh(&c.now, &refresh_token).await,
        (StatusCode::UNAUTHORIZED, denied())
    );
    // Refresh tokens live 100 days.
    let (_, long_lived) = c.now.issue_tokens(&ada);
    c.now
        .advance_clock(std::time::Duration::from_secs(99 * 86_400));
    assert_eq!(refresh(&c.now, &long_lived).await.0, StatusCode::OK);
    c.now
        .advance_clock(std::time::Duration::from_secs(2 * 86_400));
    assert_eq!(
        refresh(&c.now, &long_lived).await.0,
        StatusCode::UNAUTHORIZED
    );
}
