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
//! The writes of one turn of a thread's event loop share a commit ([`Writes::write_together`]):
//! one transaction, so the pages they all touch (the end of the audit table and of each of
//! its indexes, the hits' table) are appended to the log once per turn instead of once per
//! write. Each caller still waits for its own write's commit before it goes on.
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
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
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
    /// The writes waiting for a turn's shared commit ([`Writes::write_together`]), one queue
    /// per thread slot ([`thread_slot`]).
    turns: [Mutex<Turn>; TURN_SLOTS],
    committed: AtomicU64,
    /// Transactions committed (a turn's writes share one).
    commits: AtomicU64,
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
            turns: Default::default(),
            committed: AtomicU64::new(0),
            commits: AtomicU64::new(0),
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
        self.0.as_ref()?.write(1, write)
    }

    /// [`Writes::write`], committed together with the other writes this thread's tasks ask
    /// for in the same turn of its event loop: one transaction, so the pages they share (the
    /// end of a table and of each of its indexes) go to the log once, not once per write.
    /// Under the browse load that was 30 `pwrite`s a browse.
    ///
    /// `write` runs inside that transaction and must not commit; it may run a second time,
    /// alone, when the shared transaction failed (rolled back, so it changed nothing). The
    /// caller waits for the commit, never longer: the first write of a turn leads it, lets
    /// the thread's other ready tasks add theirs (one yield), then runs them all, and an
    /// abandoned leader runs them as it is dropped.
    pub async fn write_together<T, F>(&self, write: F) -> Option<T>
    where
        T: Send + 'static,
        F: FnMut(&Connection) -> Result<T, rusqlite::Error> + Send + 'static,
    {
        let local = self.0.as_ref()?;
        let (reply, outcome) = tokio::sync::oneshot::channel();
        let slot = thread_slot();
        let leads = {
            let mut turn = local.turns[slot]
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            turn.waiting.push(Box::new(Waiting {
                write,
                result: None,
                reply,
            }));
            !std::mem::replace(&mut turn.led, true)
        };
        if leads {
            let lead = Lead { local, slot };
            // Back after the next look at the sockets: the requests it makes ready add
            // theirs too. (Queued again at once instead, behind only the tasks ready now,
            // the turns were smaller: 3,400 browses a second under load against 5,400.)
            tokio::task::yield_now().await;
            drop(lead);
        }
        outcome.await.ok().flatten()
    }
}

impl LocalWrites {
    /// [`Writes::write`], counting `writes` toward the next checkpoint.
    fn write<T>(
        &self,
        writes: u64,
        write: impl FnOnce(&Connection) -> Result<T, rusqlite::Error>,
    ) -> Option<T> {
        let mut slot = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            match open(&self.path, self.checkpoint.is_none()) {
                Ok(conn) => *slot = Some(conn),
                Err(e) => {
                    tracing::warn!(error = %e, "could not open the local write connection; writes go through sqlx");
                    self.declined.fetch_add(1, Ordering::Relaxed);
                    return None;
                }
            }
        }
        let conn = slot.as_ref()?;
        match write(conn) {
            Ok(done) => {
                self.commits.fetch_add(1, Ordering::Relaxed);
                let before = self.committed.fetch_add(writes, Ordering::Relaxed);
                if (before + writes) / self.checkpoint_every > before / self.checkpoint_every
                    && let Some(wake) = &self.checkpoint
                {
                    // Full: a checkpoint is already due.
                    let _ = wake.try_send(());
                }
                Some(done)
            }
            Err(e) => {
                self.declined.fetch_add(1, Ordering::Relaxed);
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

/// How many queues of writes waiting for a turn's commit (threads beyond as many share them:
/// still correct, only woken across threads).
const TURN_SLOTS: usize = 16;

/// This thread's queue among the [`TURN_SLOTS`].
fn thread_slot() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SLOT: usize = NEXT.fetch_add(1, Ordering::Relaxed) % TURN_SLOTS;
    }
    SLOT.with(|slot| *slot)
}

/// The writes of one turn, waiting for their commit.
#[derive(Default)]
struct Turn {
    waiting: Vec<Box<dyn Pending>>,
    /// Whether a task has taken on committing them.
    led: bool,
}

/// A write waiting for its turn's commit.
trait Pending: Send {
    /// Runs the write, keeping what it returned until the commit.
    fn run(&mut self, conn: &Connection) -> Result<(), rusqlite::Error>;
    /// Tells the caller: what the write returned once it is committed, `None` if it is not.
    fn reply(self: Box<Self>, committed: bool);
}

struct Waiting<T, F> {
    write: F,
    result: Option<T>,
    reply: tokio::sync::oneshot::Sender<Option<T>>,
}

impl<T, F> Pending for Waiting<T, F>
where
    T: Send,
    F: FnMut(&Connection) -> Result<T, rusqlite::Error> + Send,
{
    fn run(&mut self, conn: &Connection) -> Result<(), rusqlite::Error> {
        self.result = Some((self.write)(conn)?);
        Ok(())
    }

    fn reply(self: Box<Self>, committed: bool) {
        // The caller may have gone; its write stands all the same.
        let _ = self.reply.send(self.result.filter(|_| committed));
    }
}

/// The task leading a turn: commits its writes when dropped, after its yield or when it is
/// abandoned, so that nobody waits on a leader that will not come back.
struct Lead<'a> {
    local: &'a LocalWrites,
    slot: usize,
}

