//! Per-user rate limits (`rate_limit`, one row per user and limit name) and their hits
//! (`rate_limit_hit`, numbered by the row's `next_seq`). A check is one statement, [`take`],
//! which holds the row's lock (PostgreSQL's row lock, SQLite's write lock) while it decides.

use super::direct::{self, Columns};
use super::entities::{rate_limit, rate_limit_hit};
use super::local_writes::Bookkeeping;
use chrono::{DateTime, Utc};
use sea_orm::sqlx;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, Statement,
};
use std::sync::LazyLock;

/// What [`take`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Taken {
    /// The hits were recorded; `fresh` when the check made the user's row (it had none).
    Allowed { fresh: bool },
    /// Nothing was recorded: the hit that must leave the window first was recorded at
    /// `gate_at`, and the database's clock read `now` (both Unix ms). `gate_at` is `None`
    /// when a later check has taken that hit away since.
    Refused { gate_at: Option<i64>, now: i64 },
}

/// When the hits [`take`] records must be on disk (PostgreSQL; an SQLite file's durability
/// is one setting for the whole file, `synchronous = NORMAL`, and applies to both).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flush {
    /// Before `take` returns: its commit waits for the database's log to reach the disk.
    Now,
    /// With the caller's next commit that waits for the disk, made before it answers (its
    /// audit row's). PostgreSQL writes one log and flushes it in order, so flushing that
    /// commit flushes this one too; until then the hits are committed, and every other
    /// connection sees them at once, but a crash of the database server (not of the app)
    /// could lose them. The database's WAL writer flushes them within a fraction of a
    /// second in any case (`wal_writer_delay`). The commit does not wait for the disk:
    /// one flush per browse fewer.
    WithNextCommit,
}

/// The database's clock in Unix milliseconds, inside an SQLite statement (fixed for the
/// statement's run, which starts once it holds the write lock).
const SQLITE_NOW_MS: &str = "CAST(ROUND(unixepoch('subsec') * 1000) AS INTEGER)";

/// Takes `n` hits of `max` per `window_ms` for the user's row `name` in one statement: the
/// row's lock, the decision and the record of the hits (SQLite: an upsert whose triggers
/// record and prune the hits; PostgreSQL: the `rate_limit_take` function). Hits are stamped
/// with the database's clock once the lock is held. On an SQLite file the statement runs on
/// the calling thread when it can (`super::local_writes`).
pub async fn take(
    w: &Bookkeeping,
    user_id: i64,
    name: &str,
    n: u32,
    max: u32,
    window_ms: i64,
    flush: Flush,
) -> Result<Taken, DbErr> {
    let (n, max) = (i64::from(n), i64::from(max));
    let fresh = |next_seq: i64| Taken::Allowed {
        fresh: next_seq == n,
    };
    let limit = name.to_owned();
    if let Some(taken) = w
        .local
        .write_together(move |conn| take_here(conn, user_id, &limit, n, max, window_ms))
        .await
    {
        return Ok(taken);
    }
    let pool = direct::pool(&w.db);
    if let direct::Pool::Postgres(_) = pool {
        let sql = match flush {
            Flush::Now => PG_TAKE,
            Flush::WithNextCommit => PG_TAKE_FLUSHED_LATER.as_str(),
        };
        let taken = direct::fetch_optional!(
            pool,
            sqlx::query(sql)
                .bind(user_id)
                .bind(name)
                .bind(n)
                .bind(max)
                .bind(window_ms),
            pg_taken
        )?;
        let (allowed, next_seq, gate_at, now) =
            taken.ok_or_else(|| DbErr::RecordNotFound("rate_limit_take".into()))?;
        return Ok(pg_outcome(n, allowed, next_seq, gate_at, now));
    }
    let next_seq = direct::fetch_optional!(
        pool,
        sqlx::query(SQLITE_TAKE.as_str())
            .bind(user_id)
            .bind(name)
            .bind(n)
            .bind(max)
            .bind(window_ms),
        first_int
    )?;
    if let Some(next_seq) = next_seq {
        return Ok(fresh(next_seq));
    }
    // Refused (the upsert's condition failed): when its gate was recorded, for the
    // Retry-After.
    let (gate_at, now) = direct::fetch_optional!(
        pool,
        sqlx::query(SQLITE_GATE.as_str())
            .bind(user_id)
            .bind(name)
            .bind(n)
            .bind(max),
        gate_and_clock
    )?
    .ok_or_else(|| DbErr::RecordNotFound("the database's clock".into()))?;
    Ok(Taken::Refused { gate_at, now })
}

