//! A fake's record of its callers: the bearer tokens seen (and expired), the faults queued
//! per endpoint, the share of requests that fail at random, the [`LoggedRequest`] log and the
//! [`Pace`] content is served at.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::Duration;

use super::content::{splitmix64, to_usize};
use super::{CHUNK_SIZE, Call};

/// A fake's `Fault`: served instead of the next response of an endpoint, or into its body.
/// `Clone`, so one fault can be served to a share of requests ([`Bookkeeping::set_failure_ratio`]).
pub trait UpstreamFault: Clone {
    /// What the fault does to the body (`None`: it replaces the response).
    fn body_fault(&self) -> Option<BodyFault>;
}

/// What the body of a response suffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFault {
    /// Announces the full `Content-Length`, sends this many bytes, drops the connection.
    Truncate(u64),
    /// The right length, one byte changed.
    Corrupt,
    /// Sends this many bytes, then nothing more, without closing the connection.
    Stall(u64),
}

/// One request the fake received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest<E> {
    /// `GET`…
    pub method: String,
    /// The path as sent (percent-encoded).
    pub path: String,
    /// The raw query string.
    pub query: String,
    /// Whether an `Authorization` header was sent.
    pub authorization: bool,
    /// The bearer token, when one was sent.
    pub bearer: Option<String>,
    /// The `Range` header.
    pub range: Option<String>,
    /// The endpoint class (`None`: a path the API does not have).
    pub endpoint: Option<E>,
    /// The status answered.
    pub status: u16,
}

impl<E> LoggedRequest<E> {
    /// The decoded value of query parameter `name` (`pageToken`, `$top`…).
    pub fn param(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    }
}

/// How fast content is served.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pace {
    /// Waited before each chunk.
    pub per_chunk: Duration,
    /// About this many bytes per second (`None`: as fast as possible).
    pub bytes_per_second: Option<u64>,
}

impl Pace {
    pub(super) fn chunk_size(self) -> usize {
        match self.bytes_per_second {
            // About ten chunks a second keeps a throttled download smooth.
            Some(rate) => to_usize((rate / 10).clamp(1024, CHUNK_SIZE as u64)),
            None => CHUNK_SIZE,
        }
    }

    pub(super) fn delay(self, len: usize) -> Duration {
        let rate = self
            .bytes_per_second
            .filter(|r| *r > 0)
            .map_or(Duration::ZERO, |rate| {
                Duration::from_secs_f64(len as f64 / rate as f64)
            });
        self.per_chunk + rate
    }
}

#[derive(Debug)]
struct Token {
    value: String,
    expired: bool,
}

/// Why a request gets no regular answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Turned<F> {
    /// Not let in: the fake answers its 401.
    Refused(Refused),
    /// A fault queued for the endpoint that replaces the response.
    Fault(F),
}

/// Why a request was not let in: each fake answers its own 401 for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No `Authorization` header.
    Missing,
    /// An `Authorization` header without a bearer token.
    Malformed,
    /// A token that was expired.
    Expired,
}

/// A share of requests that meet a fault, drawn from a seeded generator: the same seed picks
/// the same requests (by their order of arrival) in every run.
#[derive(Debug)]
struct RandomFaults<F> {
    ratio: f64,
    fault: F,
    seed: u64,
    /// Draws made so far.
    drawn: u64,
    /// Requests that met the fault.
    served: u64,
}

impl<F: Clone> RandomFaults<F> {
    fn draw(&mut self) -> Option<F> {
        let x = splitmix64(self.seed.wrapping_add(self.drawn));
        self.drawn += 1;
        // The top 53 bits as a number in [0, 1).
        let unit = (x >> 11) as f64 / (1u64 << 53) as f64;
        (unit < self.ratio).then(|| {
            self.served += 1;
            self.fault.clone()
        })
    }
}

/// A fake's record of its callers, kept with its data under one lock: the bearer tokens seen,
/// the faults queued per endpoint `E`, the random faults, the request log, the pace of content.
pub struct Bookkeeping<E, F> {
    /// In the order first seen (or issued).
    tokens: Vec<Token>,
    /// Whether a token must have been issued (`issue_token`) to be let in. Tests let any
    /// token in; the `campuscore-fakes` binary only those its OAuth endpoint handed out.
    issued_only: bool,
    faults: HashMap<E, VecDeque<F>>,
    random: Option<RandomFaults<F>>,
    /// Oldest first.
    pub log: Vec<LoggedRequest<E>>,
    pub pace: Pace,
}

