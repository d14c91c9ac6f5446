//! Authorization codes of the MCP authorization server (`mcp_authorization_code`), found by
//! the SHA-256 of the code (the caller hashes). A code is used with a compare-and-set on
//! `used_at`, so of two exchanges only one gets it, and the other is known as a replay.

use super::entities::mcp_authorization_code;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

/// A code to store.
pub struct NewCode {
    pub code_hash: String,
    pub mcp_grant_id: i64,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub resource: String,
    pub expires_at: DateTime<Utc>,
}

/// Stores a code, created now.
pub async fn insert(db: &impl ConnectionTrait, new: NewCode) -> Result<(), DbErr> {
    mcp_authorization_code::Entity::insert(mcp_authorization_code::ActiveModel {
        code_hash: Set(new.code_hash),
        mcp_grant_id: Set(new.mcp_grant_id),
        redirect_uri: Set(new.redirect_uri),
        code_challenge: Set(new.code_challenge),
        resource: Set(new.resource),
        expires_at: Set(new.expires_at),
        created_at: Set(Utc::now()),
        ..Default::default()
    })
    .exec(db)
    .await?;
    Ok(())
}

/// The code whose hash is `code_hash`, used or not.
pub async fn find_by_hash(
    db: &impl ConnectionTrait,
    code_hash: &str,
) -> Result<Option<mcp_authorization_code::Model>, DbErr> {
    mcp_authorization_code::Entity::find()
        .filter(mcp_authorization_code::Column::CodeHash.eq(code_hash))
        .one(db)
        .await
}

/// Marks code `id` used at `now`; returns whether this call did (false: it was used before).
pub async fn mark_used(
    db: &impl ConnectionTrait,
    id: i64,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let done = mcp_authorization_code::Entity::update_many()
        .col_expr(mcp_authorization_code::Column::UsedAt, Expr::value(now))
        .filter(mcp_authorization_code::Column::Id.eq(id))
        .filter(mcp_authorization_code::Column::UsedAt.is_null())
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Deletes the codes that expired before `before`; returns how many.
pub async fn delete_expired_before(
    db: &impl ConnectionTrait,
    before: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let done = mcp_authorization_code::Entity::delete_many()
        .filter(mcp_authorization_code::Column::ExpiresAt.lt(before))
        .exec(db)
        .await?;
    Ok(done.rows_affected)
}
