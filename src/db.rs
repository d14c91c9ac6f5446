//! Database connection and migrations (SQLite by default, PostgreSQL by URL).

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use std::time::Duration;

/// Connect to `url`, creating the SQLite file's directory when needed.
pub async fn connect(url: &str) -> anyhow::Result<DatabaseConnection> {
    if let Some(path) = sqlite_path(url)
        && let Some(dir) = std::path::Path::new(&path).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the database directory {}", dir.display()))?;
    }
    let sqlite = url.starts_with("sqlite:");
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(if sqlite { 8 } else { 16 })
        .min_connections(1)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30))
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
pub async fn connect_migrated(url: &str) -> anyhow::Result<DatabaseConnection> {
    let db = connect(url).await?;
    migrate(&db).await?;
    if !url.starts_with("sqlite:") {
        return Ok(db);
    }
    db.close()
        .await
        .context("closing the connections that ran the migrations")?;
    connect(url).await
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
) -> anyhow::Result<DatabaseConnection> {
    if !url.starts_with("sqlite:") || sqlite_path(url).is_none() {
        return Ok(main.clone());
    }
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(1)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(sqlite_options);
    Database::connect(opts)
        .await
        .with_context(|| format!("connecting to the database ({})", redact_url(url)))
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
