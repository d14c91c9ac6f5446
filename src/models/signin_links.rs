//! One-time sign-in links (`signin_link`), stored as the token's SHA-256 (the caller hashes).

use super::entities::signin_link;
use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

/// Stores a link for `user_id`, valid until `expires_at`.
pub async fn insert(
    db: &impl ConnectionTrait,
    token_hash: String,
    user_id: i64,
    expires_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    signin_link::Entity::insert(signin_link::ActiveModel {
        token_hash: Set(token_hash),
        user_id: Set(user_id),
        expires_at: Set(expires_at),
        created_at: Set(Utc::now()),
        ..Default::default()
    })
    .exec(db)
    .await?;
    Ok(())
}

/// Takes the unexpired link whose token hashes to `token_hash`: returns it and deletes it.
pub async fn take(
    db: &impl ConnectionTrait,
    token_hash: &str,
) -> Result<Option<signin_link::Model>, DbErr> {
    let now = Utc::now();
    signin_link::Entity::delete_many()
        .filter(signin_link::Column::ExpiresAt.lt(now))
        .exec(db)
        .await?;
    let Some(link) = signin_link::Entity::find()
        .filter(signin_link::Column::TokenHash.eq(token_hash))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let deleted = signin_link::Entity::delete_many()
        .filter(signin_link::Column::Id.eq(link.id))
        .exec(db)
        .await?;
    Ok((deleted.rows_affected == 1 && link.expires_at > now).then_some(link))
}
