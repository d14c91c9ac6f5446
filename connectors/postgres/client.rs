//! Connecting to a user's PostgreSQL server and opening the read-only transaction every
//! action runs in.
//!
//! - [`PgParams`]: the form's fields, parsed; never a DSN, and `Debug` hides the password.
//! - [`Session::connect`]: resolves the host once through the SSRF guard, opens the TCP
//!   stream to a checked address, wraps it in TLS for the typed host name, logs in.
//!   tokio-postgres is built without its `runtime` feature, so it has no way to open a
//!   socket or resolve a name itself: `connect_raw` over our stream is the only path.
//! - [`Session::begin_read_only`]: `START TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ
//!   ONLY`, `SET LOCAL` timeouts, then the role check as the transaction's first query — it
//!   takes the snapshot, after which `SET TRANSACTION READ WRITE` (or `set_config`) fails.
//!
//! One connection per action, closed afterwards (never pooled), so no session state
//! (`SET`, temp objects, `SET ROLE`, advisory locks) outlives the action that made it and no
//! `DISCARD ALL` is needed. On loopback a connection costs a few milliseconds (see the
//! latency test); a pool with `DISCARD ALL` on return is the upgrade path if that changes.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_postgres::config::SslMode as WireSslMode;
use tokio_postgres::tls::{NoTls, TlsConnect};
use tokio_postgres::{Client, Config, IsolationLevel, Transaction};

use super::errors::{Stage, connect_error, statement_error};
use super::tls::{RustlsConnect, Verification};
use crate::ssrf::resolve_checked;
use crate::{AllowList, ConnectorError, ConnectorSettings, Credentials};

/// Longest wait for TCP connect + TLS + login.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for the TCP connection to one address.
const TCP_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a closed session may take to say goodbye before its task is aborted.
const CLOSE_GRACE: Duration = Duration::from_secs(5);
/// Longest accepted host, database, user or password.
const MAX_FIELD_CHARS: usize = 1000;
/// Shown to PostgreSQL (`pg_stat_activity.application_name`).
const APPLICATION_NAME: &str = "campuscore";

/// How the connection is encrypted (form field `sslmode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SslMode {
    /// No TLS.
    Disable,
    /// TLS, certificate not checked.
    Require,
    /// TLS, certificate checked against the trust store and the host name.
    VerifyFull,
}

impl SslMode {
    /// The form value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Require => "require",
            Self::VerifyFull => "verify-full",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        match value {
            "disable" => Some(Self::Disable),
            "require" => Some(Self::Require),
            "verify-full" => Some(Self::VerifyFull),
            _ => None,
        }
    }
}

/// Connection parameters from the form or the stored credentials.
#[derive(Clone)]
pub(crate) struct PgParams {
    /// Host as typed (name or IP literal); resolved only by the SSRF guard.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Database name.
    pub database: String,
    /// Role name.
    pub user: String,
    password: String,
    /// TLS mode.
    pub sslmode: SslMode,
}

impl fmt::Debug for PgParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgParams")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("database", &self.database)
            .field("user", &self.user)
            .field("password", &crate::redact::REDACTED)
            .field("sslmode", &self.sslmode)
            .finish()
    }
}

