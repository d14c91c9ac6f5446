//! One-time setup links (`setup_token`), stored as the token's SHA-256 (the caller hashes).

use super::entities::setup_token;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

/// Ends every unused link still valid at `now` (a newer link replaces them).
pub async fn expire_unused(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<(), DbErr> {
    setup_token::Entity::update_many()
        .col_expr(setup_token::Column::ExpiresAt, Expr::value(now))
        .filter(setup_token::Column::UsedAt.is_null())
        .filter(setup_token::Column::ExpiresAt.gt(now))
        .exec(db)
        .await?;
    Ok(())
}

/// Stores a new unused link, created `now` and valid until `expires_at`.
pub async fn insert(
    db: &impl ConnectionTrait,
    token_hash: String,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    setup_token::Entity::insert(setup_token::ActiveModel {
        token_hash: Set(token_hash),
        created_at: Set(now),
        expires_at: Set(expires_at),
        used_at: Set(None),
        ..Default::default()
    })
    .exec(db)
    .await?;
    Ok(())
}

/// The link whose token hashes to `token_hash`.
pub async fn find_by_hash(
    db: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<setup_token::Model>, DbErr> {
    setup_token::Entity::find()
        .filter(setup_token::Column::TokenHash.eq(token_hash))
        .one(db)
        .await
}

/// Uses link `id` up, if it is unused; returns whether this call did.
pub async fn mark_used(db: &impl ConnectionTrait, id: i64) -> Result<bool, DbErr> {
    let used = setup_token::Entity::update_many()
        .col_expr(setup_token::Column::UsedAt, Expr::value(Utc::now()))
        .filter(setup_token::Column::Id.eq(id))
        .filter(setup_token::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(used.rows_affected == 1)
}
