//! The audit trail of connector actions (`connector_audit_log`): one row per execution,
//! written by `services::audit`, listed newest first (by time, then id) on the admin pages.

use super::entities::connector_audit_log as log;
use super::keyset::{self, Keyset, Order, Window};
use crate::error::AppResult;
use crate::models::Channel;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

/// One row to write.
#[derive(Clone, Debug)]
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
    pub channel: Channel,
    pub client: Option<String>,
    /// When it happened (not when it was committed).
    pub created_at: DateTime<Utc>,
}

/// Writes `rows` in one statement (all or none).
pub async fn insert_many<'a>(
    db: &impl ConnectionTrait,
    rows: impl IntoIterator<Item = &'a NewAuditLog>,
) -> Result<(), DbErr> {
    let models = rows.into_iter().map(|new| log::ActiveModel {
        connection_id: Set(new.connection_id),
        user_id: Set(new.user_id),
        connector_slug: Set(new.connector_slug.clone()),
        action: Set(new.action.clone()),
        status: Set(new.status.clone()),
        request: Set(new.request.clone()),
        error_code: Set(new.error_code.clone()),
        error: Set(new.error.clone()),
        duration_ms: Set(new.duration_ms),
        channel: Set(new.channel),
        client: Set(new.client.clone()),
        created_at: Set(new.created_at),
        ..Default::default()
    });
    log::Entity::insert_many(models)
        .exec_without_returning(db)
        .await?;
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

/// Where a row sits in the newest-first order: its time, then its id (times can tie).
/// In a URL it reads `<unix nanoseconds>.<id>`, exact on both backends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuditKey {
    pub created_at: DateTime<Utc>,
    pub id: i64,
}

impl AuditKey {
    /// The key of `row`.
    pub fn of(row: &log::Model) -> Self {
        Self {
            created_at: row.created_at,
            id: row.id,
        }
    }
}

impl std::fmt::Display for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let nanos = self
            .created_at
            .timestamp_nanos_opt()
            .unwrap_or(self.created_at.timestamp_micros().saturating_mul(1000));
        write!(f, "{nanos}.{}", self.id)
    }
}

impl std::str::FromStr for AuditKey {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        let (nanos, id) = s.split_once('.').ok_or(())?;
        Ok(Self {
            created_at: DateTime::from_timestamp_nanos(nanos.parse().map_err(|_| ())?),
            id: id.parse().map_err(|_| ())?,
        })
    }
}

/// The page of rows matching `filter` that `keyset` asks for, newest first: a range on the
/// `(…, created_at, id)` indexes that stops after `limit` rows, as cheap deep as on top.
pub async fn window(
    db: &impl ConnectionTrait,
    filter: Condition,
    keyset: &Keyset<AuditKey>,
    limit: u64,
) -> AppResult<Window<log::Model>> {
    let pair = |key: &Option<AuditKey>| key.map(|k| (k.created_at, k.id));
    let keyset = Keyset {
        below: pair(&keyset.below),
        above: pair(&keyset.above),
    };
    keyset::window(
        db,
        log::Entity::find().filter(filter),
        (log::Column::CreatedAt, log::Column::Id),
        Order::Descending,
        &keyset,
        limit,
    )
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
