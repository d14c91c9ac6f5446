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
/// After this many failed attempts a message is parked as `dead`.
pub const MAX_ATTEMPTS: i32 = 5;
const LEASE: Duration = Duration::from_secs(60);

/// Wakes the worker when a message was committed.
#[derive(Clone, Default)]
pub struct QueueHandle {
    notify: Arc<Notify>,
}

impl QueueHandle {
    pub fn wake(&self) {
        self.notify.notify_one();
    }
}

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

/// Run the worker until the task is dropped.
pub async fn run_worker(state: AppState) {
    tracing::info!("queue worker started");
    loop {
        match drain_once(&state).await {
            Ok(0) => {
                tokio::select! {
                    _ = state.queue.notify.notified() => {}
                    _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error.chain = format!("{e:#}"), "queue worker pass failed");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
}

/// Claim and handle the messages that are due; returns how many were handled.
pub async fn drain_once(state: &AppState) -> anyhow::Result<usize> {
    let now = Utc::now();
    let due = queue_message::Entity::find()
        .filter(queue_message::Column::Status.eq("pending"))
        .filter(queue_message::Column::AvailableAt.lte(now))
        .filter(
            Condition::any()
                .add(queue_message::Column::LockedUntil.is_null())
                .add(queue_message::Column::LockedUntil.lt(now)),
        )
        .order_by_asc(queue_message::Column::Id)
        .limit(16)
        .all(&state.db)
        .await?;
    let mut handled = 0;
    for msg in due {
        // Claim with a compare-and-swap so two workers (or two processes) never both run it.
        let claimed = queue_message::Entity::update_many()
            .col_expr(queue_message::Column::LockedUntil, Expr::value(now + LEASE))
            .col_expr(
                queue_message::Column::Attempts,
                Expr::col(queue_message::Column::Attempts).add(1),
            )
            .filter(queue_message::Column::Id.eq(msg.id))
            .filter(queue_message::Column::Attempts.eq(msg.attempts))
            .filter(queue_message::Column::Status.eq("pending"))
            .exec(&state.db)
            .await?;
        if claimed.rows_affected != 1 {
            continue;
        }
        let attempts = msg.attempts + 1;
        let outcome = handle(state, &msg).await;
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
                let backoff = chrono::Duration::seconds(2i64.pow(attempts.clamp(0, 10) as u32));
                tracing::warn!(
                    queue.message_id = msg.id,
                    retry.attempt = attempts,
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
        handled += 1;
    }
    Ok(handled)
}

async fn handle(state: &AppState, msg: &queue_message::Model) -> anyhow::Result<()> {
    let payload: Value =
        serde_json::from_str(&msg.payload).context("message payload is not JSON")?;
    match msg.message_type.as_str() {
        SOURCE_FILE_UPLOADED => mark_ready(state, &payload).await,
        TOKEN_REVOKE => crate::services::connections::retry_revocation(state, &payload).await,
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
