//! Argon2id password hashing, off the async threads.
//!
//! **Parameters:** m = 7 MiB, t = 5, p = 1, one of OWASP's equivalent Argon2id settings
//! (the crate's default, m = 19 MiB with t = 2, is another): the same cost to an attacker and
//! about the same CPU per hash, with less memory held while hashing. The allocator keeps a
//! hash's memory for later use once it is freed, so what log-ins leave resident is bounded by
//! how many hashes ran at once times m: 64 log-ins at m = 19 MiB, one thread each, left
//! ~120 MiB behind (bench/RESULTS.md, `browse`). Hashes made with other parameters (older
//! ones) still verify, and are replaced on the next log-in ([`Verdict::Upgrade`]).
//!
//! **Concurrency:** at most one hash per core runs at a time, whatever the number of log-ins
//! arriving: more would not finish sooner on a busy CPU, and each holds its memory for the
//! whole hash, so a flood of log-ins is bounded in memory (cores × 7 MiB), not in threads.

use anyhow::Context;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::LazyLock;
use tokio::sync::Semaphore;

/// Memory per hash, in KiB.
const M_COST: u32 = 7 * 1024;
const T_COST: u32 = 5;
const P_COST: u32 = 1;

fn argon2() -> Argon2<'static> {
    let params = Params::new(M_COST, T_COST, P_COST, None)
        .expect("the password parameters are valid constants");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// One permit per core: how many hashes may hold their memory at once.
static HASHING: LazyLock<Semaphore> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    Semaphore::new(cores)
});

/// Runs `work` on a blocking thread once a hashing permit is free.
async fn hashing<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<T> {
    let _permit = HASHING
        .acquire()
        .await
        .context("the password hashing permits are never closed")?;
    tokio::task::spawn_blocking(work)
        .await
        .context("password hashing task")
}

/// Hash a password into a PHC string.
pub async fn hash(password: &str) -> anyhow::Result<String> {
    let password = password.to_owned();
    hashing(move || {
        argon2()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing the password failed: {e}"))
    })
    .await?
}

/// What checking a password against a stored hash found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not the password (or the stored hash is malformed).
    Wrong,
    /// The password, and the hash uses today's parameters.
    Right,
    /// The password, but the hash was made with other parameters: store [`hash`] of it.
    Upgrade,
}

impl Verdict {
    pub fn matches(self) -> bool {
        self != Self::Wrong
    }
}

/// Checks `password` against the PHC string `phc` (with the parameters `phc` names).
pub async fn check(password: &str, phc: &str) -> Verdict {
    let password = password.to_owned();
    let phc = phc.to_owned();
    hashing(move || {
        let Ok(parsed) = PasswordHash::new(&phc) else {
            return Verdict::Wrong;
        };
        if argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_err()
        {
            return Verdict::Wrong;
        }
        if is_current(&parsed) {
            Verdict::Right
        } else {
            Verdict::Upgrade
        }
    })
    .await
    .unwrap_or(Verdict::Wrong)
}

/// Whether `password` matches `phc`. A malformed stored hash never matches.
pub async fn verify(password: &str, phc: &str) -> bool {
    check(password, phc).await.matches()
}

fn is_current(parsed: &PasswordHash) -> bool {
    parsed.algorithm.as_str() == "argon2id"
        && parsed.version == Some(Version::V0x13.into())
        && Params::try_from(parsed)
            .is_ok_and(|p| (p.m_cost(), p.t_cost(), p.p_cost()) == (M_COST, T_COST, P_COST))
}

/// Spend the same time as a real check when the account does not exist, so response time
/// does not reveal which emails have accounts.
pub async fn verify_dummy(password: &str) {
    let _ = verify(password, DUMMY).await;
}

/// A hash of no one's password, with today's parameters.
const DUMMY: &str = "$argon2id$v=19$m=7168,t=5,p=1$c29tZXNhbHRzb21lc2FsdA$z4zaGqH6W401D0goX1e79WhrQdqPvfRVX1Bhhk3BCGg";

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_only_its_own_password() -> anyhow::Result<()> {
        let h = hash("correct horse battery").await?;
        assert!(h.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"), "{h}");
        assert_eq!(check("correct horse battery", &h).await, Verdict::Right);
        assert_eq!(check("correct horse battery!", &h).await, Verdict::Wrong);
        assert_eq!(check("anything", "not-a-hash").await, Verdict::Wrong);
        Ok(())
    }

    #[tokio::test]
    async fn a_hash_with_older_parameters_verifies_and_asks_for_an_upgrade() {
        // The crate's default parameters (m = 19 MiB, t = 2), which earlier versions stored.
        let old = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$K13EBUiG7JV+9ZxztmHFTdb7J0WQsnj2V8bZaqyPptE";
        let password = check("password", old).await;
        let wrong = check("passwort", old).await;
        assert_eq!((password, wrong), (Verdict::Upgrade, Verdict::Wrong));
    }

    #[tokio::test]
    async fn the_dummy_hash_has_todays_parameters() {
        // Same parameters, same time: an unknown email is not told apart by the delay.
        let dummy = PasswordHash::new(DUMMY).expect("the dummy hash parses");
        assert!(is_current(&dummy));
    }
}
