//! The queue: messages are written to the `queue_message` outbox in the same transaction as
//! the change they announce, so a message exists if and only if its change committed. With
//! `CAMPUSCORE_QUEUE_URL=db` an in-process worker drains the outbox; another backend (SQS)
//! would be a relay that forwards outbox rows instead of handling them here.
//!
//! Delivery is at-least-once: a claimed message has a lease; a worker that dies mid-way lets
//! the lease lapse and the message is handled again, so handlers are idempotent.

use crate::models::entities::{queue_message, source_file};
use crate::state::AppState;
use anyhow::Context;
use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// The queue documents go to after upload or import.
pub const DOCUMENTS_QUEUE: &str = "documents";
/// Sent once per stored source file.
pub const SOURCE_FILE_UPLOADED: &str = "source_file.uploaded";
/// Housekeeping work (token revocation retries).
pub const MAINTENANCE_QUEUE: &str = "maintenance";
/// A provider must be asked again to revoke a disconnected connection's token.
pub const TOKEN_REVOKE: &str = "oauth.revoke_token";
/// Files being imported from a connected service.
pub const IMPORTS_QUEUE: &str = "imports";
/// Download one selected file into its knowledge folder.
pub const CLOUD_IMPORT_FILE: &str = "cloud_import.file";
/// After this many failed attempts a message is parked as `dead`.
pub const MAX_ATTEMPTS: i32 = 5;

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

/// A set of queues one worker drains, how many messages it handles at once, and the lease a
/// claimed message gets (renewed while its handler runs).
struct Lane {
    name: &'static str,
    queues: &'static [&'static str],
    concurrency: usize,
    lease: Duration,
}

/// Document processing and housekeeping: short handlers, one at a time.
const GENERAL: Lane = Lane {
    name: "general",
    queues: &[DOCUMENTS_QUEUE, MAINTENANCE_QUEUE],
    concurrency: 1,
    lease: Duration::from_secs(60),
};

/// Cloud imports: long streaming downloads, a few at once. The short lease (renewed every
/// third of it while the download runs) lets another process take over soon after a crash.
const IMPORTS: Lane = Lane {
    name: "imports",
    queues: &[IMPORTS_QUEUE],
    concurrency: 3,
    lease: Duration::from_secs(15),
};

/// A message to send.
pub struct Message {
    pub queue: &'static str,
    pub message_type: &'static str,
    pub payload: Value,
    /// Messages with the same key are sent once.
    pub dedup_key: Option<String>,
}

impl Message {
    /// The `source_file.uploaded` message of DESIGN §3.
    pub fn source_file_uploaded(file: &source_file::Model) -> Self {
        Self {
            queue: DOCUMENTS_QUEUE,
            message_type: SOURCE_FILE_UPLOADED,
            payload: json!({
                "type": SOURCE_FILE_UPLOADED,
                "source_file_id": file.id,
                "source_file_uuid": file.uuid,
                "knowledge_folder_id": file.knowledge_folder_id,
                "user_id": file.user_id,
                "storage_key": file.storage_key,
                "size_bytes": file.size_bytes,
                "mime_type": file.mime_type,
                "origin": file.origin,
            }),
            dedup_key: Some(format!("{SOURCE_FILE_UPLOADED}:{}", file.uuid)),
        }
    }
}

impl Message {
    /// Import one selected file (its `source_file` row, status `queued`, says which). The
    /// key includes the row's `updated_at`, so a failed import queued again gets a new message.
    pub fn cloud_import_file(file: &source_file::Model) -> Self {
        Self {
            queue: IMPORTS_QUEUE,
            message_type: CLOUD_IMPORT_FILE,
            payload: json!({
                "type": CLOUD_IMPORT_FILE,
                "source_file_id": file.id,
                "source_file_uuid": file.uuid,
            }),
            dedup_key: Some(format!(
                "{CLOUD_IMPORT_FILE}:{}:{}",
                file.uuid,
                file.updated_at.timestamp_micros()
            )),
        }
    }

    /// Ask the provider again to revoke a disconnected connection's token (`token` is a
    /// Fernet token of it; the connection row itself is already gone).
    pub fn revoke_token(
        connector_id: i64,
        token: &str,
        token_type_hint: &str,
        connection_id: i64,
    ) -> Self {
        Self {
            queue: MAINTENANCE_QUEUE,
            message_type: TOKEN_REVOKE,
            payload: json!({
                "type": TOKEN_REVOKE,
                "connector_id": connector_id,
                "connection_id": connection_id,
                "token": token,
                "token_type_hint": token_type_hint,
            }),
            dedup_key: Some(format!("{TOKEN_REVOKE}:{connection_id}")),
        }
    }
}

