//! The queue: messages are written to the `queue_message` outbox in the same transaction as
//! the change they announce, so a message exists if and only if its change committed. With
//! `CAMPUSCORE_QUEUE_URL=db` an in-process worker drains the outbox; another backend (SQS)
//! would be a relay that forwards outbox rows instead of handling them here.
//!
//! Delivery is at-least-once: a claimed message has a lease; a worker that dies mid-way lets
//! the lease lapse and the message is handled again, so handlers are idempotent. A worker
//! asked to stop ([`StopSignal`], on SIGTERM) claims nothing more, gives running handlers a
//! short grace, then drops them and hands their messages back, so another process claims
//! them at once instead of waiting for the lease to lapse.
//!
//! Messages are typed ([`OutboxMessage`], declared beside the service that sends them) and
//! handlers are registered at start-up ([`Handlers`], see `crate::workers`): this module
//! knows no service and no application state.

use crate::models::entities::queue_message;
use crate::models::queue_messages;
use anyhow::Context;
use chrono::Utc;
use futures_util::future::BoxFuture;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

/// The queue documents go to after upload or import.
pub const DOCUMENTS_QUEUE: &str = "documents";
/// Housekeeping work (token revocation retries).
pub const MAINTENANCE_QUEUE: &str = "maintenance";
/// Files being imported from a connected service.
pub const IMPORTS_QUEUE: &str = "imports";
/// After this many failed attempts a message is parked as `dead`.
pub const MAX_ATTEMPTS: i32 = 5;
/// The longest wait a handler may ask for before a retry: an upstream's `Retry-After` of a
/// year is taken as a day.
pub const MAX_RETRY_DELAY: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Wakes the workers when a message was committed.
#[derive(Clone, Default)]
pub struct QueueHandle {
    general: Arc<Notify>,
    imports: Arc<Notify>,
}

impl QueueHandle {
    pub fn wake(&self) {
        self.general.notify_one();
        self.imports.notify_one();
    }
}

/// A handler asks for another attempt no sooner than `after` (a provider's `Retry-After`).
#[derive(Debug, thiserror::Error)]
#[error("{reason} (retrying in {}s)", .after.as_secs())]
pub struct RetryAfter {
    pub after: Duration,
    pub reason: String,
}

/// A handler cannot run yet for a reason that is not its message's fault (the provider's
/// circuit breaker is open): try again after `after`, without counting this as an attempt.
#[derive(Debug, thiserror::Error)]
#[error("{reason} (deferred {}s)", .after.as_secs())]
pub struct Deferred {
    pub after: Duration,
    pub reason: String,
}

/// Tells the workers to stop; the sending half of [`StopSignal`].
pub struct StopWorkers(watch::Sender<Option<Instant>>);

/// What the workers watch for a stop: `None` while they run, then the moment by which running
/// handlers must have finished.
#[derive(Clone)]
pub struct StopSignal(watch::Receiver<Option<Instant>>);

/// A stop switch for [`run_worker`].
pub fn stop_signal() -> (StopWorkers, StopSignal) {
    let (sender, receiver) = watch::channel(None);
    (StopWorkers(sender), StopSignal(receiver))
}

impl StopWorkers {
    /// Claim nothing more; handlers still running after `grace` are stopped and their
    /// messages handed back.
    pub fn stop(&self, grace: Duration) {
        self.0.send_replace(Some(Instant::now() + grace));
    }
}

impl StopSignal {
    fn requested(&self) -> bool {
        self.0.borrow().is_some()
    }

    /// Resolves once a stop is asked for (never, if the switch is dropped unused).
    async fn asked(&mut self) -> Instant {
        let asked = match self.0.wait_for(Option::is_some).await {
            Ok(deadline) => Some(deadline.unwrap_or_else(Instant::now)),
            Err(_) => None,
        };
        match asked {
            Some(deadline) => deadline,
            None => std::future::pending().await,
        }
    }

    /// Resolves when a stop was asked for and its grace has run out.
    async fn grace_over(&mut self) {
        let deadline = self.asked().await;
        tokio::time::sleep_until(deadline).await;
    }
}

