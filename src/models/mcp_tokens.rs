//! Access and refresh tokens of MCP grants (`mcp_token`), found by the SHA-256 of the token
//! (the caller hashes). Rotation retires a refresh token with a compare-and-set on
//! `retired_at`, so of two refreshes with the same token only one succeeds.

use super::entities::mcp_token;
use super::status::McpTokenKind;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

/// A token to store.
pub struct NewToken {
    pub token_hash: String,
    pub mcp_grant_id: i64,
    pub kind: McpTokenKind,
    pub scopes: String,
    pub resource: String,
    pub expires_at: DateTime<Utc>,
}

/// Stores a token, created now.
pub async fn insert(db: &impl ConnectionTrait, new: NewToken) -> Result<(), DbErr> {
    mcp_token::Entity::insert(mcp_token::ActiveModel {
        token_hash: Set(new.token_hash),
        mcp_grant_id: Set(new.mcp_grant_id),
        kind: Set(new.kind),
        scopes: Set(new.scopes),
        resource: Set(new.resource),
        expires_at: Set(new.expires_at),
        created_at: Set(Utc::now()),
        ..Default::default()
    })
    .exec(db)
    .await?;
    Ok(())
}

/// The token whose hash is `token_hash`, whatever its state.
pub async fn find_by_hash(
    db: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<mcp_token::Model>, DbErr> {
    mcp_token::Entity::find()
        .filter(mcp_token::Column::TokenHash.eq(token_hash))
        .one(db)
        .await
}

/// Retires token `id` at `now`; returns whether this call did (false: retired before).
pub async fn retire(db: &impl ConnectionTrait, id: i64, now: DateTime<Utc>) -> Result<bool, DbErr> {
    let done = mcp_token::Entity::update_many()
        .col_expr(mcp_token::Column::RetiredAt, Expr::value(now))
        .filter(mcp_token::Column::Id.eq(id))
        .filter(mcp_token::Column::RetiredAt.is_null())
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Retires every token of grant `grant_id` still in use.
pub async fn retire_all_of_grant(
    db: &impl ConnectionTrait,
    grant_id: i64,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    mcp_token::Entity::update_many()
        .col_expr(mcp_token::Column::RetiredAt, Expr::value(now))
        .filter(mcp_token::Column::McpGrantId.eq(grant_id))
        .filter(mcp_token::Column::RetiredAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes the tokens that expired before `before`; returns how many.
pub async fn delete_expired_before(
    db: &impl ConnectionTrait,
    before: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let done = mcp_token::Entity::delete_many()
        .filter(mcp_token::Column::ExpiresAt.lt(before))
        .exec(db)
        .await?;
    Ok(done.rows_affected)
}