impl Drop for Lead<'_> {
    fn drop(&mut self) {
        let waiting = {
            let mut turn = self.local.turns[self.slot]
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            turn.led = false;
            std::mem::take(&mut turn.waiting)
        };
        self.local.commit_turn(waiting);
    }
}

impl LocalWrites {
    /// Runs a turn's writes in one transaction; if that fails (rolled back), each alone.
    fn commit_turn(&self, mut waiting: Vec<Box<dyn Pending>>) {
        if waiting.len() > 1 {
            let together = self.write(waiting.len() as u64, |conn| {
                let tx = rusqlite::Transaction::new_unchecked(
                    conn,
                    rusqlite::TransactionBehavior::Immediate,
                )?;
                for write in &mut waiting {
                    write.run(&tx)?;
                }
                tx.commit()
            });
            if together.is_some() {
                for write in waiting {
                    write.reply(true);
                }
                return;
            }
        }
        for mut write in waiting {
            let done = self.write(1, |conn| write.run(conn)).is_some();
            write.reply(done);
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

    /// A database `file` in `dir`, in WAL mode, with one table `t (x <column>)`; its path
    /// and a connection to it.
    fn database(dir: &tempfile::TempDir, file: &str, column: &str) -> (PathBuf, Connection) {
        let path = dir.path().join(file);
        let setup = Connection::open(&path).expect("open");
        setup
            .pragma_update(None, "journal_mode", "WAL")
            .expect("WAL");
        setup
            .execute(&format!("CREATE TABLE t (x {column})"), [])
            .expect("create");
        (path, setup)
    }

    /// A database with a table `t (x INTEGER UNIQUE)`, and its local writes (never
    /// checkpointed).
    fn table(dir: &tempfile::TempDir) -> (Connection, Writes) {
        let (path, setup) = database(dir, "t.db", "INTEGER NOT NULL UNIQUE");
        (setup, Writes::checkpointed_every(path, u64::MAX))
    }

    fn insert(x: i64) -> impl FnMut(&Connection) -> Result<i64, rusqlite::Error> + Send + 'static {
        move |c: &Connection| {
            c.execute("INSERT INTO t (x) VALUES (?1)", [x])?;
            Ok(x)
        }
    }

    fn rows(conn: &Connection) -> Vec<i64> {
        let mut select = conn.prepare("SELECT x FROM t ORDER BY x").expect("select");
        select
            .query_map([], |r| r.get(0))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("rows")
    }

    fn commits(w: &Writes) -> u64 {
        w.0.as_ref().expect("local").commits.load(Ordering::Relaxed)
    }

    /// The writes a thread's tasks ask for in one turn share one commit, and each caller
    /// gets its own write's result; a write that fails is refused alone (the shared
    /// transaction is rolled back and the others are written one by one), leaving nothing of
    /// itself behind.
    #[tokio::test(flavor = "current_thread")]
    async fn the_writes_of_a_turn_share_a_commit_and_a_failing_one_fails_alone() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (setup, writes) = table(&dir);
        let calls: Vec<_> = (1..=20).map(|x| writes.write_together(insert(x))).collect();
        let got = futures_util::future::join_all(calls).await;
        assert_eq!(got, (1..=20).map(Some).collect::<Vec<_>>());
        assert_eq!(commits(&writes), 1, "one commit for the turn");
        assert_eq!(rows(&setup), (1..=20).collect::<Vec<_>>());
        // 5 is there already: its write fails, the others of its turn are written.
        let calls: Vec<_> = [21, 5, 22].map(|x| writes.write_together(insert(x))).into();
        let got = futures_util::future::join_all(calls).await;
        assert_eq!(got, [Some(21), None, Some(22)]);
        assert_eq!(rows(&setup), (1..=22).collect::<Vec<_>>());
        assert_eq!(commits(&writes), 3, "the turn's two good writes, alone");
        // Alone, a write commits as it did.
        assert_eq!(writes.write_together(insert(30)).await, Some(30));
        assert_eq!(commits(&writes), 4);
    }

    /// A caller that leads a turn and is then abandoned still commits the turn's writes, so
    /// the others are answered.
    #[tokio::test(flavor = "current_thread")]
    async fn an_abandoned_leader_commits_its_turn() {
        use std::future::Future;
        use std::task::{Context, Poll, Waker};
        let dir = tempfile::tempdir().expect("temp dir");
        let (setup, writes) = table(&dir);
        let mut cx = Context::from_waker(Waker::noop());
        let mut leader = Box::pin(writes.write_together(insert(1)));
        assert!(
            leader.as_mut().poll(&mut cx).is_pending(),
            "it yields first"
        );
        let mut follower = Box::pin(writes.write_together(insert(2)));
        assert!(
            follower.as_mut().poll(&mut cx).is_pending(),
            "it waits for the leader"
        );
        drop(leader);
        assert_eq!(follower.as_mut().poll(&mut cx), Poll::Ready(Some(2)));
        assert_eq!(rows(&setup), [1, 2]);
        assert_eq!(commits(&writes), 1);
    }

    /// While another thread writes without a pause, a checkpoint still leaves the log to be
    /// started over by the next write: a checkpoint made only beside the writes never did,
    /// and the log grew without end (60 MB a second under the browse load).
    #[test]
    fn a_checkpoint_amid_a_stream_of_writes_starts_the_log_over() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (path, setup) = database(&dir, "w.db", "BLOB NOT NULL");
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