/// [`take`] on a connection of our own: the same statements, run to completion (in
/// autocommit mode the upsert's last step commits it and reports a failed commit; in a
/// turn's shared transaction the turn commits).
fn take_here(
    conn: &rusqlite::Connection,
    user_id: i64,
    name: &str,
    n: i64,
    max: i64,
    window_ms: i64,
) -> Result<Taken, rusqlite::Error> {
    let next_seq = {
        let mut upsert = conn.prepare_cached(SQLITE_TAKE.as_str())?;
        let mut rows = upsert.query(rusqlite::params![user_id, name, n, max, window_ms])?;
        let next_seq: Option<i64> = rows.next()?.map(|row| row.get(0)).transpose()?;
        if rows.next()?.is_some() {
            return Err(rusqlite::Error::QueryReturnedMoreThanOneRow);
        }
        next_seq
    };
    if let Some(next_seq) = next_seq {
        return Ok(Taken::Allowed {
            fresh: next_seq == n,
        });
    }
    let mut gate = conn.prepare_cached(SQLITE_GATE.as_str())?;
    let (gate_at, now) = gate.query_row(rusqlite::params![user_id, name, n, max], |row| {
        Ok((row.get(0)?, row.get(1)?))
    })?;
    Ok(Taken::Refused { gate_at, now })
}

/// The check on PostgreSQL: one call of the function (migration 27).
const PG_TAKE: &str = "SELECT allowed, next_seq, gate_at, now_ms \
                       FROM rate_limit_take($1, $2, $3, $4, $5)";

/// A select-list item that makes the statement's commit not wait for the disk
/// ([`Flush::WithNextCommit`]): the statement is its own transaction, and
/// `set_config(…, true)` is `SET LOCAL`, which lasts until that transaction's commit (so it
/// applies to it) and no longer (the pooled connection's next transaction is back to the
/// server's setting).
pub(crate) const COMMIT_WITHOUT_WAITING: &str = "set_config('synchronous_commit', 'off', true)";

/// [`PG_TAKE`], its commit not waiting for the disk.
static PG_TAKE_FLUSHED_LATER: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT allowed, next_seq, gate_at, now_ms, {COMMIT_WITHOUT_WAITING} \
         FROM rate_limit_take($1, $2, $3, $4, $5)"
    )
});

/// What `rate_limit_take`'s row says of a check of `n` hits.
pub(crate) fn pg_outcome(
    n: i64,
    allowed: bool,
    next_seq: i64,
    gate_at: Option<i64>,
    now: i64,
) -> Taken {
    if allowed {
        Taken::Allowed {
            fresh: next_seq == n,
        }
    } else {
        Taken::Refused { gate_at, now }
    }
}

/// `rate_limit_take`'s row: allowed, next_seq, gate_at, now_ms.
fn pg_taken<R: Columns>(row: &R) -> Result<(bool, i64, Option<i64>, i64), R::Error> {
    Ok((row.flag(0)?, row.int(1)?, row.opt_int(2)?, row.int(3)?))
}

fn first_int<R: Columns>(row: &R) -> Result<i64, R::Error> {
    row.int(0)
}

fn gate_and_clock<R: Columns>(row: &R) -> Result<(Option<i64>, i64), R::Error> {
    Ok((row.opt_int(0)?, row.int(1)?))
}

/// The upsert: a new row takes the hits outright; an existing one only when the hit `max`
/// before the newest asked for (`gate`) is not inside the window. The triggers of migration
/// 27 record the hits and delete those at or before the gate. Returns a row when allowed.
static SQLITE_TAKE: LazyLock<String> = LazyLock::new(|| {
    let now = SQLITE_NOW_MS;
    let gate = "rate_limit.next_seq + ?3 - 1 - ?4";
    format!(
        "INSERT INTO rate_limit (user_id, name, next_seq, expires_at, last_hit_at, max_hits) \
         VALUES (?1, ?2, ?3, \
           strftime('%Y-%m-%dT%H:%M:%S', ({now} + ?5) / 1000, 'unixepoch') \
             || printf('.%03d+00:00', ({now} + ?5) % 1000), \
           {now}, ?4) \
         ON CONFLICT (user_id, name) DO UPDATE SET \
           next_seq = rate_limit.next_seq + ?3, expires_at = excluded.expires_at, \
           last_hit_at = excluded.last_hit_at, max_hits = excluded.max_hits \
         WHERE NOT EXISTS (SELECT 1 FROM rate_limit_hit h \
           WHERE h.rate_limit_id = rate_limit.id AND h.seq <= {gate} \
             AND h.seq + h.hits > {gate} AND h.hit_at > excluded.last_hit_at - ?5) \
         RETURNING next_seq"
    )
});