impl PgParams {
    /// Parses form fields (as `validate_form` leaves them, or as JSON): errors blame the
    /// field.
    pub(crate) fn from_fields(fields: &Map<String, Value>) -> Result<Self, ConnectorError> {
        let text = |name: &str, trim: bool| -> Result<String, ConnectorError> {
            let raw = match fields.get(name) {
                Some(Value::String(s)) => s.as_str(),
                None | Some(Value::Null) => "",
                Some(_) => return Err(ConnectorError::invalid_field(name, "Enter text.")),
            };
            let value = if trim { raw.trim() } else { raw };
            if value.is_empty() {
                return Err(ConnectorError::invalid_field(
                    name,
                    "This field is required.",
                ));
            }
            if value.contains('\0') || value.chars().count() > MAX_FIELD_CHARS {
                return Err(ConnectorError::invalid_field(
                    name,
                    "This value is not accepted.",
                ));
            }
            Ok(value.to_owned())
        };
        let port = match fields.get("port") {
            None | Some(Value::Null) => Some(5432),
            Some(Value::Number(n)) => n.as_u64().and_then(|p| u16::try_from(p).ok()),
            Some(Value::String(s)) if s.trim().is_empty() => Some(5432),
            Some(Value::String(s)) => s.trim().parse::<u16>().ok(),
            Some(_) => None,
        }
        .filter(|p| *p != 0)
        .ok_or_else(|| ConnectorError::invalid_field("port", "Enter a port from 1 to 65535."))?;
        let sslmode = match fields.get("sslmode") {
            None | Some(Value::Null) => Some(SslMode::VerifyFull),
            Some(Value::String(s)) if s.trim().is_empty() => Some(SslMode::VerifyFull),
            Some(Value::String(s)) => SslMode::parse(s.trim()),
            Some(_) => None,
        }
        .ok_or_else(|| {
            ConnectorError::invalid_field(
                "sslmode",
                "Choose `verify-full`, `require` or `disable`.",
            )
        })?;
        Ok(Self {
            host: text("host", true)?,
            port,
            database: text("database", true)?,
            user: text("user", true)?,
            password: text("password", false)?,
            sslmode,
        })
    }

    /// Reads stored credentials; a damaged record means the user must reconnect.
    pub(crate) fn from_credentials(credentials: &Credentials) -> Result<Self, ConnectorError> {
        let fields = credentials
            .as_value()
            .as_object()
            .cloned()
            .unwrap_or_default();
        Self::from_fields(&fields).map_err(|error| ConnectorError::AuthExpired {
            message: format!(
                "the stored PostgreSQL credentials are incomplete ({})",
                error.user_message()
            ),
        })
    }

    /// The credentials to store: every form field, the port as a number.
    pub(crate) fn to_credentials(&self) -> Value {
        json!({
            "host": self.host,
            "port": self.port,
            "database": self.database,
            "user": self.user,
            "password": self.password,
            "sslmode": self.sslmode.as_str(),
        })
    }

    /// `user@host/database`, the connection's identity.
    pub(crate) fn identity(&self) -> String {
        format!("{}@{}/{}", self.user, self.host, self.database)
    }

    fn config(&self) -> Config {
        let mut config = Config::new();
        config
            .user(&self.user)
            .password(&self.password)
            .dbname(&self.database)
            .application_name(APPLICATION_NAME)
            .ssl_mode(match self.sslmode {
                SslMode::Disable => WireSslMode::Disable,
                SslMode::Require | SslMode::VerifyFull => WireSslMode::Require,
            });
        config
    }
}

/// Server-side limits of one read-only transaction.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    /// `statement_timeout`.
    pub statement: Duration,
    /// `lock_timeout`.
    pub lock: Duration,
}

impl Timeouts {
    /// For the catalog actions.
    pub(crate) const CATALOG: Self = Self {
        statement: Duration::from_secs(15),
        lock: Duration::from_secs(5),
    };

    /// For a user query that may run `statement`.
    pub(crate) fn for_query(statement: Duration) -> Self {
        Self {
            statement,
            lock: statement.min(Duration::from_secs(10)),
        }
    }
}

/// What the connected role may become, read at the start of every transaction.
#[derive(Debug, Clone)]
pub(crate) struct RoleCheck {
    /// `current_user`.
    pub role: String,
    /// Whether it is a superuser.
    pub superuser: bool,
    /// Which of the server-access roles it is a member of.
    pub server_roles: Vec<String>,
    /// Superuser roles it can `SET ROLE` to.
    pub superuser_roles: Vec<String>,
    /// Functions it may execute that reach past the read-only transaction (dblink, server
    /// files, server administration), by name.
    pub server_functions: Vec<String>,
}