/// A set of queues one worker drains, how many messages it handles at once, and the lease a
/// claimed message gets (renewed while its handler runs).
struct Lane {
    name: &'static str,
    queues: &'static [&'static str],
    concurrency: usize,
    lease: Duration,
    /// How often an idle lane looks for due messages it was not woken for (retries coming
    /// due, messages written or handed back by other processes).
    poll: Duration,
}

/// Document processing and housekeeping: short handlers, one at a time.
const GENERAL: Lane = Lane {
    name: "general",
    queues: &[DOCUMENTS_QUEUE, MAINTENANCE_QUEUE],
    concurrency: 1,
    lease: Duration::from_secs(60),
    poll: Duration::from_secs(2),
};

/// Cloud imports: long streaming downloads, a few at once. The short lease (renewed every
/// third of it while the download runs) lets another process take over soon after a crash.
const IMPORTS: Lane = Lane {
    name: "imports",
    queues: &[IMPORTS_QUEUE],
    concurrency: 3,
    lease: Duration::from_secs(15),
    poll: Duration::from_secs(1),
};

/// A message type: its payload is the struct's JSON plus `"type": TYPE`.
pub trait OutboxMessage: Serialize + DeserializeOwned + Send + 'static {
    /// The `message_type` column and the payload's `type`.
    const TYPE: &'static str;
    /// The queue (and so the worker lane) it goes to.
    const QUEUE: &'static str;
    /// Messages with the same key are sent once.
    fn dedup_key(&self) -> Option<String>;
}

/// Write `msg` to the outbox on `conn` (pass the transaction that makes the change).
pub async fn enqueue<C: ConnectionTrait, M: OutboxMessage>(
    conn: &C,
    msg: &M,
) -> anyhow::Result<()> {
    let mut payload = serde_json::to_value(msg).context("encoding the queue message")?;
    let fields = payload
        .as_object_mut()
        .context("a queue message is a JSON object")?;
    fields.insert("type".into(), Value::from(M::TYPE));
    let row = queue_messages::NewMessage {
        queue: M::QUEUE.to_owned(),
        message_type: M::TYPE.to_owned(),
        payload: payload.to_string(),
        dedup_key: msg.dedup_key(),
    };
    queue_messages::insert(conn, row)
        .await
        .context("writing the queue message")?;
    Ok(())
}

/// Which delivery of a message a handler is running (1 for the first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt(pub i32);

impl Attempt {
    /// Whether another attempt may follow a failure of this one.
    pub fn may_retry(self) -> bool {
        self.0 < MAX_ATTEMPTS
    }
}

type Handler = Arc<dyn Fn(Value, Attempt) -> BoxFuture<'static, anyhow::Result<()>> + Send + Sync>;

/// The handler of each message type, registered once at start-up.
#[derive(Clone, Default)]
pub struct Handlers {
    by_type: HashMap<&'static str, Handler>,
}

impl Handlers {
    /// Handle messages of type `M` with `handler`.
    ///
    /// # Panics
    /// When `M` already has a handler: two would race for every message.
    pub fn on<M, F, Fut>(&mut self, handler: F) -> &mut Self
    where
        M: OutboxMessage,
        F: Fn(M, Attempt) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let erased: Handler = Arc::new(move |payload, attempt| {
            let handler = handler.clone();
            Box::pin(async move {
                let msg: M = serde_json::from_value(payload)
                    .with_context(|| format!("the {} payload does not read", M::TYPE))?;
                handler(msg, attempt).await
            })
        });
        let earlier = self.by_type.insert(M::TYPE, erased);
        assert!(earlier.is_none(), "two handlers for {}", M::TYPE);
        self
    }

    async fn handle(&self, msg: &queue_message::Model) -> anyhow::Result<()> {
        let payload: Value =
            serde_json::from_str(&msg.payload).context("message payload is not JSON")?;
        let handler = self
            .by_type
            .get(msg.message_type.as_str())
            .with_context(|| format!("no handler for message type {:?}", msg.message_type))?;
        handler(payload, Attempt(msg.attempts)).await
    }
}

