//! Login sessions (`session`), found by the SHA-256 of the cookie's key (`auth::session_store`
//! hashes it). Deleting a row ends that session at once.

use super::direct::{self, Columns};
use super::entities::{session, user};
use super::local_reads::{self, Reads};
use chrono::{DateTime, Utc};
use rusqlite::ToSql;
use sea_orm::sea_query::Expr;
use sea_orm::sqlx;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter,
};
use std::sync::LazyLock;

/// The unexpired session whose key hashes to `key_hash`, with the user it names if that user
/// still exists: one query where a request would otherwise make two (every request runs it,
/// so it is fixed SQL: `super::direct`).
pub async fn find_live_with_user(
    db: &DatabaseConnection,
    reads: &Reads,
    key_hash: &str,
) -> Result<Option<(session::Model, Option<user::Model>)>, DbErr> {
    let now = Utc::now();
    if reads.enabled() {
        let now_text = local_reads::sqlite_time(now);
        let params: [(&str, &dyn ToSql); 2] = [("$1", &key_hash), ("$2", &now_text)];
        if let Some(found) = reads.row(FIND_LIVE_WITH_USER.as_str(), &params, |row| {
            session_and_user(row)
        }) {
            return Ok(found);
        }
    }
    direct::fetch_optional!(
        direct::pool(db),
        sqlx::query(FIND_LIVE_WITH_USER.as_str())
            .bind(key_hash)
            .bind(now),
        session_and_user
    )
}

fn session_and_user<R: Columns>(
    row: &R,
) -> Result<(session::Model, Option<user::Model>), R::Error> {
    let session = session::Model {
        id: row.int(0)?,
        key_hash: row.text(1)?,
        user_id: row.opt_int(2)?,
        state: row.text(3)?,
        created_at: row.time(4)?,
        expires_at: row.time(5)?,
    };
    // A session naming a deleted user (or none) joins no row: the user's id reads NULL.
    let user = match row.opt_int(6)? {
        Some(_) => Some(direct::user_at(row, 6)?),
        None => None,
    };
    Ok((session, user))
}

static FIND_LIVE_WITH_USER: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT s.id, s.key_hash, s.user_id, s.state, s.created_at, s.expires_at, {} \
         FROM session s LEFT JOIN \"user\" u ON u.id = s.user_id \
         WHERE s.key_hash = $1 AND s.expires_at > $2",
        direct::qualified("u", direct::USER_COLUMNS)
    )
});

/// A session to store.
pub struct NewSession {
    pub key_hash: String,
    pub user_id: Option<i64>,
    /// The session state as JSON.
    pub state: String,
    pub expires_at: DateTime<Utc>,
}

/// Stores a new session.
pub async fn insert(db: &impl ConnectionTrait, new: NewSession) -> Result<(), DbErr> {
    session::Entity::insert(session::ActiveModel {
        key_hash: Set(new.key_hash),
        user_id: Set(new.user_id),
        state: Set(new.state),
        created_at: Set(Utc::now()),
        expires_at: Set(new.expires_at),
        ..Default::default()
    })
    .exec(db)
    .await?;
    Ok(())
}

/// Replaces the state, user and expiry of session `key_hash`. Returns whether the row still
/// existed.
pub async fn update(
    db: &impl ConnectionTrait,
    key_hash: &str,
    state: String,
    user_id: Option<i64>,
    expires_at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let res = session::Entity::update_many()
        .col_expr(session::Column::State, Expr::value(state))
        .col_expr(session::Column::UserId, Expr::value(user_id))
        .col_expr(session::Column::ExpiresAt, Expr::value(expires_at))
        .filter(session::Column::KeyHash.eq(key_hash))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Moves the expiry of session `key_hash`.
pub async fn set_expiry(
    db: &impl ConnectionTrait,
    key_hash: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    session::Entity::update_many()
        .col_expr(session::Column::ExpiresAt, Expr::value(expires_at))
        .filter(session::Column::KeyHash.eq(key_hash))
        .exec(db)
        .await?;
    Ok(())
}

/// Ends session `key_hash`.
pub async fn delete(db: &impl ConnectionTrait, key_hash: &str) -> Result<(), DbErr> {
    session::Entity::delete_many()
        .filter(session::Column::KeyHash.eq(key_hash))
        .exec(db)
        .await?;
    Ok(())
}

/// Ends every session of the user; returns how many there were.
pub async fn delete_for_user(db: &impl ConnectionTrait, user_id: i64) -> Result<u64, DbErr> {
    let res = session::Entity::delete_many()
        .filter(session::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

/// Deletes the sessions that expired by now; returns how many.
pub async fn delete_expired(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    let res = session::Entity::delete_many()
        .filter(session::Column::ExpiresAt.lte(Utc::now()))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}
