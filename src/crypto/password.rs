//! Argon2id password hashing, off the async threads.
//!
//! **Parameters:** m = 7 MiB, t = 5, p = 1, one of OWASP's equivalent Argon2id settings
//! (the crate's default, m = 19 MiB with t = 2, is another): the same cost to an attacker and
//! about the same CPU per hash, with less memory held while hashing. The allocator (glibc's)
//! keeps a freed block of this size in the arena of the thread that freed it, so what log-ins
//! leave resident is m times the number of threads that ever hashed: 64 log-ins at m = 19 MiB
//! on the shared blocking pool left ~170 MiB behind (bench/RESULTS.md, `browse`). Hashes
//! made with other parameters (older ones) still verify, and are replaced on the next log-in
//! ([`Verdict::Upgrade`]).
//!
//! **Concurrency:** hashes run on their own threads, one per core, whatever the number of
//! log-ins arriving: more would not finish sooner on a busy CPU, and each holds its memory
//! for the whole hash, so a flood of log-ins is bounded in memory (cores × 7 MiB), not in
//! threads.

use anyhow::Context;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::{Arc, LazyLock, Mutex, mpsc};
use tokio::sync::oneshot;

/// Memory per hash, in KiB.
const M_COST: u32 = 7 * 1024;
const T_COST: u32 = 5;
const P_COST: u32 = 1;

fn argon2() -> Argon2<'static> {
    let params = Params::new(M_COST, T_COST, P_COST, None)
        .expect("the password parameters are valid constants");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The hashing threads: one per core, started at the first hash. Every hash runs on one of
/// them, so at most that many hold their memory at once, and the allocator keeps at most
/// that many hashes' memory for reuse (hashes on the shared blocking pool ran on whichever
/// of its threads was free, and each thread's allocator arena kept its own block).
static HASHERS: LazyLock<mpsc::Sender<Job>> = LazyLock::new(|| {
    let (tx, rx) = mpsc::channel::<Job>();
    let rx = Arc::new(Mutex::new(rx));
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    for n in 0..cores {
        let rx = Arc::clone(&rx);
        let started = std::thread::Builder::new()
            .name(format!("password-hash-{n}"))
            .spawn(move || {
                loop {
                    // The lock is held only while taking a job, never while hashing.
                    let job = match rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            });
        if let Err(e) = started {
            tracing::error!(error = %e, "starting a password hashing thread failed");
        }
    }
    tx
});

type Job = Box<dyn FnOnce() + Send>;

/// Runs `work` on a hashing thread and waits for it without blocking the async threads.
async fn hashing<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> anyhow::Result<T> {
    let (done, result) = oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = done.send(work());
    });
    HASHERS
        .send(job)
        .map_err(|_| anyhow::anyhow!("no password hashing thread is running"))?;
    result.await.context("password hashing task")
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

fn is_current(parsed: &PasswordHash) -> bool {
    parsed.algorithm.as_str() == "argon2id"
        && parsed.version == Some(Version::V0x13.into())
        && Params::try_from(parsed)
            .is_ok_and(|p| (p.m_cost(), p.t_cost(), p.p_cost()) == (M_COST, T_COST, P_COST))
}

/// Spend the same time as a real check when the account does not exist, so response time
/// does not reveal which emails have accounts.
pub async fn verify_dummy(password: &str) {
    check(password, DUMMY).await;
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn more_log_ins_than_hashing_threads_all_get_their_answer() {
        let h = hash("correct horse battery").await.expect("a hash");
        let checks = (0..6).map(|i| {
            let h = h.clone();
            tokio::spawn(async move {
                let guess = if i % 2 == 0 {
                    "correct horse battery"
                } else {
                    "wrong"
                };
                (i, check(guess, &h).await)
            })
        });
        for handle in checks {
            let (i, verdict) = handle.await.expect("the check task");
            let expected = if i % 2 == 0 {
                Verdict::Right
            } else {
                Verdict::Wrong
            };
            assert_eq!(verdict, expected, "check {i}");
        }
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
