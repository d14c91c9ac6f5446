//! The statements every browse runs, as fixed SQL sent through sqlx on SeaORM's own pool and
//! read back by column position: the session with its user, the folder with the connection
//! and its connector, the rate-limit check and the audit insert. For these four SeaORM's
//! query building, its boxed futures (about 15 KB each, copied on every call) and its
//! decoding by column name cost more than the statements themselves (bench/RESULTS.md,
//! sixth round). Every other query goes through SeaORM.
//!
//! One SQL text serves both backends (SQLite reads `$1` as PostgreSQL does), except the audit
//! insert's many parameters (see `connector_audit_logs`). sqlx prepares each text once per
//! connection and keeps it.

use super::entities::{connection, connector, knowledge_folder, user};
use super::status::ConnectionStatus;
use chrono::{DateTime, Utc};
use sea_orm::sqlx::{self, Row, postgres::PgRow, sqlite::SqliteRow};
use sea_orm::{ActiveEnum, ConnAcquireErr, DatabaseConnection, DbBackend, DbErr, RuntimeErr};

/// The pool under a [`DatabaseConnection`].
#[derive(Clone, Copy)]
pub(crate) enum Pool<'a> {
    Sqlite(&'a sqlx::SqlitePool),
    Postgres(&'a sqlx::PgPool),
}

/// The pool `db` runs on.
pub(crate) fn pool(db: &DatabaseConnection) -> Pool<'_> {
    match db.get_database_backend() {
        DbBackend::Postgres => Pool::Postgres(db.get_postgres_connection_pool()),
        _ => Pool::Sqlite(db.get_sqlite_connection_pool()),
    }
}

/// `e` as SeaORM reports it, so that `crate::db::is_unavailable` and every caller read it
/// alike whichever way the statement went.
pub(crate) fn db_err(e: sqlx::Error) -> DbErr {
    match e {
        sqlx::Error::PoolTimedOut => DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
        sqlx::Error::PoolClosed => DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
        e => DbErr::Query(RuntimeErr::SqlxError(e.into())),
    }
}

/// A row read by position: sqlx's, on either backend, or one read on the calling thread
/// (`super::local_reads`).
pub(crate) trait Columns {
    type Error;
    fn int(&self, i: usize) -> Result<i64, Self::Error>;
    fn int32(&self, i: usize) -> Result<i32, Self::Error>;
    fn opt_int(&self, i: usize) -> Result<Option<i64>, Self::Error>;
    fn flag(&self, i: usize) -> Result<bool, Self::Error>;
    fn text(&self, i: usize) -> Result<String, Self::Error>;
    fn opt_text(&self, i: usize) -> Result<Option<String>, Self::Error>;
    fn time(&self, i: usize) -> Result<DateTime<Utc>, Self::Error>;
    fn opt_time(&self, i: usize) -> Result<Option<DateTime<Utc>>, Self::Error>;
}

macro_rules! columns_of {
    ($row:ty) => {
        impl Columns for $row {
            type Error = sqlx::Error;
            fn int(&self, i: usize) -> Result<i64, sqlx::Error> {
                self.try_get(i)
            }
            fn int32(&self, i: usize) -> Result<i32, sqlx::Error> {
                self.try_get(i)
            }
            fn opt_int(&self, i: usize) -> Result<Option<i64>, sqlx::Error> {
                self.try_get(i)
            }
            fn flag(&self, i: usize) -> Result<bool, sqlx::Error> {
                self.try_get(i)
            }
            fn text(&self, i: usize) -> Result<String, sqlx::Error> {
                self.try_get(i)
            }
            fn opt_text(&self, i: usize) -> Result<Option<String>, sqlx::Error> {
                self.try_get(i)
            }
            fn time(&self, i: usize) -> Result<DateTime<Utc>, sqlx::Error> {
                self.try_get(i)
            }
            fn opt_time(&self, i: usize) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
                self.try_get(i)
            }
        }
    };
}

columns_of!(SqliteRow);
columns_of!(PgRow);

/// A stored value that is not what its column holds (an unknown status, say).
pub(crate) trait DecodeError {
    fn decode(message: String) -> Self;
}

impl DecodeError for sqlx::Error {
    fn decode(message: String) -> Self {
        sqlx::Error::Decode(message.into())
    }
}

/// Runs `$query` (a `sqlx::query(..)` with its binds, written once and built for the
/// backend of `$pool`) with `fetch_optional`, and hands the row, if any, to `$read` (a
/// function generic over [`Columns`]).
macro_rules! fetch_optional {
    ($pool:expr, $query:expr, $read:expr) => {
        match $pool {
            $crate::models::direct::Pool::Sqlite(p) => match $query.fetch_optional(p).await {
                Ok(Some(row)) => $read(&row).map(Some),
                Ok(None) => Ok(None),
                Err(e) => Err(e),
            },
            $crate::models::direct::Pool::Postgres(p) => match $query.fetch_optional(p).await {
                Ok(Some(row)) => $read(&row).map(Some),
                Ok(None) => Ok(None),
                Err(e) => Err(e),
            },
        }
        .map_err($crate::models::direct::db_err)
    };
}
pub(crate) use fetch_optional;

