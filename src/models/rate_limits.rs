//! Per-user rate limits (`rate_limit`, one row per user and limit name) and their hits
//! (`rate_limit_hit`, numbered by the row's `next_seq`). The row lock the counter update takes
//! is how `services::rate_limits` serialises the checks of one user.

use super::entities::{rate_limit, rate_limit_hit};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, ExprTrait, QueryFilter,
};

/// Counts `n` more hits on the user's row for limit `name` and moves its expiry, taking the
/// row's lock (PostgreSQL's row lock, SQLite's write lock); the row after the update, or
/// `None` when there is no row yet.
pub async fn count_hits(
    db: &impl ConnectionTrait,
    user_id: i64,
    name: &str,
    n: u32,
    expires_at: DateTime<Utc>,
) -> Result<Option<rate_limit::Model>, DbErr> {
    let rows = rate_limit::Entity::update_many()
        .col_expr(
            rate_limit::Column::NextSeq,
            Expr::col(rate_limit::Column::NextSeq).add(i64::from(n)),
        )
        .col_expr(rate_limit::Column::ExpiresAt, Expr::value(expires_at))
        .filter(rate_limit::Column::UserId.eq(user_id))
        .filter(rate_limit::Column::Name.eq(name))
        .exec_with_returning(db)
        .await?;
    Ok(rows.into_iter().next())
}

/// Moves the expiry of row `rate_limit_id` (whose lock the caller holds).
pub async fn set_expiry(
    db: &impl ConnectionTrait,
    rate_limit_id: i64,
    expires_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    rate_limit::Entity::update_many()
        .col_expr(rate_limit::Column::ExpiresAt, Expr::value(expires_at))
        .filter(rate_limit::Column::Id.eq(rate_limit_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Creates the user's row for limit `name` with no hits, unless a concurrent check created it
/// first.
pub async fn insert_if_missing(
    db: &impl ConnectionTrait,
    user_id: i64,
    name: &str,
) -> Result<(), DbErr> {
    let new_row = rate_limit::ActiveModel {
        user_id: Set(user_id),
        name: Set(name.to_owned()),
        next_seq: Set(0),
        expires_at: Set(Utc::now()),
        ..Default::default()
    };
    rate_limit::Entity::insert(new_row)
        .on_conflict_do_nothing_on([rate_limit::Column::UserId, rate_limit::Column::Name])
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Deletes the hits of row `rate_limit_id` numbered `seq` or lower and returns them.
pub async fn take_hits_through(
    db: &impl ConnectionTrait,
    rate_limit_id: i64,
    seq: i64,
) -> Result<Vec<rate_limit_hit::Model>, DbErr> {
    rate_limit_hit::Entity::delete_many()
        .filter(rate_limit_hit::Column::RateLimitId.eq(rate_limit_id))
        .filter(rate_limit_hit::Column::Seq.lte(seq))
        .exec_with_returning(db)
        .await
}

/// Records the hits numbered `seqs` of row `rate_limit_id`, all at `hit_at` (Unix ms).
pub async fn insert_hits(
    db: &impl ConnectionTrait,
    rate_limit_id: i64,
    seqs: std::ops::RangeInclusive<i64>,
    hit_at: i64,
) -> Result<(), DbErr> {
    let rows = seqs.map(|seq| rate_limit_hit::ActiveModel {
        rate_limit_id: Set(rate_limit_id),
        seq: Set(seq),
        hit_at: Set(hit_at),
        ..Default::default()
    });
    rate_limit_hit::Entity::insert_many(rows)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The recorded hits of the user's row for limit `name`, oldest first (times in Unix ms).
pub async fn hits(db: &impl ConnectionTrait, user_id: i64, name: &str) -> Result<Vec<i64>, DbErr> {
    let Some(row) = rate_limit::Entity::find()
        .filter(rate_limit::Column::UserId.eq(user_id))
        .filter(rate_limit::Column::Name.eq(name))
        .one(db)
        .await?
    else {
        return Ok(Vec::new());
    };
    let mut found = rate_limit_hit::Entity::find()
        .filter(rate_limit_hit::Column::RateLimitId.eq(row.id))
        .all(db)
        .await?;
    found.sort_by_key(|h| h.seq);
    Ok(found.into_iter().map(|h| h.hit_at).collect())
}

/// Deletes the rows whose every hit left its window before `now` (and their hits); returns
/// how many rows.
pub async fn delete_expired(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<u64, DbErr> {
    let done = rate_limit::Entity::delete_many()
        .filter(rate_limit::Column::ExpiresAt.lt(now))
        .exec(db)
        .await?;
    Ok(done.rows_affected)
}
