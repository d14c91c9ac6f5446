//! Connections (`connection`): a user's link to a connector account. Every lookup that a
//! user can reach takes their id and scopes by it; the refresh-lease and rotation updates are
//! compare-and-set `UPDATE`s whose `WHERE` clauses are the concurrency guard (see
//! `services::token_refresh` and `services::rotation`), so their callers check the rows
//! affected.

use super::direct::{self, Columns};
use super::entities::{connection, connector, knowledge_folder};
use super::keyset::{self, Keyset, Order, Window};
use super::local_reads::Reads;
use super::local_writes::Bookkeeping;
use super::rate_limits::{COMMIT_WITHOUT_WAITING, Taken};
use super::status::ConnectionStatus;
use crate::error::AppResult;
use chrono::{DateTime, Utc};
use rusqlite::ToSql;
use sea_orm::sea_query::Expr;
use sea_orm::sqlx;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseConnection, DbErr, EntityTrait, ExprTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, UpdateMany,
};
use std::sync::LazyLock;

/// The connection `id`, whoever owns it (workers, admin pages).
pub async fn find(db: &impl ConnectionTrait, id: i64) -> Result<Option<connection::Model>, DbErr> {
    connection::Entity::find_by_id(id).one(db).await
}

/// The connection `id` if it is `user_id`'s; anyone else's reads as `None`.
pub async fn find_owned(
    db: &impl ConnectionTrait,
    user_id: i64,
    id: i64,
) -> Result<Option<connection::Model>, DbErr> {
    connection::Entity::find_by_id(id)
        .filter(connection::Column::UserId.eq(user_id))
        .one(db)
        .await
}

/// The user's connection `id` with its catalog row, in one query.
pub async fn find_owned_with_connector(
    db: &impl ConnectionTrait,
    user_id: i64,
    id: i64,
) -> Result<Option<(connection::Model, connector::Model)>, DbErr> {
    // `all()`, not `one()`: no `LIMIT ?` for SQLite to recompile (see `crate::models`).
    let found = connection::Entity::find_by_id(id)
        .filter(connection::Column::UserId.eq(user_id))
        .find_also_related(connector::Entity)
        .all(db)
        .await?;
    Ok(found
        .into_iter()
        .next()
        .and_then(|(conn, connector)| Some((conn, connector?))))
}

/// What a browse reads in one statement: the user's connection, its connector and the
/// user's folder; whether the session the caller's claim named is live; and, when the read
/// took one ([`find_owned_in_folder_taking`]), the rate-limit hit's outcome.
#[derive(Debug)]
pub struct InFolder {
    pub conn: connection::Model,
    pub connector: connector::Model,
    pub folder: knowledge_folder::Model,
    /// The session named by [`SessionToConfirm`] exists, has not expired and names this
    /// user, who is active; `true` when there was none to confirm.
    pub session_live: bool,
    /// The hit's outcome, if the statement took one.
    pub taken: Option<Taken>,
}

/// A session the request was served from without reading its row first
/// (`auth::session_store`): the read that answers the request confirms it, in its own
/// statement, so that a logout, an expiry or a deactivation counts at once.
#[derive(Clone, Copy, Debug)]
pub struct SessionToConfirm<'a> {
    /// The SHA-256 (hex) of the session's key, as the `session` table is keyed.
    pub key_hash: &'a str,
}

/// The condition a [`SessionToConfirm`] must meet, as one boolean column: `$k` is its key
/// hash (`NULL`: nothing to confirm), `$t` the time now, `$1` the user's id.
fn session_live(k: &str, t: &str) -> String {
    format!(
        "({k} IS NULL OR EXISTS (SELECT 1 FROM session s JOIN \"user\" u ON u.id = s.user_id \
         WHERE s.key_hash = {k} AND s.expires_at > {t} AND s.user_id = $1 AND u.is_active))"
    )
}