/// The columns of `user`, in [`user_at`]'s order.
pub(crate) const USER_COLUMNS: &str = "id, email, display_name, password_hash, is_admin, is_active, \
     created_at, updated_at, last_login_at";

/// The `user` row whose columns start at `at`.
pub(crate) fn user_at<R: Columns>(row: &R, at: usize) -> Result<user::Model, R::Error> {
    Ok(user::Model {
        id: row.int(at)?,
        email: row.text(at + 1)?,
        display_name: row.text(at + 2)?,
        password_hash: row.text(at + 3)?,
        is_admin: row.flag(at + 4)?,
        is_active: row.flag(at + 5)?,
        created_at: row.time(at + 6)?,
        updated_at: row.time(at + 7)?,
        last_login_at: row.opt_time(at + 8)?,
    })
}

/// The columns of `connection`, in [`connection_at`]'s order.
pub(crate) const CONNECTION_COLUMNS: &str = "id, user_id, connector_id, credentials, \
     credentials_version, status, service_identity, scopes, expires_at, last_used_at, \
     last_refresh_at, refresh_failures, refresh_lease_until, refresh_lease_owner, last_error, \
     created_at, updated_at, agent_writes";

/// How many columns [`CONNECTION_COLUMNS`] names.
pub(crate) const CONNECTION_WIDTH: usize = 18;

/// The `connection` row whose columns start at `at`.
pub(crate) fn connection_at<R: Columns>(row: &R, at: usize) -> Result<connection::Model, R::Error>
where
    R::Error: DecodeError,
{
    let status = row.text(at + 5)?;
    Ok(connection::Model {
        id: row.int(at)?,
        user_id: row.int(at + 1)?,
        connector_id: row.int(at + 2)?,
        credentials: row.text(at + 3)?,
        credentials_version: row.int(at + 4)?,
        status: ConnectionStatus::try_from_value(&status)
            .map_err(|e| R::Error::decode(e.to_string()))?,
        service_identity: row.opt_text(at + 6)?,
        scopes: row.opt_text(at + 7)?,
        expires_at: row.opt_time(at + 8)?,
        last_used_at: row.opt_time(at + 9)?,
        last_refresh_at: row.opt_time(at + 10)?,
        refresh_failures: row.int32(at + 11)?,
        refresh_lease_until: row.opt_time(at + 12)?,
        refresh_lease_owner: row.opt_text(at + 13)?,
        last_error: row.opt_text(at + 14)?,
        created_at: row.time(at + 15)?,
        updated_at: row.time(at + 16)?,
        agent_writes: row.flag(at + 17)?,
    })
}

/// The columns of `connector`, in [`connector_at`]'s order.
pub(crate) const CONNECTOR_COLUMNS: &str = "id, slug, name, kind, scoping, icon, description, \
     is_enabled, created_at, updated_at, agent_writes, config_version";

/// How many columns [`CONNECTOR_COLUMNS`] names.
pub(crate) const CONNECTOR_WIDTH: usize = 12;

/// The `connector` row whose columns start at `at`.
pub(crate) fn connector_at<R: Columns>(row: &R, at: usize) -> Result<connector::Model, R::Error> {
    Ok(connector::Model {
        id: row.int(at)?,
        slug: row.text(at + 1)?,
        name: row.text(at + 2)?,
        kind: row.text(at + 3)?,
        scoping: row.text(at + 4)?,
        icon: row.text(at + 5)?,
        description: row.text(at + 6)?,
        is_enabled: row.flag(at + 7)?,
        created_at: row.time(at + 8)?,
        updated_at: row.time(at + 9)?,
        agent_writes: row.flag(at + 10)?,
        config_version: row.int(at + 11)?,
    })
}

/// The columns of `knowledge_folder`, in [`folder_at`]'s order.
pub(crate) const FOLDER_COLUMNS: &str = "id, user_id, name, created_at, updated_at";

/// How many columns [`FOLDER_COLUMNS`] names.
pub(crate) const FOLDER_WIDTH: usize = 5;

/// The `knowledge_folder` row whose columns start at `at`.
pub(crate) fn folder_at<R: Columns>(
    row: &R,
    at: usize,
) -> Result<knowledge_folder::Model, R::Error> {
    Ok(knowledge_folder::Model {
        id: row.int(at)?,
        user_id: row.int(at + 1)?,
        name: row.text(at + 2)?,
        created_at: row.time(at + 3)?,
        updated_at: row.time(at + 4)?,
    })
}

/// `columns` (a comma-separated list) with each name prefixed by `alias.`.
pub(crate) fn qualified(alias: &str, columns: &str) -> String {
    columns
        .split(',')
        .map(|c| format!("{alias}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_width_counts_its_columns() {
        for (columns, width) in [
            (CONNECTION_COLUMNS, CONNECTION_WIDTH),
            (CONNECTOR_COLUMNS, CONNECTOR_WIDTH),
            (FOLDER_COLUMNS, FOLDER_WIDTH),
        ] {
            assert_eq!(columns.split(',').count(), width, "{columns}");
        }
    }
}
