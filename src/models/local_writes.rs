//! The SQLite bookkeeping writes of every request (the rate-limit hit and the purge of
//! expired limits, the audit row, `last_used_at`), run on the calling thread, as
//! `super::local_reads` runs its reads.
//!
//! Through sqlx each of these writes was a message to the bookkeeping connection's own
//! thread and a message back, each with a wake-up; the audit row also went through the
//! group committer's task. Under the browse load those hand-offs cost more than the writes
//! (bench/RESULTS.md, seventh round). Here one connection of our own, behind a lock, takes
//! them where they are asked for: SQLite has one writer at a time anyway, and a write holds
//! it for tens of microseconds (WAL with `synchronous = NORMAL`: a commit appends to the log
//! and syncs nothing).
//!
//! It waits for nothing (no busy timeout): when another connection holds the database's
//! write lock, or anything else goes wrong, the caller sends the same write through sqlx,
//! which waits its turn. A write that failed here changed nothing (one statement in
//! autocommit mode: all or none, its commit included), so the answer is always one write's.
//! Every bookkeeping write should come here first: one sent straight to sqlx waits for the
//! lock these writes keep taking by sleeping and retrying (SQLite's busy handler), and the
//! purge did, for 200–460 ms at the 99th percentile of the 64-user browse load.
//!
//! Checkpoints (copying the log back into the database file, with its syncs) are not this
//! connection's: on the calling thread one would stall every request on that thread for
//! milliseconds. A thread of its own, woken after every [`CHECKPOINT_EVERY`] commits, copies
//! the bulk of the log on a connection of its own beside the writes, writes the database
//! file out, then copies what the writes added meanwhile on the writers' connection with its
//! lock held, so that the log ends fully copied and the next write starts it over. That last
//! pass (5–6 ms under the browse load) is what keeps the log small: a checkpoint that runs beside the writes never catches up with a log they keep
//! appending to, SQLite starts a log over only once all of it is copied, and under the
//! browse load the log grew by 60 MB a second (bench/RESULTS.md, seventh round).
//!
//! Only for a database in a file: PostgreSQL, and SQLite in memory, have no [`Writes`].

use rusqlite::{Connection, ErrorCode, OpenFlags};
use sea_orm::DatabaseConnection;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

/// How many local commits between checkpoints: about the log SQLite's own default lets grow
/// (1,000 pages), at the few pages a browse's two writes touch.
const CHECKPOINT_EVERY: u64 = 256;

/// Where the per-request bookkeeping writes go (rate-limit hits, audit rows, `last_used_at`):
/// the sqlx pool, and for an SQLite file the calling thread's connection first.
#[derive(Clone)]
pub struct Bookkeeping {
    /// On SQLite a pool of one connection (`crate::db::connect_bookkeeping`); on PostgreSQL
    /// the main pool.
    pub db: DatabaseConnection,
    /// Writes on the calling thread, tried first when there are any.
    pub local: Writes,
}

/// Writes on the calling thread, for a database in a file (see the module notes). Cheap to
/// clone; `Writes::default()` has none, and every write then goes through sqlx.
#[derive(Clone, Default)]
pub struct Writes(Option<Arc<LocalWrites>>);

/// The connection behind [`Writes`].
pub struct LocalWrites {
    path: PathBuf,
    conn: Mutex<Option<Connection>>,
    committed: AtomicU64,
    declined: AtomicU64,
    /// Wakes the checkpointing thread; full while it has a wake-up to act on.
    checkpoint: Option<SyncSender<()>>,
    /// After how many commits it is woken.
    checkpoint_every: u64,
}

impl Writes {
    /// Local writes for the SQLite database file `path`.
    pub fn for_file(path: impl Into<PathBuf>) -> Self {
        Self::checkpointed_every(path.into(), CHECKPOINT_EVERY)
    }

