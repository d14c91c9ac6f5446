//! OAuth flows in progress (`oauth_state`), found by the SHA-256 of their `state` (the caller
//! hashes). A flow is consumed with a compare-and-delete, so of two concurrent callbacks only
//! one proceeds.

use super::entities::oauth_state;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

/// Deletes the flows that expired before `now`.
pub async fn delete_expired(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<(), DbErr> {
    oauth_state::Entity::delete_many()
        .filter(oauth_state::Column::ExpiresAt.lt(now))
        .exec(db)
        .await?;
    Ok(())
}

/// A flow to store.
pub struct NewOAuthState {
    pub state_hash: String,
    pub user_id: i64,
    pub connector_slug: String,
    /// The SHA-256 of the browser session's nonce; `None` for an API flow.
    pub session_binding: Option<String>,
    /// The encrypted PKCE verifier.
    pub pkce_verifier: String,
    pub redirect_uri: String,
    pub reconnect_connection_id: Option<i64>,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

/// Stores a flow; returns its id.
pub async fn insert(db: &impl ConnectionTrait, new: NewOAuthState) -> Result<i64, DbErr> {
    let res = oauth_state::Entity::insert(oauth_state::ActiveModel {
        state_hash: Set(new.state_hash),
        user_id: Set(new.user_id),
        connector_slug: Set(new.connector_slug),
        session_binding: Set(new.session_binding),
        pkce_verifier: Set(new.pkce_verifier),
        redirect_uri: Set(new.redirect_uri),
        reconnect_connection_id: Set(new.reconnect_connection_id),
        expires_at: Set(new.expires_at),
        created_at: Set(new.created_at),
        ..Default::default()
    })
    .exec(db)
    .await?;
    Ok(res.last_insert_id)
}

/// A user's unexpired flows: how many, and when the first of them expires.
pub struct Pending {
    pub count: u64,
    pub oldest_expires_at: Option<DateTime<Utc>>,
}

/// The flows of `user_id` that have not expired at `now`.
pub async fn pending_for_user(
    db: &impl ConnectionTrait,
    user_id: i64,
    now: DateTime<Utc>,
) -> Result<Pending, DbErr> {
    let expiries: Vec<DateTime<Utc>> = oauth_state::Entity::find()
        .select_only()
        .column(oauth_state::Column::ExpiresAt)
        .filter(oauth_state::Column::UserId.eq(user_id))
        .filter(oauth_state::Column::ExpiresAt.gte(now))
        .order_by_asc(oauth_state::Column::ExpiresAt)
        .into_tuple()
        .all(db)
        .await?;
    Ok(Pending {
        count: expiries.len() as u64,
        oldest_expires_at: expiries.first().copied(),
    })
}

/// The flow whose state hashes to `state_hash`.
pub async fn find_by_hash(
    db: &impl ConnectionTrait,
    state_hash: &str,
) -> Result<Option<oauth_state::Model>, DbErr> {
    oauth_state::Entity::find()
        .filter(oauth_state::Column::StateHash.eq(state_hash))
        .one(db)
        .await
}

/// Deletes flow `id`; returns whether this call deleted it.
pub async fn delete(db: &impl ConnectionTrait, id: i64) -> Result<bool, DbErr> {
    let deleted = oauth_state::Entity::delete_many()
        .filter(oauth_state::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(deleted.rows_affected == 1)
}

/// Up to `limit` flows with an id above `after`, in id order (for key rotation).
pub async fn batch_after(
    db: &impl ConnectionTrait,
    after: i64,
    limit: u64,
) -> Result<Vec<oauth_state::Model>, DbErr> {
    oauth_state::Entity::find()
        .filter(oauth_state::Column::Id.gt(after))
        .order_by_asc(oauth_state::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// Replaces flow `id`'s encrypted PKCE verifier with `new` if it is still `old`.
pub async fn swap_verifier(
    db: &impl ConnectionTrait,
    id: i64,
    old: &str,
    new: String,
) -> Result<bool, DbErr> {
    let res = oauth_state::Entity::update_many()
        .col_expr(oauth_state::Column::PkceVerifier, Expr::value(new))
        .filter(oauth_state::Column::Id.eq(id))
        .filter(oauth_state::Column::PkceVerifier.eq(old))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}
