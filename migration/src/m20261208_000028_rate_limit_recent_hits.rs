//! PostgreSQL: a rate-limit check that decides and records in the user's row alone.
//!
//! Migration 27's `rate_limit_take` locked the row, read the gate hit from `rate_limit_hit`,
//! updated the row, inserted a hit row (with its foreign-key check) and deleted the spent
//! one: five statements and three rows written per check, about half of the database's work
//! in a browse (bench/RESULTS.md, twelfth round). Now:
//!
//! - `rate_limit.recent`: the times (Unix ms) of the row's newest hits, numbered
//!   `next_seq - cardinality(recent) ..= next_seq - 1`, at most [`IN_ROW`] of them and no
//!   more than the limit needs (its last `max`). Hits older than those are `rate_limit_hit`
//!   rows, as before. A limit larger than `IN_ROW` moves a run of hits out whenever the row
//!   is full and keeps the newest half; once it has taken `max` hits its gate is always in
//!   `rate_limit_hit`, and its checks cost what they did before.
//! - `rate_limit_hit.times`: a row that holds several hits recorded at different times (a
//!   run moved out of `recent`) keeps each one's time here, `times[i]` for hit `seq + i - 1`;
//!   `hit_at` is then the newest of them. `NULL` for the rows of several hits at one time.
//! - `rate_limit_take` first tries one `UPDATE` of the row whose condition is the whole
//!   rule: the gate hit is in `recent` (or there is none) and has left the window, and
//!   nothing still needed falls out of `recent`. PostgreSQL checks an `UPDATE`'s condition
//!   again on the newest version of the row once it holds the row's lock, clock included,
//!   so the check stays exact under concurrency. Otherwise (the user's first check, a
//!   refusal, a gate older than `recent`, or hits to move out) it does what migration 27
//!   did, with `recent` taken into account.
//! - `expires_at` moves only when it would fall short of the newest hit's window (then to
//!   two windows ahead), so most checks change no indexed column and the update stays on
//!   its page (a heap-only update, no index entries written).
//!
//! SQLite keeps migration 27's triggers (its check is already one statement on a
//! connection in the same process). `down` moves `recent` and the runs back to one row per
//! hit and restores migration 27's function.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// How many hits a `rate_limit` row keeps itself: every built-in limit (at most 60) fits,
/// so its checks never touch `rate_limit_hit`; a row of 64 times is 512 bytes.
pub const IN_ROW: i64 = 64;

/// The database's clock in Unix ms, read where it stands (after the row's lock is held
/// when it stands in the `UPDATE`'s `SET` or, on a re-check, its `WHERE`).
const NOW_MS: &str = "floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

