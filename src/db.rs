//! Database connection and migrations (SQLite by default, PostgreSQL by URL).

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr, RuntimeErr};
use std::time::Duration;

/// How the app's pools wait for a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolSettings {
    /// The main pool's size (`CAMPUSCORE_DB_MAX_CONNECTIONS`; by default 8 on SQLite, 16 on
    /// PostgreSQL).
    pub max_connections: Option<u32>,
    /// How long a request waits for a connection — for one to come free, or for the database
    /// to answer a new one — before it is answered 503 "temporarily unavailable"
    /// (`CAMPUSCORE_DB_ACQUIRE_TIMEOUT_SECS`, default 3). Short, so that while the database is
    /// away every page answers within seconds instead of hanging.
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: None,
            acquire_timeout: Duration::from_secs(3),
        }
    }
}

/// Connect to `url` with the default [`PoolSettings`] (the CLI's commands).
pub async fn connect(url: &str) -> anyhow::Result<DatabaseConnection> {
    connect_with(url, PoolSettings::default()).await
}

/// Connect to `url`, creating the SQLite file's directory when needed.
pub async fn connect_with(url: &str, pool: PoolSettings) -> anyhow::Result<DatabaseConnection> {
    if let Some(path) = sqlite_path(url)
        && let Some(dir) = std::path::Path::new(&path).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the database directory {}", dir.display()))?;
    }
    let sqlite = url.starts_with("sqlite:");
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(pool.max_connections.unwrap_or(if sqlite { 8 } else { 16 }))
        .min_connections(1)
        .connect_timeout(pool.acquire_timeout)
        .acquire_timeout(pool.acquire_timeout)
        .sqlx_logging(false);
    if sqlite {
        opts.map_sqlx_sqlite_opts(sqlite_options);
    }
    let db = Database::connect(opts)
        .await
        .with_context(|| format!("connecting to the database ({})", redact_url(url)))?;
    Ok(db)
}

/// Connect to `url` with every migration applied. On SQLite the migrations run on a pool of
/// their own, closed before the pool the app uses opens: a connection that was open while
/// another altered a table can describe a new statement with the table's old columns (seen
/// as "Missing value for column" from the first insert after start-up).
pub async fn connect_migrated(url: &str, pool: PoolSettings) -> anyhow::Result<DatabaseConnection> {
    let db = connect_with(url, pool).await?;
    migrate(&db).await?;
    if !url.starts_with("sqlite:") {
        return Ok(db);
    }
    db.close()
        .await
        .context("closing the connections that ran the migrations")?;
    connect_with(url, pool).await
}

/// The pool for bookkeeping writes (rate-limit hits, audit rows, `last_used_at`). On SQLite
/// a second pool of one connection to the same file: SQLite has one writer at a time, and
/// writers that each hold a connection of the main pool wait for its lock by sleeping and
/// retrying (the busy timeout, in steps of up to 100 ms), while writers queued for the one
/// connection take turns as soon as it is free. Reads keep the main pool. On PostgreSQL,
/// and for an in-memory SQLite database, the main pool itself.
pub async fn connect_bookkeeping(
    url: &str,
    main: &DatabaseConnection,
    pool: PoolSettings,
) -> anyhow::Result<DatabaseConnection> {
    if sqlite_path(url).is_none() {
        return Ok(main.clone());
    }
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(1)
        .min_connections(1)
        .connect_timeout(pool.acquire_timeout)
        .acquire_timeout(pool.acquire_timeout)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(sqlite_options);
    Database::connect(opts)
        .await
        .with_context(|| format!("connecting to the database ({})", redact_url(url)))
}

/// Reads on the calling thread (`models::local_reads`) for an SQLite database in a file: the
/// file `main`'s pool opened. None for PostgreSQL and for SQLite in memory.
pub fn local_reads(url: &str, main: &DatabaseConnection) -> crate::models::local_reads::Reads {
    sqlite_file(url, main)
        .map(crate::models::local_reads::Reads::for_file)
        .unwrap_or_default()
}

/// Writes on the calling thread (`models::local_writes`), as [`local_reads`].
pub fn local_writes(url: &str, main: &DatabaseConnection) -> crate::models::local_writes::Writes {
    sqlite_file(url, main)
        .map(crate::models::local_writes::Writes::for_file)
        .unwrap_or_default()
}

