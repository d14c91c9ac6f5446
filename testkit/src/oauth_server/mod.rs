//! A real OAuth 2.0 / OpenID Connect server for end-to-end tests: npm `oidc-provider`, run by
//! `tests/support/oauth-server/server.mjs` on a random loopback port, one per test.
//!
//! `OAuthServer::start` installs the node packages on first use (`npm ci` from the committed
//! package-lock.json), spawns the server, reads its discovery document, and kills the child
//! on drop. `sign_in` / `sign_in_and_cancel` drive the provider's own login and consent pages
//! like a person would. The test-control endpoints (`/__stats`, `/__token-failures`,
//! `/__token-delay`, `/__revoke-all`) are described in the server's README.md.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use url::Url;

use crate::node_packages::{ensure_installed, installed, tool_available};
use campuscore_test_peers::{Peer, unavailable};

mod html;
#[cfg(test)]
mod tests;

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

/// `tests/support/oauth-server` of the workspace (this crate's manifest sits one level down).
fn server_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/support/oauth-server")
}

/// A started server: the child, its stdin (the server exits when it closes), the rest of its
/// stdout, what it writes to stderr, and its issuer URL.
type Started = (
    Child,
    ChildStdin,
    Lines<BufReader<ChildStdout>>,
    Arc<Mutex<String>>,
    String,
);

/// Spawns `server.mjs` and waits up to `wait` for its `listening <issuer>` line; on failure the
/// child is killed and the error says what it printed and what state it was in.
async fn spawn(config: &serde_json::Value, wait: Duration) -> Result<Started, String> {
    let mut child = Command::new("node")
        .arg("server.mjs")
        .current_dir(server_dir())
        .env("OAUTH_SERVER_CONFIG", config.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot spawn node: {e}"))?;
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
    let first = tokio::time::timeout(wait, lines.next_line()).await;
    if let Ok(Ok(Some(line))) = &first
        && let Some(issuer) = line.strip_prefix("listening ")
    {
        let issuer = issuer.trim().to_owned();
        return Ok((child, stdin, lines, stderr, issuer));
    }
    let state = process_state(child.id());
    let _ = child.kill().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    Err(format!(
        "no `listening` line within {} s (first stdout line: {first:?}; the process: {state}); \
         stderr:\n{}",
        wait.as_secs(),
        stderr.lock().unwrap_or_else(|e| e.into_inner())
    ))
}

/// What `/proc` says of a process: its state, the CPU it has used, where it waits.
fn process_state(pid: Option<u32>) -> String {
    let Some(pid) = pid else {
        return "exited".into();
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // After the command's closing parenthesis: the state, then (11 and 12 fields on) the
    // user and system CPU time in clock ticks.
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .map_or(Vec::new(), |(_, rest)| rest.split(' ').collect());
    let field = |i: usize| fields.get(i).copied().unwrap_or("?");
    let wchan = std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
    format!(
        "pid {pid}, state {}, CPU {} user + {} system ticks, waiting in {wchan:?}",
        field(0),
        field(11),
        field(12)
    )
}

impl OAuthServer {
    /// Starts a server, installing the node packages first if needed. Returns None when
    /// node/npm are missing and the run may skip them (see `campuscore_test_peers`), and
    /// panics when it may not.
    pub async fn start(config: OAuthServerConfig) -> Option<OAuthServer> {
        let needs_npm = !installed(&server_dir(), "oidc-provider");
        let missing: Vec<&str> = [("node", true), ("npm", needs_npm)]
            .into_iter()
            .filter(|(tool, needed)| *needed && !tool_available(tool))
            .map(|(tool, _)| tool)
            .collect();
        if !missing.is_empty() {
            unavailable(
                Peer::Node,
                "the OAuth end-to-end tests (npm oidc-provider)",
                &format!("{} not found on PATH", missing.join(" and ")),
            );
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
        // Node loads oidc-provider in a few hundred milliseconds on an idle machine; on a
        // 2-core CI box busy compiling and running parallel tests it once took over 30 s. Twice
        // in CI a server printed nothing for 120 s, once beside a release build and once on a
        // quiet machine: a server that has not started in time is killed and started again,
        // once, and what the kernel said of it is kept for the panic if the second fails too.
        let mut failures = Vec::new();
        let mut started = None;
        for wait in [Duration::from_secs(90), Duration::from_secs(120)] {
            match spawn(&server_config, wait).await {
                Ok(server) => {
                    started = Some(server);
                    break;
                }
                Err(why) => {
                    eprintln!("oauth-server: {why}");
                    failures.push(why);
                }
            }
        }
        let Some((child, stdin, mut lines, stderr, issuer)) = started else {
            panic!("oauth-server did not start:\n{}", failures.join("\n"));
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

        // No idle connections: Node closes a kept-alive socket after 5 s, and a request sent
        // on it just then fails with `IncompleteMessage` (seen on a loaded CI machine).
        let http = crate::http_client_builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(0)
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

    async fn control_json(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        self.http
            .post(format!("{}{path}", self.issuer))
            .json(&body)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .unwrap_or_else(|e| panic!("oauth-server: {path} failed: {e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("oauth-server: {path} answered no JSON: {e}"))
    }

    /// Registers one client in place of the configured ones (for an app whose address is
    /// known only after the server started), with where it may send browsers after logout
    /// and where the provider posts back-channel logout tokens (then ID tokens carry `sid`).
    pub async fn set_client(
        &self,
        client_id: &str,
        client_secret: &str,
        redirect_uri: &str,
        post_logout_redirect_uri: &str,
        backchannel_logout_uri: &str,
    ) {
        let body = serde_json::json!({"clients": [{
            "client_id": client_id,
            "client_secret": client_secret,
            "redirect_uris": [redirect_uri],
            "post_logout_redirect_uris": [post_logout_redirect_uri],
            "backchannel_logout_uri": backchannel_logout_uri,
        }]});
        self.control("/__clients", body).await;
    }

    /// Claims added to (or replacing) what `login` gets, e.g. `{"groups": ["staff"]}`.
    pub async fn set_account_claims(&self, login: &str, claims: serde_json::Value) {
        let body = serde_json::json!({"login": login, "claims": claims});
        self.control("/__accounts", body).await;
    }

    /// A new signing key signs from now on (the old ones stay published); returns its `kid`.
    pub async fn rotate_keys(&self) -> String {
        self.control_json("/__rotate-keys", serde_json::json!({}))
            .await["kid"]
            .as_str()
            .expect("oauth-server: /__rotate-keys gave no kid")
            .to_owned()
    }

    /// The next token response carries a spoiled ID token: `expired`, `wrong_audience`,
    /// `foreign_azp`, `nonce`, `forged` (signed by another key), `alg_none`, or `replay`
    /// (the ID token of the previous sign-in).
    pub async fn tamper_next_id_token(&self, mode: &str) {
        self.control("/__tamper-id-token", serde_json::json!({ "mode": mode }))
            .await;
    }

    /// A back-channel logout token signed with the provider's current key. `body`:
    /// `{"claims": {..}}` (added; `null` removes one), `"header"`, `"aud"`, `"forged": true`.
    pub async fn logout_token(&self, body: serde_json::Value) -> String {
        self.control_json("/__logout-token", body).await["logout_token"]
            .as_str()
            .expect("oauth-server: /__logout-token gave no token")
            .to_owned()
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
        let browser = crate::http_client_builder()
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