/// The user's connection `id` with its connector, and the user's folder `folder_id`, in one
/// query: `None` unless both are the user's. With a `session` to confirm, the same statement
/// says whether it is live ([`InFolder::session_live`]). Every browse runs it, so it is fixed
/// SQL (`super::direct`).
pub async fn find_owned_with_connector_and_folder(
    db: &DatabaseConnection,
    reads: &Reads,
    user_id: i64,
    folder_id: i64,
    id: i64,
    session: Option<SessionToConfirm<'_>>,
) -> Result<Option<InFolder>, DbErr> {
    let key_hash = session.map(|s| s.key_hash);
    let now = Utc::now();
    let sql = WITH_CONNECTOR_AND_FOLDER.as_str();
    if reads.enabled() {
        let now_text = super::local_reads::sqlite_time(now);
        let params: [(&str, &dyn ToSql); 5] = [
            ("$1", &user_id),
            ("$2", &folder_id),
            ("$3", &id),
            ("$4", &key_hash),
            ("$5", &now_text),
        ];
        if let Some(found) = reads.row(sql, &params, |row| in_folder(row, None)) {
            return Ok(found);
        }
    }
    direct::fetch_optional!(
        direct::pool(db),
        sqlx::query(sql)
            .bind(user_id)
            .bind(folder_id)
            .bind(id)
            .bind(key_hash)
            .bind(now),
        |row| in_folder(row, None)
    )
}

/// The rows of [`WITH_CONNECTOR_AND_FOLDER`] (or of [`IN_FOLDER_TAKING`], with the hit's
/// outcome read by the caller), then the session's column.
fn in_folder<R: direct::Columns>(row: &R, taken: Option<Taken>) -> Result<InFolder, R::Error>
where
    R::Error: direct::DecodeError,
{
    let (conn, connector, folder) = with_connector_and_folder(row)?;
    let at = direct::CONNECTION_WIDTH + direct::CONNECTOR_WIDTH + direct::FOLDER_WIDTH;
    Ok(InFolder {
        conn,
        connector,
        folder,
        session_live: row.flag(at)?,
        taken,
    })
}

fn with_connector_and_folder<R: direct::Columns>(
    row: &R,
) -> Result<(connection::Model, connector::Model, knowledge_folder::Model), R::Error>
where
    R::Error: direct::DecodeError,
{
    let connector_at = direct::CONNECTION_WIDTH;
    let folder_at = connector_at + direct::CONNECTOR_WIDTH;
    Ok((
        direct::connection_at(row, 0)?,
        direct::connector_at(row, connector_at)?,
        direct::folder_at(row, folder_at)?,
    ))
}

static WITH_CONNECTOR_AND_FOLDER: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {}, {}, {}, {} FROM connection c \
         JOIN connector k ON k.id = c.connector_id \
         JOIN knowledge_folder f ON f.user_id = c.user_id AND f.id = $2 \
         WHERE c.id = $3 AND c.user_id = $1",
        direct::qualified("c", direct::CONNECTION_COLUMNS),
        direct::qualified("k", direct::CONNECTOR_COLUMNS),
        direct::qualified("f", direct::FOLDER_COLUMNS),
        session_live("$4", "$5"),
    )
});

/// A rate-limit hit to take in the statement that reads what it is for (PostgreSQL): one
/// hit of `max` per `window_ms` on the user's row `name`, committed as
/// [`super::rate_limits::Flush::WithNextCommit`].
pub struct HitIf<'a> {
    pub name: &'a str,
    pub max: u32,
    pub window_ms: i64,
    /// Taken only when the connector is one of these (enabled, and able to do what the
    /// hit is for) and the connection is not waiting to be reconnected.
    pub connector_slugs: &'a [String],
}