/// Write `msg` to the outbox on `conn` (pass the transaction that makes the change).
pub async fn enqueue<C: ConnectionTrait>(conn: &C, msg: Message) -> anyhow::Result<()> {
    let now = Utc::now();
    let row = queue_message::ActiveModel {
        queue: Set(msg.queue.to_owned()),
        message_type: Set(msg.message_type.to_owned()),
        payload: Set(msg.payload.to_string()),
        dedup_key: Set(msg.dedup_key),
        status: Set("pending".into()),
        attempts: Set(0),
        available_at: Set(now),
        created_at: Set(now),
        ..Default::default()
    };
    queue_message::Entity::insert(row)
        .on_conflict_do_nothing_on([queue_message::Column::DedupKey])
        .exec(conn)
        .await
        .context("writing the queue message")?;
    Ok(())
}

/// Run the workers until the task is dropped.
pub async fn run_worker(state: AppState) {
    tracing::info!("queue workers started");
    let general = run_lane(state.clone(), &GENERAL, state.queue.general.clone());
    let imports = run_lane(state.clone(), &IMPORTS, state.queue.imports.clone());
    tokio::join!(general, imports);
}

async fn run_lane(state: AppState, lane: &'static Lane, notify: Arc<Notify>) {
    let mut running = tokio::task::JoinSet::new();
    loop {
        let free = lane.concurrency.saturating_sub(running.len());
        let mut claimed_any = false;
        if free > 0 {
            match claim(&state, lane, free).await {
                Ok(messages) => {
                    claimed_any = !messages.is_empty();
                    for msg in messages {
                        running.spawn(process(state.clone(), lane, msg));
                    }
                }
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
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    }
}

/// Claim up to `limit` due messages of the lane's queues, each with a compare-and-swap so
/// two workers (or two processes) never both run one.
async fn claim(
    state: &AppState,
    lane: &Lane,
    limit: usize,
) -> anyhow::Result<Vec<queue_message::Model>> {
    let now = Utc::now();
    let due = queue_message::Entity::find()
        .filter(queue_message::Column::Queue.is_in(lane.queues.iter().copied()))
        .filter(queue_message::Column::Status.eq("pending"))
        .filter(queue_message::Column::AvailableAt.lte(now))
        .filter(
            Condition::any()
                .add(queue_message::Column::LockedUntil.is_null())
                .add(queue_message::Column::LockedUntil.lt(now)),
        )
        .order_by_asc(queue_message::Column::Id)
        .limit(limit as u64)
        .all(&state.db)
        .await?;
    let mut claimed = Vec::new();
    for mut msg in due {
        let taken = queue_message::Entity::update_many()
            .col_expr(
                queue_message::Column::LockedUntil,
                Expr::value(now + lane.lease),
            )
            .col_expr(
                queue_message::Column::Attempts,
                Expr::col(queue_message::Column::Attempts).add(1),
            )
            .filter(queue_message::Column::Id.eq(msg.id))
            .filter(queue_message::Column::Attempts.eq(msg.attempts))
            .filter(queue_message::Column::Status.eq("pending"))
            .exec(&state.db)
            .await?;
        if taken.rows_affected == 1 {
            msg.attempts += 1;
            claimed.push(msg);
        }
    }
    Ok(claimed)
}

/// Handle a claimed message, renewing its lease while the handler runs, then record the
/// outcome: done, retry later (with backoff, or when the handler said), or dead.
async fn process(state: AppState, lane: &'static Lane, msg: queue_message::Model) {
    let handler = handle(&state, &msg);
    tokio::pin!(handler);
    let mut renew = tokio::time::interval(lane.lease / 3);
    renew.tick().await;
    let outcome = loop {
        tokio::select! {
            outcome = &mut handler => break outcome,
            _ = renew.tick() => {
                let renewed = queue_message::Entity::update_many()
                    .col_expr(
                        queue_message::Column::LockedUntil,
                        Expr::value(Utc::now() + lane.lease),
                    )
                    .filter(queue_message::Column::Id.eq(msg.id))
                    .filter(queue_message::Column::Attempts.eq(msg.attempts))
                    .exec(&state.db)
                    .await;
                if let Err(e) = renewed {
                    tracing::warn!(queue.message_id = msg.id, error = %e, "renewing a lease failed");
                }
            }
        }
    };
    if let Err(e) = settle(&state, &msg, outcome).await {
        tracing::error!(
            queue.message_id = msg.id,
            error.chain = format!("{e:#}"),
            "recording a message outcome failed; it will run again when its lease ends"
        );
    }
}

async fn settle(
    state: &AppState,
    msg: &queue_message::Model,
    outcome: anyhow::Result<()>,
) -> anyhow::Result<()> {
    let attempts = msg.attempts;
    let mut update = queue_message::Entity::update_many()
        .col_expr(
            queue_message::Column::LockedUntil,
            Expr::value(Option::<chrono::DateTime<Utc>>::None),
        )
        .filter(queue_message::Column::Id.eq(msg.id));
    update = match &outcome {
        Ok(()) => update
            .col_expr(queue_message::Column::Status, Expr::value("done"))
            .col_expr(queue_message::Column::ProcessedAt, Expr::value(Utc::now())),
        Err(e) if attempts >= MAX_ATTEMPTS => {
            tracing::error!(
                queue.message_id = msg.id,
                error.chain = format!("{e:#}"),
                "message parked as dead"
            );
            update
                .col_expr(queue_message::Column::Status, Expr::value("dead"))
                .col_expr(
                    queue_message::Column::LastError,
                    Expr::value(format!("{e:#}")),
                )
        }
        Err(e) => {
            let backoff = match e.downcast_ref::<RetryAfter>() {
                Some(r) => {
                    chrono::Duration::from_std(r.after).unwrap_or(chrono::Duration::seconds(60))
                }
                None => chrono::Duration::seconds(2i64.pow(attempts.clamp(0, 10) as u32)),
            };
            tracing::warn!(
                queue.message_id = msg.id,
                retry.attempt = attempts,
                retry.in_secs = backoff.num_seconds(),
                error.chain = format!("{e:#}"),
                "message failed; will retry"
            );
            update
                .col_expr(
                    queue_message::Column::AvailableAt,
                    Expr::value(Utc::now() + backoff),
                )
                .col_expr(
                    queue_message::Column::LastError,
                    Expr::value(format!("{e:#}")),
                )
        }
    };
    update.exec(&state.db).await?;
    Ok(())
}

async fn handle(state: &AppState, msg: &queue_message::Model) -> anyhow::Result<()> {
    let payload: Value =
        serde_json::from_str(&msg.payload).context("message payload is not JSON")?;
    match msg.message_type.as_str() {
        SOURCE_FILE_UPLOADED => mark_ready(state, &payload).await,
        TOKEN_REVOKE => crate::services::connections::retry_revocation(state, &payload).await,
        CLOUD_IMPORT_FILE => {
            crate::services::import_service::run(state, &payload, msg.attempts).await
        }
        other => anyhow::bail!("no handler for message type {other:?}"),
    }
}

/// The reference consumer: a file is `ready` once its stored object is confirmed to exist
/// with the recorded size; otherwise it is `failed` with the reason.
async fn mark_ready(state: &AppState, payload: &Value) -> anyhow::Result<()> {
    let id = payload["source_file_id"]
        .as_i64()
        .context("source_file_id missing")?;
    let Some(file) = source_file::Entity::find_by_id(id).one(&state.db).await? else {
        // The file was deleted before we got to it: nothing to do.
        return Ok(());
    };
    if file.status == "ready" {
        return Ok(());
    }
    let (status, error) = match state.storage.size_of(&file.storage_key).await? {
        Some(size) if size as i64 == file.size_bytes => ("ready", None),
        Some(size) => (
            "failed",
            Some(format!(
                "stored object has {size} bytes, expected {}",
                file.size_bytes
            )),
        ),
        None => ("failed", Some("stored object is missing".to_owned())),
    };
    source_file::Entity::update_many()
        .col_expr(source_file::Column::Status, Expr::value(status))
        .col_expr(source_file::Column::Error, Expr::value(error))
        .col_expr(source_file::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(source_file::Column::Id.eq(id))
        .exec(&state.db)
        .await?;
    tracing::info!(
        source_file.id = id,
        source_file.status = status,
        "document checked"
    );
    Ok(())
}
