//! Per-user rate-limit logs (`rate_limit`): one row per user and limit name. The row lock a
//! no-op update takes is how `services::rate_limits` serialises the checks of one user.

use super::entities::rate_limit;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

/// Locks the user's row for limit `name` with a no-op update (PostgreSQL's row lock, SQLite's
/// write lock); false when there is no row yet.
pub async fn lock(db: &impl ConnectionTrait, user_id: i64, name: &str) -> Result<bool, DbErr> {
    let touched = rate_limit::Entity::update_many()
        .col_expr(
            rate_limit::Column::Hits,
            Expr::col(rate_limit::Column::Hits),
        )
        .filter(rate_limit::Column::UserId.eq(user_id))
        .filter(rate_limit::Column::Name.eq(name))
        .exec(db)
        .await?;
    Ok(touched.rows_affected == 1)
}

/// Creates the user's row for limit `name` with the log `hits`, unless a concurrent check
/// created it first.
pub async fn insert_if_missing(
    db: &impl ConnectionTrait,
    user_id: i64,
    name: &str,
    hits: String,
) -> Result<(), DbErr> {
    let new_row = rate_limit::ActiveModel {
        user_id: Set(user_id),
        name: Set(name.to_owned()),
        hits: Set(hits),
        expires_at: Set(Utc::now()),
        ..Default::default()
    };
    rate_limit::Entity::insert(new_row)
        .on_conflict_do_nothing_on([rate_limit::Column::UserId, rate_limit::Column::Name])
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The user's row for limit `name`.
pub async fn find(
    db: &impl ConnectionTrait,
    user_id: i64,
    name: &str,
) -> Result<Option<rate_limit::Model>, DbErr> {
    rate_limit::Entity::find()
        .filter(rate_limit::Column::UserId.eq(user_id))
        .filter(rate_limit::Column::Name.eq(name))
        .one(db)
        .await
}

/// Stores the new log of row `id` and when its newest hit leaves the window.
pub async fn set_hits(
    db: &impl ConnectionTrait,
    id: i64,
    hits: String,
    expires_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    rate_limit::Entity::update_many()
        .col_expr(rate_limit::Column::Hits, Expr::value(hits))
        .col_expr(rate_limit::Column::ExpiresAt, Expr::value(expires_at))
        .filter(rate_limit::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes the rows whose every hit left its window before `now`; returns how many.
pub async fn delete_expired(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<u64, DbErr> {
    let done = rate_limit::Entity::delete_many()
        .filter(rate_limit::Column::ExpiresAt.lt(now))
        .exec(db)
        .await?;
    Ok(done.rows_affected)
}
