//! The audit trail: one `connector_audit_log` row per action execution, parameters redacted.
//!
//! **Group commit.** Every row is committed before the request that wrote it answers, but
//! rows of concurrent requests share a commit: [`AuditLog`] hands each row to one committer
//! task, which takes every row waiting when it is free and writes them in one `INSERT`
//! (one statement, so one transaction), then tells each request its own outcome. A request
//! waits for its row's commit, never longer: a lone row is written at once, and rows that
//! arrive during a commit go in the next one. When a batch fails, each of its rows is
//! written again on its own, so one bad row fails only its own request and never drops the
//! others.
//!
//! On an SQLite file a row is first written on the calling thread (`models::local_writes`),
//! committed with the other bookkeeping writes of the thread's turn: no hand-off at all, and
//! the committer takes only the rows that could not be written there.

use crate::models::Channel;
use crate::models::connector_audit_logs::{self, NewAuditLog};
use crate::models::local_writes::Bookkeeping;
use sea_orm::{DatabaseConnection, DbErr};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// The most rows one commit takes (the rest wait for the next): as many as one prepared
/// statement writes.
const MAX_BATCH: usize = connector_audit_logs::PREPARED_ROWS;

/// What happened, for one row.
pub struct Entry<'a> {
    pub connection_id: Option<i64>,
    pub user_id: Option<i64>,
    pub connector_slug: &'a str,
    pub action: &'a str,
    /// Already redacted.
    pub request: &'a Value,
    /// `None` on success; `(code, message)` on failure.
    pub error: Option<(&'a str, String)>,
    pub duration: Duration,
    /// Where the call came from, and the program that made it.
    pub channel: Channel,
    pub client: Option<&'a str>,
}

/// Writes audit rows through one committer task per process (started on first use, and
/// again if the runtime that ran it has gone). Cheap to share behind an `Arc`.
pub struct AuditLog {
    w: Bookkeeping,
    committer: Mutex<Option<mpsc::UnboundedSender<Job>>>,
}

/// One row waiting for its commit, and where to say how it went.
struct Job {
    row: NewAuditLog,
    done: oneshot::Sender<Result<(), DbErr>>,
}

impl AuditLog {
    /// Rows are written through `w`.
    pub fn new(w: Bookkeeping) -> Self {
        Self {
            w,
            committer: Mutex::new(None),
        }
    }

    /// Writes `row` and returns once it is committed (or failed).
    async fn write(&self, row: NewAuditLog) -> Result<(), DbErr> {
        let row = Arc::new(row);
        let mine = row.clone();
        let here = self
            .w
            .local
            .write_together(move |conn| connector_audit_logs::insert_here(conn, &mine))
            .await;
        if here.is_some() {
            return Ok(());
        }
        let row = Arc::unwrap_or_clone(row);
        let (done, outcome) = oneshot::channel();
        let Some(job) = self.hand_over(Job { row, done }) else {
            return outcome
                .await
                .unwrap_or_else(|_| Err(DbErr::Custom("the audit committer stopped".into())));
        };
        // No committer could be reached (no runtime to run one): write it here.
        connector_audit_logs::insert_many(&self.w.db, &[&job.row]).await
    }

    /// Queues `job` for the committer, starting one if needed; gives the job back when no
    /// committer can run.
    fn hand_over(&self, job: Job) -> Option<Job> {
        let mut committer = self
            .committer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let job = match committer.as_ref() {
            Some(tx) => match tx.send(job) {
                Ok(()) => return None,
                Err(mpsc::error::SendError(job)) => job,
            },
            None => job,
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Some(job);
        };
        let (tx, rx) = mpsc::unbounded_channel();
        runtime.spawn(commit_loop(self.w.db.clone(), rx));
        let sent = tx.send(job);
        *committer = Some(tx);
        sent.err().map(|mpsc::error::SendError(job)| job)
    }
}

/// Commits whatever is waiting, batch after batch, until every sender is gone.
async fn commit_loop(db: DatabaseConnection, mut jobs: mpsc::UnboundedReceiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        commit(&db, std::mem::take(&mut batch)).await;
    }
}

/// Writes `batch` in one statement; if that fails, each row alone, so that every request
/// learns its own row's fate.
async fn commit(db: &DatabaseConnection, batch: Vec<Job>) {
    if batch.len() > 1 {
        let rows: Vec<&NewAuditLog> = batch.iter().map(|j| &j.row).collect();
        match connector_audit_logs::insert_many(db, &rows).await {
            Ok(()) => {
                for job in batch {
                    let _ = job.done.send(Ok(()));
                }
                return;
            }
            Err(e) => {
                tracing::warn!(audit.batch = batch.len(), error = %e, "an audit batch failed; writing its rows one by one");
            }
        }
    }
    for job in batch {
        let outcome = connector_audit_logs::insert_many(db, &[&job.row]).await;
        let _ = job.done.send(outcome);
    }
}

/// How long the row of an action that already happened is retried while the database is
/// away, before it is given up (and logged with everything it said).
const KEEP_TRYING: Duration = Duration::from_secs(120);

fn row_of(e: Entry<'_>) -> NewAuditLog {
    NewAuditLog {
        connection_id: e.connection_id,
        user_id: e.user_id,
        connector_slug: e.connector_slug.to_owned(),
        action: e.action.to_owned(),
        status: if e.error.is_some() {
            "error"
        } else {
            "success"
        }
        .to_owned(),
        request: e.request.to_string(),
        error_code: e.error.as_ref().map(|(c, _)| (*c).to_owned()),
        error: e.error.map(|(_, m)| m),
        duration_ms: e.duration.as_millis().min(i64::MAX as u128) as i64,
        channel: e.channel,
        client: e.client.map(|c| c.chars().take(200).collect()),
        created_at: chrono::Utc::now(),
    }
}

/// Writes the row and returns once it is committed; the error when it could not be.
pub async fn write(log: &AuditLog, e: Entry<'_>) -> Result<(), DbErr> {
    log.write(row_of(e)).await
}

/// The row of something that has happened (an action that changed something upstream, a
/// token refresh), committed before this returns when the database lets it. What happened
/// is not undone by a failure to audit it: the failure is logged loudly and, when the
/// database is only away, the row is kept and written once it is back (tried for up to
/// [`KEEP_TRYING`]), so a short outage loses no row.
pub async fn record(log: &Arc<AuditLog>, e: Entry<'_>) {
    let row = row_of(e);
    let err = match log.write(row.clone()).await {
        Ok(()) => return,
        Err(err) => err,
    };
    if !crate::db::is_unavailable(&err) {
        tracing::error!(connector.slug = row.connector_slug, action = row.action, error = %err, "writing the audit log failed");
        return;
    }
    tracing::warn!(connector.slug = row.connector_slug, action = row.action, error = %err, "the database is unavailable; the audit row will be written once it is back");
    let log = log.clone();
    tokio::spawn(async move {
        let give_up = tokio::time::Instant::now() + KEEP_TRYING;
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            match log.write(row.clone()).await {
                Ok(()) => return,
                Err(err)
                    if crate::db::is_unavailable(&err) && tokio::time::Instant::now() < give_up => {
                }
                Err(err) => {
                    tracing::error!(row = ?row, error = %err, "writing a kept audit row failed; it is lost");
                    return;
                }
            }
        }
    });
}
