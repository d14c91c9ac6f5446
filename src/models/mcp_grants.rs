//! MCP grants (`mcp_grant`): what a user allowed an assistant on the consent page. Every
//! lookup a user can reach takes their id; revoking is a compare-and-set on `revoked_at`.

use super::entities::mcp_grant;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr,
    EntityTrait, QueryFilter, QueryOrder,
};

/// A grant to store.
pub struct NewGrant {
    pub user_id: i64,
    pub mcp_client_id: i64,
    /// Space-separated scopes.
    pub scopes: String,
    /// JSON array of connection ids.
    pub connection_ids: String,
    pub expires_at: DateTime<Utc>,
}

/// Stores a grant, created now.
pub async fn insert(db: &impl ConnectionTrait, new: NewGrant) -> Result<mcp_grant::Model, DbErr> {
    mcp_grant::ActiveModel {
        user_id: Set(new.user_id),
        mcp_client_id: Set(new.mcp_client_id),
        scopes: Set(new.scopes),
        connection_ids: Set(new.connection_ids),
        created_at: Set(Utc::now()),
        expires_at: Set(new.expires_at),
        ..Default::default()
    }
    .insert(db)
    .await
}

/// The grant `id`, whoever holds it (the token endpoint, which has no user).
pub async fn find(db: &impl ConnectionTrait, id: i64) -> Result<Option<mcp_grant::Model>, DbErr> {
    mcp_grant::Entity::find_by_id(id).one(db).await
}

/// The user's grants that are neither revoked nor lapsed at `now`, newest first.
pub async fn list_live_for_user(
    db: &impl ConnectionTrait,
    user_id: i64,
    now: DateTime<Utc>,
) -> Result<Vec<mcp_grant::Model>, DbErr> {
    mcp_grant::Entity::find()
        .filter(mcp_grant::Column::UserId.eq(user_id))
        .filter(mcp_grant::Column::RevokedAt.is_null())
        .filter(mcp_grant::Column::ExpiresAt.gt(now))
        .order_by_desc(mcp_grant::Column::Id)
        .all(db)
        .await
}

/// Revokes the user's grant `id`; returns whether this call revoked it (false when it is
/// someone else's, unknown or already revoked).
pub async fn revoke_owned(
    db: &impl ConnectionTrait,
    user_id: i64,
    id: i64,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let done = mcp_grant::Entity::update_many()
        .col_expr(mcp_grant::Column::RevokedAt, Expr::value(now))
        .filter(mcp_grant::Column::Id.eq(id))
        .filter(mcp_grant::Column::UserId.eq(user_id))
        .filter(mcp_grant::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Revokes grant `id` (a replayed code or refresh token); a no-op when already revoked.
pub async fn revoke(db: &impl ConnectionTrait, id: i64, now: DateTime<Utc>) -> Result<(), DbErr> {
    mcp_grant::Entity::update_many()
        .col_expr(mcp_grant::Column::RevokedAt, Expr::value(now))
        .filter(mcp_grant::Column::Id.eq(id))
        .filter(mcp_grant::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// Records that grant `id` was used at `now`.
pub async fn touch(db: &impl ConnectionTrait, id: i64, now: DateTime<Utc>) -> Result<(), DbErr> {
    mcp_grant::Entity::update_many()
        .col_expr(mcp_grant::Column::LastUsedAt, Expr::value(now))
        .filter(mcp_grant::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Moves the end of grant `id` to `expires_at` (a new refresh token lives until then).
pub async fn extend(
    db: &impl ConnectionTrait,
    id: i64,
    expires_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    mcp_grant::Entity::update_many()
        .col_expr(mcp_grant::Column::ExpiresAt, Expr::value(expires_at))
        .filter(mcp_grant::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes the grants that lapsed or were revoked before `before` (with their codes and
/// tokens, by cascade); returns how many.
pub async fn delete_ended_before(
    db: &impl ConnectionTrait,
    before: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let done = mcp_grant::Entity::delete_many()
        .filter(
            Condition::any()
                .add(mcp_grant::Column::ExpiresAt.lt(before))
                .add(mcp_grant::Column::RevokedAt.lt(before)),
        )
        .exec(db)
        .await?;
    Ok(done.rows_affected)
}
