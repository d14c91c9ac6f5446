//! Personal access tokens (`api_token`), stored as the token's SHA-256 (the caller hashes).

use super::entities::api_token;
use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

/// Stores a token of `user_id` named `name`, created now.
pub async fn insert(
    db: &impl ConnectionTrait,
    user_id: i64,
    name: &str,
    token_hash: String,
) -> Result<(), DbErr> {
    api_token::Entity::insert(api_token::ActiveModel {
        user_id: Set(user_id),
        name: Set(name.to_owned()),
        token_hash: Set(token_hash),
        created_at: Set(Utc::now()),
        ..Default::default()
    })
    .exec(db)
    .await?;
    Ok(())
}

/// The unrevoked token whose hash is `token_hash`.
pub async fn find_active_by_hash(
    db: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<api_token::Model>, DbErr> {
    api_token::Entity::find()
        .filter(api_token::Column::TokenHash.eq(token_hash))
        .filter(api_token::Column::RevokedAt.is_null())
        .one(db)
        .await
}

/// Records that token `id` was used now.
pub async fn touch(db: &impl ConnectionTrait, id: i64) -> Result<(), DbErr> {
    api_token::Entity::update_many()
        .col_expr(api_token::Column::LastUsedAt, Expr::value(Utc::now()))
        .filter(api_token::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}
