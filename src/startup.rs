//! Building the application: keys, database, migrations, connector catalog, storage, the
//! HTTP server on a bound listener (port 0 in tests), and the background workers.

use crate::auth::{
    csrf,
    session_store::{DbSessionStore, SessionCache, purge_expired},
};
use crate::config::Settings;
use crate::models::local_writes::Bookkeeping;
use crate::services::audit::AuditLog;
use crate::services::oidc::Sso;
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
use campuscore_connectors::{HttpClient, Registry};
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
    let db = crate::db::connect_migrated(&settings.database_url, settings.db_pool).await?;
    let writes = Bookkeeping {
        db: crate::db::connect_bookkeeping(&settings.database_url, &db, settings.db_pool).await?,
        local: crate::db::local_writes(&settings.database_url, &db),
    };
    let reads = crate::db::local_reads(&settings.database_url, &db);
    let registry = Registry::from_inventory().context("registering connectors")?;
    let report = catalog::sync(&db, &registry).await?;
    if !report.added.is_empty() {
        tracing::info!(connector.slugs = ?report.added, "connectors added to the catalog");
    }
    let storage = Storage::from_url(&settings.storage_url)?;
    let cookie_key = session_key::material(&db, &keyring, settings.session_key.as_deref())
        .await
        .context("preparing the session cookie key")?;
    let http = HttpClient::new(settings.http_config());
    let sso = Arc::new(Sso::new(
        &settings,
        http.token_endpoint_client().client().clone(),
    ));
    Ok(AppState {
        runtime: ConnectorRuntime {
            audit: Arc::new(AuditLog::new(writes.clone())),
            connector_settings: Arc::default(),
            writes,
            reads,
            db,
            keyring,
            opened: Arc::default(),
            registry: Arc::new(registry),
            http,
            refresh_locks: Arc::default(),
            settings: Arc::new(settings),
        },
        storage,
        queue: queue::QueueHandle::default(),
        cookie_key: Key::from(&cookie_key),
        sessions: SessionCache::default(),
        sso,
    })
}

/// A built application, bound and ready to run.
pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
    limits: crate::urls::Limits,
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
        let limits = crate::urls::Limits::new(&state.settings);
        let server = server(state.clone(), listener, limits.clone())?;
        Ok(Self {
            port,
            server,
            state,
            limits,
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

    /// Serve until SIGTERM or SIGINT, running the background workers beside it, then shut
    /// down gracefully (see [`Application::run_until`]).
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serve until `shutdown` resolves, then stop in order: the server accepts no more
    /// connections; the queue workers claim nothing more and running messages (an import's
    /// download) get `worker_grace` to finish, after which they are stopped and handed back
    /// for another process to claim at once; then requests still in flight get
    /// `shutdown_grace` more before their connections close; last the database pool is closed
    /// (SQLite checkpoints its write-ahead log).
    ///
    /// The workers stop before the HTTP server because the outbound HTTP client's pooled
    /// connections live on the runtime of the server thread that opened them: a download
    /// that reused one would break when that thread's runtime ends.
    pub async fn run_until(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let Self {
            server,
            state,
            limits,
            ..
        } = self;
        let (stop_workers, stop) = queue::stop_signal();
        let mut queue = state
            .settings
            .run_worker
            .then(|| tokio::spawn(crate::workers::run_queue(state.clone(), stop)));
        let janitor = tokio::spawn(run_janitor(
            state.db.clone(),
            state.storage.clone(),
            state.settings.login_policy(),
            limits,
        ));
        let handle = server.handle();
        let mut server = tokio::spawn(server);
        let served = tokio::select! {
            served = &mut server => served,
            () = shutdown => {
                tracing::info!(
                    shutdown.grace_secs = state.settings.shutdown_grace.as_secs(),
                    shutdown.worker_grace_secs = state.settings.worker_grace.as_secs(),
                    "shutting down: accepting no more connections, finishing requests in flight, \
                     handing back unfinished queue work"
                );
                handle.pause().await;
                stop_workers.stop(state.settings.worker_grace);
                if let Some(queue) = queue.take() {
                    join_workers(queue).await;
                }
                handle.stop(true).await;
                server.await
            }
        };
        // The server ended by itself (an error): the workers stop too.
        stop_workers.stop(state.settings.worker_grace);
        if let Some(queue) = queue {
            join_workers(queue).await;
        }
        janitor.abort();
        if let Err(e) = state.db.clone().close().await {
            tracing::warn!(error = %e, "closing the database pool failed");
        }
        tracing::info!("shut down");
        served
            .context("the HTTP server task")?
            .context("running the HTTP server")
    }
}

async fn join_workers(queue: tokio::task::JoinHandle<()>) {
    if let Err(e) = queue.await {
        tracing::error!(error = %e, "the queue workers ended abnormally");
    }
}

/// Resolves on the first SIGTERM (what service managers and container runtimes send) or
/// SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the server");
                std::future::pending::<()>().await;
            }
        }
    };
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = term => tracing::info!(signal = "SIGTERM", "stop requested"),
        () = interrupt => tracing::info!(signal = "SIGINT", "stop requested"),
    }
}

