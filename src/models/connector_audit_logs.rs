//! The audit trail of connector actions (`connector_audit_log`): one row per execution,
//! written by `services::audit`, listed newest first (by time, then id) on the admin pages.

use super::entities::connector_audit_log as log;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

/// One row to write.
pub struct NewAuditLog {
    pub connection_id: Option<i64>,
    pub user_id: Option<i64>,
    pub connector_slug: String,
    pub action: String,
    /// `success` or `error`.
    pub status: String,
    /// The redacted parameters as JSON.
    pub request: String,
    pub error_code: Option<String>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// Writes a row, timestamped now.
pub async fn insert(db: &impl ConnectionTrait, new: NewAuditLog) -> Result<(), DbErr> {
    let row = log::ActiveModel {
        connection_id: Set(new.connection_id),
        user_id: Set(new.user_id),
        connector_slug: Set(new.connector_slug),
        action: Set(new.action),
        status: Set(new.status),
        request: Set(new.request),
        error_code: Set(new.error_code),
        error: Set(new.error),
        duration_ms: Set(new.duration_ms),
        created_at: Set(Utc::now()),
        ..Default::default()
    };
    log::Entity::insert(row).exec(db).await?;
    Ok(())
}

/// The row `id`.
pub async fn find(db: &impl ConnectionTrait, id: i64) -> Result<Option<log::Model>, DbErr> {
    log::Entity::find_by_id(id).one(db).await
}

/// The latest `limit` rows of connection `connection_id`, newest first.
pub async fn recent_for_connection(
    db: &impl ConnectionTrait,
    connection_id: i64,
    limit: u64,
) -> Result<Vec<log::Model>, DbErr> {
    log::Entity::find()
        .filter(log::Column::ConnectionId.eq(connection_id))
        .order_by_desc(log::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// The first `limit` rows matching `filter` and `newer`, oldest first.
pub async fn oldest_first(
    db: &impl ConnectionTrait,
    filter: Condition,
    newer: Condition,
    limit: u64,
) -> Result<Vec<log::Model>, DbErr> {
    log::Entity::find()
        .filter(filter)
        .filter(newer)
        .order_by_asc(log::Column::CreatedAt)
        .order_by_asc(log::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// The first `limit` rows matching `filter` (and `older`, when given), newest first.
pub async fn newest_first(
    db: &impl ConnectionTrait,
    filter: Condition,
    older: Option<Condition>,
    limit: u64,
) -> Result<Vec<log::Model>, DbErr> {
    let mut query = log::Entity::find().filter(filter);
    if let Some(older) = older {
        query = query.filter(older);
    }
    query
        .order_by_desc(log::Column::CreatedAt)
        .order_by_desc(log::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// How many actions ran since `since`, and how many of them failed.
pub async fn counts_since(
    db: &impl ConnectionTrait,
    since: DateTime<Utc>,
) -> Result<(u64, u64), DbErr> {
    let recent = log::Entity::find().filter(log::Column::CreatedAt.gte(since));
    let actions = recent.clone().count(db).await?;
    let errors = recent
        .filter(log::Column::Status.eq("error"))
        .count(db)
        .await?;
    Ok((actions, errors))
}
