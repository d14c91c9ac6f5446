//! Campus sign-ins in progress (`oidc_flow`), found by the SHA-256 of their `state` (the
//! caller hashes). A flow is consumed with a compare-and-delete, so of two callbacks with the
//! same state only one proceeds.

use super::entities::oidc_flow;
use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

/// A flow to store.
pub struct NewOidcFlow {
    pub state_hash: String,
    pub session_binding: String,
    pub nonce_hash: String,
    /// The encrypted PKCE verifier.
    pub pkce_verifier: String,
    pub next_path: String,
    pub expires_at: DateTime<Utc>,
}

/// Stores a flow (and drops the ones that expired).
pub async fn insert(db: &impl ConnectionTrait, new: NewOidcFlow) -> Result<(), DbErr> {
    let now = Utc::now();
    oidc_flow::Entity::delete_many()
        .filter(oidc_flow::Column::ExpiresAt.lt(now))
        .exec(db)
        .await?;
    oidc_flow::Entity::insert(oidc_flow::ActiveModel {
        state_hash: Set(new.state_hash),
        session_binding: Set(new.session_binding),
        nonce_hash: Set(new.nonce_hash),
        pkce_verifier: Set(new.pkce_verifier),
        next_path: Set(new.next_path),
        expires_at: Set(new.expires_at),
        created_at: Set(now),
        ..Default::default()
    })
    .exec(db)
    .await?;
    Ok(())
}

/// Takes the flow whose state hashes to `state_hash`: returns it and deletes it, or `None`
/// when there is none (unknown, or another request took it first).
pub async fn take(
    db: &impl ConnectionTrait,
    state_hash: &str,
) -> Result<Option<oidc_flow::Model>, DbErr> {
    let Some(flow) = oidc_flow::Entity::find()
        .filter(oidc_flow::Column::StateHash.eq(state_hash))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let deleted = oidc_flow::Entity::delete_many()
        .filter(oidc_flow::Column::Id.eq(flow.id))
        .exec(db)
        .await?;
    Ok((deleted.rows_affected == 1).then_some(flow))
}