/// The janitor: expired sessions, ended MCP grants and tokens, abandoned uploads, every ten
/// minutes until the task is dropped.
async fn run_janitor(
    db: sea_orm::DatabaseConnection,
    storage: Storage,
    login_policy: crate::services::login_throttle::Policy,
    limits: crate::urls::Limits,
) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        tick.tick().await;
        // Addresses the per-address limits have not seen lately.
        limits.shrink();
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
        match crate::services::login_throttle::purge(&db, &login_policy, chrono::Utc::now()).await {
            Ok(n) if n > 0 => tracing::info!(login.purged = n, "old sign-in failures removed"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "purging old sign-in failures failed"),
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

fn server(
    state: AppState,
    listener: TcpListener,
    limits: crate::urls::Limits,
) -> anyhow::Result<Server> {
    let key = state.cookie_key.clone();
    let secure = state.settings.secure_cookies();
    let store = DbSessionStore::new(
        state.db.clone(),
        state.reads.clone(),
        state.sessions.clone(),
    );
    let grace_secs = state.settings.shutdown_grace.as_secs();
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
            .configure(|cfg| crate::urls::configure(cfg, &limits))
            .wrap(from_fn(csrf::protect))
            .wrap(from_fn(errors::render_errors))
            .wrap(sessions)
            .wrap(from_fn(session_by_route))
            .wrap(from_fn(errors::session_store_outage))
            .wrap(from_fn(errors::security_headers))
            .wrap(from_fn(log_requests))
    })
    // Longer than the idle timeout of clients and proxies, so a reused idle connection is
    // not closed under a request that is already on its way.
    .keep_alive(std::time::Duration::from_secs(75))
    .listen(listener)?
    // `run_until` handles SIGTERM and SIGINT, so the workers stop together with the server.
    .disable_signals()
    .shutdown_timeout(grace_secs)
    .run();
    Ok(server)
}

/// What the session layer is shown, by route. The probes and the static assets never read
/// the session, but the session layer loads it (a database read) for every request that
/// brings a cookie: a browser's request for a stylesheet or a load balancer's probe that kept
/// cookies would each cost one, and `/readyz` would wait on the database through the session
/// layer instead of answering within its own bound. Their cookies are not shown to the
/// session layer. The cloud-import browser confirms the session in its own read, so the
/// session layer may serve it without reading the row
/// (`session_store::confirmed_later`).
async fn session_by_route(
    mut req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<
    actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody + 'static>,
    actix_web::Error,
> {
    let path = req.path();
    if path == "/healthz" || path == "/readyz" || path.starts_with("/static/") {
        req.headers_mut().remove(actix_web::http::header::COOKIE);
    } else if req.method() == actix_web::http::Method::GET && crate::paths::is_cloud_browse(path) {
        return crate::auth::session_store::confirmed_later(next.call(req)).await;
    }
    next.call(req).await
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