/// Functions a role must not be able to execute (any schema, any overload): dblink's
/// connections are outside our transaction; the rest read or write the server's files or
/// act on the server. None is executable by `PUBLIC` on a stock server, except dblink's once
/// the extension is installed.
const SERVER_FUNCTIONS: &str = "\
'dblink', 'dblink_exec', 'dblink_connect', 'dblink_connect_u', 'dblink_send_query', \
'dblink_open', 'pg_read_file', 'pg_read_binary_file', 'pg_ls_dir', 'pg_stat_file', \
'lo_import', 'lo_export', 'pg_file_write', 'pg_file_rename', 'pg_file_unlink', \
'pg_file_sync', 'pg_logdir_ls', 'pg_reload_conf', 'pg_rotate_logfile', 'pg_switch_wal', \
'pg_create_restore_point', 'pg_promote', 'pg_wal_replay_pause', 'pg_wal_replay_resume', \
'pg_backup_start', 'pg_backup_stop', 'pg_start_backup', 'pg_stop_backup', \
'pg_log_backend_memory_contexts', 'pg_stat_reset', 'pg_stat_reset_shared', \
'pg_stat_reset_single_table_counters', 'pg_stat_reset_single_function_counters', \
'pg_stat_reset_slru', 'pg_stat_reset_replication_slot', 'pg_stat_reset_subscription_stats'";

/// The transaction's first query: it takes the snapshot, and says whether the role is one
/// this connector refuses (superuser, server file or program access, signalling other
/// backends, able to become a superuser through membership, or able to run one of
/// [`SERVER_FUNCTIONS`] — looked up in `pg_proc`, so a function that is not installed is
/// simply absent).
fn role_check_sql() -> String {
    format!(
        "\
SELECT current_user::text,
       r.rolsuper,
       ARRAY(SELECT s.rolname::text FROM pg_catalog.pg_roles s
             WHERE s.rolname IN ('pg_execute_server_program', 'pg_read_server_files',
                                 'pg_write_server_files', 'pg_signal_backend')
               AND pg_catalog.pg_has_role(current_user, s.oid, 'MEMBER')
             ORDER BY 1),
       ARRAY(SELECT s.rolname::text FROM pg_catalog.pg_roles s
             WHERE s.rolsuper AND s.rolname <> current_user
               AND pg_catalog.pg_has_role(current_user, s.oid, 'MEMBER')
             ORDER BY 1),
       ARRAY(SELECT DISTINCT p.proname::text FROM pg_catalog.pg_proc p
             WHERE p.proname IN ({SERVER_FUNCTIONS})
               AND pg_catalog.has_function_privilege(p.oid, 'EXECUTE')
             ORDER BY 1)
FROM pg_catalog.pg_roles r
WHERE r.rolname = current_user"
    )
}

impl RoleCheck {
    /// Why this role may not be used, if it may not.
    pub(crate) fn refusal(&self) -> Option<String> {
        let role = &self.role;
        if self.superuser {
            return Some(format!(
                "`{role}` is a superuser. Connect with a role that is not (ideally one that can only read)."
            ));
        }
        if !self.server_roles.is_empty() {
            return Some(format!(
                "`{role}` is a member of {}, which can reach files or programs on the database server or signal other sessions. Connect with a role that is not.",
                self.server_roles.join(", ")
            ));
        }
        if !self.server_functions.is_empty() {
            return Some(format!(
                "`{role}` can execute {}, which reach past a read-only query (other connections, the server's files or its administration). Connect with a role that cannot (REVOKE EXECUTE on them).",
                self.server_functions.join(", ")
            ));
        }
        if !self.superuser_roles.is_empty() {
            return Some(format!(
                "`{role}` can switch to the superuser role {}. Connect with a role that cannot.",
                self.superuser_roles.join(", ")
            ));
        }
        None
    }
}

/// A logged-in connection, closed when dropped.
pub(crate) struct Session {
    client: Client,
    budget: WireBudget,
    connection: Option<JoinHandle<()>>,
}