fn postgres_up() -> String {
    let now = NOW_MS;
    let in_row = IN_ROW;
    let half = IN_ROW / 2;
    // `expires_at` once a hit is recorded at `t`: kept while it is at least `t` + window,
    // otherwise two windows ahead.
    let expires = |r: &str, t: &str| {
        format!(
            "CASE WHEN {r}expires_at < to_timestamp(({t} + p_window_ms) / 1000.0) \
             THEN to_timestamp(({t} + 2 * p_window_ms) / 1000.0) ELSE {r}expires_at END"
        )
    };
    let fast_expires = expires("r.", now);
    let slow_expires = expires("", "now_ms");
    format!(
        "
CREATE OR REPLACE FUNCTION rate_limit_take(
    p_user bigint, p_name text, p_n bigint, p_max bigint, p_window_ms bigint,
    OUT allowed boolean, OUT next_seq bigint, OUT gate_at bigint, OUT now_ms bigint)
LANGUAGE plpgsql AS $$
DECLARE
    row_id bigint;
    seen bigint;
    kept bigint[];
    held bigint[];
    base bigint;
    gate bigint;
    keep bigint;
    first_moved bigint;
    moved bigint;
BEGIN
    -- The gate (hit p_max before the newest asked for) is in `recent`, or there is none,
    -- and it has left the window; `recent` keeps its last least(p_max, {in_row}) hits, which
    -- drops only hits at or before the gate unless the limit is larger than that.
    UPDATE rate_limit r
       SET next_seq = r.next_seq + p_n,
           recent = (r.recent || array_fill({now}, ARRAY[p_n::int]))
                    [(greatest(cardinality(r.recent) + p_n - least(p_max, {in_row}), 0) + 1)::int:],
           last_hit_at = {now},
           max_hits = p_max,
           expires_at = {fast_expires}
     WHERE r.user_id = p_user AND r.name = p_name
       AND (p_max <= {in_row} OR cardinality(r.recent) + p_n <= {in_row})
       AND (r.next_seq + p_n - 1 - p_max < 0
            OR (p_max - p_n < cardinality(r.recent)
                AND r.recent[(cardinality(r.recent) + p_n - p_max)::int] <= {now} - p_window_ms))
    RETURNING r.next_seq, r.recent[cardinality(r.recent)] INTO next_seq, now_ms;
    IF FOUND THEN
        allowed := true;
        gate_at := NULL;
        RETURN;
    END IF;

    SELECT r.id, r.next_seq, r.recent INTO row_id, seen, kept
      FROM rate_limit r WHERE r.user_id = p_user AND r.name = p_name FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO rate_limit (user_id, name, next_seq, expires_at, last_hit_at, max_hits)
        VALUES (p_user, p_name, 0, clock_timestamp(), 0, p_max)
        ON CONFLICT (user_id, name) DO NOTHING;
        SELECT r.id, r.next_seq, r.recent INTO row_id, seen, kept
          FROM rate_limit r WHERE r.user_id = p_user AND r.name = p_name FOR UPDATE;
    END IF;
    -- The lock is held: these statements see every hit committed before it was.
    now_ms := {now};
    base := seen - cardinality(kept);
    gate := seen + p_n - 1 - p_max;
    IF gate >= base THEN
        gate_at := kept[(gate - base + 1)::int];
    ELSIF gate >= 0 THEN
        SELECT CASE WHEN h.times IS NULL THEN h.hit_at ELSE h.times[(gate - h.seq + 1)::int] END
          INTO gate_at FROM rate_limit_hit h
         WHERE h.rate_limit_id = row_id AND h.seq <= gate AND h.seq + h.hits > gate
         ORDER BY h.seq DESC LIMIT 1;
    END IF;
    IF gate_at IS NOT NULL AND gate_at > now_ms - p_window_ms THEN
        allowed := false;
        next_seq := seen;
        RETURN;
    END IF;
    -- `held[i]` is hit base + i - 1. The row keeps the newest `keep`: all the limit needs
    -- when that fits, or else half of what fits, so that the next {half} checks take the first
    -- path again; the older ones after the gate move to a row of their own.
    held := kept || array_fill(now_ms, ARRAY[p_n::int]);
    keep := CASE WHEN p_max <= {in_row} THEN p_max ELSE {half} END;
    first_moved := greatest(gate + 1, base);
    moved := seen + p_n - keep - first_moved;
    IF moved > 0 THEN
        INSERT INTO rate_limit_hit (rate_limit_id, seq, hits, hit_at, times)
        VALUES (row_id, first_moved, moved, held[(first_moved - base + moved)::int],
                held[(first_moved - base + 1)::int:(first_moved - base + moved)::int]);
    END IF;
    UPDATE rate_limit
       SET next_seq = seen + p_n,
           recent = held[(greatest(cardinality(held) - keep, 0) + 1)::int:],
           last_hit_at = now_ms, max_hits = p_max,
           expires_at = {slow_expires}
     WHERE id = row_id;
    IF gate >= 0 THEN
        DELETE FROM rate_limit_hit
         WHERE rate_limit_id = row_id AND seq <= gate AND seq + hits - 1 <= gate;
    END IF;
    allowed := true;
    next_seq := seen + p_n;
    gate_at := NULL;
END
$$"
    )
}

/// Every hit kept in a row's `recent`, and every hit of a run with its own times, becomes a
/// row of one hit (migration 27 knows no other kind), oldest first.
const POSTGRES_DOWN: [&str; 6] = [
    "INSERT INTO rate_limit_hit (rate_limit_id, seq, hits, hit_at)
     SELECT h.rate_limit_id, h.seq + u.o - 1, 1, u.t
       FROM rate_limit_hit h, unnest(h.times) WITH ORDINALITY AS u(t, o)
      WHERE h.times IS NOT NULL AND u.o > 1",
    "UPDATE rate_limit_hit SET hits = 1, hit_at = times[1] WHERE times IS NOT NULL",
    "INSERT INTO rate_limit_hit (rate_limit_id, seq, hits, hit_at)
     SELECT r.id, r.next_seq - cardinality(r.recent) + u.o - 1, 1, u.t
       FROM rate_limit r, unnest(r.recent) WITH ORDINALITY AS u(t, o)",
    "ALTER TABLE rate_limit_hit DROP COLUMN times",
    "ALTER TABLE rate_limit DROP COLUMN recent",
    "DROP FUNCTION rate_limit_take(bigint, text, bigint, bigint, bigint)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared(
            "ALTER TABLE rate_limit ADD COLUMN recent bigint[] NOT NULL DEFAULT '{}'",
        )
        .await?;
        db.execute_unprepared("ALTER TABLE rate_limit_hit ADD COLUMN times bigint[]")
            .await?;
        db.execute_unprepared(&postgres_up()).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        for sql in POSTGRES_DOWN {
            db.execute_unprepared(sql).await?;
        }
        db.execute_unprepared(super::m20261207_000027_rate_limit_one_statement::POSTGRES_UP)
            .await?;
        Ok(())
    }
}
