//! A real OAuth 2.0 / OpenID Connect server for end-to-end tests: npm `oidc-provider`, run by
//! `tests/support/oauth-server/server.mjs` on a random loopback port, one per test.
//!
//! `OAuthServer::start` installs the node packages on first use (`npm ci` from the committed
//! package-lock.json), spawns the server, reads its discovery document, and kills the child
//! on drop. `sign_in` / `sign_in_and_cancel` drive the provider's own login and consent pages
//! like a person would. The test-control endpoints (`/__stats`, `/__token-failures`,
//! `/__token-delay`, `/__revoke-all`) are described in the server's README.md.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use sha2::Digest as _;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use url::Url;

use crate::node_packages::{ci, ensure_installed, installed, tool_available};

pub struct OAuthServerConfig {
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: String,
    pub access_token_ttl: u64,
}

pub struct OAuthServer {
    pub issuer: String,
    pub discovery: serde_json::Value,
    authorize_url: String,
    token_url: String,
    revocation_url: String,
    userinfo_url: String,
    http: reqwest::Client,
    stderr: Arc<Mutex<String>>,
    // Keeping stdin open keeps the server alive; it exits when this closes.
    _stdin: ChildStdin,
    _child: Child,
}

fn server_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/oauth-server")
}

impl OAuthServer {
    /// Starts a server, installing the node packages first if needed. Returns None (after a
    /// notice on stderr) when node/npm are missing and CI is not "true"; panics under CI=true.
    pub async fn start(config: OAuthServerConfig) -> Option<OAuthServer> {
        let needs_npm = !installed(&server_dir(), "oidc-provider");
        let missing: Vec<&str> = [("node", true), ("npm", needs_npm)]
            .into_iter()
            .filter(|(tool, needed)| *needed && !tool_available(tool))
            .map(|(tool, _)| tool)
            .collect();
        if !missing.is_empty() {
            let msg = format!(
                "oauth-server: {} not found on PATH; the OAuth end-to-end tests need Node.js 20+ and npm",
                missing.join(" and ")
            );
            if ci() {
                panic!("{msg} (CI=true, so this is an error)");
            }
            eprintln!("{msg}; skipping this test");
            return None;
        }
        if let Err(e) = ensure_installed(&server_dir(), "oidc-provider") {
            panic!("oauth-server: installing node packages failed: {e}");
        }

        let server_config = serde_json::json!({
            "clients": [{
                "client_id": config.client_id,
                "client_secret": config.client_secret,
                "redirect_uris": [config.redirect_uri],
            }],
            "access_token_ttl": config.access_token_ttl,
            "refresh_token_ttl": 86400,
        });
        let mut child = Command::new("node")
            .arg("server.mjs")
            .current_dir(server_dir())
            .env("OAUTH_SERVER_CONFIG", server_config.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("oauth-server: cannot spawn node");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr_pipe = child.stderr.take().expect("piped stderr");

        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr_pipe.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });

        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await;
        let issuer = match first {
            Ok(Ok(Some(line))) if line.starts_with("listening ") => {
                line.trim_start_matches("listening ").trim().to_owned()
            }
            other => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                panic!(
                    "oauth-server did not start (first stdout line: {other:?}); stderr:\n{}",
                    stderr.lock().unwrap_or_else(|e| e.into_inner())
                );
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("an HTTP client");
        let discovery: serde_json::Value = http
            .get(format!("{issuer}/.well-known/openid-configuration"))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("oauth-server: discovery request failed")
            .json()
            .await
            .expect("oauth-server: discovery is not JSON");
        let endpoint = |name: &str| {
            discovery[name]
                .as_str()
                .unwrap_or_else(|| panic!("oauth-server: discovery lacks {name}: {discovery}"))
                .to_owned()
        };
        Some(OAuthServer {
            authorize_url: endpoint("authorization_endpoint"),
            token_url: endpoint("token_endpoint"),
            revocation_url: endpoint("revocation_endpoint"),
            userinfo_url: endpoint("userinfo_endpoint"),
            discovery,
            issuer,
            http,
            stderr,
            _stdin: stdin,
            _child: child,
        })
    }

    pub fn authorize_url(&self) -> String {
        self.authorize_url.clone()
    }
    pub fn token_url(&self) -> String {
        self.token_url.clone()
    }
    pub fn revocation_url(&self) -> String {
        self.revocation_url.clone()
    }
    pub fn userinfo_url(&self) -> String {
        self.userinfo_url.clone()
    }