impl Session {
    /// Connects to `params` through the SSRF guard (`ALLOWED_HOSTS` from `settings`).
    /// `stage` decides how login failures read: a form field to fix when connecting, a
    /// reconnect (`AuthExpired`) once stored.
    pub(crate) async fn connect(
        params: &PgParams,
        settings: &ConnectorSettings,
        stage: Stage,
    ) -> Result<Self, ConnectorError> {
        let allow = AllowList::from_settings(settings)?;
        let addrs = resolve_checked(&params.host, params.port, &allow).await?;
        let budget = WireBudget::default();
        let attempt = async {
            let stream = open_tcp(&addrs)
                .await
                .map_err(|e| tcp_error(params, stage, &e))?;
            let stream = Budgeted {
                inner: stream,
                budget: budget.clone(),
            };
            let config = params.config();
            let login = match params.sslmode {
                SslMode::Disable => login(&config, stream, NoTls).await,
                SslMode::Require => {
                    let tls = RustlsConnect::new(&params.host, Verification::None)?;
                    login(&config, stream, tls).await
                }
                SslMode::VerifyFull => {
                    let tls = RustlsConnect::new(&params.host, Verification::Full)?;
                    login(&config, stream, tls).await
                }
            };
            login.map_err(|e| connect_error(&e, params, stage))
        };
        let (client, connection) = match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
            Ok(result) => result?,
            Err(_) => return Err(timeout_error(params, stage)),
        };
        Ok(Self {
            client,
            budget,
            connection: Some(connection),
        })
    }

    /// The byte budget of this connection's incoming traffic.
    pub(crate) fn budget(&self) -> &WireBudget {
        &self.budget
    }

    /// Opens the read-only transaction, sets its timeouts and takes its snapshot with the
    /// role check. The caller decides what a refused role means (see [`RoleCheck::refusal`]).
    pub(crate) async fn begin_read_only(
        &mut self,
        timeouts: Timeouts,
    ) -> Result<(Transaction<'_>, RoleCheck), ConnectorError> {
        let budget = self.budget.clone();
        let fail = |e: tokio_postgres::Error| statement_error(&e, None, timeouts, &budget);
        let tx = self
            .client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(fail)?;
        // Our own text with integers only, so the simple protocol is fine here.
        let statement_ms = timeouts.statement.as_millis();
        let idle_ms = (timeouts.statement + Duration::from_secs(10)).as_millis();
        // `standard_conforming_strings`: the console's statement check reads backslashes in
        // strings as the standard does, so the server must too.
        tx.batch_execute(&format!(
            "SET LOCAL statement_timeout = {statement_ms}; \
             SET LOCAL lock_timeout = {}; \
             SET LOCAL idle_in_transaction_session_timeout = {idle_ms}; \
             SET LOCAL standard_conforming_strings = on",
            timeouts.lock.as_millis()
        ))
        .await
        .map_err(fail)?;
        let row = tx.query_one(&role_check_sql(), &[]).await.map_err(fail)?;
        let check = RoleCheck {
            role: row.try_get(0).map_err(fail)?,
            superuser: row.try_get(1).map_err(fail)?,
            server_roles: row.try_get(2).map_err(fail)?,
            superuser_roles: row.try_get(3).map_err(fail)?,
            server_functions: row.try_get(4).map_err(fail)?,
        };
        Ok((tx, check))
    }

    /// [`Session::begin_read_only`] for an action: a refused role is `PermissionDenied`
    /// (the role changed since it was connected).
    pub(crate) async fn begin_checked(
        &mut self,
        timeouts: Timeouts,
    ) -> Result<Transaction<'_>, ConnectorError> {
        let (tx, check) = self.begin_read_only(timeouts).await?;
        match check.refusal() {
            None => Ok(tx),
            Some(message) => Err(ConnectorError::PermissionDenied { message }),
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // The client goes right after this; its connection task then sends Terminate and
        // ends. Abort it if the server does not let it end (a hung network).
        let Some(connection) = self.connection.take() else {
            return;
        };
        if connection.is_finished() {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let abort = connection.abort_handle();
            runtime.spawn(async move {
                if tokio::time::timeout(CLOSE_GRACE, connection).await.is_err() {
                    abort.abort();
                }
            });
        } else {
            connection.abort();
        }
    }
}

