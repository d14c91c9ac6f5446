//! Real `campuscore serve` OS processes for tests that need one: killing the server in the
//! middle of work, two processes on one database, or reading a server's peak memory.
//! A `Deployment` is the environment they share (data directory, database — a SQLite file,
//! or PostgreSQL with `CAMPUSCORE_TEST_DB=postgres` — and Fernet keys), set up with the CLI
//! as an operator would. The process itself is `campuscore_testkit::process::Server`.

use campuscore::services::secrets::Keyring;
use campuscore_testkit::postgres::{create_pg_database, drop_pg_database, use_postgres};
use campuscore_testkit::process::{Server, free_port};
use sea_orm::DatabaseConnection;
use std::process::{Command, Stdio};
use std::sync::Arc;

/// The environment every process of one deployment shares.
pub struct Deployment {
    data_dir: tempfile::TempDir,
    pub database_url: String,
    pub fernet_keys: String,
    /// The public URL all processes present (as behind one load balancer).
    pub base_url: String,
    pub port: u16,
    /// More environment every process of the deployment gets (`CAMPUSCORE_…`).
    pub env: Vec<(String, String)>,
    pg_database: Option<String>,
}

impl Drop for Deployment {
    fn drop(&mut self) {
        if let Some(name) = &self.pg_database {
            drop_pg_database(name);
        }
    }
}

impl Deployment {
    pub async fn new() -> Self {
        campuscore::install_crypto_provider();
        let data_dir = tempfile::tempdir().expect("temp dir");
        let (pg_database, database_url) = if use_postgres() {
            let (name, url) = create_pg_database()
                .await
                .expect("PostgreSQL test database");
            (Some(name), url)
        } else {
            let url = format!("sqlite://{}/shared.db?mode=rwc", data_dir.path().display());
            (None, url)
        };
        let port = free_port();
        Self {
            data_dir,
            database_url,
            fernet_keys: Keyring::generate_key(),
            base_url: format!("http://127.0.0.1:{port}"),
            port,
            env: Vec::new(),
            pg_database,
        }
    }

    /// The shared data directory (objects are stored under `objects/` in it).
    pub fn data_dir(&self) -> &std::path::Path {
        self.data_dir.path()
    }

    fn command(&self, dir: &std::path::Path) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_campuscore"));
        cmd.env_remove("FERNET_KEY")
            .env("CAMPUSCORE_DATA_DIR", dir)
            .env(
                "CAMPUSCORE_STORAGE_URL",
                format!("file://{}/objects", self.data_dir.path().display()),
            )
            .env("DATABASE_URL", &self.database_url)
            .env("FERNET_KEYS", &self.fernet_keys)
            .env("CAMPUSCORE_BASE_URL", &self.base_url)
            .env("RUST_LOG", "warn")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        cmd
    }

    /// Run a CLI command to completion; its stdout.
    pub fn cli(&self, args: &[&str]) -> String {
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

    /// Start `campuscore serve` on `port` (its own working directory `name`) and wait until
    /// it answers `/healthz`.
    pub async fn serve(&self, port: u16, name: &str) -> Server {
        self.serve_with(port, name, &[]).await
    }

    /// [`Deployment::serve`] with extra environment variables for this process.
    pub async fn serve_with(&self, port: u16, name: &str, env: &[(&str, &str)]) -> Server {
        let dir = self.data_dir.path().join(name);
        std::fs::create_dir_all(&dir).expect("instance dir");
        let mut command = self.command(&dir);
        command.envs(env.iter().copied());
        command
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        Server::start(command, format!("http://127.0.0.1:{port}"), name).await
    }

    /// A connection to the deployment's database (after a `migrate` or a first `serve`).
    pub async fn db(&self) -> DatabaseConnection {
        campuscore::db::connect(&self.database_url)
            .await
            .expect("database")
    }

    pub fn keyring(&self) -> Keyring {
        Keyring::from_keys(&[&self.fernet_keys]).expect("keys")
    }
}

/// A browser session on `address`: logged in as `email`, holding its cookies.
pub struct Browser {
    pub http: reqwest::Client,
    pub address: String,
}

impl Browser {
    pub async fn log_in(address: &str, email: &str, password: &str) -> Self {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let http = crate::helpers::client_with_jar(jar);
        let browser = Self {
            http,
            address: address.to_owned(),
        };
        let token = browser.csrf("/login").await;
        let res = browser
            .http
            .post(format!("{address}/login"))
            .form(&[
                ("email", email),
                ("password", password),
                ("csrf_token", &token),
            ])
            .send()
            .await
            .expect("login");
        assert_eq!(res.status(), 303, "login should redirect");
        browser
    }

    pub async fn csrf(&self, path: &str) -> String {
        let html = self
            .http
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("page")
            .text()
            .await
            .expect("body");
        crate::helpers::csrf_from(&html)
    }
}
