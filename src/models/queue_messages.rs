//! The outbox (`queue_message`): messages written in the transaction of the change they
//! announce, claimed by workers with compare-and-set updates on `attempts` and `status`, so
//! two workers (or two processes) never both run one.

use super::entities::queue_message;
use super::status::MessageStatus;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, UpdateMany,
};

/// A message to write.
pub struct NewMessage {
    pub queue: String,
    pub message_type: String,
    /// The JSON payload.
    pub payload: String,
    /// Messages with the same key are written once.
    pub dedup_key: Option<String>,
}

/// Writes a pending message, due now, unless one with its dedup key exists.
pub async fn insert(db: &impl ConnectionTrait, new: NewMessage) -> Result<(), DbErr> {
    let now = Utc::now();
    let row = queue_message::ActiveModel {
        queue: Set(new.queue),
        message_type: Set(new.message_type),
        payload: Set(new.payload),
        dedup_key: Set(new.dedup_key),
        status: Set(MessageStatus::Pending),
        attempts: Set(0),
        available_at: Set(now),
        created_at: Set(now),
        ..Default::default()
    };
    queue_message::Entity::insert(row)
        .on_conflict_do_nothing_on([queue_message::Column::DedupKey])
        .exec(db)
        .await?;
    Ok(())
}

/// Up to `limit` pending messages of `queues` that are due at `now` and not leased (or whose
/// lease ended), oldest first.
pub async fn due(
    db: &impl ConnectionTrait,
    queues: &[&str],
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<queue_message::Model>, DbErr> {
    queue_message::Entity::find()
        .filter(queue_message::Column::Queue.is_in(queues.iter().copied()))
        .filter(queue_message::Column::Status.eq(MessageStatus::Pending.as_str()))
        .filter(queue_message::Column::AvailableAt.lte(now))
        .filter(
            Condition::any()
                .add(queue_message::Column::LockedUntil.is_null())
                .add(queue_message::Column::LockedUntil.lt(now)),
        )
        .order_by_asc(queue_message::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// Claims message `id` until `locked_until` and counts the attempt, if it is still pending
/// with `attempts` attempts. Returns whether this caller got it.
pub async fn claim(
    db: &impl ConnectionTrait,
    id: i64,
    attempts: i32,
    locked_until: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let taken = queue_message::Entity::update_many()
        .col_expr(
            queue_message::Column::LockedUntil,
            Expr::value(locked_until),
        )
        .col_expr(
            queue_message::Column::Attempts,
            Expr::col(queue_message::Column::Attempts).add(1),
        )
        .filter(queue_message::Column::Id.eq(id))
        .filter(queue_message::Column::Attempts.eq(attempts))
        .filter(queue_message::Column::Status.eq(MessageStatus::Pending.as_str()))
        .exec(db)
        .await?;
    Ok(taken.rows_affected == 1)
}

/// Extends the lease on message `id` to `locked_until`, if it is still at attempt `attempts`.
pub async fn renew_lease(
    db: &impl ConnectionTrait,
    id: i64,
    attempts: i32,
    locked_until: DateTime<Utc>,
) -> Result<(), DbErr> {
    queue_message::Entity::update_many()
        .col_expr(
            queue_message::Column::LockedUntil,
            Expr::value(locked_until),
        )
        .filter(queue_message::Column::Id.eq(id))
        .filter(queue_message::Column::Attempts.eq(attempts))
        .exec(db)
        .await?;
    Ok(())
}

/// Releases the lease on message `id` and records it handled.
pub async fn mark_done(db: &impl ConnectionTrait, id: i64) -> Result<(), DbErr> {
    unlock(id)
        .col_expr(
            queue_message::Column::Status,
            Expr::value(MessageStatus::Done.as_str()),
        )
        .col_expr(queue_message::Column::ProcessedAt, Expr::value(Utc::now()))
        .exec(db)
        .await?;
    Ok(())
}

/// Releases the lease on message `id` and parks it as dead with its last error.
pub async fn mark_dead(db: &impl ConnectionTrait, id: i64, error: String) -> Result<(), DbErr> {
    unlock(id)
        .col_expr(
            queue_message::Column::Status,
            Expr::value(MessageStatus::Dead.as_str()),
        )
        .col_expr(queue_message::Column::LastError, Expr::value(error))
        .exec(db)
        .await?;
    Ok(())
}

/// Releases the lease on message `id` and makes it due again at `available_at`.
pub async fn schedule_retry(
    db: &impl ConnectionTrait,
    id: i64,
    available_at: DateTime<Utc>,
    error: String,
) -> Result<(), DbErr> {
    unlock(id)
        .col_expr(
            queue_message::Column::AvailableAt,
            Expr::value(available_at),
        )
        .col_expr(queue_message::Column::LastError, Expr::value(error))
        .exec(db)
        .await?;
    Ok(())
}

/// Releases message `id` until `available_at` without counting the attempt it was claimed
/// for (its handler could not run for a reason outside the message).
pub async fn defer(
    db: &impl ConnectionTrait,
    id: i64,
    available_at: DateTime<Utc>,
    error: String,
) -> Result<(), DbErr> {
    unlock(id)
        .col_expr(
            queue_message::Column::AvailableAt,
            Expr::value(available_at),
        )
        .col_expr(
            queue_message::Column::Attempts,
            Expr::col(queue_message::Column::Attempts).sub(1),
        )
        .col_expr(queue_message::Column::LastError, Expr::value(error))
        .exec(db)
        .await?;
    Ok(())
}

/// Gives message `id` back unhandled (a worker stopping for a shutdown): releases the lease
/// this worker holds at attempt `attempts` and takes the attempt back, so another process
/// claims it at once without counting it as a failure. Returns whether it was still ours.
pub async fn release(db: &impl ConnectionTrait, id: i64, attempts: i32) -> Result<bool, DbErr> {
    let released = unlock(id)
        .col_expr(
            queue_message::Column::Attempts,
            Expr::col(queue_message::Column::Attempts).sub(1),
        )
        .filter(queue_message::Column::Attempts.eq(attempts))
        .filter(queue_message::Column::Status.eq(MessageStatus::Pending.as_str()))
        .exec(db)
        .await?;
    Ok(released.rows_affected == 1)
}

/// An update of message `id` that releases its lease.
fn unlock(id: i64) -> UpdateMany<queue_message::Entity> {
    queue_message::Entity::update_many()
        .col_expr(
            queue_message::Column::LockedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(queue_message::Column::Id.eq(id))
}

/// Up to `limit` messages of `message_type` not yet done, with an id above `after`, in id
/// order (for key rotation of the secrets some payloads carry).
pub async fn unfinished_of_type_after(
    db: &impl ConnectionTrait,
    message_type: &str,
    after: i64,
    limit: u64,
) -> Result<Vec<queue_message::Model>, DbErr> {
    queue_message::Entity::find()
        .filter(queue_message::Column::MessageType.eq(message_type))
        .filter(queue_message::Column::Status.ne(MessageStatus::Done.as_str()))
        .filter(queue_message::Column::Id.gt(after))
        .order_by_asc(queue_message::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// Replaces message `id`'s payload with `new` if it is still `old`.
pub async fn swap_payload(
    db: &impl ConnectionTrait,
    id: i64,
    old: &str,
    new: String,
) -> Result<bool, DbErr> {
    let res = queue_message::Entity::update_many()
        .col_expr(queue_message::Column::Payload, Expr::value(new))
        .filter(queue_message::Column::Id.eq(id))
        .filter(queue_message::Column::Payload.eq(old))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}
