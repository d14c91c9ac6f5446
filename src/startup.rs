//! Building the application: keys, database, migrations, connector catalog, storage, the
//! HTTP server on a bound listener (port 0 in tests), and the background workers.

use crate::auth::{
    csrf,
    session_store::{DbSessionStore, purge_expired},
};
use crate::config::Settings;
use crate::services::audit::AuditLog;
use crate::services::runtime::ConnectorRuntime;
use crate::services::{catalog, queue, secrets::Keyring, session_key, setup, storage::Storage};
use crate::state::AppState;
use crate::views::errors;
use actix_session::SessionMiddleware;
use actix_session::config::{BrowserSession, CookieContentSecurity};
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use campuscore_connectors::{HttpClient, HttpConfig, Registry};
use std::net::TcpListener;
use std::sync::Arc;

/// Everything the app needs before it can serve: used by `serve` and by the CLI commands.
pub async fn prepare(settings: Settings) -> anyhow::Result<AppState> {
    // `load` warns itself when it generates the key file.
    let (keyring, source) = Keyring::load(
        settings.fernet_keys.as_deref(),
        settings.fernet_key.as_deref(),
        &settings.data_dir,
    )
    .context("loading the Fernet keys (FERNET_KEYS / FERNET_KEY)")?;
    tracing::info!(key.source = %source, key.primary = keyring.primary_fingerprint(), "fernet keys loaded");
    let db = crate::db::connect(&settings.database_url).await?;
    crate::db::migrate(&db).await?;
    let writes = crate::db::connect_bookkeeping(&settings.database_url, &db).await?;
    let registry = Registry::from_inventory().context("registering connectors")?;
    let report = catalog::sync(&db, &registry).await?;
    if !report.added.is_empty() {
        tracing::info!(connector.slugs = ?report.added, "connectors added to the catalog");
    }
    let storage = Storage::from_url(&settings.storage_url)?;
    let cookie_key = session_key::material(&db, &keyring, settings.session_key.as_deref())
        .await
        .context("preparing the session cookie key")?;
    Ok(AppState {
        runtime: ConnectorRuntime {
            audit: Arc::new(AuditLog::new(writes.clone())),
            connector_settings: Arc::default(),
            writes,
            db,
            keyring,
            registry: Arc::new(registry),
            http: HttpClient::new(HttpConfig::default()),
            refresh_locks: Arc::default(),
            settings: Arc::new(settings),
        },
        storage,
        queue: queue::QueueHandle::default(),
        cookie_key: Key::from(&cookie_key),
    })
}

/// A built application, bound and ready to run.
pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
}

impl Application {
    /// Prepare everything and bind `addr` (use port 0 for a random port).
    pub async fn build(settings: Settings, addr: &str) -> anyhow::Result<Self> {
        let state = prepare(settings).await?;
        let listener = TcpListener::bind(addr).with_context(|| format!("binding {addr}"))?;
        Self::from_state(state, listener)
    }

