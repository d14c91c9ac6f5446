//! Per-user rate limits (cloud browsing, cloud import, agent calls), kept in the database so
//! they hold across restarts and across every app process that shares it. Keyed on the user,
//! never the IP: students behind one campus NAT do not share a budget.
//!
//! **Rule: a sliding log.** A hit is allowed when fewer than `max` of the user's earlier hits
//! are inside the window; otherwise the answer is the exact time until the oldest of them
//! leaves it, so slots free up one by one, each a full window after it was used. This is the
//! literal reading of "30 requests per minute": no 60-second span ever holds more than 30
//! hits. A fixed window lets 2×max through around its boundary; GCRA (a token bucket) is
//! smaller but lets a full burst plus the refill through within one window (59 browses in a
//! minute for 30/min).
//!
//! **Storage: numbered hits.** The user's `rate_limit` row counts every hit it has recorded
//! (`next_seq`), and the hits are `rate_limit_hit` rows numbered by that count (a row taken
//! by one check of several hits stands for all of them: `seq ..= seq + hits - 1`). Hits are
//! numbered in the order they were recorded, so the rule needs one of them: the hit numbered
//! `max` before the newest one asked for must have left the window ([`decide`]). A check
//! therefore reads and writes a handful of rows whatever the limit (the previous design
//! rewrote a log of every hit in the window, megabytes per request under a raised limit; see
//! bench/RESULTS.md). Hits at or before the one read are deleted by the same check, so a row
//! keeps at most `max` hits, plus the spent front of a row that stands for several.
//! On PostgreSQL the row keeps its newest hits itself (`rate_limit.recent`, the last
//! `min(max, 64)`; migration 28), so for every built-in limit the gate is read from, and the
//! new hits written to, that one row; only hits of a larger limit move out, a run at a time,
//! into a `rate_limit_hit` row with each hit's time.
//!
//! **Concurrency: one statement, one check at a time per user and limit.** A check is a
//! single statement ([`rate_limits::take`]): on SQLite an upsert of the user's row, made only
//! if the hit `max` back has left the window, whose triggers record the new hits and delete
//! the old; on PostgreSQL the `rate_limit_take` function, whose first statement is one
//! `UPDATE` of the user's row made only if the gate in `recent` has left the window (the
//! common case), and which otherwise locks the row, decides and records. Either way the
//! statement holds the row's lock (SQLite's write lock, PostgreSQL's row lock) from before
//! it reads to its commit, so concurrent checks of one user wait for each other instead of
//! racing, while other users' rows stay free on PostgreSQL. (PostgreSQL checks an
//! `UPDATE`'s condition again on the newest row once the lock is held; the other path is a
//! function because each of its statements sees what was committed while it waited for the
//! lock, where one plain statement's subqueries would read from before the wait.) A refusal
//! records nothing. The first check of a user creates the row.
//! Hits are stamped with the database's clock once the lock is held, never with the time a
//! check started waiting, and every app process shares that clock. One statement is one
//! hand-off to SQLite's worker thread or one round trip to PostgreSQL, where the transaction
//! it replaced took four.
//!
//! **Old rows:** a row whose newest hit left the window (`expires_at` passed) says nothing;
//! [`purge_expired`] deletes such rows with their hits, and runs whenever a check starts a
//! new row, so the table holds roughly the users active in the longest window. The purge
//! compares `expires_at` (the database's clock) with the app's clock: an app process whose
//! clock runs δ ahead may delete a row up to δ before its newest hit leaves the window.

use crate::error::{AppError, AppResult};
use crate::models::local_writes::Bookkeeping;
use crate::models::rate_limits::{self, Flush, Taken};
use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use std::time::Duration;

/// A named limit: at most `max` hits per user in any span of `window`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    /// Stored in `rate_limit.name`; renaming a limit resets everyone's count.
    pub name: &'static str,
    pub max: u32,
    pub window: Duration,
}

/// Cloud browsing: 30 requests a minute (each browse, folder, search or "load more").
pub const CLOUD_BROWSE: Limit = Limit {
    name: "cloud_browse",
    max: 30,
    window: Duration::from_secs(60),
};

/// Cloud import: 10 imports an hour.
///
/// An import is one press of Import, whatever the number of ticked files: [`check`] once per
/// request. The documented limits are per request (browsing counts requests too), and a
/// student importing a folder of 12 files should not be told it can never be done. The
/// per-import cost is bounded elsewhere (the size limit, the selection). To count files
/// instead, call [`check_n`] with the number of files.
pub const CLOUD_IMPORT: Limit = Limit {
    name: "cloud_import",
    max: 10,
    window: Duration::from_secs(3600),
};

/// Upload requests to knowledge folders: 60 an hour (each may carry several files, within
/// the per-request size limit).
pub const UPLOADS: Limit = Limit {
    name: "uploads",
    max: 60,
    window: Duration::from_secs(3600),
};