    /// What the server wrote to stderr so far (oidc-provider warnings, server errors).
    pub fn stderr_log(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// `{"token_requests", "grant_types": {..}, "revocations", "userinfo_requests",
    /// "token_errors": {..}, "injected_failures"}`.
    pub async fn stats(&self) -> serde_json::Value {
        self.http
            .get(format!("{}/__stats", self.issuer))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("oauth-server: /__stats failed")
            .json()
            .await
            .expect("oauth-server: /__stats is not JSON")
    }

    async fn control(&self, path: &str, body: serde_json::Value) {
        self.http
            .post(format!("{}{path}", self.issuer))
            .json(&body)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .unwrap_or_else(|e| panic!("oauth-server: {path} failed: {e}"));
    }

    /// The next `count` token requests get `status` (5xx: `temporarily_unavailable`; 429:
    /// `slow_down`), with `Retry-After` when given, without reaching the provider.
    pub async fn fail_token_requests(&self, status: u16, count: u32, retry_after: Option<u64>) {
        let body =
            serde_json::json!({"status": status, "count": count, "retry_after": retry_after});
        self.control("/__token-failures", body).await;
    }

    /// Delay every token request by `ms` before it is handled (0 turns it off).
    pub async fn delay_token_requests(&self, ms: u64) {
        self.control("/__token-delay", serde_json::json!({ "ms": ms }))
            .await;
    }

    /// Revoke every grant: all access and refresh tokens die.
    pub async fn revoke_all(&self) {
        self.control("/__revoke-all", serde_json::json!({})).await;
    }

    /// Signs in as `login` (any password) and consents; returns the redirect Location back
    /// to the client's redirect_uri (with `code` and `state`, or `error`).
    pub async fn sign_in(&self, auth_url: &str, login: &str) -> String {
        self.drive(auth_url, login, false).await
    }

    /// Signs in as `login`, then presses "[ Cancel ]" on the consent page (GET
    /// `/interaction/<uid>/abort`); returns the Location carrying `error=access_denied`.
    pub async fn sign_in_and_cancel(&self, auth_url: &str, login: &str) -> String {
        self.drive(auth_url, login, true).await
    }

    async fn drive(&self, auth_url: &str, login: &str, cancel: bool) -> String {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let browser = reqwest::Client::builder()
            .cookie_provider(jar)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("an HTTP client");
        let issuer = Url::parse(&self.issuer).expect("a URL");
        let start = Url::parse(auth_url).expect("sign_in: auth_url is not a URL");
        let redirect_uri = start
            .query_pairs()
            .find(|(k, _)| k == "redirect_uri")
            .map(|(_, v)| v.into_owned());
        let is_back_at_client = |u: &Url| match &redirect_uri {
            Some(r) => u.as_str().split(['?', '#']).next() == Some(r.as_str()),
            None => u.origin() != issuer.origin(),
        };

        let mut url = start;
        let mut form: Option<Vec<(String, String)>> = None;
        let mut trail = Vec::new();
        for _ in 0..20 {
            trail.push(format!(
                "{} {url}",
                if form.is_some() { "POST" } else { "GET" }
            ));
            let req = match form.take() {
                Some(fields) => browser.post(url.clone()).form(&fields),
                None => browser.get(url.clone()),
            };
            let res = req
                .send()
                .await
                .unwrap_or_else(|e| panic!("sign_in: request to {url} failed: {e}"));
            let status = res.status();
            if status.is_redirection() {
                let location = res
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_else(|| panic!("sign_in: {status} without Location from {url}"));
                let next = url.join(location).expect("sign_in: bad Location");
                if is_back_at_client(&next) {
                    return next.to_string();
                }
                url = next;
                continue;
            }
            let body = res.text().await.unwrap_or_default();
            if !status.is_success() {
                panic!("sign_in: {status} from {url} (after {trail:?}):\n{body}");
            }
            let forms = html::forms(&body);
            let Some(page) = forms.iter().find(|f| f.field("prompt").is_some()) else {
                panic!("sign_in: no interaction form at {url} (after {trail:?}):\n{body}");
            };
            let prompt = page.field("prompt").unwrap_or_default().to_owned();
            if cancel && prompt == "consent" {
                let abort = html::links(&body)
                    .into_iter()
                    .filter_map(|href| url.join(&href).ok())
                    .find(|u| u.path().ends_with("/abort"))
                    .unwrap_or_else(|| panic!("sign_in: no abort link at {url}:\n{body}"));
                url = abort;
                continue;
            }
            let mut fields = Vec::new();
            for input in &page.inputs {
                let Some(name) = input.name.clone() else {
                    continue;
                };
                let value = match input.kind.as_str() {
                    "password" => "any-password".to_owned(),
                    "hidden" => input.value.clone().unwrap_or_default(),
                    "checkbox" | "radio" if input.value.is_none() => continue,
                    _ if name == "login" || input.kind == "email" || input.kind == "text" => {
                        login.to_owned()
                    }
                    _ => input.value.clone().unwrap_or_default(),
                };
                fields.push((name, value));
            }
            let action = page.action.clone().unwrap_or_else(|| url.to_string());
            url = url.join(&action).expect("sign_in: bad form action");
            form = Some(fields);
        }
        panic!("sign_in: no redirect back to the client after 20 steps: {trail:?}");
    }
}

/// Just enough HTML reading for the provider's interaction pages: forms with their inputs,
/// and anchors' hrefs. Attribute values are entity-decoded.
mod html {
    pub struct Input {
        pub name: Option<String>,
        pub kind: String,
        pub value: Option<String>,
    }
    pub struct Form {
        pub action: Option<String>,
        pub inputs: Vec<Input>,
    }
    impl Form {
        pub fn field(&self, name: &str) -> Option<&str> {
            self.inputs
                .iter()
                .find(|i| i.name.as_deref() == Some(name))
                .map(|i| i.value.as_deref().unwrap_or(""))
        }
    }

