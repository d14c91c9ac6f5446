//! Per-user rate limits (cloud browsing, cloud import), kept in the database so they hold
//! across restarts and across every app process that shares it. Keyed on the user, never the
//! IP: students behind one campus NAT do not share a budget.
//!
//! **Algorithm: a sliding log in one row per (user, limit).** The row holds the times of the
//! user's hits still inside the window (at most `max` of them). A hit is allowed when fewer
//! than `max` remain; otherwise the answer is the exact time until the oldest one leaves the
//! window, so slots free up one by one, each a full window after it was used. This is the
//! literal reading of "30 requests per minute": no 60-second span ever holds more than 30
//! hits. A fixed window lets 2×max through around its boundary; GCRA (a token bucket) is
//! smaller but lets a full burst plus the refill through within one window (59 browses in a
//! minute for 30/min). The log costs at most `max` timestamps per row, which is small for
//! these limits.
//!
//! **Concurrency: one check at a time per user and limit.** A check runs in a transaction
//! that first locks the user's row (a no-op `UPDATE`: PostgreSQL's row lock, SQLite's write
//! lock), then reads it, decides with the pure [`decide`], and writes the new log. Concurrent
//! checks of the same user wait for each other instead of racing and retrying, so a burst of
//! requests costs one round each; other users' rows are not locked (on PostgreSQL). A missing
//! row is created with `INSERT … ON CONFLICT DO NOTHING` and then locked. Refusals write
//! nothing. (An earlier compare-and-swap design needed about 30 rounds per request under 64
//! concurrent requests of one user on PostgreSQL; see bench/RESULTS.md.)
//!
//! **Old rows:** a row whose newest hit left the window (`expires_at` passed) says nothing;
//! [`purge_expired`] deletes such rows, and runs whenever a check creates a new row, so the
//! table holds roughly the users active in the longest window.

use crate::error::{AppError, AppResult};
use crate::models::rate_limits;
use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DatabaseTransaction, TransactionTrait};
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

/// What [`decide`] says about `n` more hits.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Allowed: the new log to store (oldest first).
    Allow(Vec<i64>),
    /// Refused: a slot frees in `retry_after` (whole seconds, rounded up, at least 1 s).
    Refuse { retry_after: Duration },
    /// `n` exceeds the limit's `max`: never allowed, whatever the wait.
    TooMany,
}

/// Decide whether `n` hits at `now` fit in `limit`, given the stored log `hits` (Unix
/// milliseconds). Pure, so tests drive the clock.
pub fn decide(hits: &[i64], now: DateTime<Utc>, limit: &Limit, n: u32) -> Decision {
    let (now, window) = (now.timestamp_millis(), window_ms(limit));
    let (n, max) = (n as usize, limit.max as usize);
    if n > max {
        return Decision::TooMany;
    }
    // Another process's clock may be slightly off, so the log is not trusted to be sorted.
    let mut live: Vec<i64> = hits.iter().copied().filter(|&t| t + window > now).collect();
    live.sort_unstable();
    if live.len() + n <= max {
        live.extend(std::iter::repeat_n(now, n));
        return Decision::Allow(live);
    }
    // The first `live.len() + n - max` hits must leave the window; the last of them decides.
    let frees_at = live[live.len() + n - max - 1] + window;
    let wait_ms = u64::try_from(frees_at - now).unwrap_or(0);
    Decision::Refuse {
        retry_after: Duration::from_secs(wait_ms.div_ceil(1000).max(1)),
    }
}

/// Record one hit for `user_id` against `limit`, or refuse with `AppError::RateLimited`.
pub async fn check(db: &DatabaseConnection, user_id: i64, limit: &Limit) -> AppResult<()> {
    check_n(db, user_id, limit, 1).await
}