/// Agent tool calls (the tools API and MCP together): 60 a minute.
pub const AGENT_CALLS: Limit = Limit {
    name: "agent_calls",
    max: 60,
    window: Duration::from_secs(60),
};

/// Whether more hits fit at `now` (Unix milliseconds), given `gate`: when the hit numbered
/// `max` before the newest hit asked for was recorded, or `None` when there is no such hit
/// (fewer than `max` hits ever, or it was purged with its expired row). `Some(retry_after)`
/// refuses: that hit leaves the window then (whole seconds, rounded up, at least 1 s). Pure,
/// so tests drive the clock.
pub fn decide(gate: Option<i64>, now: i64, limit: &Limit) -> Option<Duration> {
    let frees_at = gate? + window_ms(limit);
    let wait_ms = u64::try_from(frees_at - now).ok().filter(|&w| w > 0)?;
    Some(Duration::from_secs(wait_ms.div_ceil(1000).max(1)))
}

/// Record one hit for `user_id` against `limit`, or refuse with `AppError::RateLimited`.
pub async fn check(w: &Bookkeeping, user_id: i64, limit: &Limit) -> AppResult<()> {
    check_n(w, user_id, limit, 1).await
}

/// [`check`] for a request that commits its audit row before it answers (a browse): on
/// PostgreSQL the hit's commit does not wait for the disk, and the audit row's commit,
/// which does, flushes it too ([`Flush::WithNextCommit`]). Every process sees the hit as
/// soon as this returns, so the limit holds exactly as with `check`, and across restarts of
/// the app; only a crash of the database server in the moment between the two commits
/// could lose it. On SQLite the same as `check`.
pub async fn check_then_audit(w: &Bookkeeping, user_id: i64, limit: &Limit) -> AppResult<()> {
    check_flushed(w, user_id, limit, 1, Flush::WithNextCommit).await
}

/// Record `n` hits at once (all or none). `n = 0` is a no-op; more than `limit.max` is a
/// `BadRequest`, since no wait would make it fit.
pub async fn check_n(w: &Bookkeeping, user_id: i64, limit: &Limit, n: u32) -> AppResult<()> {
    check_flushed(w, user_id, limit, n, Flush::Now).await
}

async fn check_flushed(
    w: &Bookkeeping,
    user_id: i64,
    limit: &Limit,
    n: u32,
    flush: Flush,
) -> AppResult<()> {
    if n == 0 {
        return Ok(());
    }
    if n > limit.max {
        return Err(AppError::BadRequest(format!(
            "At most {} at a time; please select fewer.",
            limit.max
        )));
    }
    let window = window_ms(limit);
    let taken = rate_limits::take(w, user_id, limit.name, n, limit.max, window, flush).await?;
    settle(w, user_id, limit, taken).await
}

/// The answer to a check of `limit` that was taken (by [`check_n`], or within another
/// statement): `Ok`, or `RateLimited` with its wait.
pub async fn settle(w: &Bookkeeping, user_id: i64, limit: &Limit, taken: Taken) -> AppResult<()> {
    match taken {
        Taken::Allowed { fresh } => {
            // A new row means the user had gone quiet (their old row was purged) or is new: a
            // good moment to delete the rows of everyone else who has.
            if fresh && let Err(e) = rate_limits::purge(w, Utc::now()).await {
                tracing::warn!(error.chain = format!("{e:#}"), "rate-limit purge failed");
            }
            Ok(())
        }
        Taken::Refused { gate_at, now } => {
            // The gate may have left the window (or been taken by a later check) since the
            // refusal: the soonest worth trying again is then a second from now.
            let retry_after = decide(gate_at, now, limit).unwrap_or(Duration::from_secs(1));
            tracing::info!(
                user.id = user_id,
                rate_limit.name = limit.name,
                retry_after_s = retry_after.as_secs(),
                "rate limited"
            );
            Err(AppError::RateLimited { retry_after })
        }
    }
}

/// Delete the rows whose every hit has left its window as of `now`; returns how many.
pub async fn purge_expired(db: &DatabaseConnection, now: DateTime<Utc>) -> AppResult<u64> {
    Ok(rate_limits::delete_expired(db, now).await?)
}

/// The user's recorded hits against `limit` (Unix milliseconds, oldest first): at most
/// `max`, plus any expired ones a later check has not yet deleted.
pub async fn recorded_hits(
    db: &DatabaseConnection,
    user_id: i64,
    limit: &Limit,
) -> AppResult<Vec<i64>> {
    Ok(rate_limits::hits(db, user_id, limit.name).await?)
}

