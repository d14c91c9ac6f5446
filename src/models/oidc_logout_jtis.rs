//! Back-channel logout tokens already used (`oidc_logout_jti`), by the SHA-256 of issuer and
//! `jti` (the caller hashes).

use super::entities::oidc_logout_jti;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    TryInsertResult,
};

/// Records `jti_hash` as used until `expires_at`; returns false when it was already recorded
/// (a replay). The unique index decides between two concurrent deliveries.
pub async fn claim(
    db: &impl ConnectionTrait,
    jti_hash: &str,
    expires_at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    oidc_logout_jti::Entity::delete_many()
        .filter(oidc_logout_jti::Column::ExpiresAt.lt(Utc::now()))
        .exec(db)
        .await?;
    let inserted = oidc_logout_jti::Entity::insert(oidc_logout_jti::ActiveModel {
        jti_hash: Set(jti_hash.to_owned()),
        expires_at: Set(expires_at),
        ..Default::default()
    })
    .on_conflict_do_nothing_on([oidc_logout_jti::Column::JtiHash])
    .exec_without_returning(db)
    .await?;
    Ok(matches!(inserted, TryInsertResult::Inserted(1)))
}