/// Record `n` hits at once (all or none). `n = 0` is a no-op; more than `limit.max` is a
/// `BadRequest`, since no wait would make it fit.
pub async fn check_n(
    db: &DatabaseConnection,
    user_id: i64,
    limit: &Limit,
    n: u32,
) -> AppResult<()> {
    if n == 0 {
        return Ok(());
    }
    let txn = db.begin().await?;
    // Lock the user's row before reading it: a no-op update takes PostgreSQL's row lock (and
    // SQLite's write lock), so concurrent checks of one user queue here instead of racing.
    if !lock_row(&txn, user_id, limit).await? {
        // First hit in a while: create the row (a concurrent first hit may create it first;
        // either way it exists afterwards), then lock it.
        rate_limits::insert_if_missing(&txn, user_id, limit.name, format(&[])).await?;
        lock_row(&txn, user_id, limit).await?;
    }
    let row = rate_limits::find(&txn, user_id, limit.name)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("the rate-limit row vanished")))?;
    let now = Utc::now();
    let next = match decide(&parse(&row.hits), now, limit, n) {
        Decision::Allow(next) => next,
        Decision::Refuse { retry_after } => {
            txn.rollback().await?;
            tracing::info!(
                user.id = user_id,
                rate_limit.name = limit.name,
                retry_after_s = retry_after.as_secs(),
                "rate limited"
            );
            return Err(AppError::RateLimited { retry_after });
        }
        Decision::TooMany => {
            txn.rollback().await?;
            return Err(AppError::BadRequest(format!(
                "At most {} at a time; please select fewer.",
                limit.max
            )));
        }
    };
    let newest = next.last().copied().unwrap_or(now.timestamp_millis());
    let expires_at =
        DateTime::from_timestamp_millis(newest + window_ms(limit)).unwrap_or(now + limit.window);
    rate_limits::set_hits(&txn, row.id, format(&next), expires_at).await?;
    txn.commit().await?;
    // A log holding only this check's hits means the user had gone quiet: a good moment
    // to delete the rows of everyone else who has.
    if next.len() == n as usize
        && let Err(e) = purge_expired(db, now).await
    {
        tracing::warn!(error.chain = format!("{e:#}"), "rate-limit purge failed");
    }
    Ok(())
}

/// Take the lock on the user's row for `limit`; false when there is no row yet.
async fn lock_row(txn: &DatabaseTransaction, user_id: i64, limit: &Limit) -> AppResult<bool> {
    Ok(rate_limits::lock(txn, user_id, limit.name).await?)
}

/// Delete the rows whose every hit has left its window as of `now`; returns how many.
pub async fn purge_expired(db: &DatabaseConnection, now: DateTime<Utc>) -> AppResult<u64> {
    Ok(rate_limits::delete_expired(db, now).await?)
}

fn window_ms(limit: &Limit) -> i64 {
    i64::try_from(limit.window.as_millis()).unwrap_or(i64::MAX / 2)
}

/// The stored log; an unreadable entry (never written by this module) is ignored.
fn parse(hits: &str) -> Vec<i64> {
    hits.split(',').filter_map(|t| t.parse().ok()).collect()
}

