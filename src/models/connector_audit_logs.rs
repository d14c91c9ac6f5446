//! The audit trail of connector actions (`connector_audit_log`): one row per execution,
//! written by `services::audit`, listed newest first (by time, then id) on the admin pages.

use super::direct;
use super::entities::connector_audit_log as log;
use super::keyset::{self, Keyset, Order, Window};
use crate::error::AppResult;
use crate::models::Channel;
use chrono::{DateTime, Utc};
use sea_orm::sqlx::{self, AssertSqlSafe, SqlSafeStr};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use std::sync::LazyLock;

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

/// Writes `rows` in one statement (all or none). Every browse writes its row through here,
/// so the statement is fixed SQL for its number of rows (`super::direct`).
pub async fn insert_many(db: &DatabaseConnection, rows: &[&NewAuditLog]) -> Result<(), DbErr> {
    if rows.is_empty() {
        return Ok(());
    }
    let pool = direct::pool(db);
    let numbered = matches!(pool, direct::Pool::Postgres(_));
    let ready = if numbered {
        &PG_INSERTS
    } else {
        &SQLITE_INSERTS
    };
    let sql = match ready.get(rows.len() - 1) {
        Some(sql) => sql.as_str().into_sql_str(),
        None => AssertSqlSafe(insert_sql(rows.len(), numbered)).into_sql_str(),
    };
    macro_rules! bound {
        ($query:expr) => {{
            let mut query = $query;
            for row in rows {
                query = query
                    .bind(row.connection_id)
                    .bind(row.user_id)
                    .bind(row.connector_slug.as_str())
                    .bind(row.action.as_str())
                    .bind(row.status.as_str())
                    .bind(row.request.as_str())
                    .bind(row.error_code.as_deref())
                    .bind(row.error.as_deref())
                    .bind(row.duration_ms)
                    .bind(row.channel.as_str())
                    .bind(row.client.as_deref())
                    .bind(row.created_at);
            }
            query
        }};
    }
    let done = match pool {
        direct::Pool::Sqlite(p) => bound!(sqlx::query(sql)).execute(p).await.map(|_| ()),
        direct::Pool::Postgres(p) => bound!(sqlx::query(sql)).execute(p).await.map(|_| ()),
    };
    done.map_err(direct::db_err)
}

/// Writes `row` on an SQLite connection of our own (`super::local_writes`), exactly as
/// [`insert_many`] writes it through sqlx (times in sqlx's text form).
pub fn insert_here(conn: &rusqlite::Connection, row: &NewAuditLog) -> rusqlite::Result<()> {
    let mut insert = conn.prepare_cached(&SQLITE_INSERTS[0])?;
    insert.execute(rusqlite::params![
        row.connection_id,
        row.user_id,
        row.connector_slug,
        row.action,
        row.status,
        row.request,
        row.error_code,
        row.error,
        row.duration_ms,
        row.channel.as_str(),
        row.client,
        super::local_reads::sqlite_time(row.created_at),
    ])?;
    Ok(())
}

/// The columns [`insert_many`] writes, in the order it binds them.
const INSERT_COLUMNS: &str = "connection_id, user_id, connector_slug, action, status, request, \
     error_code, error, duration_ms, channel, client, created_at";
const INSERT_WIDTH: usize = 12;

/// The most rows [`insert_many`] has a ready statement for (more are written alike, with a
/// statement made for the call): `services::audit`'s largest batch.
pub const PREPARED_ROWS: usize = 64;

/// The statements for 1 to [`PREPARED_ROWS`] rows, made once, for each backend.
static SQLITE_INSERTS: LazyLock<Vec<String>> =
    LazyLock::new(|| (1..=PREPARED_ROWS).map(|n| insert_sql(n, false)).collect());
static PG_INSERTS: LazyLock<Vec<String>> =
    LazyLock::new(|| (1..=PREPARED_ROWS).map(|n| insert_sql(n, true)).collect());

/// `INSERT` of `n` rows. PostgreSQL's parameters are numbered (`$1` …); SQLite's are plain
/// `?`, taken in order: sqlx looks each numbered one up by name, and SQLite finds a name by
/// walking the statement's list of them, which made a 64-row batch (768 parameters) cost
/// hundreds of thousands of steps before it ran.
fn insert_sql(n: usize, numbered: bool) -> String {
    let mut sql = format!("INSERT INTO connector_audit_log ({INSERT_COLUMNS}) VALUES ");
    for row in 0..n {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for col in 0..INSERT_WIDTH {
            if col > 0 {
                sql.push_str(", ");
            }
            if numbered {
                sql.push('$');
                sql.push_str(&(row * INSERT_WIDTH + col + 1).to_string());
            } else {
                sql.push('?');
            }
        }
        sql.push(')');
    }
    sql
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
