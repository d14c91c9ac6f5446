//! A rate-limit check as one statement instead of a transaction of four (see
//! `services::rate_limits`).
//!
//! - `rate_limit_hit.hits`: a hit row may stand for several hits numbered one after another
//!   (`seq ..= seq + hits - 1`), all recorded at once by one check; every existing row is one.
//! - `rate_limit.last_hit_at` (Unix ms) and `rate_limit.max_hits`: the newest check's time and
//!   the limit it was checked against, so the database can record the hits itself.
//! - SQLite: two triggers that record a check's hits when its upsert moves `next_seq`, and
//!   delete the hits no later check will read. PostgreSQL: a function, `rate_limit_take`, that
//!   locks the row, decides and records (its statements each see what was committed while
//!   it waited for the lock, which one plain statement's subqueries would not).
//!
//! `down` numbers every hit on a row of its own again and removes the rest.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RateLimit {
    Table,
    LastHitAt,
    MaxHits,
}

#[derive(DeriveIden)]
enum RateLimitHit {
    Table,
    Hits,
}

const SQLITE_UP: [&str; 2] = [
    "CREATE TRIGGER rate_limit_record_first_hits AFTER INSERT ON rate_limit
     WHEN NEW.next_seq > 0
     BEGIN
       INSERT INTO rate_limit_hit (rate_limit_id, seq, hits, hit_at)
       VALUES (NEW.id, 0, NEW.next_seq, NEW.last_hit_at);
     END",
    "CREATE TRIGGER rate_limit_record_hits AFTER UPDATE OF next_seq ON rate_limit
     WHEN NEW.next_seq > OLD.next_seq
     BEGIN
       INSERT INTO rate_limit_hit (rate_limit_id, seq, hits, hit_at)
       VALUES (NEW.id, OLD.next_seq, NEW.next_seq - OLD.next_seq, NEW.last_hit_at);
       DELETE FROM rate_limit_hit
       WHERE rate_limit_id = NEW.id
         AND seq < NEW.next_seq - NEW.max_hits
         AND seq + hits <= NEW.next_seq - NEW.max_hits;
     END",
];

const SQLITE_DOWN: [&str; 2] = [
    "DROP TRIGGER IF EXISTS rate_limit_record_hits",
    "DROP TRIGGER IF EXISTS rate_limit_record_first_hits",
];

/// Takes `p_n` hits of `p_max` per `p_window_ms` for the user's row `p_name`: `allowed`, the
/// row's `next_seq` after the check, `gate_at` (when refused: when the hit that must leave the
/// window first was recorded) and `now_ms` (the database's clock once the lock was held).
pub(crate) const POSTGRES_UP: &str = "
CREATE FUNCTION rate_limit_take(
    p_user bigint, p_name text, p_n bigint, p_max bigint, p_window_ms bigint,
    OUT allowed boolean, OUT next_seq bigint, OUT gate_at bigint, OUT now_ms bigint)
LANGUAGE plpgsql AS $$
DECLARE
    row_id bigint;
    seen bigint;
    gate bigint;
BEGIN
    SELECT r.id, r.next_seq INTO row_id, seen
      FROM rate_limit r WHERE r.user_id = p_user AND r.name = p_name FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO rate_limit (user_id, name, next_seq, expires_at, last_hit_at, max_hits)
        VALUES (p_user, p_name, 0, clock_timestamp(), 0, p_max)
        ON CONFLICT (user_id, name) DO NOTHING;
        SELECT r.id, r.next_seq INTO row_id, seen
          FROM rate_limit r WHERE r.user_id = p_user AND r.name = p_name FOR UPDATE;
    END IF;
    -- The lock is held: this statement and the next see every hit committed before it was.
    now_ms := floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint;
    gate := seen + p_n - 1 - p_max;
    SELECT h.hit_at INTO gate_at FROM rate_limit_hit h
     WHERE h.rate_limit_id = row_id AND h.seq <= gate AND h.seq + h.hits > gate
     ORDER BY h.seq DESC LIMIT 1;
    IF gate_at IS NOT NULL AND gate_at > now_ms - p_window_ms THEN
        allowed := false;
        next_seq := seen;
        RETURN;
    END IF;
    UPDATE rate_limit
       SET next_seq = seen + p_n, last_hit_at = now_ms, max_hits = p_max,
           expires_at = to_timestamp((now_ms + p_window_ms) / 1000.0)
     WHERE id = row_id;
    INSERT INTO rate_limit_hit (rate_limit_id, seq, hits, hit_at)
    VALUES (row_id, seen, p_n, now_ms);
    DELETE FROM rate_limit_hit
     WHERE rate_limit_id = row_id AND seq <= gate AND seq + hits - 1 <= gate;
    allowed := true;
    next_seq := seen + p_n;
    gate_at := NULL;