    /// Local writes whose checkpointing thread is woken after every `every` commits.
    fn checkpointed_every(path: PathBuf, every: u64) -> Self {
        Self(Some(Arc::new_cyclic(|me| LocalWrites {
            checkpoint: checkpointer(me.clone()),
            checkpoint_every: every,
            path,
            conn: Mutex::new(None),
            committed: AtomicU64::new(0),
            declined: AtomicU64::new(0),
        })))
    }

    /// Whether writes run here at all.
    pub fn enabled(&self) -> bool {
        self.0.is_some()
    }

    /// How many writes were committed here, and how many were left to sqlx.
    pub fn counts(&self) -> (u64, u64) {
        self.0.as_ref().map_or((0, 0), |w| {
            (
                w.committed.load(Ordering::Relaxed),
                w.declined.load(Ordering::Relaxed),
            )
        })
    }

    /// Runs `write` on the connection, holding it (and so every other local write) until it
    /// returns. `write` must leave the connection in autocommit mode with everything it did
    /// committed, or return an error having changed nothing. `None` when there are no local
    /// writes or it failed: the caller then asks sqlx.
    pub fn write<T>(
        &self,
        write: impl FnOnce(&Connection) -> Result<T, rusqlite::Error>,
    ) -> Option<T> {
        let local = self.0.as_ref()?;
        let mut slot = local.conn.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            match open(&local.path, local.checkpoint.is_none()) {
                Ok(conn) => *slot = Some(conn),
                Err(e) => {
                    tracing::warn!(error = %e, "could not open the local write connection; writes go through sqlx");
                    local.declined.fetch_add(1, Ordering::Relaxed);
                    return None;
                }
            }
        }
        let conn = slot.as_ref()?;
        match write(conn) {
            Ok(done) => {
                let committed = local.committed.fetch_add(1, Ordering::Relaxed) + 1;
                if committed % local.checkpoint_every == 0
                    && let Some(wake) = &local.checkpoint
                {
                    // Full: a checkpoint is already due.
                    let _ = wake.try_send(());
                }
                Some(done)
            }
            Err(e) => {
                local.declined.fetch_add(1, Ordering::Relaxed);
                // Another writer's turn is nothing wrong with the connection; anything else
                // may be, so it is closed and the next write opens a new one.
                let busy = matches!(
                    e.sqlite_error_code(),
                    Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
                );
                if busy && conn.is_autocommit() {
                    tracing::trace!("the database is busy; writing through sqlx");
                } else {
                    tracing::debug!(error = %e, "a local write failed; writing through sqlx");
                    *slot = None;
                }
                None
            }
        }
    }
}

/// Starts the thread that checkpoints the log when woken, until the [`LocalWrites`] (and its
/// sender) is dropped. `None` (logged) when no thread can be started: the connection then
/// checkpoints as SQLite does by default, on its own commits.
fn checkpointer(local: Weak<LocalWrites>) -> Option<SyncSender<()>> {
    let (wake, woken) = mpsc::sync_channel::<()>(1);
    let started = std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            let mut own = None;
            while woken.recv().is_ok() {
                let Some(local) = local.upgrade() else { return };
                local.checkpoint(&mut own);
            }
        });
    match started {
        Ok(_) => Some(wake),
        Err(e) => {
            tracing::warn!(error = %e, "could not start the checkpoint thread");
            None
        }
    }
}

impl LocalWrites {
    /// The checkpoint's passes (see the module notes); `own` is the checkpointing
    /// thread's connection, opened on first use and again after a failure.
    fn checkpoint(&self, own: &mut Option<Connection>) {
        if own.is_none() {
            *own = Connection::open_with_flags(&self.path, OpenFlags::SQLITE_OPEN_READ_WRITE)
                .inspect_err(
                    |e| tracing::warn!(error = %e, "could not open the checkpoint connection"),
                )
                .ok();
        }
        // The bulk, beside the writes: again while they add more than a little meanwhile.
        let Some(conn) = own.as_ref() else { return };
        for _ in 0..PASSES_BESIDE {
            match passive_checkpoint(conn) {
                Ok(left) if left > LEFT_FOR_THE_LOCK => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "checkpointing the SQLite log failed");
                    *own = None;
                    return;
                }
            }
        }
        // SQLite syncs the database file only after a pass that copied the whole log, so
        // what the passes above copied may still be unwritten: writing it out here, before
        // the writers are held, leaves the held pass's sync little to do.
        if let Err(e) = std::fs::File::open(&self.path).and_then(|f| f.sync_data()) {
            tracing::debug!(error = %e, "syncing the database file before the checkpoint failed");
        }
        // The rest, with the writes held: what they added during the passes above.
        let slot = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(conn) = slot.as_ref()
            && let Err(e) = passive_checkpoint(conn)
        {
            tracing::warn!(error = %e, "checkpointing the SQLite log failed");
        }
    }
}

