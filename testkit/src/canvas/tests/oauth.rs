//! Canvas's OAuth: the code exchange with PKCE, refresh without rotation, expiry, logout.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use super::*;

const CLIENT: &str = "10000000000042";
const SECRET: &str = "developer-key-secret";
const REDIRECT: &str = "http://app.campus.example/oauth/canvas/callback";

/// `GET /login/oauth2/auth` as a browser would; returns the `Location` of the 302.
async fn authorize(canvas: &FakeCanvas, extra: &[(&str, &str)]) -> (StatusCode, Option<url::Url>) {
    let mut params = vec![
        ("client_id", CLIENT),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("state", "xyz"),
    ];
    params.extend_from_slice(extra);
    let response = client()
        .get(format!("{}/login/oauth2/auth", canvas.base_url()))
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

async fn token(canvas: &FakeCanvas, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let response = client()
        .post(format!("{}/login/oauth2/token", canvas.base_url()))
        .form(form)
        .send()
        .await
        .expect("answers");
    (response.status(), json_of(response).await)
}

async fn exchange(canvas: &FakeCanvas, code: &str, verifier: Option<&str>) -> (StatusCode, Value) {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("client_id", CLIENT),
        ("client_secret", SECRET),
        ("redirect_uri", REDIRECT),
        ("code", code),
    ];
    if let Some(verifier) = verifier {
        form.push(("code_verifier", verifier));
    }
    token(canvas, &form).await
}

async fn refresh(canvas: &FakeCanvas, refresh_token: &str) -> (StatusCode, Value) {
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", CLIENT),
        ("client_secret", SECRET),
        ("refresh_token", refresh_token),
    ];
    token(canvas, &form).await
}

async fn status_with(canvas: &FakeCanvas, token: &str) -> StatusCode {
    get(canvas, "/api/v1/users/self", Some(token))
        .await
        .status()
}

async fn signed_in_campus() -> Campus {
    let c = campus().await;
    c.canvas
        .add_developer_key(CLIENT, SECRET, "https://app.campus.example/");
    c.canvas.sign_in_as(c.ada);
    c
}