impl<E: Copy + Eq + Hash, F: UpstreamFault> Bookkeeping<E, F> {
    /// Lets a call to `endpoint` in if it carries a bearer token that has not expired, then
    /// takes the fault queued for it (faults are served after authentication succeeded).
    /// `Ok`: the fault to apply to the body, if any, and the pace to serve content at.
    pub fn admit<R>(
        &mut self,
        call: &Call<R>,
        endpoint: E,
    ) -> Result<(Option<BodyFault>, Pace), Turned<F>> {
        match call.bearer() {
            None if call.authorization.is_none() => return Err(Turned::Refused(Refused::Missing)),
            None => return Err(Turned::Refused(Refused::Malformed)),
            Some(token) if !self.check_token(token) => {
                return Err(Turned::Refused(Refused::Expired));
            }
            Some(_) => {}
        }
        let body_fault = self.take_body_fault(endpoint).map_err(Turned::Fault)?;
        Ok((body_fault, self.pace))
    }

    /// The next fault queued for `endpoint` (or, with none queued, a random one: see
    /// [`Bookkeeping::set_failure_ratio`]) if it goes into the body; `Err`: one that replaces
    /// the response.
    pub fn take_body_fault(&mut self, endpoint: E) -> Result<Option<BodyFault>, F> {
        let fault = self
            .take_fault(endpoint)
            .or_else(|| self.random.as_mut().and_then(RandomFaults::draw));
        match fault {
            None => Ok(None),
            Some(fault) => fault.body_fault().map(Some).ok_or(fault),
        }
    }
}

impl<E: Copy + Eq + Hash, F> Bookkeeping<E, F> {
    pub fn new() -> Self {
        Self {
            tokens: Vec::new(),
            issued_only: false,
            faults: HashMap::new(),
            random: None,
            log: Vec::new(),
            pace: Pace::default(),
        }
    }

    /// Whether a token is accepted; records it.
    pub fn check_token(&mut self, token: &str) -> bool {
        match self.tokens.iter().find(|t| t.value == token) {
            Some(known) => !known.expired,
            None if self.issued_only => false,
            None => {
                self.tokens.push(Token {
                    value: token.to_owned(),
                    expired: false,
                });
                true
            }
        }
    }

    /// `token` is let in from now on (an OAuth endpoint handed it out).
    pub fn issue_token(&mut self, token: &str) {
        match self.tokens.iter_mut().find(|t| t.value == token) {
            Some(known) => known.expired = false,
            None => self.tokens.push(Token {
                value: token.to_owned(),
                expired: false,
            }),
        }
    }

    /// From now on only issued tokens are let in; any other is refused as expired.
    pub fn accept_issued_tokens_only(&mut self) {
        self.issued_only = true;
    }

    /// Every token seen so far is refused from now on.
    pub fn expire_all_tokens(&mut self) {
        for token in &mut self.tokens {
            token.expired = true;
        }
    }

    /// `token` is refused from now on (also before it is first used).
    pub fn expire_token(&mut self, token: &str) {
        match self.tokens.iter_mut().find(|t| t.value == token) {
            Some(known) => known.expired = true,
            None => self.tokens.push(Token {
                value: token.to_owned(),
                expired: true,
            }),
        }
    }

    /// Every bearer token received, in the order first seen.
    pub fn tokens_seen(&self) -> Vec<String> {
        self.tokens.iter().map(|t| t.value.clone()).collect()
    }

    /// Queues a fault for the next request of `endpoint` (in order, one per request).
    pub fn fail_next(&mut self, endpoint: E, fault: F) {
        self.faults.entry(endpoint).or_default().push_back(fault);
    }

    /// The next fault queued for `endpoint`.
    fn take_fault(&mut self, endpoint: E) -> Option<F> {
        self.faults.get_mut(&endpoint).and_then(VecDeque::pop_front)
    }

    /// Faults still queued for `endpoint`.
    pub fn pending_faults(&self, endpoint: E) -> usize {
        self.faults.get(&endpoint).map_or(0, VecDeque::len)
    }

    /// From now on each request of any endpoint with no fault queued meets `fault` with
    /// probability `ratio` (0 ends it), drawn from a generator seeded with `seed`: the same
    /// seed picks the same requests, counted in order of arrival, in every run.
    ///
    /// # Panics
    /// If `ratio` is not between 0 and 1.
    pub fn set_failure_ratio(&mut self, ratio: f64, fault: F, seed: u64) {
        assert!(
            (0.0..=1.0).contains(&ratio),
            "a failure ratio is between 0 and 1, not {ratio}"
        );
        self.random = (ratio > 0.0).then_some(RandomFaults {
            ratio,
            fault,
            seed,
            drawn: 0,
            served: 0,
        });
    }