/// Logs in over `stream` and spawns the connection task, which drops server notices
/// (they may quote data; they are not logged).
async fn login<T>(
    config: &Config,
    stream: Budgeted<TcpStream>,
    tls: T,
) -> Result<(Client, JoinHandle<()>), tokio_postgres::Error>
where
    T: TlsConnect<Budgeted<TcpStream>>,
    T::Stream: Send + 'static,
{
    let (client, mut connection) = config.connect_raw(stream, tls).await?;
    let task = tokio::spawn(async move {
        let ended = std::future::poll_fn(|cx| {
            loop {
                match ready!(connection.poll_message(cx)) {
                    Some(Ok(_notice_or_notification)) => {}
                    Some(Err(error)) => return Poll::Ready(Err(error)),
                    None => return Poll::Ready(Ok(())),
                }
            }
        })
        .await;
        if let Err(error) = ended {
            tracing::debug!(error = %error, "postgres connection ended with an error");
        }
    });
    Ok((client, task))
}

/// Connects to the first checked address that answers.
async fn open_tcp(addrs: &[SocketAddr]) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address to connect to");
    for addr in addrs {
        match tokio::time::timeout(TCP_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                stream.set_nodelay(true)?;
                return Ok(stream);
            }
            Ok(Err(error)) => last = error,
            Err(_) => last = io::Error::new(io::ErrorKind::TimedOut, "timed out"),
        }
    }
    Err(last)
}

fn tcp_error(params: &PgParams, stage: Stage, error: &io::Error) -> ConnectorError {
    let why = match error.kind() {
        io::ErrorKind::ConnectionRefused => "the connection was refused".to_owned(),
        io::ErrorKind::TimedOut => "it did not answer".to_owned(),
        _ => error.to_string(),
    };
    let message = format!(
        "could not connect to {} port {}: {why}; check the host and port",
        params.host, params.port
    );
    match stage {
        Stage::Connect => ConnectorError::invalid_field("host", message),
        Stage::Action => ConnectorError::Transport { message },
    }
}

fn timeout_error(params: &PgParams, stage: Stage) -> ConnectorError {
    let message = format!(
        "{} port {} did not complete the login within {} seconds",
        params.host,
        params.port,
        CONNECT_TIMEOUT.as_secs()
    );
    match stage {
        Stage::Connect => ConnectorError::invalid_field("host", message),
        Stage::Action => ConnectorError::Transport { message },
    }
}

/// A limit on the bytes one connection may receive, so that a single enormous value (a
/// `repeat('x', 500000000)`) cannot be buffered whole: past the limit the stream fails
/// and the session is dropped. The query's own row and byte caps apply well before this.
#[derive(Debug, Clone, Default)]
pub(crate) struct WireBudget(Arc<BudgetState>);

#[derive(Debug)]
struct BudgetState {
    read: AtomicU64,
    limit: AtomicU64,
    tripped: AtomicBool,
}

impl Default for BudgetState {
    fn default() -> Self {
        Self {
            read: AtomicU64::new(0),
            limit: AtomicU64::new(u64::MAX),
            tripped: AtomicBool::new(false),
        }
    }
}

impl WireBudget {
    /// Allows `bytes` more from now on.
    pub(crate) fn allow_more(&self, bytes: u64) {
        let read = self.0.read.load(Ordering::Relaxed);
        self.0
            .limit
            .store(read.saturating_add(bytes), Ordering::Relaxed);
    }

    /// Whether the limit was hit (the connection is then broken).
    pub(crate) fn tripped(&self) -> bool {
        self.0.tripped.load(Ordering::Relaxed)
    }

    fn record(&self, bytes: usize) -> bool {
        let bytes = u64::try_from(bytes).unwrap_or(u64::MAX);
        let total = self.0.read.fetch_add(bytes, Ordering::Relaxed) + bytes;
        let over = total > self.0.limit.load(Ordering::Relaxed);
        if over {
            self.0.tripped.store(true, Ordering::Relaxed);
        }
        !over
    }
}

/// A stream that counts what it reads against a [`WireBudget`].
pub(crate) struct Budgeted<S> {
    inner: S,
    budget: WireBudget,
}

impl<S: AsyncRead + Unpin> AsyncRead for Budgeted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        if self.budget.record(buf.filled().len() - before) {
            Poll::Ready(Ok(()))
        } else {
            Poll::Ready(Err(io::Error::other(
                "the server sent more data than one result may hold",
            )))
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Budgeted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