/// The file of the SQLite database `main` opened from `url`; None for other databases.
fn sqlite_file(url: &str, main: &DatabaseConnection) -> Option<std::path::PathBuf> {
    sqlite_path(url)?;
    let options = main.get_sqlite_connection_pool().connect_options();
    Some(options.get_filename().to_path_buf())
}

/// Set on every SQLite connection a pool opens, not once on whichever it hands out first:
/// WAL lets readers run beside the writer, and with it `synchronous = NORMAL` syncs the log
/// at checkpoints instead of at every commit (a power cut may lose the last commits, never
/// consistency); busy_timeout waits instead of failing.
fn sqlite_options(o: SqliteConnectOptions) -> SqliteConnectOptions {
    o.journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true)
}

/// Apply every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None).await.context("applying migrations")
}

/// Whether `e` says the database could not be reached, went away mid-statement or is too
/// busy to take the statement now — something waiting and trying again may cure — rather than
/// that the statement itself was refused.
pub fn is_unavailable(e: &DbErr) -> bool {
    match e {
        DbErr::ConnectionAcquire(_) => true,
        DbErr::Conn(r) | DbErr::Exec(r) | DbErr::Query(r) => match r {
            RuntimeErr::SqlxError(e) => sqlx_unavailable(e),
            _ => false,
        },
        _ => false,
    }
}

/// [`is_unavailable`] for an error that may carry a database error somewhere in its chain
/// of causes.
pub fn is_unavailable_cause(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause.downcast_ref::<DbErr>().is_some_and(is_unavailable)
            || cause
                .downcast_ref::<sea_orm::sqlx::Error>()
                .is_some_and(sqlx_unavailable)
    })
}

fn sqlx_unavailable(e: &sea_orm::sqlx::Error) -> bool {
    use sea_orm::sqlx::Error;
    match e {
        Error::Io(_)
        | Error::Tls(_)
        | Error::Protocol(_)
        | Error::PoolTimedOut
        | Error::PoolClosed
        | Error::WorkerCrashed => true,
        Error::Database(d) => d.code().is_some_and(|code| unavailable_code(&code)),
        _ => false,
    }
}

/// PostgreSQL's SQLSTATEs (always five characters) for a lost or refused connection (class
/// 08), a server shutting down or starting (57P01–57P03) and too many connections (53300);
/// SQLite's result codes (numbers) for a database busy or locked by another connection.
fn unavailable_code(code: &str) -> bool {
    if code.len() == 5 {
        code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300")
    } else {
        code.parse::<u32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6))
    }
}

fn sqlite_path(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then(|| path.to_owned())
}

/// The URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("****"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::ConnAcquireErr;
    use std::sync::Arc;

    fn sqlx(e: sea_orm::sqlx::Error) -> DbErr {
        DbErr::Query(RuntimeErr::SqlxError(Arc::new(e)))
    }

    #[test]
    fn lost_connections_and_busy_databases_are_unavailable_and_refused_statements_are_not() {
        assert!(is_unavailable(&DbErr::ConnectionAcquire(
            ConnAcquireErr::Timeout
        )));
        assert!(is_unavailable(&sqlx(sea_orm::sqlx::Error::PoolTimedOut)));
        assert!(is_unavailable(&sqlx(sea_orm::sqlx::Error::Io(
            std::io::ErrorKind::ConnectionRefused.into()
        ))));
        assert!(!is_unavailable(&sqlx(sea_orm::sqlx::Error::RowNotFound)));
        assert!(!is_unavailable(&DbErr::RecordNotFound("x".into())));
        assert!(!is_unavailable(&DbErr::Custom("x".into())));

        for code in [
            "08006", "08001", "57P01", "57P03", "53300", "5", "6", "517", "262",
        ] {
            assert!(unavailable_code(code), "{code}");
        }
        // Unique violation, syntax error, serialization failure; SQLite constraint, I/O error.
        for code in ["23505", "42601", "40001", "19", "2067", "10"] {
            assert!(!unavailable_code(code), "{code}");
        }

        let chained = anyhow::Error::new(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout))
            .context("loading the session");
        assert!(is_unavailable_cause(&chained));
        assert!(!is_unavailable_cause(&anyhow::anyhow!("something else")));
    }
}