/// [`find_owned_with_connector_and_folder`] on PostgreSQL, taking `hit` in the same
/// statement (one round trip instead of two) when the folder and connection are the user's,
/// the connection can be used (see [`HitIf`]) and the `session` to confirm, if any, is live;
/// [`InFolder::taken`] is `None` when no hit was taken. `None` outright when nothing was
/// found, or on another database.
pub async fn find_owned_in_folder_taking(
    db: &DatabaseConnection,
    user_id: i64,
    folder_id: i64,
    id: i64,
    hit: &HitIf<'_>,
    session: Option<SessionToConfirm<'_>>,
) -> Result<Option<InFolder>, DbErr> {
    if db.get_database_backend() != sea_orm::DbBackend::Postgres {
        return Ok(None);
    }
    let row = sqlx::query(IN_FOLDER_TAKING.as_str())
        .bind(user_id)
        .bind(folder_id)
        .bind(id)
        .bind(hit.name)
        .bind(i64::from(hit.max))
        .bind(hit.window_ms)
        .bind(hit.connector_slugs)
        .bind(ConnectionStatus::NeedsReauth.as_str())
        .bind(session.map(|s| s.key_hash))
        .bind(Utc::now())
        .fetch_optional(db.get_postgres_connection_pool())
        .await
        .map_err(direct::db_err)?;
    let Some(row) = row else { return Ok(None) };
    let at = direct::CONNECTION_WIDTH + direct::CONNECTOR_WIDTH + direct::FOLDER_WIDTH + 1;
    let taken = match row.opt_int(at + 3).map_err(direct::db_err)? {
        None => None,
        Some(now) => {
            let allowed = row.flag(at).map_err(direct::db_err)?;
            let next_seq = row.int(at + 1).map_err(direct::db_err)?;
            let gate_at = row.opt_int(at + 2).map_err(direct::db_err)?;
            Some(super::rate_limits::pg_outcome(
                1, allowed, next_seq, gate_at, now,
            ))
        }
    };
    in_folder(&row, taken).map(Some).map_err(direct::db_err)
}

/// The read of `WITH_CONNECTOR_AND_FOLDER` and `rate_limit_take` (migration 27) in one
/// statement. The take sits in a lateral subquery with no table of its own, so its `WHERE`
/// is a one-time filter on the row it joins: when the condition is false the function is
/// never called. It names `f` as well as `c` and `k`, so it cannot run before the folder is
/// joined (a left join may otherwise be evaluated ahead of an inner one), and `OFFSET 0`
/// keeps the subquery from being merged into the outer query, where `(t.r).…` would call
/// the function once per field. The session's condition is worked out once, in the lateral
/// `v` the take's condition names. Its commit does not wait for the disk
/// ([`COMMIT_WITHOUT_WAITING`]); the caller's audit row flushes it.
static IN_FOLDER_TAKING: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {}, {}, {}, v.live, (t.r).allowed, (t.r).next_seq, (t.r).gate_at, (t.r).now_ms \
         FROM connection c \
         JOIN connector k ON k.id = c.connector_id \
         JOIN knowledge_folder f ON f.user_id = c.user_id AND f.id = $2 \
         CROSS JOIN LATERAL (SELECT {} AS live) v \
         LEFT JOIN LATERAL ( \
           SELECT rate_limit_take($1, $4, 1, $5, $6) AS r, {COMMIT_WITHOUT_WAITING} \
           WHERE f.id = $2 AND k.is_enabled AND k.slug = ANY($7) AND c.status <> $8 AND v.live \
           OFFSET 0) t ON true \
         WHERE c.id = $3 AND c.user_id = $1",
        direct::qualified("c", direct::CONNECTION_COLUMNS),
        direct::qualified("k", direct::CONNECTOR_COLUMNS),
        direct::qualified("f", direct::FOLDER_COLUMNS),
        session_live("$9::text", "$10"),
    )
});

/// Every connection of the user, oldest first.
pub async fn list_for_user(
    db: &impl ConnectionTrait,
    user_id: i64,
) -> Result<Vec<connection::Model>, DbErr> {
    connection::Entity::find()
        .filter(connection::Column::UserId.eq(user_id))
        .order_by_asc(connection::Column::Id)
        .all(db)
        .await
}

/// Those of `ids` that are connections of the user (an MCP grant's connections, less any
/// deleted since).
pub async fn owned_ids(
    db: &impl ConnectionTrait,
    user_id: i64,
    ids: Vec<i64>,
) -> Result<Vec<i64>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    connection::Entity::find()
        .select_only()
        .column(connection::Column::Id)
        .filter(connection::Column::UserId.eq(user_id))
        .filter(connection::Column::Id.is_in(ids))
        .order_by_asc(connection::Column::Id)
        .into_tuple()
        .all(db)
        .await
}

/// How many connections the user has.
pub async fn count_for_user(db: &impl ConnectionTrait, user_id: i64) -> Result<u64, DbErr> {
    connection::Entity::find()
        .filter(connection::Column::UserId.eq(user_id))
        .count(db)
        .await
}