/// The limit's window in milliseconds, as the database compares hits' times.
pub fn window_ms(limit: &Limit) -> i64 {
    i64::try_from(limit.window.as_millis()).unwrap_or(i64::MAX / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every hit ever recorded, numbered by position: what the table holds for one row.
    #[derive(Default)]
    struct Log(Vec<i64>);

    impl Log {
        /// What [`check_n`] decides for `n` hits at `when` (seconds after a fixed instant),
        /// recording them when allowed.
        fn check(&mut self, when: f64, limit: &Limit, n: u32) -> Option<Duration> {
            let now = 1_800_000_000_000 + (when * 1000.0) as i64;
            let gate_seq = (self.0.len() + n as usize - 1).checked_sub(limit.max as usize);
            let refused = decide(gate_seq.map(|s| self.0[s]), now, limit);
            if refused.is_none() {
                self.0.extend(std::iter::repeat_n(now, n as usize));
            }
            refused
        }

        fn hit(&mut self, when: f64, limit: &Limit) {
            if let Some(wait) = self.check(when, limit, 1) {
                panic!("expected a hit at {when} s to pass, told to wait {wait:?}");
            }
        }

        fn retry_after(&mut self, when: f64, limit: &Limit, n: u32) -> u64 {
            let before = self.0.len();
            let wait = self.check(when, limit, n);
            assert_eq!(self.0.len(), before, "a refusal records nothing");
            wait.unwrap_or_else(|| panic!("expected a refusal at {when} s"))
                .as_secs()
        }
    }

    #[test]
    fn the_31st_browse_in_a_burst_waits_a_full_window() {
        let mut log = Log::default();
        for _ in 0..30 {
            log.hit(0.0, &CLOUD_BROWSE);
        }
        assert_eq!(log.retry_after(0.0, &CLOUD_BROWSE, 1), 60);
        assert_eq!(log.retry_after(59.2, &CLOUD_BROWSE, 1), 1);
        // Exactly one window later all 30 have left (they were all used at once).
        log.hit(60.0, &CLOUD_BROWSE);
    }

    #[test]
    fn slots_free_up_one_by_one_as_each_hit_leaves_the_window() {
        let mut log = Log::default();
        for s in 0..30 {
            log.hit(f64::from(s), &CLOUD_BROWSE);
        }
        assert_eq!(log.retry_after(45.0, &CLOUD_BROWSE, 1), 15);
        // At 60 s only the hit from 0 s has left: one slot, not thirty.
        log.hit(60.0, &CLOUD_BROWSE);
        assert_eq!(log.retry_after(60.0, &CLOUD_BROWSE, 1), 1);
        log.hit(61.0, &CLOUD_BROWSE);
        assert_eq!(log.retry_after(61.5, &CLOUD_BROWSE, 1), 1);
    }

    #[test]
    fn a_burst_at_the_end_of_a_minute_is_not_followed_by_another_at_the_start_of_the_next() {
        let mut log = Log::default();
        for _ in 0..30 {
            log.hit(59.0, &CLOUD_BROWSE);
        }
        // A fixed window would reset at 60 s; here the burst holds until 119 s.
        assert_eq!(log.retry_after(61.0, &CLOUD_BROWSE, 1), 58);
        log.hit(119.0, &CLOUD_BROWSE);
    }

    #[test]
    fn no_span_of_a_window_ever_holds_more_than_max_hits() {
        // Hits tried every 0.7 s for ten minutes, in bursts: whatever passes, any 60 s span
        // holds at most 30 of them.
        let mut log = Log::default();
        let mut t = 0.0;
        while t < 600.0 {
            for _ in 0..5 {
                log.check(t, &CLOUD_BROWSE, 1);
            }
            t += 0.7 * 5.0;
        }
        let hits = &log.0;
        for (i, &start) in hits.iter().enumerate() {
            let within = hits[i..].iter().filter(|&&h| h < start + 60_000).count();
            assert!(within <= 30, "{within} hits in the minute from hit {i}");
        }
        assert!(
            hits.len() > 30 * 9,
            "the budget is used, not starved: {}",
            hits.len()
        );
    }

    #[test]
    fn retry_after_is_rounded_up_to_whole_seconds_and_never_zero() {
        let mut log = Log::default();
        for _ in 0..10 {
            log.hit(0.0, &CLOUD_IMPORT);
        }
        assert_eq!(log.retry_after(0.001, &CLOUD_IMPORT, 1), 3600);
        assert_eq!(log.retry_after(3599.999, &CLOUD_IMPORT, 1), 1);
    }

    #[test]
    fn several_hits_at_once_wait_until_enough_slots_are_free() {
        let mut log = Log::default();
        for s in 0..8 {
            log.hit(f64::from(s) * 100.0, &CLOUD_IMPORT);
        }
        // 8 used, 3 asked: the oldest (0 s) must leave, at 3600 s.
        assert_eq!(log.retry_after(1000.0, &CLOUD_IMPORT, 3), 2600);
        assert_eq!(log.check(1000.0, &CLOUD_IMPORT, 2), None, "two fit");
        assert_eq!(log.0.len(), 10);
        // 10 used, 2 asked: the two oldest (0 s and 100 s) must leave; the second decides.
        assert_eq!(log.retry_after(3650.0, &CLOUD_IMPORT, 2), 50);
    }
}
