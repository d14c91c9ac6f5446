//! Settings from the environment (DESIGN §3 "Environment"). Reading goes through a lookup
//! function so tests can build settings without touching the process environment.

use crate::services::{login_throttle, rate_limits};
use anyhow::{Context, bail};
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

/// Actions run through the JSON API (`POST /api/v1/connections/{id}/actions/{action}`): 60 a
/// minute. Each may call an upstream service or run a query on the user's database.
pub const API_ACTIONS: rate_limits::Limit = rate_limits::Limit {
    name: "api_actions",
    max: 60,
    window: Duration::from_secs(60),
};

/// Queries run from the query console (and the table list its page shows): 20 a minute. Each
/// opens a connection to the user's database server.
pub const CONSOLE_QUERIES: rate_limits::Limit = rate_limits::Limit {
    name: "console_queries",
    max: 20,
    window: Duration::from_secs(60),
};

/// Live credential checks — connecting a manual connector (the form or the JSON API) and the
/// Test button: 30 an hour. Without it the app would be a password-guessing relay against
/// any host a user can name.
pub const CONNECTION_CHECKS: rate_limits::Limit = rate_limits::Limit {
    name: "connection_checks",
    max: 30,
    window: Duration::from_secs(3600),
};

/// OAuth sign-ins started (each stores an `oauth_state` row): 30 an hour.
pub const OAUTH_STARTS: rate_limits::Limit = rate_limits::Limit {
    name: "oauth_starts",
    max: 30,
    window: Duration::from_secs(3600),
};

/// OAuth sign-ins a user may have started and not finished (unexpired) at once.
pub const OAUTH_PENDING_FLOWS: u32 = 10;

