//! Circuit breakers: one per connector and upstream host, per process.
//!
//! When a provider is failing — 5xx answers, timeouts, connections refused or reset — every
//! request that still goes to it ties up a worker for seconds and adds to its load. After
//! `failures` failed attempts within `window`, the breaker *opens*: requests through it fail
//! at once with [`ConnectorError::ProviderUnavailable`] (naming when it will try again)
//! without reaching the network. After `cool_down` it lets *one* probe through (half-open):
//! success closes it, failure opens it for another cool-down. A probe that never reports
//! back (its request was cancelled) is replaced after `probe_timeout`.
//!
//! Only the provider's failures count. A 429 is the provider working as designed; a 4xx is
//! about the request. Neither opens a breaker, and a success clears the count.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use super::error::ConnectorError;

/// When a breaker opens and how long it stays open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerPolicy {
    /// Failed attempts within `window` that open the breaker.
    pub failures: u32,
    pub window: Duration,
    /// How long an open breaker refuses before letting one probe through.
    pub cool_down: Duration,
    /// How long a probe may take before another is let through.
    pub probe_timeout: Duration,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        Self {
            failures: 5,
            window: Duration::from_secs(30),
            cool_down: Duration::from_secs(30),
            probe_timeout: Duration::from_secs(60),
        }
    }
}

/// How an attempt through a breaker ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The provider answered (any status that is not a failure of the provider).
    Healthy,
    /// 5xx, timeout, connection refused or reset.
    Failed,
}

#[derive(Debug)]
enum Circuit {
    Closed {
        failures: VecDeque<Instant>,
    },
    Open {
        until: Instant,
        retry_at: SystemTime,
    },
    HalfOpen {
        probe_started: Instant,
    },
}

/// The state of one breaker, for the admin dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerState {
    pub connector: String,
    pub host: String,
    /// `open`, `half-open` or `closed` (closed with recent failures).
    pub state: &'static str,
    /// Recent failures of a closed breaker.
    pub recent_failures: usize,
    /// When an open breaker lets the next probe through.
    pub retry_at: Option<SystemTime>,
}

/// The breakers of one process, keyed by connector and host.
#[derive(Debug, Default)]
pub struct Breakers {
    policy: BreakerPolicy,
    circuits: Mutex<HashMap<(Arc<str>, String), Circuit>>,
}

impl Breakers {
    pub fn new(policy: BreakerPolicy) -> Self {
        Self {
            policy,
            circuits: Mutex::default(),
        }
    }

    pub fn policy(&self) -> BreakerPolicy {
        self.policy
    }

    fn circuits(&self) -> std::sync::MutexGuard<'_, HashMap<(Arc<str>, String), Circuit>> {
        // A panic while holding the lock leaves a consistent map (every update is one
        // assignment), so a poisoned lock is still usable.
        self.circuits
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether an attempt to `host` for `connector` may go out now: `Err` with the error to
    /// return when the breaker is open (or half-open with its probe under way).
    pub fn admit(&self, connector: &Arc<str>, host: &str) -> Result<(), ConnectorError> {
        self.admit_at(connector, host, Instant::now(), SystemTime::now())
    }

    fn admit_at(
        &self,
        connector: &Arc<str>,
        host: &str,
        now: Instant,
        wall: SystemTime,
    ) -> Result<(), ConnectorError> {
        let mut circuits = self.circuits();
        let Some(circuit) = circuits.get_mut(&(connector.clone(), host.to_owned())) else {
            return Ok(());
        };
        match circuit {
            Circuit::Closed { .. } => Ok(()),
            Circuit::Open { until, retry_at } if now < *until => {
                Err(unavailable(*until - now, *retry_at))
            }
            Circuit::Open { .. } => {
                tracing::info!(connector = %connector, http.host = %host, "circuit half-open: letting one probe through");
                *circuit = Circuit::HalfOpen { probe_started: now };
                Ok(())
            }
            Circuit::HalfOpen { probe_started }
                if now.duration_since(*probe_started) < self.policy.probe_timeout =>
            {
                // The probe is under way; ask again shortly.
                let wait = Duration::from_secs(1);
                Err(unavailable(wait, wall + wait))
            }
            Circuit::HalfOpen { .. } => {
                *circuit = Circuit::HalfOpen { probe_started: now };
                Ok(())
            }
        }
    }

    /// Records how an attempt to `host` for `connector` ended.
    pub fn record(&self, connector: &Arc<str>, host: &str, outcome: Outcome) {
        self.record_at(connector, host, outcome, Instant::now(), SystemTime::now());
    }

