//! The SQLite reads every request makes (the session and its user; the folder, connection
//! and connector a cloud-import fragment acts on), run on the calling thread.
//!
//! sqlx runs each SQLite connection on a thread of its own: a statement is a message to that
//! thread, a wake-up, and a message and a wake-up back. Under the browse load those hand-offs
//! were about a fifth of the server's CPU (futex waits and wake-ups in `perf`), for reads
//! that take SQLite tens of microseconds. So these reads go to a connection of a small pool of our
//! own, on the thread that asks: no hand-off at all. They are short, indexed, single-row
//! reads; in WAL mode a reader never waits for the writer, and the connections wait for
//! nothing else either (no busy timeout): anything that goes wrong — a lock, a value in a
//! format not read here, any error — makes the caller run the same statement through sqlx
//! instead, so the answer is always sqlx's answer, and errors are reported as before.
//!
//! Only for a database in a file: PostgreSQL, and SQLite in memory, have no [`LocalReads`].

use super::direct::{Columns, DecodeError};
use chrono::{DateTime, Utc};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, ToSql};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The most idle connections kept (more are opened when more threads read at once, and
/// closed when they come back to a full pool).
const MAX_IDLE: usize = 8;

/// Reads on the calling thread, for a database in a file (see the module notes). Cheap to
/// clone; `Reads::default()` has none, and every read then goes through sqlx.
#[derive(Clone, Default)]
pub struct Reads(Option<Arc<LocalReads>>);

/// The pool behind [`Reads`].
pub struct LocalReads {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    answered: AtomicU64,
    declined: AtomicU64,
}

impl Reads {
    /// Local reads for the SQLite database file `path`.
    pub fn for_file(path: impl Into<PathBuf>) -> Self {
        Self(Some(Arc::new(LocalReads {
            path: path.into(),
            idle: Mutex::new(Vec::new()),
            answered: AtomicU64::new(0),
            declined: AtomicU64::new(0),
        })))
    }

    /// Whether reads run here at all.
    pub fn enabled(&self) -> bool {
        self.0.is_some()
    }

    /// How many reads were answered here, and how many were left to sqlx after a failure.
    pub fn counts(&self) -> (u64, u64) {
        self.0.as_ref().map_or((0, 0), |r| {
            (
                r.answered.load(Ordering::Relaxed),
                r.declined.load(Ordering::Relaxed),
            )
        })
    }

    /// Runs `sql` with `params` (bound by name: `("$1", &value)`) and reads its first row,
    /// if any, with `read`. `None` when there are no local reads or anything failed: the
    /// caller then asks sqlx.
    pub(crate) fn row<T>(
        &self,
        sql: &str,
        params: &[(&str, &dyn ToSql)],
        read: impl FnOnce(&LocalRow<'_>) -> Result<T, rusqlite::Error>,
    ) -> Option<Option<T>> {
        let reads = self.0.as_ref()?;
        let Some(conn) = reads.take() else {
            reads.declined.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        match run(&conn, sql, params, read) {
            Ok(found) => {
                reads.put_back(conn);
                reads.answered.fetch_add(1, Ordering::Relaxed);
                Some(found)
            }
            Err(e) => {
                // Dropped rather than put back: whatever went wrong stays with it.
                tracing::debug!(error = %e, "a local read failed; asking sqlx");
                reads.declined.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }
}

fn run<T>(
    conn: &Connection,
    sql: &str,
    params: &[(&str, &dyn ToSql)],
    read: impl FnOnce(&LocalRow<'_>) -> Result<T, rusqlite::Error>,
) -> Result<Option<T>, rusqlite::Error> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    match rows.next()? {
        Some(row) => read(&LocalRow(row)).map(Some),
        None => Ok(None),
    }
}

impl LocalReads {
    /// An idle connection, or a new one; `None` (logged) when none can be opened.
    fn take(&self) -> Option<Connection> {
        if let Some(conn) = self.lock().pop() {
            return Some(conn);
        }
        match self.open() {
            Ok(conn) => Some(conn),
            Err(e) => {
                tracing::warn!(error = %e, "could not open a local read connection; reads go through sqlx");
                None
            }
        }
    }

    fn put_back(&self, conn: Connection) {
        let mut idle = self.lock();
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A connection that reads only (`query_only`), never creates the file, and fails at
    /// once rather than wait for a lock.
    fn open(&self) -> Result<Connection, rusqlite::Error> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::ZERO)?;
        conn.pragma_update(None, "query_only", true)?;
        Ok(conn)
    }
}

/// A row of a local read, read by position as sqlx reads SQLite's values.
pub(crate) struct LocalRow<'a>(&'a rusqlite::Row<'a>);

impl DecodeError for rusqlite::Error {
    fn decode(message: String) -> Self {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, message.into())
    }
}

impl Columns for LocalRow<'_> {
    type Error = rusqlite::Error;
    fn int(&self, i: usize) -> Result<i64, rusqlite::Error> {
        self.0.get(i)
    }
    fn int32(&self, i: usize) -> Result<i32, rusqlite::Error> {
        self.0.get(i)
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>, rusqlite::Error> {
        self.0.get(i)
    }
    fn flag(&self, i: usize) -> Result<bool, rusqlite::Error> {
        self.0.get(i)
    }
    fn text(&self, i: usize) -> Result<String, rusqlite::Error> {
        self.0.get(i)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>, rusqlite::Error> {
        self.0.get(i)
    }
    fn time(&self, i: usize) -> Result<DateTime<Utc>, rusqlite::Error> {
        self.opt_time(i)?.ok_or_else(|| {
            rusqlite::Error::InvalidColumnType(i, "NULL".into(), rusqlite::types::Type::Null)
        })
    }
    fn opt_time(&self, i: usize) -> Result<Option<DateTime<Utc>>, rusqlite::Error> {
        match self.0.get_ref(i)? {
            ValueRef::Null => Ok(None),
            ValueRef::Text(text) => std::str::from_utf8(text)
                .ok()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| Some(t.with_timezone(&Utc)))
                .ok_or_else(|| {
                    // Another of the formats sqlx accepts: let sqlx read it.
                    rusqlite::Error::InvalidColumnType(
                        i,
                        "time".into(),
                        rusqlite::types::Type::Text,
                    )
                }),
            ValueRef::Integer(seconds) => DateTime::from_timestamp(seconds, 0)
                .map(Some)
                .ok_or(rusqlite::Error::IntegralValueOutOfRange(i, seconds)),
            other => Err(rusqlite::Error::InvalidColumnType(
                i,
                "time".into(),
                other.data_type(),
            )),
        }
    }
}

/// A time as sqlx writes it into SQLite (so that comparing it with stored times in SQL
/// agrees with the sqlx path).
pub(crate) fn sqlite_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)
}
