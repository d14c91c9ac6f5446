//! The `campuscore-fakes` set-up, in process: the OAuth servers approve, check PKCE and the
//! client, and the fakes let in exactly the tokens they issued.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use url::Url;

use crate::fakes::{Fakes, Options};

const REDIRECT_URI: &str = "http://127.0.0.1:8000/api/connectors/google-drive/callback";

fn client() -> reqwest::Client {
    crate::http_client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// A PKCE pair: (verifier, S256 challenge).
fn pkce(seed: &str) -> (String, String) {
    let verifier = format!("verifier-{seed}-0123456789-abcdefghijklmnopqrstuvwxyz");
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// `GET /authorize` as the app's OAuth client sends it; the `Location` it answers with.
async fn authorize(oauth: &super::AutoOAuth, client_id: &str, challenge: &str) -> (u16, String) {
    let response = client()
        .get(oauth.authorize_url())
        .query(&[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT_URI),
            (
                "scope",
                "openid email https://www.googleapis.com/auth/drive.readonly",
            ),
            ("state", "st-42"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
            ("access_type", "offline"),
        ])
        .send()
        .await
        .expect("authorize answers");
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (response.status().as_u16(), location)
}

fn param(location: &str, name: &str) -> Option<String> {
    Url::parse(location)
        .expect("a URL")
        .query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// `POST /token` with client_secret_basic (as the app's `oauth2` client sends it).
async fn token(oauth: &super::AutoOAuth, secret: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let response = client()
        .post(oauth.token_url())
        .basic_auth("campuscore-fakes", Some(secret))
        .form(form)
        .send()
        .await
        .expect("token answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn list_root(fakes: &Fakes, access_token: &str) -> (u16, Value) {
    let response = client()
        .get(format!("{}/drive/v3/files", fakes.drive.base_url()))
        .query(&[("q", "'root' in parents and trashed = false")])
        .bearer_auth(access_token)
        .send()
        .await
        .expect("the fake Drive answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn authorize_then_token_with_pkce_gives_a_token_the_fake_drive_accepts() {
    let fakes = Fakes::start(&Options::default()).expect("the fakes start");
    let google = &fakes.google;

    let (verifier, challenge) = pkce("a");
    let (status, location) = authorize(google, "campuscore-fakes", &challenge).await;
    assert_eq!(status, 302, "{location}");
    assert!(location.starts_with(REDIRECT_URI), "{location}");
    assert_eq!(param(&location, "state").as_deref(), Some("st-42"));
    let code = param(&location, "code").expect("a code");

    let exchange = |code: String, verifier: String| async move {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier.as_str()),
        ];
        token(google, "fake-client-secret", &form).await
    };
    let (status, body) = exchange(code.clone(), "not-the-verifier".repeat(4)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // The failed attempt used the code up.
    let (status, _) = exchange(code, verifier.clone()).await;
    assert_eq!(status, 400);

    let (_, location) = authorize(google, "campuscore-fakes", &challenge).await;
    let code = param(&location, "code").expect("a code");
    let (status, body) = exchange(code, verifier).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    let access = body["access_token"].as_str().expect("an access token");
    let refresh = body["refresh_token"].as_str().expect("a refresh token");

    let (status, listing) = list_root(&fakes, access).await;
    assert_eq!(status, 200, "{listing}");
    let names: Vec<&str> = listing["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert!(names.contains(&"Reading list.pdf"), "{names:?}");
    assert!(names.contains(&"BIO 101 — Cell Biology"), "{names:?}");
    let (status, _) = list_root(&fakes, "a-token-nobody-issued").await;
    assert_eq!(status, 401, "only issued tokens are let in");

    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
    let (status, body) = token(google, "fake-client-secret", &form).await;
    assert_eq!(status, 200, "{body}");
    let renewed = body["access_token"].as_str().expect("a new access token");
    assert_ne!(renewed, access);
    assert_eq!(list_root(&fakes, renewed).await.0, 200);

    let revoked = client()
        .post(google.revoke_url())
        .form(&[("token", renewed)])
        .send()
        .await
        .expect("revoke answers");
    assert_eq!(revoked.status(), 200);
    assert_eq!(list_root(&fakes, renewed).await.0, 401);
}

#[tokio::test]
async fn a_wrong_client_is_refused_and_each_providers_sign_in_opens_its_fake() {
    let fakes = Fakes::start(&Options::default()).expect("the fakes start");
    let microsoft = &fakes.microsoft;
    let (verifier, challenge) = pkce("b");

    // An unknown client is told so on the page, not redirected.
    let (status, location) = authorize(microsoft, "someone-else", &challenge).await;
    assert_eq!((status, location.as_str()), (400, ""));

    let (_, location) = authorize(microsoft, "campuscore-fakes", &challenge).await;
    let code = param(&location, "code").expect("a code");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", verifier.as_str()),
    ];
    let (status, body) = token(microsoft, "a-wrong-secret", &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );

    // client_secret_post works too.
    let (_, location) = authorize(microsoft, "campuscore-fakes", &challenge).await;
    let code = param(&location, "code").expect("a code");
    let response = client()
        .post(microsoft.token_url())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier.as_str()),
            ("client_id", "campuscore-fakes"),
            ("client_secret", "fake-client-secret"),
        ])
        .send()
        .await
        .expect("token answers");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    let access = body["access_token"].as_str().expect("an access token");
    let me = client()
        .get(format!("{}/v1.0/me", fakes.graph.base_url()))
        .bearer_auth(access)
        .send()
        .await
        .expect("the fake Graph answers");
    assert_eq!(me.status(), 200);
    let me: Value = me.json().await.expect("JSON");
    assert_eq!(me["mail"], "dana@campus.example");

    let commands = fakes.config_commands();
    assert!(
        commands.contains(&format!(
            "campuscore config set onedrive API_BASE_URL {}\n",
            fakes.graph.base_url()
        )),
        "{commands}"
    );
    assert!(commands.contains(
        "campuscore config set google-drive CLIENT_SECRET fake-client-secret --secret\n"
    ));
    assert!(
        commands.contains(&format!(
            "campuscore config set canvas API_BASE_URL {}\n",
            fakes.canvas.base_url()
        )),
        "{commands}"
    );

    // Canvas signs Dana in on its own instance, for the app's callback only, and she sees
    // her two courses, not the third.
    let redirect = "http://127.0.0.1:8000/api/connectors/canvas/callback";
    let authorize = client()
        .get(format!(
            "{}/login/oauth2/auth?client_id=campuscore-fakes&response_type=code&state=s&redirect_uri={redirect}",
            fakes.canvas.base_url()
        ))
        .send()
        .await
        .expect("the fake Canvas answers");
    assert_eq!(authorize.status(), 302);
    let back = authorize.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    assert!(back.starts_with(redirect), "{back}");
    let code = url::Url::parse(&back)
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("a code");
    let token: Value = client()
        .post(format!("{}/login/oauth2/token", fakes.canvas.base_url()))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", "campuscore-fakes"),
            ("client_secret", "fake-client-secret"),
            ("redirect_uri", redirect),
            ("code", code.as_str()),
        ])
        .send()
        .await
        .expect("token answers")
        .json()
        .await
        .expect("JSON");
    let courses: Value = client()
        .get(format!("{}/api/v1/courses", fakes.canvas.base_url()))
        .bearer_auth(token["access_token"].as_str().expect("an access token"))
        .send()
        .await
        .expect("the fake Canvas answers")
        .json()
        .await
        .expect("JSON");
    let names: Vec<&str> = courses
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["BIO 101 — Cell Biology", "CHEM 110 — General Chemistry"]
    );
}