/// Everything the application needs to start. Its `Debug` never shows a key or a database
/// password.
#[derive(Clone)]
pub struct Settings {
    /// Where the SQLite database, the generated Fernet key and local objects live.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`.
    pub database_url: String,
    /// Public base URL; OAuth redirect URIs and setup links are built from it.
    pub base_url: Url,
    /// Whether `CAMPUSCORE_BASE_URL` was set (otherwise `serve` derives it from `--bind`).
    pub base_url_configured: bool,
    /// `file://…` or `s3://bucket/prefix`.
    pub storage_url: String,
    /// `db` (embedded outbox + in-process worker).
    pub queue_url: String,
    /// Comma-separated Fernet keys from `FERNET_KEYS`; the first encrypts.
    pub fernet_keys: Option<String>,
    /// A single key from `FERNET_KEY` (used when `FERNET_KEYS` is unset).
    pub fernet_key: Option<String>,
    /// Largest accepted upload, in bytes (`CAMPUSCORE_MAX_UPLOAD_BYTES`, default 1 GiB).
    pub max_upload_bytes: u64,
    /// Run the in-process queue worker (on by default; tests may turn it off).
    pub run_worker: bool,
    /// Cloud browse requests a user may make per minute
    /// (`CAMPUSCORE_CLOUD_BROWSE_PER_MINUTE`, default 30).
    pub cloud_browse_per_minute: u32,
    /// Cloud imports a user may start per hour (`CAMPUSCORE_CLOUD_IMPORTS_PER_HOUR`,
    /// default 10).
    pub cloud_imports_per_hour: u32,
    /// Tool calls an assistant may make per minute for one user, through the tools API and
    /// MCP together (`CAMPUSCORE_AGENT_CALLS_PER_MINUTE`, default 60).
    pub agent_calls_per_minute: u32,
    /// Actions a user may run through the JSON API per minute
    /// (`CAMPUSCORE_API_ACTIONS_PER_MINUTE`, default 60).
    pub api_actions_per_minute: u32,
    /// Query console queries a user may run per minute (`CAMPUSCORE_QUERIES_PER_MINUTE`,
    /// default 20).
    pub queries_per_minute: u32,
    /// Live credential checks (manual connect, Test) a user may make per hour
    /// (`CAMPUSCORE_CONNECTION_CHECKS_PER_HOUR`, default 30).
    pub connection_checks_per_hour: u32,
    /// OAuth sign-ins a user may start per hour (`CAMPUSCORE_OAUTH_STARTS_PER_HOUR`,
    /// default 30).
    pub oauth_starts_per_hour: u32,
    /// Unfinished, unexpired OAuth sign-ins a user may have at once
    /// (`CAMPUSCORE_OAUTH_PENDING_FLOWS`, default 10).
    pub oauth_pending_flows: u32,
    /// The secret session cookies are signed with (`CAMPUSCORE_SESSION_KEY`, at least 32
    /// characters); unset, the instances share a random one kept in the database.
    pub session_key: Option<String>,
    /// Bytes one user's knowledge folders may hold in all, uploads and imports together
    /// (`CAMPUSCORE_STORAGE_QUOTA_BYTES`, default 10 GiB).
    pub storage_quota_bytes: u64,
    /// Upload requests a user may make per hour (`CAMPUSCORE_UPLOADS_PER_HOUR`, default 60).
    pub uploads_per_hour: u32,
    /// Whether HSTS also covers every subdomain of the site's host
    /// (`CAMPUSCORE_HSTS_INCLUDE_SUBDOMAINS=true`; only for a host whose subdomains are all
    /// served over HTTPS).
    pub hsts_include_subdomains: bool,
    /// Hosts and networks (as the connectors' `ALLOWED_HOSTS`) whose MCP client metadata
    /// documents may be fetched although they resolve to private or loopback addresses
    /// (`CAMPUSCORE_MCP_CIMD_ALLOWED_HOSTS`, comma-separated, default none).
    pub mcp_cimd_allowed_hosts: Vec<String>,
    /// For tests and local trials only: accept `http://` client ids on the allowed hosts
    /// above (`CAMPUSCORE_MCP_CIMD_TEST_ALLOW_HTTP=true`), so a document can be served
    /// without TLS. Anywhere else a client id URL must be `https`.
    pub mcp_cimd_test_allow_http: bool,
    /// Reverse proxies whose `X-Forwarded-For` is believed for the per-address limits
    /// (`CAMPUSCORE_TRUSTED_PROXIES`: addresses and CIDR networks, comma-separated; default
    /// none, so the peer address is the client).
    pub trusted_proxies: Vec<String>,
    /// Failed sign-ins that lock an account for browsers it has not seen
    /// (`CAMPUSCORE_LOGIN_MAX_FAILURES`, default 5 within 15 minutes).
    pub login_max_failures: u32,
    /// How long such a lock lasts (`CAMPUSCORE_LOGIN_LOCK_SECONDS`, default 300).
    pub login_lock_seconds: u32,
    /// Failed calls to one provider host within 30 s that open its circuit breaker
    /// (`CAMPUSCORE_BREAKER_FAILURES`, default 5).
    pub breaker_failures: u32,
    /// How long an open breaker fails fast before one probe
    /// (`CAMPUSCORE_BREAKER_COOL_DOWN_SECONDS`, default 30).
    pub breaker_cool_down_seconds: u32,
    /// How long a call to a provider may wait for its next bytes — the answer's headers or the
    /// next chunk of a download — before it is given up as stalled and retried
    /// (`CAMPUSCORE_UPSTREAM_READ_TIMEOUT_SECONDS`, 1 to 60, default 60).
    pub upstream_read_timeout_seconds: u32,
    /// Campus sign-in (OpenID Connect); `None` unless `CAMPUSCORE_OIDC_ISSUER` is set.
    pub oidc: Option<OidcSettings>,
    /// Whether email + password sign-in is offered (`CAMPUSCORE_LOCAL_LOGIN`, default true).
    /// Off, the login form is hidden and its POST refused; `campuscore sso signin-link` is the
    /// break-glass way in.
    pub local_login: bool,
    /// On SIGTERM or SIGINT, how long requests already in flight may take to finish before
    /// their connections are closed (`CAMPUSCORE_SHUTDOWN_GRACE_SECS`, default 10).
    pub shutdown_grace: std::time::Duration,
    /// On SIGTERM or SIGINT, how long running queue handlers (an import's download) may take
    /// to finish before they are stopped and their messages handed back for another process
    /// to claim at once (`CAMPUSCORE_WORKER_GRACE_SECS`, default 3).
    pub worker_grace: std::time::Duration,
    /// The database pools' size and how long a request waits for a connection before it is
    /// answered 503 (`CAMPUSCORE_DB_MAX_CONNECTIONS`, `CAMPUSCORE_DB_ACQUIRE_TIMEOUT_SECS`).
    pub db_pool: crate::db::PoolSettings,
}

/// Campus sign-in settings (README "Campus sign-in"). Its `Debug` never shows the secret.
#[derive(Clone)]
pub struct OidcSettings {
    /// The provider's issuer identifier (`CAMPUSCORE_OIDC_ISSUER`): `https`, or `http` on
    /// loopback; its `/.well-known/openid-configuration` is read.
    pub issuer: String,
    /// `CAMPUSCORE_OIDC_CLIENT_ID`.
    pub client_id: String,
    /// `CAMPUSCORE_OIDC_CLIENT_SECRET`; unset, the secret stored with
    /// `campuscore sso set-client-secret` (Fernet-encrypted in `app_secret`) is used.
    pub client_secret: Option<String>,
    /// The claim that lists a user's groups or roles (`CAMPUSCORE_OIDC_ADMIN_CLAIM`, e.g.
    /// `groups`); a string or an array of strings.
    pub admin_claim: Option<String>,
    /// The value of that claim that makes an administrator (`CAMPUSCORE_OIDC_ADMIN_VALUE`).
    pub admin_value: Option<String>,
    /// The institution's name on the login button (`CAMPUSCORE_INSTITUTION_NAME`).
    pub institution_name: String,
    /// Whether a first campus sign-in may take over an existing local account with the same
    /// email, when the provider says the email is verified
    /// (`CAMPUSCORE_OIDC_LINK_EXISTING_ACCOUNTS=true`; default false).
    pub link_existing_accounts: bool,
}