/// How many passes the checkpoint makes beside the writes at most, and how few frames left
/// end them early (see [`LocalWrites::checkpoint`]).
const PASSES_BESIDE: usize = 4;
const LEFT_FOR_THE_LOCK: i64 = 64;

/// Copies what it can of the log into the database without waiting for anyone; how many of
/// the log's frames it left uncopied.
fn passive_checkpoint(conn: &Connection) -> Result<i64, rusqlite::Error> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        let (log, copied): (i64, i64) = (row.get(1)?, row.get(2)?);
        Ok(log - copied)
    })
}

/// The connection: set up as sqlx sets up its own (`crate::db`: WAL, `synchronous = NORMAL`,
/// foreign keys on), except that it never waits for a lock, and leaves checkpoints to the
/// checkpointing thread when there is one.
fn open(path: &std::path::Path, checkpoints: bool) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::ZERO)?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    if !checkpoints {
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    }
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    /// The log's salts (bytes 16–23 of its header), which SQLite changes whenever it starts
    /// the log over.
    fn salts(wal: &std::path::Path) -> Vec<u8> {
        std::fs::read(wal).expect("the log")[16..24].to_vec()
    }

    /// While another thread writes without a pause, a checkpoint still leaves the log to be
    /// started over by the next write: a checkpoint made only beside the writes never did,
    /// and the log grew without end (60 MB a second under the browse load).
    #[test]
    fn a_checkpoint_amid_a_stream_of_writes_starts_the_log_over() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("w.db");
        let setup = Connection::open(&path).expect("open");
        setup
            .pragma_update(None, "journal_mode", "WAL")
            .expect("WAL");
        setup
            .execute("CREATE TABLE t (x BLOB NOT NULL)", [])
            .expect("create");
        // Its checkpointing thread is never woken: the checkpoint below is the only one (two
        // at once made the held pass find the log busy, and start nothing over).
        let writes = Writes::checkpointed_every(path.clone(), u64::MAX);
        let blob = vec![7u8; 1024];
        let insert = |w: &Writes| {
            let one = |c: &Connection| c.execute("INSERT INTO t (x) VALUES (?1)", [&blob]);
            assert_eq!(w.write(one), Some(1));
        };
        for _ in 0..100 {
            insert(&writes);
        }
        let wal = dir.path().join("w.db-wal");
        let stop = AtomicBool::new(false);
        let written = AtomicU64::new(0);
        std::thread::scope(|s| {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    insert(&writes);
                    written.fetch_add(1, Ordering::Relaxed);
                }
            });
            while written.load(Ordering::Relaxed) < 200 {
                std::thread::yield_now();
            }
            let before = salts(&wal);
            let local = writes.0.as_ref().expect("local writes");
            local.checkpoint(&mut None);
            let after_checkpoint = written.load(Ordering::Relaxed);
            while written.load(Ordering::Relaxed) < after_checkpoint + 2 {
                std::thread::yield_now();
            }
            stop.store(true, Ordering::Relaxed);
            assert_ne!(salts(&wal), before, "the log was started over");
        });
        let rows: i64 = setup
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .expect("count");
        assert_eq!(rows as u64, 100 + written.load(Ordering::Relaxed));
        assert_eq!(writes.counts().1, 0, "no write declined");
    }
}