    /// Serve `state` on an already bound listener.
    pub fn from_state(state: AppState, listener: TcpListener) -> anyhow::Result<Self> {
        let port = listener.local_addr()?.port();
        let server = server(state.clone(), listener)?;
        Ok(Self {
            port,
            server,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Print the setup link when there is no account yet.
    pub async fn announce_setup_link(&self) -> anyhow::Result<Option<String>> {
        if crate::models::users::count(&self.state.db).await? > 0 {
            return Ok(None);
        }
        let token = setup::issue(&self.state.db).await?;
        let link = self
            .state
            .settings
            .absolute_url(&crate::paths::setup(&token));
        tracing::warn!(
            "no accounts yet — open this one-time link to create the first admin (valid 60 minutes): {link}"
        );
        Ok(Some(link))
    }

    /// Serve until the server stops, running the background workers beside it.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let workers = spawn_workers(&self.state);
        let result = self.server.await;
        for w in workers {
            w.abort();
        }
        result.context("running the HTTP server")
    }
}

/// Background tasks: the queue workers and the janitor (expired sessions, ended MCP grants and
/// tokens, abandoned uploads).
pub fn spawn_workers(state: &AppState) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    if state.settings.run_worker {
        tasks.push(tokio::spawn(crate::workers::run_queue(state.clone())));
    }
    let db = state.db.clone();
    let storage = state.storage.clone();
    tasks.push(tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
        loop {
            tick.tick().await;
            match purge_expired(&db).await {
                Ok(n) if n > 0 => tracing::info!(sessions.purged = n, "expired sessions removed"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "purging expired sessions failed"),
            }
            match crate::services::mcp_grants::purge_ended(&db).await {
                Ok(n) if n > 0 => {
                    tracing::info!(mcp.purged = n, "ended mcp grants and tokens removed")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "purging ended mcp grants failed"),
            }
            // Staging files of uploads whose process died (nothing wrote to them for an hour).
            match storage
                .sweep_partials(std::time::Duration::from_secs(3600))
                .await
            {
                Ok(n) if n > 0 => tracing::info!(uploads.removed = n, "unfinished uploads removed"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "removing unfinished uploads failed"),
            }
        }
    }));
    tasks
}

/// The session cookie's name: over HTTPS with the `__Host-` prefix, which browsers accept
/// only from this exact host, over HTTPS, for the whole site, so no subdomain can plant or
/// overwrite it.
pub fn session_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-campuscore_session"
    } else {
        "campuscore_session"
    }
}

fn server(state: AppState, listener: TcpListener) -> anyhow::Result<Server> {
    let key = state.cookie_key.clone();
    let secure = state.settings.secure_cookies();
    let store = DbSessionStore::new(state.db.clone());
    let data = web::Data::new(state);
    let server = HttpServer::new(move || {
        let sessions = SessionMiddleware::builder(store.clone(), key.clone())
            .cookie_name(session_cookie_name(secure).into())
            .cookie_secure(secure)
            .cookie_http_only(true)
            .cookie_same_site(SameSite::Lax)
            .cookie_content_security(CookieContentSecurity::Private)
            .session_lifecycle(
                BrowserSession::default().state_ttl(actix_web::cookie::time::Duration::hours(12)),
            )
            .build();
        App::new()
            .app_data(data.clone())
            .app_data(web::FormConfig::default().limit(256 * 1024))
            .app_data(web::JsonConfig::default().limit(1024 * 1024))
            .configure(crate::urls::configure)
            .wrap(from_fn(csrf::protect))
            .wrap(from_fn(errors::render_errors))
            .wrap(sessions)
            .wrap(from_fn(errors::security_headers))
            .wrap(from_fn(log_requests))
    })
    // Longer than the idle timeout of clients and proxies, so a reused idle connection is
    // not closed under a request that is already on its way.
    .keep_alive(std::time::Duration::from_secs(75))
    .listen(listener)?
    .shutdown_timeout(10)
    .run();
    Ok(server)
}

/// One log line per request, naming the route pattern rather than the path, so tokens in
/// paths (setup links) or query strings never reach the logs.
async fn log_requests(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<
    actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody + 'static>,
    actix_web::Error,
> {
    let started = std::time::Instant::now();
    let method = req.method().to_string();
    let quiet = req.path() == "/healthz" || req.path().starts_with("/static/");
    let res = next.call(req).await;
    if !quiet {
        let (status, route) = match &res {
            Ok(r) => (
                r.status().as_u16(),
                r.request()
                    .match_pattern()
                    .unwrap_or_else(|| "(unmatched)".into()),
            ),
            Err(e) => (
                e.as_response_error().status_code().as_u16(),
                "(error)".into(),
            ),
        };
        tracing::info!(http.method = %method, http.route = %route, http.status = status, duration_ms = started.elapsed().as_millis() as u64, "request");
    }
    res
}