impl std::fmt::Debug for OidcSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSettings")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<set>"),
            )
            .field("admin_claim", &self.admin_claim)
            .field("admin_value", &self.admin_value)
            .field("institution_name", &self.institution_name)
            .field("link_existing_accounts", &self.link_existing_accounts)
            .finish()
    }
}

/// `true`/`1` or `false`/`0` from `key`, `default` when unset.
fn flag(key: &str, value: Option<String>, default: bool) -> anyhow::Result<bool> {
    match value {
        None => Ok(default),
        Some(v) => match v.trim() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => bail!("{key} must be true or false, got {v:?}"),
        },
    }
}

/// The campus sign-in block of the settings.
fn oidc_settings(
    get: &impl Fn(&str) -> Option<String>,
) -> anyhow::Result<(Option<OidcSettings>, bool)> {
    let local_login = flag(
        "CAMPUSCORE_LOCAL_LOGIN",
        get("CAMPUSCORE_LOCAL_LOGIN"),
        true,
    )?;
    let Some(issuer) = get("CAMPUSCORE_OIDC_ISSUER") else {
        if !local_login {
            bail!(
                "CAMPUSCORE_LOCAL_LOGIN=false needs campus sign-in: set CAMPUSCORE_OIDC_ISSUER \
                 and CAMPUSCORE_OIDC_CLIENT_ID"
            );
        }
        return Ok((None, local_login));
    };
    let issuer = issuer.trim().to_owned();
    let parsed = Url::parse(&issuer)
        .with_context(|| format!("CAMPUSCORE_OIDC_ISSUER is not a URL: {issuer}"))?;
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if !(parsed.scheme() == "https" || (parsed.scheme() == "http" && loopback)) {
        bail!("CAMPUSCORE_OIDC_ISSUER must be an https URL (http only on loopback): {issuer}");
    }
    let client_id = get("CAMPUSCORE_OIDC_CLIENT_ID")
        .context("CAMPUSCORE_OIDC_ISSUER is set: CAMPUSCORE_OIDC_CLIENT_ID must be set too")?;
    let admin_claim = get("CAMPUSCORE_OIDC_ADMIN_CLAIM").map(|v| v.trim().to_owned());
    let admin_value = get("CAMPUSCORE_OIDC_ADMIN_VALUE").map(|v| v.trim().to_owned());
    if admin_claim.is_some() != admin_value.is_some() {
        bail!(
            "CAMPUSCORE_OIDC_ADMIN_CLAIM and CAMPUSCORE_OIDC_ADMIN_VALUE go together: set both or neither"
        );
    }
    let oidc = OidcSettings {
        issuer,
        client_id: client_id.trim().to_owned(),
        client_secret: get("CAMPUSCORE_OIDC_CLIENT_SECRET"),
        admin_claim,
        admin_value,
        institution_name: get("CAMPUSCORE_INSTITUTION_NAME")
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| "your campus account".into()),
        link_existing_accounts: flag(
            "CAMPUSCORE_OIDC_LINK_EXISTING_ACCOUNTS",
            get("CAMPUSCORE_OIDC_LINK_EXISTING_ACCOUNTS"),
            false,
        )?,
    };
    Ok((Some(oidc), local_login))
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let key = |k: &Option<String>| k.as_ref().map(|_| "<set>");
        f.debug_struct("Settings")
            .field("data_dir", &self.data_dir)
            .field("database_url", &crate::db::redact_url(&self.database_url))
            .field("base_url", &self.base_url.as_str())
            .field("base_url_configured", &self.base_url_configured)
            .field("storage_url", &crate::db::redact_url(&self.storage_url))
            .field("queue_url", &self.queue_url)
            .field("fernet_keys", &key(&self.fernet_keys))
            .field("fernet_key", &key(&self.fernet_key))
            .field("max_upload_bytes", &self.max_upload_bytes)
            .field("run_worker", &self.run_worker)
            .field("cloud_browse_per_minute", &self.cloud_browse_per_minute)
            .field("cloud_imports_per_hour", &self.cloud_imports_per_hour)
            .field("agent_calls_per_minute", &self.agent_calls_per_minute)
            .field("api_actions_per_minute", &self.api_actions_per_minute)
            .field("queries_per_minute", &self.queries_per_minute)
            .field(
                "connection_checks_per_hour",
                &self.connection_checks_per_hour,
            )
            .field("oauth_starts_per_hour", &self.oauth_starts_per_hour)
            .field("oauth_pending_flows", &self.oauth_pending_flows)
            .field("hsts_include_subdomains", &self.hsts_include_subdomains)
            .field("session_key", &key(&self.session_key))
            .field("storage_quota_bytes", &self.storage_quota_bytes)
            .field("uploads_per_hour", &self.uploads_per_hour)
            .field("mcp_cimd_allowed_hosts", &self.mcp_cimd_allowed_hosts)
            .field("mcp_cimd_test_allow_http", &self.mcp_cimd_test_allow_http)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("login_max_failures", &self.login_max_failures)
            .field("login_lock_seconds", &self.login_lock_seconds)
            .field("breaker_failures", &self.breaker_failures)
            .field("breaker_cool_down_seconds", &self.breaker_cool_down_seconds)
            .field(
                "upstream_read_timeout_seconds",
                &self.upstream_read_timeout_seconds,
            )
            .field("oidc", &self.oidc)
            .field("local_login", &self.local_login)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("db_pool", &self.db_pool)
            .field("worker_grace", &self.worker_grace)
            .finish()
    }
}