/// What the workers need: the outbox's database, the wake-ups, and the handlers.
#[derive(Clone)]
pub struct Worker {
    /// The database holding the outbox.
    pub db: DatabaseConnection,
    /// Wakes the lanes when a message was committed.
    pub handle: QueueHandle,
    /// The handler of each message type.
    pub handlers: Arc<Handlers>,
}

/// Run the workers until `stop` fires (then return once every running message finished or
/// was handed back) or the task is dropped.
pub async fn run_worker(worker: Worker, stop: StopSignal) {
    tracing::info!("queue workers started");
    let general = run_lane(
        worker.clone(),
        &GENERAL,
        worker.handle.general.clone(),
        stop.clone(),
    );
    let imports = run_lane(
        worker.clone(),
        &IMPORTS,
        worker.handle.imports.clone(),
        stop,
    );
    tokio::join!(general, imports);
    tracing::info!("queue workers stopped");
}

async fn run_lane(worker: Worker, lane: &'static Lane, notify: Arc<Notify>, stop: StopSignal) {
    let mut running = tokio::task::JoinSet::new();
    let mut watch = stop.clone();
    while !stop.requested() {
        let free = lane.concurrency.saturating_sub(running.len());
        let mut claimed_any = false;
        if free > 0 {
            match claim(&worker, lane, free).await {
                Ok(messages) => {
                    claimed_any = !messages.is_empty();
                    for msg in messages {
                        running.spawn(process(worker.clone(), lane, msg, stop.clone()));
                    }
                }
                Err(e) if crate::db::is_unavailable_cause(&e) => tracing::warn!(
                    queue.lane = lane.name,
                    error.chain = format!("{e:#}"),
                    "claiming queue messages: the database is unavailable; trying again"
                ),
                Err(e) => tracing::error!(
                    queue.lane = lane.name,
                    error.chain = format!("{e:#}"),
                    "claiming queue messages failed"
                ),
            }
        }
        if claimed_any && running.len() < lane.concurrency {
            continue;
        }
        tokio::select! {
            _ = notify.notified() => {}
            Some(_) = running.join_next(), if !running.is_empty() => {}
            _ = tokio::time::sleep(lane.poll) => {}
            _ = watch.asked() => {}
        }
    }
    if !running.is_empty() {
        tracing::info!(
            queue.lane = lane.name,
            queue.running = running.len(),
            "stopping: waiting for running messages to finish or be handed back"
        );
    }
    // Each message finishes, or hands itself back when the grace is over (see `process`).
    while running.join_next().await.is_some() {}
}

/// Claim up to `limit` due messages of the lane's queues, each with a compare-and-swap so
/// two workers (or two processes) never both run one.
async fn claim(
    worker: &Worker,
    lane: &Lane,
    limit: usize,
) -> anyhow::Result<Vec<queue_message::Model>> {
    let now = Utc::now();
    let due = queue_messages::due(&worker.db, lane.queues, now, limit as u64).await?;
    let mut claimed = Vec::new();
    for mut msg in due {
        let taken =
            queue_messages::claim(&worker.db, msg.id, msg.attempts, now + lane.lease).await?;
        if taken {
            msg.attempts += 1;
            claimed.push(msg);
        }
    }
    Ok(claimed)
}

