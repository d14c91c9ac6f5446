//! Personal access tokens (`api_token`), stored as the token's SHA-256 (the caller hashes).

use super::entities::api_token;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter, QueryOrder,
};

/// A token to store.
pub struct NewApiToken {
    pub user_id: i64,
    pub name: String,
    pub token_hash: String,
    /// Comma-separated scope names.
    pub scopes: String,
    pub expires_at: DateTime<Utc>,
}

/// Stores a token, created now.
pub async fn insert(
    db: &impl ConnectionTrait,
    new: NewApiToken,
) -> Result<api_token::Model, DbErr> {
    api_token::ActiveModel {
        user_id: Set(new.user_id),
        name: Set(new.name),
        token_hash: Set(new.token_hash),
        scopes: Set(new.scopes),
        expires_at: Set(Some(new.expires_at)),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await
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

/// The user's unrevoked tokens, newest first.
pub async fn list_for_user(
    db: &impl ConnectionTrait,
    user_id: i64,
) -> Result<Vec<api_token::Model>, DbErr> {
    api_token::Entity::find()
        .filter(api_token::Column::UserId.eq(user_id))
        .filter(api_token::Column::RevokedAt.is_null())
        .order_by_desc(api_token::Column::Id)
        .all(db)
        .await
}

/// Marks token `id` revoked now (only if it is `owner`'s, when given). Whether a live token
/// was revoked.
pub async fn revoke(db: &impl ConnectionTrait, owner: Option<i64>, id: i64) -> Result<bool, DbErr> {
    let mut update = api_token::Entity::update_many()
        .col_expr(api_token::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(api_token::Column::Id.eq(id))
        .filter(api_token::Column::RevokedAt.is_null());
    if let Some(user_id) = owner {
        update = update.filter(api_token::Column::UserId.eq(user_id));
    }
    Ok(update.exec(db).await?.rows_affected == 1)
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