    /// Requests that met the fault of [`Bookkeeping::set_failure_ratio`] since it was set.
    pub fn random_failures(&self) -> u64 {
        self.random.as_ref().map_or(0, |r| r.served)
    }

    /// Drops every queued fault and ends random failures.
    pub fn clear_faults(&mut self) {
        self.faults.clear();
        self.random = None;
    }

    /// How many requests of `endpoint` arrived.
    pub fn count(&self, endpoint: E) -> usize {
        self.log
            .iter()
            .filter(|r| r.endpoint == Some(endpoint))
            .count()
    }
}

impl<E: Copy + Eq + Hash, F> Default for Bookkeeping<E, F> {
    fn default() -> Self {
        Self::new()
    }
}

/// What every fake's handle offers tests on top of its own seeding API: its tokens, faults,
/// request log and pace, all kept in its [`Bookkeeping`]. A fake implements
/// [`FakeBooks::with_books`]; the rest comes with it (bring the trait into scope to call
/// them: `use campuscore_testkit::upstream::FakeBooks as _;`).
pub trait FakeBooks {
    /// The fake's endpoint classes.
    type Endpoint: Copy + Eq + Hash;
    /// The fake's faults.
    type Fault: UpstreamFault;

    /// Runs `f` on the fake's bookkeeping, under the fake's lock.
    fn with_books<R>(
        &self,
        f: impl FnOnce(&mut Bookkeeping<Self::Endpoint, Self::Fault>) -> R,
    ) -> R;

    /// Makes every token seen so far answer 401, as after an access token's lifetime: the
    /// client must refresh and retry with a new token.
    fn expire_all_tokens(&self) {
        self.with_books(Bookkeeping::expire_all_tokens);
    }

    /// Lets `token` in (an OAuth endpoint handed it out); see
    /// [`FakeBooks::accept_issued_tokens_only`].
    fn issue_token(&self, token: &str) {
        self.with_books(|books| books.issue_token(token));
    }

    /// From now on only tokens given to [`FakeBooks::issue_token`] are let in, as with a
    /// real provider (tests let any token in, and expire the ones they choose).
    fn accept_issued_tokens_only(&self) {
        self.with_books(Bookkeeping::accept_issued_tokens_only);
    }

    /// Makes one token answer 401 from now on (also before it is first used).
    fn expire_token(&self, token: &str) {
        self.with_books(|books| books.expire_token(token));
    }

    /// Every bearer token received, in the order first seen.
    fn tokens_seen(&self) -> Vec<String> {
        self.with_books(|books| books.tokens_seen())
    }

    /// Queues a fault for the next request of `endpoint` (faults of one endpoint are served
    /// in order, one per request, after authentication succeeded).
    fn fail_next(&self, endpoint: Self::Endpoint, fault: Self::Fault) {
        self.with_books(|books| books.fail_next(endpoint, fault));
    }

    /// Faults still queued for `endpoint`.
    fn pending_faults(&self, endpoint: Self::Endpoint) -> usize {
        self.with_books(|books| books.pending_faults(endpoint))
    }

    /// From now on a share `ratio` of requests (of every endpoint, when no fault is queued
    /// for it) meets `fault`, drawn from a generator seeded with `seed`; 0 ends it. See
    /// [`Bookkeeping::set_failure_ratio`].
    fn set_failure_ratio(&self, ratio: f64, fault: Self::Fault, seed: u64) {
        self.with_books(|books| books.set_failure_ratio(ratio, fault, seed));
    }

    /// Requests that met the fault of [`FakeBooks::set_failure_ratio`] since it was set.
    fn random_failures(&self) -> u64 {
        self.with_books(|books| books.random_failures())
    }

    /// Drops every queued fault and ends random failures.
    fn clear_faults(&self) {
        self.with_books(Bookkeeping::clear_faults);
    }

    /// Waits this long before each content chunk.
    fn set_content_delay(&self, per_chunk: Duration) {
        self.with_books(|books| books.pace.per_chunk = per_chunk);
    }

    /// Serves content at about this many bytes per second (`None`: as fast as possible).
    fn set_content_rate(&self, bytes_per_second: Option<u64>) {
        self.with_books(|books| books.pace.bytes_per_second = bytes_per_second);
    }

    /// Every request received, oldest first.
    fn requests(&self) -> Vec<LoggedRequest<Self::Endpoint>> {
        self.with_books(|books| books.log.clone())
    }

    /// Forgets the request log.
    fn clear_log(&self) {
        self.with_books(|books| books.log.clear());
    }

    /// How many requests of `endpoint` arrived.
    fn count(&self, endpoint: Self::Endpoint) -> usize {
        self.with_books(|books| books.count(endpoint))
    }
}
