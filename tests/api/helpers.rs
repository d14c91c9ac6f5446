//! `spawn_app()`: the real application on port 0 with a fresh database (SQLite in a temp dir,
//! or a uniquely named PostgreSQL database when `CAMPUSCORE_TEST_DB=postgres`) and a temp
//! data dir, plus a cookie-keeping client that does not follow redirects.

use campuscore::services::secrets::Keyring;
use campuscore::state::AppState;
use campuscore::{Application, Settings};
use campuscore_testkit::fault_proxy::FaultProxy;
use campuscore_testkit::postgres::{
    create_pg_database, drop_pg_database, pg_admin_url, use_postgres,
};
use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::Arc;

pub struct TestApp {
    pub address: String,
    pub state: AppState,
    pub client: reqwest::Client,
    pub jar: Arc<reqwest::cookie::Jar>,
    pub dir: tempfile::TempDir,
    pub pg_database: Option<String>,
    /// The proxy between the app and its PostgreSQL database, when the app was started with
    /// [`spawn_app_behind_db_proxy`].
    pub db_proxy: Option<Arc<FaultProxy>>,
}

/// Options for `spawn_app_with`.
#[derive(Default)]
pub struct Options {
    pub max_upload_bytes: Option<u64>,
    pub run_worker: Option<bool>,
    pub agent_calls_per_minute: Option<u32>,
    /// More environment settings (`CAMPUSCORE_…`), as `serve` would read them.
    pub env: Vec<(&'static str, String)>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(name) = &self.pg_database {
            drop_pg_database(name);
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

pub async fn spawn_app_with(opts: Options) -> TestApp {
    let database = if use_postgres() {
        Some(
            create_pg_database()
                .await
                .expect("PostgreSQL test database (CAMPUSCORE_TEST_PG_URL)"),
        )
    } else {
        None
    };
    spawn_app_on(opts, database, None).await
}

/// The app on a PostgreSQL database of its own (whichever `CAMPUSCORE_TEST_DB` says) that it
/// reaches through a [`FaultProxy`] (`app.db_proxy`), so a test can take the database away
/// or slow it down. `None` (after saying so) when PostgreSQL is not there.
pub async fn spawn_app_behind_db_proxy(opts: Options) -> Option<TestApp> {
    let (name, url) = match create_pg_database().await {
        Ok(database) => database,
        Err(e) => {
            campuscore_test_peers::unavailable(
                campuscore_test_peers::Peer::Postgres,
                "the database outage tests",
                &format!("not reachable at CAMPUSCORE_TEST_PG_URL: {e}"),
            );
            return None;
        }
    };
    let proxy = Arc::new(FaultProxy::start(&pg_admin_url()).await);
    let through = proxy.rewrite(&url);
    Some(spawn_app_on(opts, Some((name, through)), Some(proxy)).await)
}

async fn spawn_app_on(
    opts: Options,
    postgres: Option<(String, String)>,
    db_proxy: Option<Arc<FaultProxy>>,
) -> TestApp {
    campuscore::install_crypto_provider();
    if std::env::var_os("RUST_LOG").is_some() {
        campuscore::telemetry::init(); // logs only when asked for, to keep test output readable
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (pg_database, database_url) = if let Some((name, url)) = postgres {
        (Some(name), url)
    } else {
        (
            None,
            format!("sqlite://{}/campuscore.db?mode=rwc", dir.path().display()),
        )
    };
    let mut env: HashMap<&str, String> = HashMap::new();
    env.insert("CAMPUSCORE_DATA_DIR", dir.path().display().to_string());
    env.insert("DATABASE_URL", database_url);
    env.insert("CAMPUSCORE_BASE_URL", format!("http://127.0.0.1:{port}"));
    env.insert("FERNET_KEYS", Keyring::generate_key());
    if let Some(max) = opts.max_upload_bytes {
        env.insert("CAMPUSCORE_MAX_UPLOAD_BYTES", max.to_string());
    }
    if let Some(n) = opts.agent_calls_per_minute {
        env.insert("CAMPUSCORE_AGENT_CALLS_PER_MINUTE", n.to_string());
    }
    env.extend(opts.env);
    let mut settings = Settings::from_lookup(|k| env.get(k).cloned()).expect("settings");
    settings.run_worker = opts.run_worker.unwrap_or(true);
    let state = campuscore::startup::prepare(settings)
        .await
        .expect("prepare");
    let app = Application::from_state(state.clone(), listener).expect("build app");
    tokio::spawn(app.run_until_stopped());
    let jar = Arc::new(reqwest::cookie::Jar::default());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        state,
        client: client_with_jar(jar.clone()),
        jar,
        dir,
        pg_database,
        db_proxy,
    }
}

/// A browser-like client: keeps cookies, does not follow redirects.
pub fn client() -> reqwest::Client {
    client_with_jar(Arc::new(reqwest::cookie::Jar::default()))
}

pub fn client_with_jar(jar: Arc<reqwest::cookie::Jar>) -> reqwest::Client {
    campuscore_testkit::http_client_builder()
        .cookie_provider(jar)
        .pool_idle_timeout(std::time::Duration::from_secs(2))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The value of the first `name="csrf_token" value="…"` in a page.
pub fn csrf_from(html: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = html
        .find(marker)
        .map(|i| i + marker.len())
        .expect("page has a csrf_token field");
    let end = html[start..].find('"').expect("closing quote");
    html[start..start + end].to_owned()
}

pub fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    pub async fn get_text(&self, path: &str) -> String {
        self.get(path).await.text().await.expect("body")
    }

    /// The CSRF token of this client's session (from the login page, or any page).
    pub async fn csrf(&self, path: &str) -> String {
        csrf_from(&self.get_text(path).await)
    }

    /// POST `form` as HTMX does (`HX-Request`, the CSRF header), on this client's session.
    pub async fn hx_post(
        &self,
        path: &str,
        csrf: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("HX-Request", "true")
            .header("X-CSRF-Token", csrf)
            .form(form)
            .send()
            .await
            .expect("request")
    }

    /// POST a form with this session's CSRF token added.
    pub async fn post_form(
        &self,
        path: &str,
        csrf_page: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let token = self.csrf(csrf_page).await;
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf_token", &token));
        self.client
            .post(self.url(path))
            .form(&form)
            .send()
            .await
            .expect("request")
    }

    pub async fn create_user(
        &self,
        email: &str,
        password: &str,
        admin: bool,
    ) -> campuscore::models::entities::user::Model {
        campuscore::models::users::create(&self.state.db, email, password, admin)
            .await
            .expect("create user")
    }

    pub async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        self.post_form(
            "/login",
            "/login",
            &[("email", email), ("password", password)],
        )
        .await
    }

    /// A user who is logged in on this app's client.
    pub async fn logged_in_user(&self, email: &str) -> campuscore::models::entities::user::Model {
        let user = self
            .create_user(email, "a long enough password", false)
            .await;
        let res = self.login(email, "a long enough password").await;
        assert_eq!(res.status(), 303, "login should redirect");
        user
    }

    /// A second, independent browser on the same app.
    pub fn other_browser(&self) -> TestApp {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        TestApp {
            address: self.address.clone(),
            state: self.state.clone(),
            client: client_with_jar(jar.clone()),
            jar,
            dir: tempfile::tempdir().expect("temp dir"),
            pg_database: None,
            db_proxy: self.db_proxy.clone(),
        }
    }

    /// The catalog row of the test-only `test-echo` connector.
    pub async fn echo_connector(&self) -> campuscore::models::entities::connector::Model {
        self.connector("test-echo").await
    }

    /// The catalog row of `slug`.
    pub async fn connector(&self, slug: &str) -> campuscore::models::entities::connector::Model {
        use campuscore::models::entities::connector;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        connector::Entity::find()
            .filter(connector::Column::Slug.eq(slug))
            .one(&self.state.db)
            .await
            .expect("query")
            .unwrap_or_else(|| panic!("{slug} is in the catalog"))
    }

    /// A connection of `slug` for `user_id` with `data` as its credentials (encrypted as
    /// the app stores them), signed in as `identity`.
    pub async fn insert_connection(
        &self,
        slug: &str,
        user_id: i64,
        data: serde_json::Value,
        identity: &str,
    ) -> campuscore::models::entities::connection::Model {
        let connector = self.connector(slug).await;
        campuscore::services::credentials::insert(
            &self.state.db,
            &self.state.keyring,
            campuscore::services::credentials::NewConnection {
                user_id,
                connector_id: connector.id,
                data,
                service_identity: Some(identity.to_owned()),
                scopes: None,
                expires_at: None,
            },
        )
        .await
        .expect("insert connection")
    }
}

impl TestApp {
    /// Issue the setup link (there must be no account yet).
    pub async fn announce_setup_link(&self) -> String {
        self.announce_setup_link_opt()
            .await
            .expect("a setup link while no account exists")
    }