/// Handle a claimed message, renewing its lease while the handler runs, then record the
/// outcome: done, retry later (with backoff, or when the handler said), or dead. A handler
/// still running when a stop's grace is over is dropped and the message handed back.
async fn process(
    worker: Worker,
    lane: &'static Lane,
    msg: queue_message::Model,
    mut stop: StopSignal,
) {
    let mut handler = Box::pin(worker.handlers.handle(&msg));
    let mut renew = tokio::time::interval(lane.lease / 3);
    renew.tick().await;
    let outcome = loop {
        tokio::select! {
            outcome = &mut handler => break outcome,
            () = stop.grace_over() => {
                // Dropping the handler stops it where it stands (an import's staging file is
                // removed by whichever process runs it next).
                drop(handler);
                hand_back(&worker, &msg).await;
                return;
            }
            _ = renew.tick() => {
                let renewed = queue_messages::renew_lease(
                    &worker.db,
                    msg.id,
                    msg.attempts,
                    Utc::now() + lane.lease,
                )
                .await;
                if let Err(e) = renewed {
                    tracing::warn!(queue.message_id = msg.id, error = %e, "renewing a lease failed");
                }
            }
        }
    };
    // Recording the outcome needs the database; while it is away, keep trying for a while
    // rather than leave the message to its lease.
    let mut settled = settle(&worker, &msg, &outcome).await;
    for _ in 0..SETTLE_TRIES {
        match &settled {
            Err(e) if crate::db::is_unavailable_cause(e) && !stop.requested() => {
                tokio::time::sleep(Duration::from_secs(1)).await;
                settled = settle(&worker, &msg, &outcome).await;
            }
            _ => break,
        }
    }
    if let Err(e) = settled {
        tracing::error!(
            queue.message_id = msg.id,
            error.chain = format!("{e:#}"),
            "recording a message outcome failed; it will run again when its lease ends"
        );
    }
}

/// Gives a message whose handler was stopped back to the queue, for any process to claim at
/// once; if that fails, its lease lapses as after a crash.
async fn hand_back(worker: &Worker, msg: &queue_message::Model) {
    match queue_messages::release(&worker.db, msg.id, msg.attempts).await {
        Ok(true) => tracing::info!(
            queue.message_id = msg.id,
            queue.message_type = %msg.message_type,
            "stopping: message handed back for another worker"
        ),
        Ok(false) => {}
        Err(e) => tracing::warn!(
            queue.message_id = msg.id,
            error = %e,
            "stopping: handing a message back failed; it runs again when its lease ends"
        ),
    }
}

/// How many more times a message's outcome is recorded, a second apart, while the database
/// is away.
const SETTLE_TRIES: usize = 10;

/// How long a message whose handler found the database away waits to run again.
const DATABASE_AWAY_RETRY: Duration = Duration::from_secs(5);

async fn settle(
    worker: &Worker,
    msg: &queue_message::Model,
    outcome: &anyhow::Result<()>,
) -> anyhow::Result<()> {
    let attempts = msg.attempts;
    match outcome {
        Ok(()) => queue_messages::mark_done(&worker.db, msg.id).await?,
        Err(e) if e.downcast_ref::<Deferred>().is_some() => {
            let wait = e
                .downcast_ref::<Deferred>()
                .map_or(Duration::from_secs(60), |d| d.after.min(MAX_RETRY_DELAY));
            tracing::info!(
                queue.message_id = msg.id,
                retry.in_secs = wait.as_secs(),
                reason = %e,
                "message deferred"
            );
            let at = Utc::now()
                + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::seconds(60));
            queue_messages::defer(&worker.db, msg.id, at, format!("{e:#}")).await?;
        }
        // The database going away is no fault of the message: it runs again shortly, and
        // the attempt does not count.
        Err(e) if crate::db::is_unavailable_cause(e) => {
            tracing::warn!(
                queue.message_id = msg.id,
                error.chain = format!("{e:#}"),
                "message stopped: the database is unavailable; it will run again"
            );
            let at = Utc::now()
                + chrono::Duration::from_std(DATABASE_AWAY_RETRY)
                    .unwrap_or(chrono::Duration::seconds(5));
            queue_messages::defer(&worker.db, msg.id, at, format!("{e:#}")).await?;
        }
        Err(e) if attempts >= MAX_ATTEMPTS => {
            tracing::error!(
                queue.message_id = msg.id,
                error.chain = format!("{e:#}"),
                "message parked as dead"
            );
            queue_messages::mark_dead(&worker.db, msg.id, format!("{e:#}")).await?;
        }
        Err(e) => {
            let backoff = backoff(e, attempts);
            tracing::warn!(
                queue.message_id = msg.id,
                retry.attempt = attempts,
                retry.in_secs = backoff.num_seconds(),
                error.chain = format!("{e:#}"),
                "message failed; will retry"
            );
            queue_messages::schedule_retry(
                &worker.db,
                msg.id,
                Utc::now() + backoff,
                format!("{e:#}"),
            )
            .await?;
        }
    }
    Ok(())
}

