//! Admin-managed connector configuration (`connector_config`): one row per connector and key.
//! Values arrive here already encrypted where they are secret (`services::connector_config`
//! decides and decrypts); rotation swaps tokens with a compare-and-set on the old one.
//! Every change moves the connector's `config_version` in the same transaction, so a cached
//! copy of the settings is never taken for current after a change has committed.

use super::entities::{connector, connector_config};
use chrono::Utc;
use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, ExprTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionSession, TransactionTrait,
};

/// Moves the `config_version` of the connector that `which` selects.
async fn bump_version(db: &impl ConnectionTrait, which: sea_orm::Condition) -> Result<(), DbErr> {
    connector::Entity::update_many()
        .col_expr(
            connector::Column::ConfigVersion,
            Expr::col(connector::Column::ConfigVersion).add(1),
        )
        .filter(which)
        .exec(db)
        .await?;
    Ok(())
}

fn connector_is(connector_id: i64) -> sea_orm::Condition {
    sea_orm::Condition::all().add(connector::Column::Id.eq(connector_id))
}

/// Stores `value` under `key` for a connector, replacing a stored value (and its secret flag).
pub async fn upsert(
    db: &impl TransactionTrait,
    connector_id: i64,
    key: &str,
    value: String,
    is_secret: bool,
) -> Result<(), DbErr> {
    let now = Utc::now();
    let txn = db.begin().await?;
    connector_config::Entity::insert(connector_config::ActiveModel {
        connector_id: Set(connector_id),
        key: Set(key.to_owned()),
        value: Set(value),
        is_secret: Set(is_secret),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([
            connector_config::Column::ConnectorId,
            connector_config::Column::Key,
        ])
        .update_columns([
            connector_config::Column::Value,
            connector_config::Column::IsSecret,
            connector_config::Column::UpdatedAt,
        ])
        .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    bump_version(&txn, connector_is(connector_id)).await?;
    txn.commit().await
}

/// Every stored key of a connector, in no particular order.
pub async fn for_connector(
    db: &impl ConnectionTrait,
    connector_id: i64,
) -> Result<Vec<connector_config::Model>, DbErr> {
    connector_config::Entity::find()
        .filter(connector_config::Column::ConnectorId.eq(connector_id))
        .all(db)
        .await
}

/// Every stored key of a connector, by key.
pub async fn for_connector_by_key(
    db: &impl ConnectionTrait,
    connector_id: i64,
) -> Result<Vec<connector_config::Model>, DbErr> {
    connector_config::Entity::find()
        .filter(connector_config::Column::ConnectorId.eq(connector_id))
        .order_by_asc(connector_config::Column::Key)
        .all(db)
        .await
}

/// Removes `key` from a connector's config; returns whether a value was stored.
pub async fn delete(
    db: &impl TransactionTrait,
    connector_id: i64,
    key: &str,
) -> Result<bool, DbErr> {
    let txn = db.begin().await?;
    let res = connector_config::Entity::delete_many()
        .filter(connector_config::Column::ConnectorId.eq(connector_id))
        .filter(connector_config::Column::Key.eq(key))
        .exec(&txn)
        .await?;
    if res.rows_affected > 0 {
        bump_version(&txn, connector_is(connector_id)).await?;
    }
    txn.commit().await?;
    Ok(res.rows_affected > 0)
}

/// Up to `limit` secret values with an id above `after`, in id order (key rotation).
pub async fn secrets_after(
    db: &impl ConnectionTrait,
    after: i64,
    limit: u64,
) -> Result<Vec<connector_config::Model>, DbErr> {
    connector_config::Entity::find()
        .filter(connector_config::Column::IsSecret.eq(true))
        .filter(connector_config::Column::Id.gt(after))
        .order_by_asc(connector_config::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// Replaces the value of row `id` with `new` if it is still `old`. Returns whether it did.
pub async fn swap_value(
    db: &impl TransactionTrait,
    id: i64,
    old: &str,
    new: String,
) -> Result<bool, DbErr> {
    let txn = db.begin().await?;
    let res = connector_config::Entity::update_many()
        .col_expr(connector_config::Column::Value, Expr::value(new))
        .filter(connector_config::Column::Id.eq(id))
        .filter(connector_config::Column::Value.eq(old))
        .exec(&txn)
        .await?;
    if res.rows_affected == 1 {
        let owner = Query::select()
            .column(connector_config::Column::ConnectorId)
            .from(connector_config::Entity)
            .and_where(connector_config::Column::Id.eq(id))
            .to_owned();
        let which = sea_orm::Condition::all().add(connector::Column::Id.in_subquery(owner));
        bump_version(&txn, which).await?;
    }
    txn.commit().await?;
    Ok(res.rows_affected == 1)
}