    pub async fn announce_setup_link_opt(&self) -> Option<String> {
        if campuscore::models::users::count(&self.state.db)
            .await
            .expect("count")
            > 0
        {
            return None;
        }
        let token = campuscore::services::setup::issue(&self.state.db)
            .await
            .expect("issue");
        Some(self.state.settings.absolute_url(&format!("/setup/{token}")))
    }

    /// The `Cookie` header this client would send.
    pub async fn session_cookie(&self) -> String {
        use reqwest::cookie::CookieStore;
        let url = reqwest::Url::parse(&self.address).expect("url");
        self.jar
            .cookies(&url)
            .and_then(|v| v.to_str().ok().map(str::to_owned))
            .expect("the client holds a session cookie")
    }
}

impl TestApp {
    /// Runs `action` on connection `conn` through the JSON API with a personal access
    /// token: the status and the JSON body (`null` when the body is not JSON).
    pub async fn run_action(
        &self,
        token: &str,
        conn: i64,
        action: &str,
        params: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let res = client()
            .post(self.url(&format!("/api/v1/connections/{conn}/actions/{action}")))
            .bearer_auth(token)
            .json(&params)
            .send()
            .await
            .expect("request");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// Sets connector config `key` = `value` for `slug`, as `campuscore config set` would.
    pub async fn set_config(&self, slug: &str, key: &str, value: &str) {
        use campuscore::models::entities::connector;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let row = connector::Entity::find()
            .filter(connector::Column::Slug.eq(slug))
            .one(&self.state.db)
            .await
            .expect("query")
            .expect("connector in the catalog");
        let plugin = self.state.registry.get(slug).expect("registered").clone();
        campuscore::services::connector_config::set(
            &self.state.db,
            &self.state.keyring,
            &row,
            plugin.as_ref(),
            key,
            value,
            false,
        )
        .await
        .expect("config set");
    }

    /// The redirect URI this app registers for `slug`.
    pub fn redirect_uri(&self, slug: &str) -> String {
        format!("{}/api/connectors/{slug}/callback", self.address)
    }

    /// Points the `test-oauth` connector at `server` with client `client_id`/`client_secret`.
    pub async fn configure_test_oauth(
        &self,
        server: &campuscore_testkit::oauth_server::OAuthServer,
        client_id: &str,
        client_secret: &str,
    ) {
        let slug = "test-oauth";
        self.set_config(slug, "CLIENT_ID", client_id).await;
        self.set_config(slug, "CLIENT_SECRET", client_secret).await;
        self.set_config(slug, "AUTH_URL", &server.authorize_url())
            .await;
        self.set_config(slug, "TOKEN_URL", &server.token_url())
            .await;
        self.set_config(slug, "REVOKE_URL", &server.revocation_url())
            .await;
        self.set_config(slug, "API_BASE_URL", &server.issuer).await;
    }
}

/// Every file below `dir`, recursively (none when it does not exist).
pub fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// A folder name the tests know is valid.
pub fn folder_name(name: &str) -> campuscore::models::names::FolderName {
    campuscore::models::names::FolderName::parse(name).expect("a valid folder name")
}

/// A personal access token of `user_id` for the JSON API (90 days), in clear.
pub async fn api_token(db: &sea_orm::DatabaseConnection, user_id: i64, name: &str) -> String {
    use campuscore::services::api_tokens::{self, NewToken, Scope};
    let new = NewToken {
        name,
        scopes: &[Scope::Api],
        days: api_tokens::DEFAULT_DAYS,
    };
    api_tokens::create(db, user_id, new)
        .await
        .expect("creating a token")
        .1
}