impl Settings {
    /// Settings from the process environment.
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
    }

    /// Settings from any key lookup (the environment, or a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let data_dir = PathBuf::from(get("CAMPUSCORE_DATA_DIR").unwrap_or_else(|| "./data".into()));
        let database_url = get("DATABASE_URL")
            .unwrap_or_else(|| format!("sqlite://{}/campuscore.db?mode=rwc", data_dir.display()));
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            bail!("DATABASE_URL must start with sqlite:// or postgres:// (got a different scheme)");
        }
        let configured_base_url = get("CAMPUSCORE_BASE_URL");
        let base_url_configured = configured_base_url.is_some();
        let base_url = configured_base_url.unwrap_or_else(|| "http://127.0.0.1:8000".into());
        let base_url = Url::parse(base_url.trim_end_matches('/'))
            .with_context(|| format!("CAMPUSCORE_BASE_URL is not a valid URL: {base_url}"))?;
        let storage_url = get("CAMPUSCORE_STORAGE_URL")
            .unwrap_or_else(|| format!("file://{}/objects", data_dir.display()));
        let queue_url = get("CAMPUSCORE_QUEUE_URL").unwrap_or_else(|| "db".into());
        if queue_url != "db" {
            bail!(
                "CAMPUSCORE_QUEUE_URL: only `db` (the embedded outbox) is supported in this build"
            );
        }
        let max_upload_bytes = match get("CAMPUSCORE_MAX_UPLOAD_BYTES") {
            Some(v) => v.trim().parse::<u64>().with_context(|| {
                format!("CAMPUSCORE_MAX_UPLOAD_BYTES must be a number of bytes, got {v:?}")
            })?,
            None => 1024 * 1024 * 1024,
        };
        let per = |key: &str, default: u32| -> anyhow::Result<u32> {
            match get(key) {
                Some(v) => v
                    .trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|n| *n > 0)
                    .with_context(|| format!("{key} must be a whole number above 0, got {v:?}")),
                None => Ok(default),
            }
        };
        let cloud_browse_per_minute = per(
            "CAMPUSCORE_CLOUD_BROWSE_PER_MINUTE",
            rate_limits::CLOUD_BROWSE.max,
        )?;
        let cloud_imports_per_hour = per(
            "CAMPUSCORE_CLOUD_IMPORTS_PER_HOUR",
            rate_limits::CLOUD_IMPORT.max,
        )?;
        let session_key = get("CAMPUSCORE_SESSION_KEY");
        if session_key.as_ref().is_some_and(|k| k.trim().len() < 32) {
            bail!("CAMPUSCORE_SESSION_KEY must be at least 32 characters");
        }
        let storage_quota_bytes = match get("CAMPUSCORE_STORAGE_QUOTA_BYTES") {
            Some(v) => v.trim().parse::<u64>().with_context(|| {
                format!("CAMPUSCORE_STORAGE_QUOTA_BYTES must be a number of bytes, got {v:?}")
            })?,
            None => 10 * 1024 * 1024 * 1024,
        };
        let uploads_per_hour = per("CAMPUSCORE_UPLOADS_PER_HOUR", rate_limits::UPLOADS.max)?;
        let hsts_include_subdomains = match get("CAMPUSCORE_HSTS_INCLUDE_SUBDOMAINS") {
            None => false,
            Some(v) => match v.trim() {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => bail!("CAMPUSCORE_HSTS_INCLUDE_SUBDOMAINS must be true or false, got {v:?}"),
            },
        };
        let agent_calls_per_minute = per(
            "CAMPUSCORE_AGENT_CALLS_PER_MINUTE",
            rate_limits::AGENT_CALLS.max,
        )?;
        let api_actions_per_minute = per("CAMPUSCORE_API_ACTIONS_PER_MINUTE", API_ACTIONS.max)?;
        let queries_per_minute = per("CAMPUSCORE_QUERIES_PER_MINUTE", CONSOLE_QUERIES.max)?;
        let connection_checks_per_hour = per(
            "CAMPUSCORE_CONNECTION_CHECKS_PER_HOUR",
            CONNECTION_CHECKS.max,
        )?;
        let oauth_starts_per_hour = per("CAMPUSCORE_OAUTH_STARTS_PER_HOUR", OAUTH_STARTS.max)?;
        let oauth_pending_flows = per("CAMPUSCORE_OAUTH_PENDING_FLOWS", OAUTH_PENDING_FLOWS)?;
        let mcp_cimd_allowed_hosts: Vec<String> = get("CAMPUSCORE_MCP_CIMD_ALLOWED_HOSTS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(str::to_owned)
            .collect();
        campuscore_connectors::AllowList::parse(&mcp_cimd_allowed_hosts)
            .map_err(|reason| anyhow::anyhow!("CAMPUSCORE_MCP_CIMD_ALLOWED_HOSTS: {reason}"))?;
        let mcp_cimd_test_allow_http = match get("CAMPUSCORE_MCP_CIMD_TEST_ALLOW_HTTP") {
            None => false,
            Some(v) => match v.trim() {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => bail!("CAMPUSCORE_MCP_CIMD_TEST_ALLOW_HTTP must be true or false, got {v:?}"),
            },
        };
        let trusted_proxies: Vec<String> = get("CAMPUSCORE_TRUSTED_PROXIES")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect();
        if let Some(name) = trusted_proxies.iter().find(|p| {
            !p.contains('/')
                && p.trim_matches(['[', ']'])
                    .parse::<std::net::IpAddr>()
                    .is_err()
        }) {
            bail!("CAMPUSCORE_TRUSTED_PROXIES: `{name}` is not an address or a CIDR network");
        }
        campuscore_connectors::AllowList::parse(&trusted_proxies)
            .map_err(|reason| anyhow::anyhow!("CAMPUSCORE_TRUSTED_PROXIES: {reason}"))?;
        let login_max_failures = per(
            "CAMPUSCORE_LOGIN_MAX_FAILURES",
            login_throttle::DEFAULT.max_failures,
        )?;
        let login_lock_seconds = per(
            "CAMPUSCORE_LOGIN_LOCK_SECONDS",
            login_throttle::DEFAULT.lock.as_secs() as u32,
        )?;
        let breaker_failures = per(
            "CAMPUSCORE_BREAKER_FAILURES",
            campuscore_connectors::BreakerPolicy::default().failures,
        )?;
        let breaker_cool_down_seconds = per(
            "CAMPUSCORE_BREAKER_COOL_DOWN_SECONDS",
            campuscore_connectors::BreakerPolicy::default()
                .cool_down
                .as_secs() as u32,
        )?;
        let upstream_read_timeout_seconds = per(
            "CAMPUSCORE_UPSTREAM_READ_TIMEOUT_SECONDS",
            campuscore_connectors::DOWNLOAD_IDLE_TIMEOUT.as_secs() as u32,
        )?;
        if u64::from(upstream_read_timeout_seconds)
            > campuscore_connectors::DOWNLOAD_IDLE_TIMEOUT.as_secs()
        {
            bail!(
                "CAMPUSCORE_UPSTREAM_READ_TIMEOUT_SECONDS must be at most {}, got \
                 {upstream_read_timeout_seconds}",
                campuscore_connectors::DOWNLOAD_IDLE_TIMEOUT.as_secs()
            );
        }
        let (oidc, local_login) = oidc_settings(&get)?;
        let seconds = |key: &str, default: u64| -> anyhow::Result<std::time::Duration> {
            match get(key) {
                Some(v) => v
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n <= 3600)
                    .map(std::time::Duration::from_secs)
                    .with_context(|| {
                        format!("{key} must be a whole number of seconds (0 to 3600), got {v:?}")
                    }),
                None => Ok(std::time::Duration::from_secs(default)),
            }
        };
        let shutdown_grace = seconds("CAMPUSCORE_SHUTDOWN_GRACE_SECS", 10)?;
        let worker_grace = seconds("CAMPUSCORE_WORKER_GRACE_SECS", 3)?;
        let db_acquire_timeout = seconds("CAMPUSCORE_DB_ACQUIRE_TIMEOUT_SECS", 3)?;
        if db_acquire_timeout.is_zero() {
            anyhow::bail!("CAMPUSCORE_DB_ACQUIRE_TIMEOUT_SECS must be at least 1 second");
        }
        let db_max_connections = match get("CAMPUSCORE_DB_MAX_CONNECTIONS") {
            None => None,
            Some(v) => Some(v.parse::<u32>().ok().filter(|n| (1..=1000).contains(n)).with_context(
                || format!("CAMPUSCORE_DB_MAX_CONNECTIONS must be a whole number from 1 to 1000, got {v:?}"),
            )?),
        };
        Ok(Self {
            data_dir,
            database_url,
            base_url,
            base_url_configured,
            storage_url,
            queue_url,
            fernet_keys: get("FERNET_KEYS"),
            fernet_key: get("FERNET_KEY"),
            max_upload_bytes,
            run_worker: true,
            cloud_browse_per_minute,
            cloud_imports_per_hour,
            agent_calls_per_minute,
            api_actions_per_minute,
            queries_per_minute,
            connection_checks_per_hour,
            oauth_starts_per_hour,
            oauth_pending_flows,
            hsts_include_subdomains,
            session_key,
            storage_quota_bytes,
            uploads_per_hour,
            mcp_cimd_allowed_hosts,
            mcp_cimd_test_allow_http,
            trusted_proxies,
            login_max_failures,
            login_lock_seconds,
            breaker_failures,
            breaker_cool_down_seconds,
            upstream_read_timeout_seconds,
            oidc,
            local_login,
            shutdown_grace,
            worker_grace,
            db_pool: crate::db::PoolSettings {
                max_connections: db_max_connections,
                acquire_timeout: db_acquire_timeout,
            },
        })
    }

    /// The reverse proxies whose `X-Forwarded-For` is believed.
    pub fn trusted_proxy_list(&self) -> campuscore_connectors::AllowList {
        // Checked when the settings were read.
        campuscore_connectors::AllowList::parse(&self.trusted_proxies).unwrap_or_default()
    }

    /// Outbound HTTP settings: the defaults with this deployment's circuit breakers.
    pub fn http_config(&self) -> campuscore_connectors::HttpConfig {
        campuscore_connectors::HttpConfig {
            breaker: campuscore_connectors::BreakerPolicy {
                failures: self.breaker_failures,
                cool_down: std::time::Duration::from_secs(u64::from(
                    self.breaker_cool_down_seconds,
                )),
                ..Default::default()
            },
            read_timeout: std::time::Duration::from_secs(u64::from(
                self.upstream_read_timeout_seconds,
            )),
            ..Default::default()
        }
    }

    /// The per-account sign-in throttle with this deployment's allowance.
    pub fn login_policy(&self) -> login_throttle::Policy {
        login_throttle::Policy {
            max_failures: self.login_max_failures,
            lock: std::time::Duration::from_secs(u64::from(self.login_lock_seconds)),
            ..login_throttle::DEFAULT
        }
    }

    /// The cloud browsing limit with this deployment's allowance.
    pub fn cloud_browse_limit(&self) -> rate_limits::Limit {
        rate_limits::Limit {
            max: self.cloud_browse_per_minute,
            ..rate_limits::CLOUD_BROWSE
        }
    }

    /// The cloud import limit with this deployment's allowance.
    pub fn cloud_import_limit(&self) -> rate_limits::Limit {
        rate_limits::Limit {
            max: self.cloud_imports_per_hour,
            ..rate_limits::CLOUD_IMPORT
        }
    }

    /// The upload limit with this deployment's allowance.
    pub fn upload_limit(&self) -> rate_limits::Limit {
        rate_limits::Limit {
            max: self.uploads_per_hour,
            ..rate_limits::UPLOADS
        }
    }

    /// The agent tool-call budget with this deployment's allowance.
    pub fn agent_call_limit(&self) -> rate_limits::Limit {
        rate_limits::Limit {
            max: self.agent_calls_per_minute,
            ..rate_limits::AGENT_CALLS
        }
    }

    /// The JSON API action budget with this deployment's allowance.
    pub fn api_action_limit(&self) -> rate_limits::Limit {
        rate_limits::Limit {
            max: self.api_actions_per_minute,
            ..API_ACTIONS
        }
    }

    /// The query console budget with this deployment's allowance.
    pub fn query_limit(&self) -> rate_limits::Limit {
        rate_limits::Limit {
            max: self.queries_per_minute,
            ..CONSOLE_QUERIES
        }
    }

    /// The live credential check budget with this deployment's allowance.
    pub fn connection_check_limit(&self) -> rate_limits::Limit {
        rate_limits::Limit {
            max: self.connection_checks_per_hour,
            ..CONNECTION_CHECKS
        }
    }

    /// The OAuth start budget with this deployment's allowance.
    pub fn oauth_start_limit(&self) -> rate_limits::Limit {
        rate_limits::Limit {
            max: self.oauth_starts_per_hour,
            ..OAUTH_STARTS
        }
    }

    /// Whether cookies must carry `Secure` (the site is served over HTTPS).
    pub fn secure_cookies(&self) -> bool {
        self.base_url.scheme() == "https"
    }

    /// An absolute URL on this site for `path` (which starts with `/`).
    pub fn absolute_url(&self, path: &str) -> String {
        format!("{}{}", self.base_url.as_str().trim_end_matches('/'), path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> anyhow::Result<Settings> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn debug_output_shows_no_key_and_no_database_password() -> anyhow::Result<()> {
        let key = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
        let s = settings(&[
            ("FERNET_KEYS", key),
            ("FERNET_KEY", key),
            (
                "DATABASE_URL",
                "postgres://app:s3cret-pw@db.campus.edu/campuscore",
            ),
        ])?;
        let shown = format!("{s:?}");
        assert!(
            !shown.contains(key) && !shown.contains("s3cret-pw"),
            "{shown}"
        );
        assert!(
            shown.contains("db.campus.edu") && shown.contains("<set>"),
            "{shown}"
        );
        Ok(())
    }

    #[test]
    fn defaults_use_sqlite_and_files_under_data() -> anyhow::Result<()> {
        let s = settings(&[])?;
        assert_eq!(s.database_url, "sqlite://./data/campuscore.db?mode=rwc");
        assert_eq!(s.storage_url, "file://./data/objects");
        assert_eq!(s.base_url.as_str(), "http://127.0.0.1:8000/");
        assert!(!s.secure_cookies());
        Ok(())
    }

    #[test]
    fn bad_values_are_refused_with_the_variable_named() {
        let err = settings(&[("CAMPUSCORE_MAX_UPLOAD_BYTES", "lots")])
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("CAMPUSCORE_MAX_UPLOAD_BYTES")));
        let err = settings(&[("DATABASE_URL", "mysql://x")])
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("DATABASE_URL")));
    }

    #[test]
    fn the_database_pool_waits_briefly_by_default_and_refuses_nonsense() -> anyhow::Result<()> {
        let s = settings(&[])?;
        assert_eq!(s.db_pool, crate::db::PoolSettings::default());
        assert_eq!(s.db_pool.acquire_timeout, std::time::Duration::from_secs(3));
        let s = settings(&[
            ("CAMPUSCORE_DB_ACQUIRE_TIMEOUT_SECS", "7"),
            ("CAMPUSCORE_DB_MAX_CONNECTIONS", "4"),
        ])?;
        assert_eq!(s.db_pool.acquire_timeout, std::time::Duration::from_secs(7));
        assert_eq!(s.db_pool.max_connections, Some(4));
        for (key, bad) in [
            ("CAMPUSCORE_DB_ACQUIRE_TIMEOUT_SECS", "0"),
            ("CAMPUSCORE_DB_ACQUIRE_TIMEOUT_SECS", "3s"),
            ("CAMPUSCORE_DB_MAX_CONNECTIONS", "0"),
            ("CAMPUSCORE_DB_MAX_CONNECTIONS", "many"),
        ] {
            let err = settings(&[(key, bad)]).err().map(|e| e.to_string());
            assert!(err.is_some_and(|e| e.contains(key)), "{key}={bad}");
        }
        Ok(())
    }

    #[test]
    fn shutdown_graces_default_and_refuse_what_is_not_a_number_of_seconds() -> anyhow::Result<()> {
        let s = settings(&[])?;
        assert_eq!(s.shutdown_grace, std::time::Duration::from_secs(10));
        assert_eq!(s.worker_grace, std::time::Duration::from_secs(3));
        let s = settings(&[
            ("CAMPUSCORE_SHUTDOWN_GRACE_SECS", "0"),
            ("CAMPUSCORE_WORKER_GRACE_SECS", " 30 "),
        ])?;
        assert_eq!(s.shutdown_grace, std::time::Duration::ZERO);
        assert_eq!(s.worker_grace, std::time::Duration::from_secs(30));
        for (key, bad) in [
            ("CAMPUSCORE_SHUTDOWN_GRACE_SECS", "-1"),
            ("CAMPUSCORE_SHUTDOWN_GRACE_SECS", "10s"),
            ("CAMPUSCORE_WORKER_GRACE_SECS", "99999"),
        ] {
            let err = settings(&[(key, bad)]).err().map(|e| e.to_string());
            assert!(err.is_some_and(|e| e.contains(key)), "{key}={bad}");
        }
        Ok(())
    }

    #[test]
    fn mcp_client_document_hosts_are_checked_when_read() -> anyhow::Result<()> {
        let s = settings(&[])?;
        assert!(s.mcp_cimd_allowed_hosts.is_empty());
        assert!(!s.mcp_cimd_test_allow_http);
        let s = settings(&[
            (
                "CAMPUSCORE_MCP_CIMD_ALLOWED_HOSTS",
                "127.0.0.1, *.campus.edu",
            ),
            ("CAMPUSCORE_MCP_CIMD_TEST_ALLOW_HTTP", "true"),
        ])?;
        assert_eq!(s.mcp_cimd_allowed_hosts, ["127.0.0.1", "*.campus.edu"]);
        assert!(s.mcp_cimd_test_allow_http);
        for (key, bad) in [
            ("CAMPUSCORE_MCP_CIMD_ALLOWED_HOSTS", "http://x.edu/"),
            ("CAMPUSCORE_MCP_CIMD_TEST_ALLOW_HTTP", "sometimes"),
        ] {
            let err = settings(&[(key, bad)]).err().map(|e| e.to_string());
            assert!(err.is_some_and(|e| e.contains(key)), "{key}={bad}");
        }
        Ok(())
    }

    #[test]
    fn campus_sign_in_is_read_checked_and_keeps_its_secret_out_of_debug() -> anyhow::Result<()> {
        let s = settings(&[])?;
        assert!(s.oidc.is_none() && s.local_login);
        let s = settings(&[
            ("CAMPUSCORE_OIDC_ISSUER", "https://login.campus.edu/"),
            ("CAMPUSCORE_OIDC_CLIENT_ID", "campuscore"),
            ("CAMPUSCORE_OIDC_CLIENT_SECRET", "oidc-s3cret"),
            ("CAMPUSCORE_OIDC_ADMIN_CLAIM", "groups"),
            ("CAMPUSCORE_OIDC_ADMIN_VALUE", "it-staff"),
            ("CAMPUSCORE_INSTITUTION_NAME", "Campus U"),
            ("CAMPUSCORE_LOCAL_LOGIN", "false"),
        ])?;
        let oidc = s.oidc.as_ref().context("oidc settings")?;
        assert_eq!(oidc.issuer, "https://login.campus.edu/");
        assert_eq!(oidc.institution_name, "Campus U");
        assert_eq!(oidc.admin_claim.as_deref(), Some("groups"));
        assert!(!s.local_login && !oidc.link_existing_accounts);
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("oidc-s3cret") && shown.contains("campuscore"),
            "{shown}"
        );
        for (pairs, key) in [
            (
                vec![("CAMPUSCORE_LOCAL_LOGIN", "false")],
                "CAMPUSCORE_OIDC_ISSUER",
            ),
            (
                vec![("CAMPUSCORE_OIDC_ISSUER", "https://login.campus.edu")],
                "CAMPUSCORE_OIDC_CLIENT_ID",
            ),
            (
                vec![
                    ("CAMPUSCORE_OIDC_ISSUER", "http://login.campus.edu"),
                    ("CAMPUSCORE_OIDC_CLIENT_ID", "c"),
                ],
                "CAMPUSCORE_OIDC_ISSUER",
            ),
            (
                vec![
                    ("CAMPUSCORE_OIDC_ISSUER", "https://login.campus.edu"),
                    ("CAMPUSCORE_OIDC_CLIENT_ID", "c"),
                    ("CAMPUSCORE_OIDC_ADMIN_CLAIM", "groups"),
                ],
                "CAMPUSCORE_OIDC_ADMIN_VALUE",
            ),
            (
                vec![("CAMPUSCORE_LOCAL_LOGIN", "maybe")],
                "CAMPUSCORE_LOCAL_LOGIN",
            ),
        ] {
            let err = settings(&pairs).err().map(|e| e.to_string());
            assert!(
                err.as_ref().is_some_and(|e| e.contains(key)),
                "{pairs:?}: {err:?}"
            );
        }
        let s = settings(&[
            ("CAMPUSCORE_OIDC_ISSUER", "http://127.0.0.1:9000"),
            ("CAMPUSCORE_OIDC_CLIENT_ID", "c"),
        ])?;
        assert!(s.oidc.is_some_and(|o| o.client_secret.is_none()));
        Ok(())
    }

    #[test]
    fn abuse_limits_default_to_the_documented_ones_and_are_read_from_their_variables()
    -> anyhow::Result<()> {
        let s = settings(&[])?;
        assert_eq!(s.api_action_limit(), API_ACTIONS);
        assert_eq!(s.query_limit(), CONSOLE_QUERIES);
        assert_eq!(s.connection_check_limit(), CONNECTION_CHECKS);
        assert_eq!(s.oauth_start_limit(), OAUTH_STARTS);
        assert_eq!(s.oauth_pending_flows, OAUTH_PENDING_FLOWS);
        let vars = [
            "CAMPUSCORE_API_ACTIONS_PER_MINUTE",
            "CAMPUSCORE_QUERIES_PER_MINUTE",
            "CAMPUSCORE_CONNECTION_CHECKS_PER_HOUR",
            "CAMPUSCORE_OAUTH_STARTS_PER_HOUR",
            "CAMPUSCORE_OAUTH_PENDING_FLOWS",
        ];
        let s = settings(&vars.map(|k| (k, "7")))?;
        assert_eq!(s.api_action_limit().max, 7);
        assert_eq!(s.api_action_limit().window, API_ACTIONS.window);
        assert_eq!(s.query_limit().max, 7);
        assert_eq!(s.connection_check_limit().max, 7);
        assert_eq!(s.oauth_start_limit().max, 7);
        assert_eq!(s.oauth_pending_flows, 7);
        for key in vars {
            let err = settings(&[(key, "0")]).err().map(|e| e.to_string());
            assert!(err.is_some_and(|e| e.contains(key)), "{key}=0");
        }
        Ok(())
    }

    #[test]
    fn cloud_limits_default_to_the_documented_ones_and_can_be_raised() -> anyhow::Result<()> {
        let s = settings(&[])?;
        assert_eq!(s.cloud_browse_limit(), rate_limits::CLOUD_BROWSE);
        assert_eq!(s.cloud_import_limit(), rate_limits::CLOUD_IMPORT);
        let s = settings(&[
            ("CAMPUSCORE_CLOUD_BROWSE_PER_MINUTE", "120"),
            ("CAMPUSCORE_CLOUD_IMPORTS_PER_HOUR", "25"),
        ])?;
        assert_eq!(s.cloud_browse_limit().max, 120);
        assert_eq!(
            s.cloud_browse_limit().window,
            rate_limits::CLOUD_BROWSE.window
        );
        assert_eq!(s.cloud_import_limit().max, 25);
        for bad in ["0", "-1", "many"] {
            let err = settings(&[("CAMPUSCORE_CLOUD_BROWSE_PER_MINUTE", bad)])
                .err()
                .map(|e| e.to_string());
            assert!(err.is_some_and(|e| e.contains("CAMPUSCORE_CLOUD_BROWSE_PER_MINUTE")));
        }
        Ok(())
    }
}
