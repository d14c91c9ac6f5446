//! Two real `campuscore serve` processes on one database (a shared SQLite file, or
//! PostgreSQL with `CAMPUSCORE_TEST_DB=postgres`), set up with the CLI as an operator would,
//! connected to the real OAuth server through the JSON API, then hammered with actions on
//! a connection whose access token has expired: the provider must see exactly one refresh.

use crate::helpers::{create_pg_database, drop_pg_database, use_postgres};
use crate::oauth_flow::{CLIENT_ID, CLIENT_SECRET, SLUG, param, stat};
use crate::oauth_server::{OAuthServer, OAuthServerConfig};
use campuscore::services::secrets::Keyring;
use futures_util::future::join_all;
use serde_json::{Value, json};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One `campuscore` process and what it needs to be reached and stopped.
struct Server {
    child: std::process::Child,
    address: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The environment both processes share.
struct Shared {
    data_dir: tempfile::TempDir,
    database_url: String,
    fernet_keys: String,
    base_url: String,
}

impl Shared {
    fn command(&self, dir: &std::path::Path) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_campuscore"));
        cmd.env_remove("FERNET_KEY")
            .env("CAMPUSCORE_DATA_DIR", dir)
            .env("DATABASE_URL", &self.database_url)
            .env("FERNET_KEYS", &self.fernet_keys)
            .env("CAMPUSCORE_BASE_URL", &self.base_url)
            .env("RUST_LOG", "warn");
        cmd
    }

    fn cli(&self, args: &[&str]) -> String {
        let out = self
            .command(self.data_dir.path())
            .args(args)
            .output()
            .expect("run campuscore");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    async fn serve(&self, port: u16, name: &str) -> Server {
        let dir = self.data_dir.path().join(name);
        std::fs::create_dir_all(&dir).expect("instance dir");
        let child = self
            .command(&dir)
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start campuscore serve");
        let server = Server {
            child,
            address: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = reqwest::get(format!("{}/healthz", server.address)).await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return server;
            }
            assert!(Instant::now() < deadline, "{name} did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

async fn post_json(http: &reqwest::Client, url: &str, token: &str, body: Value) -> (u16, Value) {
    let res = http
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn two_serve_processes_on_one_database_refresh_an_expired_token_once() {
    campuscore::install_crypto_provider();
    let data_dir = tempfile::tempdir().expect("temp dir");
    let pg = if use_postgres() {
        Some(
            create_pg_database()
                .await
                .expect("PostgreSQL test database"),
        )
    } else {
        None
    };
    let database_url = match &pg {
        Some((_, url)) => url.clone(),
        None => format!("sqlite://{}/shared.db?mode=rwc", data_dir.path().display()),
    };
    let (port_a, port_b) = (free_port(), free_port());
    let shared = Shared {
        data_dir,
        database_url,
        fernet_keys: Keyring::generate_key(),
        // Both processes present the same public URL, as behind one load balancer.
        base_url: format!("http://127.0.0.1:{port_a}"),
    };
    let redirect_uri = format!("{}/api/connectors/{SLUG}/callback", shared.base_url);
    let Some(server) = OAuthServer::start(OAuthServerConfig {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        redirect_uri,
        access_token_ttl: 4,
    })
    .await
    else {
        return;
    };

    // The operator's set-up, through the CLI.
    shared.cli(&[
        "createuser",
        "--email",
        "ada@campus.test",
        "--password",
        "a long enough password",
    ]);
    for (key, value) in [
        ("CLIENT_ID", CLIENT_ID.to_owned()),
        ("AUTH_URL", server.authorize_url()),
        ("TOKEN_URL", server.token_url()),
        ("REVOKE_URL", server.revocation_url()),
        ("API_BASE_URL", server.issuer.clone()),
    ] {
        shared.cli(&["config", "set", SLUG, key, &value]);
    }
    shared.cli(&[
        "config",
        "set",
        SLUG,
        "CLIENT_SECRET",
        CLIENT_SECRET,
        "--secret",
    ]);
    let token = shared
        .cli(&["token", "create", "--email", "ada@campus.test"])
        .lines()
        .last()
        .expect("the token on the last line")
        .trim()
        .to_owned();

    let a = shared.serve(port_a, "a").await;
    let b = shared.serve(port_b, "b").await;
    let http = reqwest::Client::new();

    // Connect through the JSON API of process A.
    let auth = format!("{}/api/v1/connectors/{SLUG}/auth", a.address);
    let (status, started) = post_json(&http, &auth, &token, json!({})).await;
    assert_eq!(status, 200, "{started}");
    let auth_url = started["auth_url"].as_str().expect("auth_url");
    let back = server.sign_in(auth_url, "alice").await;
    let code = param(&back, "code").expect("code in the redirect");
    let state = param(&back, "state").expect("state in the redirect");
    let (status, done) =
        post_json(&http, &auth, &token, json!({"state": state, "code": code})).await;
    assert_eq!(status, 201, "{done}");
    let id = done["credential_id"].as_i64().expect("credential id");

    // Let the access token expire, slow the token endpoint so every caller overlaps the
    // refresh, then call through both processes at once.
    tokio::time::sleep(Duration::from_secs(5)).await;
    server.delay_token_requests(300).await;
    let calls = (0..60).map(|i| {
        let base = if i % 2 == 0 { &a.address } else { &b.address };
        let url = format!("{base}/api/v1/connections/{id}/actions/whoami");
        let (http, token) = (http.clone(), token.clone());
        async move { post_json(&http, &url, &token, json!({})).await }
    });
    let results = join_all(calls).await;
    for (status, body) in &results {
        assert_eq!(*status, 200, "{body}");
        assert_eq!(body["result"]["email"], "alice@campus.test");
    }
    let stats = server.stats().await;
    assert_eq!(
        stat(&stats, &["grant_types", "refresh_token"]),
        1,
        "{stats}"
    );
    assert_eq!(
        stat(&stats, &["grant_types", "authorization_code"]),
        1,
        "{stats}"
    );

    drop((a, b));
    if let Some((name, _)) = pg {
        drop_pg_database(&name);
    }
}