    fn record_at(
        &self,
        connector: &Arc<str>,
        host: &str,
        outcome: Outcome,
        now: Instant,
        wall: SystemTime,
    ) {
        let key = (connector.clone(), host.to_owned());
        let mut circuits = self.circuits();
        match outcome {
            Outcome::Healthy => {
                if let Some(Circuit::HalfOpen { .. } | Circuit::Open { .. }) = circuits.remove(&key)
                {
                    tracing::info!(connector = %connector, http.host = %host, "circuit closed: the provider answers again");
                }
            }
            Outcome::Failed => {
                let policy = self.policy;
                let circuit = circuits.entry(key).or_insert(Circuit::Closed {
                    failures: VecDeque::new(),
                });
                let open = match circuit {
                    Circuit::Closed { failures } => {
                        failures.push_back(now);
                        while failures
                            .front()
                            .is_some_and(|t| now.duration_since(*t) > policy.window)
                        {
                            failures.pop_front();
                        }
                        failures.len() >= policy.failures as usize
                    }
                    // The probe failed: another cool-down.
                    Circuit::HalfOpen { .. } => true,
                    // A request admitted before the breaker opened failed too.
                    Circuit::Open { .. } => false,
                };
                if open {
                    tracing::warn!(
                        connector = %connector, http.host = %host,
                        cool_down_secs = policy.cool_down.as_secs(),
                        "circuit open: failing fast until the provider recovers"
                    );
                    *circuit = Circuit::Open {
                        until: now + policy.cool_down,
                        retry_at: wall + policy.cool_down,
                    };
                }
            }
        }
    }

    /// Every breaker that is open, half-open or has recent failures.
    pub fn snapshot(&self) -> Vec<BreakerState> {
        let now = Instant::now();
        let window = self.policy.window;
        let mut states: Vec<BreakerState> = self
            .circuits()
            .iter()
            .filter_map(|((connector, host), circuit)| {
                let (state, recent_failures, retry_at) = match circuit {
                    Circuit::Closed { failures } => {
                        let recent = failures
                            .iter()
                            .filter(|t| now.duration_since(**t) <= window)
                            .count();
                        if recent == 0 {
                            return None;
                        }
                        ("closed", recent, None)
                    }
                    Circuit::Open { retry_at, .. } => ("open", 0, Some(*retry_at)),
                    Circuit::HalfOpen { .. } => ("half-open", 0, None),
                };
                Some(BreakerState {
                    connector: connector.to_string(),
                    host: host.clone(),
                    state,
                    recent_failures,
                    retry_at,
                })
            })
            .collect();
        states.sort_by(|a, b| (&a.connector, &a.host).cmp(&(&b.connector, &b.host)));
        states
    }
}

fn unavailable(wait: Duration, retry_at: SystemTime) -> ConnectorError {
    ConnectorError::ProviderUnavailable {
        retry_after: Duration::from_secs(wait.as_secs_f64().ceil() as u64)
            .max(Duration::from_secs(1)),
        retry_at: clock_time(retry_at),
    }
}