/// How long to wait before retrying after `e`: what the handler asked for (at most
/// [`MAX_RETRY_DELAY`]), else 2, 4, 8… seconds by attempt.
fn backoff(e: &anyhow::Error, attempts: i32) -> chrono::Duration {
    match e.downcast_ref::<RetryAfter>() {
        Some(r) => chrono::Duration::from_std(r.after.min(MAX_RETRY_DELAY))
            .unwrap_or(chrono::Duration::seconds(60)),
        None => chrono::Duration::seconds(2i64.pow(attempts.clamp(0, 10) as u32)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::MessageStatus;
    use serde::Deserialize;
    use std::sync::atomic::{AtomicI32, Ordering};

    #[test]
    fn an_upstream_asking_for_a_wait_of_centuries_waits_a_day_and_nothing_overflows() {
        let huge = anyhow::Error::new(RetryAfter {
            after: Duration::from_secs(u64::MAX / 4),
            reason: "Retry-After: forever".into(),
        });
        let wait = backoff(&huge, 1);
        assert_eq!(wait, chrono::Duration::days(1));
        assert!(chrono::Utc::now().checked_add_signed(wait).is_some());
        let polite = anyhow::Error::new(RetryAfter {
            after: Duration::from_secs(7),
            reason: "429".into(),
        });
        assert_eq!(backoff(&polite, 1), chrono::Duration::seconds(7));
        assert_eq!(
            backoff(&anyhow::anyhow!("boom"), 3),
            chrono::Duration::seconds(8)
        );
        assert_eq!(
            backoff(&anyhow::anyhow!("boom"), 99),
            chrono::Duration::seconds(1024)
        );
    }

    #[derive(Debug, Serialize, Deserialize)]
    struct Ping {
        n: i64,
    }

    impl OutboxMessage for Ping {
        const TYPE: &'static str = "test.ping";
        const QUEUE: &'static str = MAINTENANCE_QUEUE;
        fn dedup_key(&self) -> Option<String> {
            None
        }
    }

    fn row(message_type: &str, payload: &str, attempts: i32) -> queue_message::Model {
        let now = Utc::now();
        queue_message::Model {
            id: 1,
            queue: MAINTENANCE_QUEUE.into(),
            message_type: message_type.into(),
            payload: payload.into(),
            dedup_key: None,
            status: MessageStatus::Pending,
            attempts,
            available_at: now,
            locked_until: None,
            last_error: None,
            created_at: now,
            processed_at: None,
        }
    }

    #[tokio::test]
    async fn a_registered_handler_gets_its_typed_message_and_the_attempt() {
        let seen = Arc::new(AtomicI32::new(0));
        let mut handlers = Handlers::default();
        let sink = seen.clone();
        handlers.on(move |ping: Ping, attempt: Attempt| {
            let sink = sink.clone();
            async move {
                sink.store(ping.n as i32 * 10 + attempt.0, Ordering::SeqCst);
                Ok(())
            }
        });
        let ok = handlers
            .handle(&row("test.ping", r#"{"type":"test.ping","n":4}"#, 2))
            .await;
        assert!(ok.is_ok());
        assert_eq!(seen.load(Ordering::SeqCst), 42);

        let unknown = handlers.handle(&row("test.other", "{}", 1)).await;
        assert!(format!("{:#}", unknown.expect_err("no handler")).contains("test.other"));
        let unreadable = handlers.handle(&row("test.ping", r#"{"n":"x"}"#, 1)).await;
        assert!(format!("{:#}", unreadable.expect_err("bad payload")).contains("test.ping"));
    }

    #[test]
    #[should_panic(expected = "two handlers for test.ping")]
    fn a_second_handler_for_one_type_is_refused() {
        let mut handlers = Handlers::default();
        handlers.on(|_: Ping, _| async { Ok(()) });
        handlers.on(|_: Ping, _| async { Ok(()) });
    }

    #[test]
    fn attempts_may_retry_until_the_last() {
        assert!(Attempt(1).may_retry());
        assert!(!Attempt(MAX_ATTEMPTS).may_retry());
    }
}