/// After a refusal: when the gate hit was recorded, and the clock.
static SQLITE_GATE: LazyLock<String> = LazyLock::new(|| {
    let now = SQLITE_NOW_MS;
    format!(
        "SELECT (SELECT h.hit_at FROM rate_limit r JOIN rate_limit_hit h ON h.rate_limit_id = r.id \
           WHERE r.user_id = ?1 AND r.name = ?2 AND h.seq <= r.next_seq + ?3 - 1 - ?4 \
             AND h.seq + h.hits > r.next_seq + ?3 - 1 - ?4 \
           ORDER BY h.seq DESC LIMIT 1) AS gate_at, {now} AS now_ms"
    )
});

/// The recorded hits of the user's row for limit `name`, oldest first (times in Unix ms).
pub async fn hits(db: &impl ConnectionTrait, user_id: i64, name: &str) -> Result<Vec<i64>, DbErr> {
    if db.get_database_backend() == DbBackend::Postgres {
        let rows = db
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                PG_HITS,
                [user_id.into(), name.into()],
            ))
            .await?;
        return rows.iter().map(|r| r.try_get_by_index(0)).collect();
    }
    let Some(row) = rate_limit::Entity::find()
        .filter(rate_limit::Column::UserId.eq(user_id))
        .filter(rate_limit::Column::Name.eq(name))
        .one(db)
        .await?
    else {
        return Ok(Vec::new());
    };
    let mut found = rate_limit_hit::Entity::find()
        .filter(rate_limit_hit::Column::RateLimitId.eq(row.id))
        .all(db)
        .await?;
    found.sort_by_key(|h| h.seq);
    Ok(found
        .into_iter()
        .flat_map(|h| std::iter::repeat_n(h.hit_at, usize::try_from(h.hits).unwrap_or(0)))
        .collect())
}

/// Every hit of the user's row on PostgreSQL (migration 28): those of `rate_limit_hit` rows
/// (one time for the row's hits, or a time each in `times`), then the row's own `recent`.
const PG_HITS: &str = "SELECT x.t FROM rate_limit r CROSS JOIN LATERAL ( \
       SELECT h.seq + u.o - 1 AS seq, u.t FROM rate_limit_hit h, \
         unnest(coalesce(h.times, array_fill(h.hit_at, ARRAY[h.hits::int]))) \
           WITH ORDINALITY AS u(t, o) \
        WHERE h.rate_limit_id = r.id \
       UNION ALL \
       SELECT r.next_seq - cardinality(r.recent) + u.o - 1, u.t \
         FROM unnest(r.recent) WITH ORDINALITY AS u(t, o)) x \
     WHERE r.user_id = $1 AND r.name = $2 ORDER BY x.seq";

/// Deletes the rows whose every hit left its window before `now` (and their hits); returns
/// how many rows.
pub async fn delete_expired(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<u64, DbErr> {
    let done = rate_limit::Entity::delete_many()
        .filter(rate_limit::Column::ExpiresAt.lt(now))
        .exec(db)
        .await?;
    Ok(done.rows_affected)
}

/// [`delete_expired`] through `w`: on the calling thread when it can, so that it never waits
/// behind the calling threads' own writes for the database's lock (`super::local_writes`).
pub async fn purge(w: &Bookkeeping, now: DateTime<Utc>) -> Result<u64, DbErr> {
    match w.local.write(|c| delete_expired_here(c, now)) {
        Some(deleted) => Ok(deleted),
        None => delete_expired(&w.db, now).await,
    }
}

/// [`delete_expired`] on an SQLite connection of our own, the time bound in sqlx's text form.
fn delete_expired_here(conn: &rusqlite::Connection, now: DateTime<Utc>) -> rusqlite::Result<u64> {
    let now = super::local_reads::sqlite_time(now);
    let deleted = conn
        .prepare_cached("DELETE FROM rate_limit WHERE expires_at < ?1")?
        .execute([now])?;
    Ok(deleted as u64)
}