/// A no-op write on the user's connections to one connector, which makes a transaction start
/// with a write: on SQLite such a transaction waits its turn instead of failing with
/// SQLITE_BUSY, and on PostgreSQL it serialises saves of those connections.
pub async fn lock_for_connector(
    db: &impl ConnectionTrait,
    user_id: i64,
    connector_id: i64,
) -> Result<(), DbErr> {
    connection::Entity::update_many()
        .col_expr(
            connection::Column::UpdatedAt,
            Expr::col(connection::Column::UpdatedAt),
        )
        .filter(connection::Column::UserId.eq(user_id))
        .filter(connection::Column::ConnectorId.eq(connector_id))
        .exec(db)
        .await?;
    Ok(())
}

/// The user's connection to `connector_id` signed in as `identity`.
pub async fn find_by_identity(
    db: &impl ConnectionTrait,
    user_id: i64,
    connector_id: i64,
    identity: &str,
) -> Result<Option<connection::Model>, DbErr> {
    connection::Entity::find()
        .filter(connection::Column::UserId.eq(user_id))
        .filter(connection::Column::ConnectorId.eq(connector_id))
        .filter(connection::Column::ServiceIdentity.eq(identity))
        .one(db)
        .await
}

/// The user's connection `id`, if it is a connection to `connector_id`.
pub async fn find_owned_for_connector(
    db: &impl ConnectionTrait,
    user_id: i64,
    connector_id: i64,
    id: i64,
) -> Result<Option<connection::Model>, DbErr> {
    connection::Entity::find()
        .filter(connection::Column::UserId.eq(user_id))
        .filter(connection::Column::ConnectorId.eq(connector_id))
        .filter(connection::Column::Id.eq(id))
        .one(db)
        .await
}