/// `HH:MM` (UTC) of `t`, rounded up to the minute so "retrying at" is never in the past.
pub fn clock_time(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let minutes = secs.div_ceil(60);
    format!("{:02}:{:02}", (minutes / 60) % 24, minutes % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> BreakerPolicy {
        BreakerPolicy {
            failures: 3,
            window: Duration::from_secs(10),
            cool_down: Duration::from_secs(30),
            probe_timeout: Duration::from_secs(5),
        }
    }

    fn key() -> Arc<str> {
        Arc::from("google-drive")
    }

    #[test]
    fn repeated_failures_open_the_breaker_and_it_refuses_until_the_cool_down_ends() {
        let b = Breakers::new(policy());
        let (t0, w0) = (
            Instant::now(),
            SystemTime::UNIX_EPOCH + Duration::from_secs(3600),
        );
        for i in 0..2 {
            b.record_at(
                &key(),
                "h",
                Outcome::Failed,
                t0 + Duration::from_secs(i),
                w0,
            );
            assert!(b.admit_at(&key(), "h", t0, w0).is_ok(), "still closed");
        }
        b.record_at(
            &key(),
            "h",
            Outcome::Failed,
            t0 + Duration::from_secs(2),
            w0,
        );
        let err = b
            .admit_at(&key(), "h", t0 + Duration::from_secs(3), w0)
            .expect_err("open");
        match err {
            ConnectorError::ProviderUnavailable {
                retry_after,
                retry_at,
            } => {
                assert_eq!(retry_after, Duration::from_secs(29));
                assert_eq!(retry_at, "01:01");
            }
            other => panic!("{other:?}"),
        }
        // Other hosts and connectors are not affected.
        assert!(b.admit_at(&key(), "other", t0, w0).is_ok());
        assert!(b.admit_at(&Arc::from("onedrive"), "h", t0, w0).is_ok());
    }

    #[test]
    fn failures_outside_the_window_do_not_add_up_and_a_success_clears_them() {
        let b = Breakers::new(policy());
        let t0 = Instant::now();
        let w = SystemTime::now();
        b.record_at(&key(), "h", Outcome::Failed, t0, w);
        b.record_at(&key(), "h", Outcome::Failed, t0 + Duration::from_secs(1), w);
        b.record_at(
            &key(),
            "h",
            Outcome::Failed,
            t0 + Duration::from_secs(20),
            w,
        );
        assert!(
            b.admit_at(&key(), "h", t0 + Duration::from_secs(21), w)
                .is_ok()
        );
        b.record_at(
            &key(),
            "h",
            Outcome::Failed,
            t0 + Duration::from_secs(21),
            w,
        );
        b.record_at(
            &key(),
            "h",
            Outcome::Healthy,
            t0 + Duration::from_secs(22),
            w,
        );
        b.record_at(
            &key(),
            "h",
            Outcome::Failed,
            t0 + Duration::from_secs(23),
            w,
        );
        assert!(
            b.admit_at(&key(), "h", t0 + Duration::from_secs(24), w)
                .is_ok()
        );
    }

    #[test]
    fn after_the_cool_down_one_probe_goes_through_and_decides() {
        let b = Breakers::new(policy());
        let t0 = Instant::now();
        let w = SystemTime::now();
        for _ in 0..3 {
            b.record_at(&key(), "h", Outcome::Failed, t0, w);
        }
        let later = t0 + Duration::from_secs(31);
        assert!(b.admit_at(&key(), "h", later, w).is_ok(), "the probe");
        assert!(
            b.admit_at(&key(), "h", later, w).is_err(),
            "nothing else while it runs"
        );
        // The probe fails: open again for a full cool-down.
        b.record_at(&key(), "h", Outcome::Failed, later, w);
        assert!(
            b.admit_at(&key(), "h", later + Duration::from_secs(29), w)
                .is_err()
        );
        let again = later + Duration::from_secs(31);
        assert!(b.admit_at(&key(), "h", again, w).is_ok(), "the next probe");
        b.record_at(&key(), "h", Outcome::Healthy, again, w);
        assert!(b.admit_at(&key(), "h", again, w).is_ok(), "closed");
        assert!(b.snapshot().is_empty());
    }

    #[test]
    fn a_probe_that_never_reports_is_replaced() {
        let b = Breakers::new(policy());
        let t0 = Instant::now();
        let w = SystemTime::now();
        for _ in 0..3 {
            b.record_at(&key(), "h", Outcome::Failed, t0, w);
        }
        let probe = t0 + Duration::from_secs(31);
        assert!(b.admit_at(&key(), "h", probe, w).is_ok());
        assert!(
            b.admit_at(&key(), "h", probe + Duration::from_secs(4), w)
                .is_err()
        );
        assert!(
            b.admit_at(&key(), "h", probe + Duration::from_secs(6), w)
                .is_ok()
        );
    }

    #[test]
    fn the_snapshot_names_open_breakers_with_their_retry_time() {
        let b = Breakers::new(policy());
        for _ in 0..3 {
            b.record(&key(), "www.googleapis.com", Outcome::Failed);
        }
        b.record(
            &Arc::from("onedrive"),
            "graph.microsoft.com",
            Outcome::Failed,
        );
        let states = b.snapshot();
        assert_eq!(states.len(), 2);
        assert_eq!(states[0].connector, "google-drive");
        assert_eq!(states[0].state, "open");
        assert!(states[0].retry_at.is_some());
        assert_eq!(states[1].state, "closed");
        assert_eq!(states[1].recent_failures, 1);
    }

    #[test]
    fn clock_times_round_up_to_the_minute() {
        let t = |s| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
        assert_eq!(clock_time(t(0)), "00:00");
        assert_eq!(clock_time(t(61)), "00:02");
        assert_eq!(clock_time(t(23 * 3600 + 59 * 60 + 1)), "00:00");
    }
}