    /// Every `<tag ...>` opening tag (case-insensitive) with its attributes, plus its offset.
    fn tags(html: &str, tag: &str) -> Vec<(usize, Vec<(String, String)>)> {
        let lower = html.to_ascii_lowercase();
        let needle = format!("<{tag}");
        let mut out = Vec::new();
        let mut from = 0;
        while let Some(i) = lower[from..].find(&needle) {
            let start = from + i;
            let after = start + needle.len();
            from = after;
            if !html[after..].starts_with(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/')
            {
                continue;
            }
            let (attrs, end) = attributes(html, after);
            out.push((start, attrs));
            from = end;
        }
        out
    }

    fn attributes(html: &str, mut i: usize) -> (Vec<(String, String)>, usize) {
        let b = html.as_bytes();
        let mut attrs = Vec::new();
        loop {
            while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
                i += 1;
            }
            if i >= b.len() || b[i] == b'>' {
                return (attrs, (i + 1).min(b.len()));
            }
            let name_start = i;
            while i < b.len() && !b[i].is_ascii_whitespace() && !b"=>/".contains(&b[i]) {
                i += 1;
            }
            let name = html[name_start..i].to_ascii_lowercase();
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            let mut value = String::new();
            if i < b.len() && b[i] == b'=' {
                i += 1;
                while i < b.len() && b[i].is_ascii_whitespace() {
                    i += 1;
                }
                if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
                    let q = b[i];
                    let s = i + 1;
                    i = s;
                    while i < b.len() && b[i] != q {
                        i += 1;
                    }
                    value = decode(&html[s..i]);
                    i = (i + 1).min(b.len());
                } else {
                    let s = i;
                    while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' {
                        i += 1;
                    }
                    value = decode(&html[s..i]);
                }
            }
            attrs.push((name, value));
        }
    }

    fn decode(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(i) = rest.find('&') {
            out.push_str(&rest[..i]);
            rest = &rest[i..];
            let Some(semi) = rest.find(';').filter(|&j| j <= 10) else {
                out.push('&');
                rest = &rest[1..];
                continue;
            };
            let entity = &rest[1..semi];
            let ch = match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ if entity.starts_with("#x") || entity.starts_with("#X") => {
                    u32::from_str_radix(&entity[2..], 16)
                        .ok()
                        .and_then(char::from_u32)
                }
                _ if entity.starts_with('#') => entity[1..].parse().ok().and_then(char::from_u32),
                _ => None,
            };
            match ch {
                Some(c) => {
                    out.push(c);
                    rest = &rest[semi + 1..];
                }
                None => {
                    out.push('&');
                    rest = &rest[1..];
                }
            }
        }
        out.push_str(rest);
        out
    }

    fn get(attrs: &[(String, String)], name: &str) -> Option<String> {
        attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }

    pub fn forms(html: &str) -> Vec<Form> {
        let lower = html.to_ascii_lowercase();
        let inputs = tags(html, "input");
        tags(html, "form")
            .into_iter()
            .map(|(start, attrs)| {
                let end = lower[start..]
                    .find("</form")
                    .map_or(html.len(), |e| start + e);
                Form {
                    action: get(&attrs, "action"),
                    inputs: inputs
                        .iter()
                        .filter(|(at, _)| *at > start && *at < end)
                        .map(|(_, a)| Input {
                            name: get(a, "name"),
                            kind: get(a, "type")
                                .unwrap_or_else(|| "text".into())
                                .to_ascii_lowercase(),
                            value: get(a, "value"),
                        })
                        .collect(),
                }
            })
            .collect()
    }

    pub fn links(html: &str) -> Vec<String> {
        tags(html, "a")
            .into_iter()
            .filter_map(|(_, attrs)| get(&attrs, "href"))
            .collect()
    }
}

// ---- self-tests: the peer behaves as the connection tests need ----------------------------

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
    let res = reqwest::Client::new()
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
    let me: serde_json::Value = reqwest::Client::new()
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
    let status = reqwest::Client::new()
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
        let res = reqwest::Client::new()
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
    let res = reqwest::Client::new()
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
    let res = reqwest::Client::new()
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