fn format(hits: &[i64]) -> String {
    hits.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: f64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_800_000_000_000 + (secs * 1000.0) as i64)
            .expect("a valid time")
    }

    /// Records one hit at `when`, asserting it is allowed.
    fn hit(log: &mut Vec<i64>, when: DateTime<Utc>, limit: &Limit) {
        match decide(log, when, limit, 1) {
            Decision::Allow(next) => *log = next,
            other => panic!("expected a hit at {when} to pass, got {other:?}"),
        }
    }

    fn retry_after(log: &[i64], when: DateTime<Utc>, limit: &Limit, n: u32) -> u64 {
        match decide(log, when, limit, n) {
            Decision::Refuse { retry_after } => retry_after.as_secs(),
            other => panic!("expected a refusal at {when}, got {other:?}"),
        }
    }

    #[test]
    fn the_31st_browse_in_a_burst_waits_a_full_window() {
        let mut log = Vec::new();
        for _ in 0..30 {
            hit(&mut log, at(0.0), &CLOUD_BROWSE);
        }
        assert_eq!(retry_after(&log, at(0.0), &CLOUD_BROWSE, 1), 60);
        assert_eq!(retry_after(&log, at(59.2), &CLOUD_BROWSE, 1), 1);
        // Exactly one window later all 30 have left (they were all used at once).
        hit(&mut log, at(60.0), &CLOUD_BROWSE);
        assert_eq!(log.len(), 1, "expired hits are dropped from the stored log");
    }

    #[test]
    fn slots_free_up_one_by_one_as_each_hit_leaves_the_window() {
        let mut log = Vec::new();
        for s in 0..30 {
            hit(&mut log, at(f64::from(s)), &CLOUD_BROWSE);
        }
        assert_eq!(retry_after(&log, at(45.0), &CLOUD_BROWSE, 1), 15);
        // At 60 s only the hit from 0 s has left: one slot, not thirty.
        hit(&mut log, at(60.0), &CLOUD_BROWSE);
        assert_eq!(retry_after(&log, at(60.0), &CLOUD_BROWSE, 1), 1);
        hit(&mut log, at(61.0), &CLOUD_BROWSE);
        assert_eq!(retry_after(&log, at(61.5), &CLOUD_BROWSE, 1), 1);
    }

    #[test]
    fn a_burst_at_the_end_of_a_minute_is_not_followed_by_another_at_the_start_of_the_next() {
        let mut log = Vec::new();
        for _ in 0..30 {
            hit(&mut log, at(59.0), &CLOUD_BROWSE);
        }
        // A fixed window would reset at 60 s; here the burst holds until 119 s.
        assert_eq!(retry_after(&log, at(61.0), &CLOUD_BROWSE, 1), 58);
        hit(&mut log, at(119.0), &CLOUD_BROWSE);
    }

    #[test]
    fn retry_after_is_rounded_up_to_whole_seconds_and_never_zero() {
        let mut log = Vec::new();
        for _ in 0..10 {
            hit(&mut log, at(0.0), &CLOUD_IMPORT);
        }
        assert_eq!(retry_after(&log, at(0.001), &CLOUD_IMPORT, 1), 3600);
        assert_eq!(retry_after(&log, at(3599.999), &CLOUD_IMPORT, 1), 1);
    }

    #[test]
    fn several_hits_at_once_wait_until_enough_slots_are_free() {
        let mut log = Vec::new();
        for s in 0..8 {
            hit(&mut log, at(f64::from(s) * 100.0), &CLOUD_IMPORT);
        }
        // 8 used, 3 asked: the oldest (0 s) must leave, at 3600 s.
        assert_eq!(retry_after(&log, at(1000.0), &CLOUD_IMPORT, 3), 2600);
        match decide(&log, at(1000.0), &CLOUD_IMPORT, 2) {
            Decision::Allow(next) => assert_eq!(next.len(), 10),
            other => panic!("two fit: {other:?}"),
        }
        assert_eq!(
            decide(&log, at(1000.0), &CLOUD_IMPORT, 11),
            Decision::TooMany
        );
    }

    #[test]
    fn an_unsorted_log_from_a_skewed_clock_is_still_counted_correctly() {
        let base = at(0.0).timestamp_millis();
        let log: Vec<i64> = (0..10).rev().map(|s| base + s * 1000).collect();
        assert_eq!(retry_after(&log, at(10.0), &CLOUD_IMPORT, 1), 3590);
    }

    #[test]
    fn the_stored_log_round_trips_and_ignores_garbage() {
        assert_eq!(parse(&format(&[1, 22, 333])), vec![1, 22, 333]);
        assert_eq!(parse(""), Vec::<i64>::new());
        assert_eq!(parse("5,x,7"), vec![5, 7]);
    }
}