#[tokio::test]
async fn code_exchange_with_pkce_issues_canvas_tokens() {
    let c = signed_in_campus().await;
    let verifier = "a-verifier-that-is-long-enough-for-rfc-7636-0123456789";
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let pkce = [
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let (status, location) = authorize(&c.canvas, &pkce).await;
    assert_eq!(status, StatusCode::FOUND);
    let location = location.expect("a redirect");
    assert!(location.as_str().starts_with(REDIRECT));
    assert_eq!(param(&location, "state").as_deref(), Some("xyz"));
    let code = param(&location, "code").expect("a code");

    let (status, body) = exchange(&c.canvas, &code, Some("the-wrong-verifier")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    // The code was used up by the failed attempt.
    let (status, _) = exchange(&c.canvas, &code, Some(verifier)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (_, location) = authorize(&c.canvas, &pkce).await;
    let code = param(&location.expect("redirect"), "code").expect("code");
    let (status, body) = exchange(&c.canvas, &code, Some(verifier)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["user"]["id"], c.ada);
    assert_eq!(body["user"]["name"], "Ada Lovelace");
    assert_eq!(body["canvas_region"], "none");
    let access = body["access_token"].as_str().expect("access token");
    assert!(body["refresh_token"].is_string());
    assert_eq!(status_with(&c.canvas, access).await, StatusCode::OK);
    let (status, body) = exchange(&c.canvas, &code, Some(verifier)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error_description"], "authorization_code not found");
    assert_eq!(c.canvas.token_requests(), vec!["authorization_code"; 4]);
}

#[tokio::test]
async fn the_authorize_endpoint_refuses_unknown_clients_and_foreign_redirects() {
    let c = signed_in_campus().await;
    let response = client()
        .get(format!("{}/login/oauth2/auth", c.canvas.base_url()))
        .query(&[
            ("client_id", "nope"),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json_of(response).await["error"], "invalid_client");
    let response = client()
        .get(format!("{}/login/oauth2/auth", c.canvas.base_url()))
        .query(&[
            ("client_id", CLIENT),
            ("response_type", "code"),
            ("redirect_uri", "https://evil.example/cb"),
        ])
        .send()
        .await
        .expect("answers");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        json_of(response).await["error_description"],
        "redirect_uri does not match client settings"
    );
    let wrong_secret = [
        ("grant_type", "authorization_code"),
        ("client_id", CLIENT),
        ("client_secret", "wrong"),
        ("code", "whatever"),
    ];
    let (status, body) = token(&c.canvas, &wrong_secret).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
}

#[tokio::test]
async fn refresh_returns_no_refresh_token_and_the_old_one_keeps_working() {
    let c = signed_in_campus().await;
    let (_, location) = authorize(&c.canvas, &[]).await;
    let code = param(&location.expect("redirect"), "code").expect("code");
    let (_, body) = exchange(&c.canvas, &code, None).await;
    let first = body["access_token"].as_str().expect("access").to_owned();
    let refresh_token = body["refresh_token"].as_str().expect("refresh").to_owned();

    let (status, body) = refresh(&c.canvas, &refresh_token).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.get("refresh_token").is_none(), "{body}");
    let second = body["access_token"].as_str().expect("access").to_owned();
    assert_ne!(first, second);
    assert_eq!(status_with(&c.canvas, &second).await, StatusCode::OK);
    // The record got a new access token: the previous one is gone.
    assert_eq!(
        status_with(&c.canvas, &first).await,
        StatusCode::UNAUTHORIZED
    );

    let (status, body) = refresh(&c.canvas, &refresh_token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        status_with(&c.canvas, body["access_token"].as_str().expect("access")).await,
        StatusCode::OK
    );

    let (status, body) = refresh(&c.canvas, "7~unknown").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error_description"], "refresh_token not found");
    assert_eq!(
        c.canvas.token_requests(),
        vec![
            "authorization_code",
            "refresh_token",
            "refresh_token",
            "refresh_token"
        ]
    );
}

#[tokio::test]
async fn access_tokens_expire_by_the_fake_clock_and_refresh_still_works() {
    let c = signed_in_campus().await;
    let (access, refresh_token) = c.canvas.issue_tokens(c.ada);
    assert_eq!(status_with(&c.canvas, &access).await, StatusCode::OK);
    c.canvas.advance_clock(std::time::Duration::from_secs(3601));
    let response = get(&c.canvas, "/api/v1/users/self", Some(&access)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(header(&response, "www-authenticate").is_some());
    assert_eq!(
        json_of(response).await["errors"][0]["message"],
        "Expired access token."
    );

    let (_, body) = refresh(&c.canvas, &refresh_token).await;
    let fresh = body["access_token"].as_str().expect("access").to_owned();
    assert_eq!(status_with(&c.canvas, &fresh).await, StatusCode::OK);
    c.canvas.expire_access_tokens();
    assert_eq!(
        status_with(&c.canvas, &fresh).await,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = refresh(&c.canvas, &refresh_token).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn delete_token_revokes_the_access_and_the_refresh_token() {
    let c = signed_in_campus().await;
    let (access, refresh_token) = c.canvas.issue_tokens(c.ada);
    let delete = |token: String| {
        let url = format!("{}/login/oauth2/token", c.canvas.base_url());
        async move {
            client()
                .delete(url)
                .bearer_auth(token)
                .send()
                .await
                .expect("answers")
        }
    };
    let response = delete(access.clone()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json_of(response).await, serde_json::json!({}));
    assert!(c.canvas.is_revoked(&access) && c.canvas.is_revoked(&refresh_token));
    assert_eq!(
        status_with(&c.canvas, &access).await,
        StatusCode::UNAUTHORIZED
    );
    let (status, body) = refresh(&c.canvas, &refresh_token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error_description"], "refresh_token not found");

    let response = delete(access).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(header(&response, "www-authenticate").is_some());
}