END
$$";

const POSTGRES_DOWN: &str =
    "DROP FUNCTION IF EXISTS rate_limit_take(bigint, text, bigint, bigint, bigint)";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for alter in [
            Table::alter()
                .table(RateLimit::Table)
                .add_column(
                    ColumnDef::new(RateLimit::LastHitAt)
                        .big_integer()
                        .not_null()
                        .default(0),
                )
                .to_owned(),
            Table::alter()
                .table(RateLimit::Table)
                .add_column(
                    ColumnDef::new(RateLimit::MaxHits)
                        .big_integer()
                        .not_null()
                        .default(0),
                )
                .to_owned(),
            Table::alter()
                .table(RateLimitHit::Table)
                .add_column(
                    ColumnDef::new(RateLimitHit::Hits)
                        .big_integer()
                        .not_null()
                        .default(1),
                )
                .to_owned(),
        ] {
            manager.alter_table(alter).await?;
        }
        match manager.get_database_backend() {
            DatabaseBackend::Sqlite => {
                for sql in SQLITE_UP {
                    db.execute_unprepared(sql).await?;
                }
            }
            DatabaseBackend::Postgres => {
                db.execute_unprepared(POSTGRES_UP).await?;
            }
            other => {
                return Err(DbErr::Migration(format!(
                    "rate limits: {other:?} is not supported"
                )));
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DatabaseBackend::Sqlite => {
                for sql in SQLITE_DOWN {
                    db.execute_unprepared(sql).await?;
                }
            }
            _ => {
                db.execute_unprepared(POSTGRES_DOWN).await?;
            }
        }
        one_row_per_hit(manager).await?;
        manager
            .alter_table(
                Table::alter()
                    .table(RateLimitHit::Table)
                    .drop_column(RateLimitHit::Hits)
                    .to_owned(),
            )
            .await?;
        for column in [RateLimit::LastHitAt, RateLimit::MaxHits] {
            manager
                .alter_table(
                    Table::alter()
                        .table(RateLimit::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

/// Each row standing for several hits becomes one row per hit, all at its time.
async fn one_row_per_hit(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let backend = manager.get_database_backend();
    let select = Query::select()
        .columns(["id", "rate_limit_id", "seq", "hits", "hit_at"].map(Alias::new))
        .from(RateLimitHit::Table)
        .and_where(Expr::col(RateLimitHit::Hits).gt(1))
        .to_owned();
    for row in db.query_all_raw(backend.build(&select)).await? {
        let id: i64 = row.try_get("", "id")?;
        let rate_limit_id: i64 = row.try_get("", "rate_limit_id")?;
        let seq: i64 = row.try_get("", "seq")?;
        let hits: i64 = row.try_get("", "hits")?;
        let hit_at: i64 = row.try_get("", "hit_at")?;
        let mut insert = Query::insert()
            .into_table(RateLimitHit::Table)
            .columns(["rate_limit_id", "seq", "hits", "hit_at"].map(Alias::new))
            .to_owned();
        for s in seq + 1..seq + hits {
            insert.values_panic([rate_limit_id.into(), s.into(), 1_i64.into(), hit_at.into()]);
        }
        db.execute_raw(backend.build(&insert)).await?;
        let update = Query::update()
            .table(RateLimitHit::Table)
            .value(RateLimitHit::Hits, 1_i64)
            .and_where(Expr::col(Alias::new("id")).eq(id))
            .to_owned();
        db.execute_raw(backend.build(&update)).await?;
    }
    Ok(())
}
