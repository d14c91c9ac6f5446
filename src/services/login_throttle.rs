//! Slowing password guessing against one account, in every process alike (the counts live in
//! the database), whatever addresses the guesses come from. The per-address limit on the
//! login route (`urls::Limits`) slows one client; this slows many clients aimed at one
//! account.
//!
//! A lock-out must not become a way to keep someone else out. So failures are counted per
//! *subject*: the account for a browser that never signed in to it, or the browser itself —
//! a remembered device, named by a signed cookie set at each successful sign-in — for one
//! that did. Someone guessing from elsewhere locks the account only for browsers it has never
//! seen, and only for `lock` at a time; its owner's usual browser signs in regardless. A lock
//! applies to any email, registered or not, and answers the same way, so it reveals nothing
//! about who has an account.

use crate::crypto::sha256_hex;
use crate::error::AppResult;
use crate::models::login_throttles;
use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use std::time::Duration;

/// How many failures lock a subject, within which span, and for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    pub max_failures: u32,
    pub window: Duration,
    pub lock: Duration,
}

/// Five failures within 15 minutes lock the subject for 5 minutes.
pub const DEFAULT: Policy = Policy {
    max_failures: 5,
    window: Duration::from_secs(15 * 60),
    lock: Duration::from_secs(5 * 60),
};

/// The subject for sign-ins to `email` from a browser that has not signed in to it before.
pub fn account_subject(email: &str) -> String {
    sha256_hex(&format!("account:{}", email.trim().to_lowercase()))
}

/// The subject for sign-ins from the remembered device `device_id`.
pub fn device_subject(device_id: &str) -> String {
    sha256_hex(&format!("device:{device_id}"))
}

fn span(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// How long `subject` stays locked, if it is locked at `now` (whole seconds, at least 1).
pub async fn locked(
    db: &DatabaseConnection,
    subject: &str,
    now: DateTime<Utc>,
) -> AppResult<Option<Duration>> {
    let row = login_throttles::find(db, subject).await?;
    Ok(row
        .and_then(|r| r.locked_until)
        .and_then(|until| (until - now).to_std().ok())
        .filter(|left| !left.is_zero())
        .map(|left| {
            Duration::from_secs(left.as_secs_f64().ceil() as u64).max(Duration::from_secs(1))
        }))
}

/// Counts a failed sign-in for `subject`; when it is the failure that reaches the policy's
/// limit, locks the subject and returns the lock's length.
pub async fn failed(
    db: &DatabaseConnection,
    subject: &str,
    policy: &Policy,
    now: DateTime<Utc>,
) -> AppResult<Option<Duration>> {
    let row = login_throttles::count_failure(db, subject, now, now - span(policy.window)).await?;
    if u32::try_from(row.failures).unwrap_or(0) < policy.max_failures {
        return Ok(None);
    }
    login_throttles::lock(db, subject, now, now + span(policy.lock)).await?;
    tracing::warn!(
        login.lock_secs = policy.lock.as_secs(),
        "sign-ins locked after repeated failures"
    );
    Ok(Some(policy.lock))
}

/// Forgets `subject`'s failures after a successful sign-in.
pub async fn succeeded(db: &DatabaseConnection, subject: &str) -> AppResult<()> {
    Ok(login_throttles::clear(db, subject).await?)
}

/// Deletes the rows that no longer lock or count anything (run by the janitor).
pub async fn purge(db: &DatabaseConnection, policy: &Policy, now: DateTime<Utc>) -> AppResult<u64> {
    Ok(login_throttles::delete_stale(db, now, now - span(policy.window)).await?)
}