/// A new connection row. Its credentials start empty: they are sealed with the row's id
/// (`services::credentials`) and stored with `set_credentials` in the same transaction.
pub struct NewConnection {
    pub user_id: i64,
    pub connector_id: i64,
    pub service_identity: Option<String>,
    pub scopes: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Inserts an active connection with empty credentials.
pub async fn insert(
    db: &impl ConnectionTrait,
    new: NewConnection,
) -> Result<connection::Model, DbErr> {
    let now = Utc::now();
    connection::ActiveModel {
        user_id: Set(new.user_id),
        connector_id: Set(new.connector_id),
        credentials: Set(String::new()),
        credentials_version: Set(1),
        status: Set(ConnectionStatus::Active),
        service_identity: Set(new.service_identity),
        scopes: Set(new.scopes),
        expires_at: Set(new.expires_at),
        refresh_failures: Set(0),
        agent_writes: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
}

/// Stores sealed credentials on a row just inserted (the version stays as it is).
pub async fn set_credentials(
    db: &impl ConnectionTrait,
    row: connection::Model,
    sealed: String,
) -> Result<connection::Model, DbErr> {
    let mut active = row.into_active_model();
    active.credentials = Set(sealed);
    active.update(db).await
}

/// What a new sign-in writes over an existing connection.
pub struct Renewal {
    /// The sealed credentials.
    pub credentials: String,
    /// The upstream account, when the sign-in told it (otherwise the stored one stays).
    pub service_identity: Option<String>,
    pub scopes: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Renews a connection after a new sign-in: new credentials (version bumped), active again,
/// refresh bookkeeping and lease cleared.
pub async fn renew(
    db: &impl ConnectionTrait,
    row: connection::Model,
    renewal: Renewal,
) -> Result<connection::Model, DbErr> {
    let version = row.credentials_version + 1;
    let mut active = row.into_active_model();
    active.credentials = Set(renewal.credentials);
    active.credentials_version = Set(version);
    active.status = Set(ConnectionStatus::Active);
    if renewal.service_identity.is_some() {
        active.service_identity = Set(renewal.service_identity);
    }
    active.scopes = Set(renewal.scopes);
    active.expires_at = Set(renewal.expires_at);
    active.refresh_failures = Set(0);
    active.refresh_lease_until = Set(None);
    active.refresh_lease_owner = Set(None);
    active.last_error = Set(None);
    active.updated_at = Set(Utc::now());
    active.update(db).await
}

/// Records the outcome of a live test: status, last error, used now, and the upstream
/// identity when the test learned it.
pub async fn record_test(
    db: &impl ConnectionTrait,
    id: i64,
    status: ConnectionStatus,
    last_error: Option<String>,
    identity: Option<&str>,
) -> Result<(), DbErr> {
    let mut update = connection::Entity::update_many()
        .col_expr(connection::Column::Status, Expr::value(status.as_str()))
        .col_expr(connection::Column::LastError, Expr::value(last_error))
        .col_expr(connection::Column::LastUsedAt, Expr::value(Utc::now()))
        .filter(connection::Column::Id.eq(id));
    if let Some(identity) = identity {
        update = update.col_expr(connection::Column::ServiceIdentity, Expr::value(identity));
    }
    update.exec(db).await?;
    Ok(())
}

/// Marks a connection used at `now`, unless a use at or after `stale_before` is already
/// recorded; `reactivate` writes whatever the last use, and also sets it `active` and clears
/// its last error. On an SQLite file it is written on the calling thread when it can
/// (`super::local_writes`).
pub async fn touch(
    w: &Bookkeeping,
    id: i64,
    now: DateTime<Utc>,
    stale_before: DateTime<Utc>,
    reactivate: bool,
) -> Result<(), DbErr> {
    let here = |c: &rusqlite::Connection| touch_here(c, id, now, stale_before, reactivate);
    if w.local.write(here).is_some() {
        return Ok(());
    }
    let mut update = connection::Entity::update_many()
        .col_expr(connection::Column::LastUsedAt, Expr::value(now))
        .filter(connection::Column::Id.eq(id));
    if !reactivate {
        update = update.filter(
            Condition::any()
                .add(connection::Column::LastUsedAt.is_null())
                .add(connection::Column::LastUsedAt.lt(stale_before)),
        );
    } else {
        update = update
            .col_expr(
                connection::Column::Status,
                Expr::value(ConnectionStatus::Active.as_str()),
            )
            .col_expr(connection::Column::LastError, Expr::value(None::<String>));
    }
    update.exec(&w.db).await?;
    Ok(())
}

/// [`touch`] on an SQLite connection of our own (`super::local_writes`): the same update, with
/// times bound in sqlx's text form so that they compare as the stored ones do.
fn touch_here(
    conn: &rusqlite::Connection,
    id: i64,
    now: DateTime<Utc>,
    stale_before: DateTime<Utc>,
    reactivate: bool,
) -> rusqlite::Result<()> {
    let now = super::local_reads::sqlite_time(now);
    if reactivate {
        let sql = "UPDATE connection SET last_used_at = ?1, status = ?2, last_error = NULL \
                   WHERE id = ?3";
        let active = ConnectionStatus::Active.as_str();
        conn.prepare_cached(sql)?
            .execute(rusqlite::params![now, active, id])?;
    } else {
        let sql = "UPDATE connection SET last_used_at = ?1 \
                   WHERE id = ?2 AND (last_used_at IS NULL OR last_used_at < ?3)";
        let stale_before = super::local_reads::sqlite_time(stale_before);
        conn.prepare_cached(sql)?
            .execute(rusqlite::params![now, id, stale_before])?;
    }
    Ok(())
}

/// Whether assistants may make changes through the user's connection `id`; false when it
/// is not theirs.
pub async fn set_agent_writes(
    db: &impl ConnectionTrait,
    user_id: i64,
    id: i64,
    allow: bool,
) -> Result<bool, DbErr> {
    let done = connection::Entity::update_many()
        .col_expr(connection::Column::AgentWrites, Expr::value(allow))
        .col_expr(connection::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(connection::Column::Id.eq(id))
        .filter(connection::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Marks a connection whose credentials the service rejected as `needs_reauth`.
pub async fn mark_rejected(db: &impl ConnectionTrait, id: i64, message: &str) -> Result<(), DbErr> {
    connection::Entity::update_many()
        .col_expr(
            connection::Column::Status,
            Expr::value(ConnectionStatus::NeedsReauth.as_str()),
        )
        .col_expr(connection::Column::LastError, Expr::value(message))
        .filter(connection::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes the user's connection `id` (nothing if it is someone else's).
pub async fn delete_owned(db: &impl ConnectionTrait, user_id: i64, id: i64) -> Result<(), DbErr> {
    connection::Entity::delete_many()
        .filter(connection::Column::Id.eq(id))
        .filter(connection::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}

// --- The refresh lease (`services::token_refresh`) ---

/// Takes the refresh lease of connection `id` for `owner` until `until`, if the credentials
/// are still at `credentials_version` and no lease is held (or it lapsed before `now`).
/// Returns whether this caller got it.
pub async fn take_refresh_lease(
    db: &impl ConnectionTrait,
    id: i64,
    credentials_version: i64,
    owner: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let leased = connection::Entity::update_many()
        .col_expr(connection::Column::RefreshLeaseUntil, Expr::value(until))
        .col_expr(connection::Column::RefreshLeaseOwner, Expr::value(owner))
        .filter(connection::Column::Id.eq(id))
        .filter(connection::Column::CredentialsVersion.eq(credentials_version))
        .filter(
            Condition::any()
                .add(connection::Column::RefreshLeaseUntil.is_null())
                .add(connection::Column::RefreshLeaseUntil.lt(now)),
        )
        .exec(db)
        .await?;
    Ok(leased.rows_affected == 1)
}

/// Refreshed tokens to store under the lease.
pub struct RefreshedTokens {
    /// The sealed credentials.
    pub credentials: String,
    pub expires_at: Option<DateTime<Utc>>,
    /// New scopes, when the provider sent them (otherwise the stored ones stay).
    pub scopes: Option<String>,
}

/// Stores refreshed tokens (version bumped, active, failures and error cleared) and releases
/// the lease, only while `owner` holds it and the credentials are still at
/// `credentials_version`. Returns the rows affected (1, or 0 if the lease was lost).
pub async fn store_refreshed(
    db: &impl ConnectionTrait,
    id: i64,
    owner: &str,
    credentials_version: i64,
    tokens: RefreshedTokens,
) -> Result<u64, DbErr> {
    let mut update = connection::Entity::update_many()
        .col_expr(
            connection::Column::Credentials,
            Expr::value(tokens.credentials),
        )
        .col_expr(
            connection::Column::CredentialsVersion,
            Expr::col(connection::Column::CredentialsVersion).add(1),
        )
        .col_expr(
            connection::Column::ExpiresAt,
            Expr::value(tokens.expires_at),
        )
        .col_expr(connection::Column::LastRefreshAt, Expr::value(Utc::now()))
        .col_expr(connection::Column::RefreshFailures, Expr::value(0))
        .col_expr(connection::Column::LastError, Expr::value(None::<String>))
        .col_expr(
            connection::Column::Status,
            Expr::value(ConnectionStatus::Active.as_str()),
        )
        .col_expr(connection::Column::UpdatedAt, Expr::value(Utc::now()));
    if let Some(scopes) = tokens.scopes {
        update = update.col_expr(connection::Column::Scopes, Expr::value(scopes));
    }
    let stored = release(update)
        .filter(connection::Column::Id.eq(id))
        .filter(connection::Column::RefreshLeaseOwner.eq(owner))
        .filter(connection::Column::CredentialsVersion.eq(credentials_version))
        .exec(db)
        .await?;
    Ok(stored.rows_affected)
}

/// Counts a failed refresh, keeps its error and releases the lease `owner` holds.
pub async fn record_refresh_failure(
    db: &impl ConnectionTrait,
    id: i64,
    owner: &str,
    error: String,
) -> Result<(), DbErr> {
    release(
        connection::Entity::update_many()
            .col_expr(
                connection::Column::RefreshFailures,
                Expr::col(connection::Column::RefreshFailures).add(1),
            )
            .col_expr(connection::Column::LastError, Expr::value(error)),
    )
    .filter(connection::Column::Id.eq(id))
    .filter(connection::Column::RefreshLeaseOwner.eq(owner))
    .exec(db)
    .await?;
    Ok(())
}

/// Releases the lease `owner` holds on connection `id`.
pub async fn release_lease(db: &impl ConnectionTrait, id: i64, owner: &str) -> Result<(), DbErr> {
    release(connection::Entity::update_many())
        .filter(connection::Column::Id.eq(id))
        .filter(connection::Column::RefreshLeaseOwner.eq(owner))
        .exec(db)
        .await?;
    Ok(())
}

/// Marks connection `id` `needs_reauth` with `reason` and releases the lease `owner` holds
/// (nothing if the lease is someone else's).
pub async fn mark_needs_reauth_under_lease(
    db: &impl ConnectionTrait,
    id: i64,
    owner: &str,
    reason: &str,
) -> Result<(), DbErr> {
    release(
        connection::Entity::update_many()
            .col_expr(
                connection::Column::Status,
                Expr::value(ConnectionStatus::NeedsReauth.as_str()),
            )
            .col_expr(connection::Column::LastError, Expr::value(reason))
            .col_expr(connection::Column::UpdatedAt, Expr::value(Utc::now())),
    )
    .filter(connection::Column::Id.eq(id))
    .filter(connection::Column::RefreshLeaseOwner.eq(owner))
    .exec(db)
    .await?;
    Ok(())
}

/// Adds "release the lease" to an update.
fn release(update: UpdateMany<connection::Entity>) -> UpdateMany<connection::Entity> {
    update
        .col_expr(
            connection::Column::RefreshLeaseUntil,
            Expr::value(None::<DateTime<Utc>>),
        )
        .col_expr(
            connection::Column::RefreshLeaseOwner,
            Expr::value(None::<String>),
        )
}

// --- Key rotation (`services::rotation`) ---

/// Up to `limit` connections with an id above `after`, in id order.
pub async fn batch_after(
    db: &impl ConnectionTrait,
    after: i64,
    limit: u64,
) -> Result<Vec<connection::Model>, DbErr> {
    connection::Entity::find()
        .filter(connection::Column::Id.gt(after))
        .order_by_asc(connection::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// Replaces the credentials token of connection `id` with `new` if it is still `old` (the
/// version is not bumped: the plaintext is the same). Returns whether the row was swapped.
pub async fn swap_credentials(
    db: &impl ConnectionTrait,
    id: i64,
    old: &str,
    new: String,
) -> Result<bool, DbErr> {
    let res = connection::Entity::update_many()
        .col_expr(connection::Column::Credentials, Expr::value(new))
        .filter(connection::Column::Id.eq(id))
        .filter(connection::Column::Credentials.eq(old))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

// --- Admin pages ---

/// How many connections each connector has (connector id → count).
pub async fn count_by_connector(db: &impl ConnectionTrait) -> Result<Vec<(i64, i64)>, DbErr> {
    connection::Entity::find()
        .select_only()
        .column(connection::Column::ConnectorId)
        .column_as(connection::Column::Id.count(), "n")
        .group_by(connection::Column::ConnectorId)
        .into_tuple()
        .all(db)
        .await
}

/// How many connections each of the users `ids` has (user id → count; none is absent).
pub async fn count_by_user(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<Vec<(i64, i64)>, DbErr> {
    connection::Entity::find()
        .select_only()
        .column(connection::Column::UserId)
        .column_as(connection::Column::Id.count(), "n")
        .filter(connection::Column::UserId.is_in(ids.to_vec()))
        .group_by(connection::Column::UserId)
        .into_tuple()
        .all(db)
        .await
}

/// How many connections have each status (status → count).
pub async fn count_by_status(db: &impl ConnectionTrait) -> Result<Vec<(String, i64)>, DbErr> {
    connection::Entity::find()
        .select_only()
        .column(connection::Column::Status)
        .column_as(connection::Column::Id.count(), "n")
        .group_by(connection::Column::Status)
        .into_tuple()
        .all(db)
        .await
}

/// The page `keyset` asks for of the connections matching `filter`, newest first.
pub async fn window(
    db: &impl ConnectionTrait,
    filter: Condition,
    keyset: &Keyset<i64>,
    limit: u64,
) -> AppResult<Window<connection::Model>> {
    keyset::window(
        db,
        connection::Entity::find().filter(filter),
        connection::Column::Id,
        Order::Descending,
        keyset,
        limit,
    )
    .await
}

/// A connection row for unit tests: active, no credentials, nothing expiring.
#[cfg(test)]
pub(crate) fn sample(id: i64, user_id: i64, connector_id: i64) -> connection::Model {
    let now = Utc::now();
    connection::Model {
        id,
        user_id,
        connector_id,
        credentials: String::new(),
        credentials_version: 1,
        status: ConnectionStatus::Active,
        service_identity: None,
        scopes: None,
        expires_at: None,
        last_used_at: None,
        last_refresh_at: None,
        refresh_failures: 0,
        refresh_lease_until: None,
        refresh_lease_owner: None,
        last_error: None,
        created_at: now,
        updated_at: now,
        agent_writes: false,
    }
}
