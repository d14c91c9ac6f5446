//! `HttpClient`: the one outbound HTTP client connectors use.
//!
//! It owns the timeouts, the user agent, the redirect policy and the retry loop, so every
//! connector behaves the same under rate limits and flaky networks:
//! - idempotent requests (GET, HEAD, PUT, DELETE, OPTIONS, TRACE) are retried on 429, 502,
//!   503, 504, connect errors, timeouts and a pooled connection the server closed just as
//!   the request went out, with exponential backoff and full jitter,
//!   honouring `Retry-After`; other requests, and requests whose body cannot be cloned,
//!   are sent once;
//! - when it gives up on one of those statuses it returns the mapped error (`RateLimited`
//!   for 429, `Upstream` for 5xx) instead of the response;
//! - logs carry the method, host and path only — never headers or query strings;
//! - a client scoped to a connector ([`HttpClient::for_connector`]) goes through that
//!   connector's circuit breaker for each host (`sdk::breaker`): every attempt is recorded,
//!   and while the breaker is open requests fail at once with `ProviderUnavailable`, retries
//!   included.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::Rng;
use reqwest::{Method, Request, RequestBuilder, Response, StatusCode, redirect};

use std::sync::Arc;

use super::breaker::{BreakerPolicy, Breakers, Outcome};
use super::error::ConnectorError;
use super::status::{error_for_status, error_from_response, parse_retry_after};

/// Installs the process-wide rustls crypto provider (ring, the only one this build
/// compiles) unless one is installed already. Every HTTP client of the build needs it:
/// reqwest is built without a provider of its own. Cheap to call again.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// How failed idempotent requests are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (so at most `max_retries + 1` requests).
    pub max_retries: u32,
    /// Backoff before the first retry; doubles with each attempt.
    pub base_delay: Duration,
    /// Longest wait: a `Retry-After` beyond it is returned to the caller, not slept on.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 3,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// Full-jitter backoff before retry number `attempt + 1`: a random wait between zero
    /// and `min(max_delay, base_delay * 2^attempt)`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(attempt))
            .min(self.max_delay);
        let ceiling_ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::rng().random_range(0..=ceiling_ms))
    }
}

/// Settings of an [`HttpClient`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// Time allowed to establish a connection.
    pub connect_timeout: Duration,
    /// Time allowed for a whole request (headers and body).
    pub timeout: Duration,
    /// Time a request may wait for the next bytes from the server — its headers, or the next
    /// chunk of its body — before it fails as timed out: a stalled connection is given up
    /// (and an idempotent request retried) long before a download's whole-request timeout.
    /// At most [`DOWNLOAD_IDLE_TIMEOUT`](super::action::DOWNLOAD_IDLE_TIMEOUT), which
    /// download streams apply as well.
    pub read_timeout: Duration,
    /// `User-Agent` header.
    pub user_agent: String,
    /// Redirects followed by API requests (token requests follow none).
    pub max_redirects: usize,
    /// Retry policy of [`HttpClient::send`].
    pub retry: RetryPolicy,
    /// How long an idle pooled connection is kept. Below the 5 seconds many servers (Node,
    /// Apache) keep one open, so a request is rarely sent on a socket the server is closing.
    pub pool_idle_timeout: Duration,
    /// When the circuit breakers of connector-scoped clients open.
    pub breaker: BreakerPolicy,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(60),
            read_timeout: super::action::DOWNLOAD_IDLE_TIMEOUT,
            user_agent: concat!("campuscore/", env!("CARGO_PKG_VERSION")).to_owned(),
            max_redirects: 5,
            retry: RetryPolicy::default(),
            pool_idle_timeout: Duration::from_secs(4),
            breaker: BreakerPolicy::default(),
        }
    }
}

/// A cheap-to-clone outbound HTTP client with retries and error mapping.
#[derive(Debug, Clone)]
pub struct HttpClient {
    api: reqwest::Client,
    token: reqwest::Client,
    retry: RetryPolicy,
    follows_redirects: bool,
    /// Kept to build [`HttpClient::pinned`] clients with the same settings.
    config: HttpConfig,
    /// The process's circuit breakers, shared by every clone.
    breakers: Arc<Breakers>,
    /// The connector whose breakers this client's requests go through, if any.
    scope: Option<Arc<str>>,
}

impl HttpClient {
    /// Builds the client.
    ///
    /// # Panics
    /// If the TLS backend cannot be initialised, as `reqwest::Client::new` does; use
    /// [`HttpClient::try_new`] to handle that case.
    pub fn new(config: HttpConfig) -> Self {
        Self::try_new(config).expect("the HTTP client's TLS backend failed to initialise")
    }

    /// Builds the client, reporting a TLS initialisation failure as `Misconfigured`.
    pub fn try_new(config: HttpConfig) -> Result<Self, ConnectorError> {
        install_crypto_provider();
        let builder = |policy| {
            reqwest::Client::builder()
                .connect_timeout(config.connect_timeout)
                .timeout(config.timeout)
                .read_timeout(config.read_timeout)
                .user_agent(config.user_agent.clone())
                .redirect(policy)
                .pool_idle_timeout(config.pool_idle_timeout)
                .build()
                .map_err(|e| {
                    ConnectorError::misconfigured(format!("cannot build HTTP client: {e}"))
                })
        };
        Ok(Self {
            api: builder(redirect::Policy::limited(config.max_redirects))?,
            token: builder(redirect::Policy::none())?,
            retry: config.retry,
            follows_redirects: true,
            breakers: Arc::new(Breakers::new(config.breaker)),
            config,
            scope: None,
        })
    }

    /// A client for OAuth token endpoints: it never follows redirects, so a token request
    /// (with its client secret or code) is never replayed to another host.
    pub fn token_endpoint_client(&self) -> Self {
        Self {
            api: self.token.clone(),
            follows_redirects: false,
            ..self.clone()
        }
    }

    /// A client whose requests to `host` connect only to `addrs` — the addresses
    /// [`resolve_checked`](super::ssrf::resolve_checked) checked — for connectors that
    /// reach a host a user typed (S3 `endpoint_url`).
    ///
    /// Checking a name and then letting the client resolve it again is not a check: a
    /// second DNS answer (DNS rebinding, a short TTL) can point the connection at
    /// `169.254.169.254` or an internal host. So this client:
    /// - never resolves `host`: it connects to `addrs` (the URL's port, when it names one,
    ///   replaces the port in `addrs`); TLS still verifies the certificate for `host`;
    /// - refuses to resolve any other name, so it cannot reach an unchecked host by name
    ///   (a URL with an IP literal is connected as written: check that host too);
    /// - follows no redirects: a `Location` could lead to another, unchecked host;
    /// - ignores proxy environment variables: a proxy would resolve `host` itself;
    /// - keeps this client's timeouts, user agent and retry policy.
    ///
    /// `Misconfigured` when `host` or `addrs` is empty (a connector bug) or the client
    /// cannot be built.
    pub fn pinned(&self, host: &str, addrs: &[SocketAddr]) -> Result<HttpClient, ConnectorError> {
        let name = host.strip_suffix('.').unwrap_or(host);
        if name.is_empty() || addrs.is_empty() {
            return Err(ConnectorError::misconfigured(
                "a pinned HTTP client needs a host and at least one checked address",
            ));
        }
        let client = reqwest::Client::builder()
            .connect_timeout(self.config.connect_timeout)
            .timeout(self.config.timeout)
            .read_timeout(self.config.read_timeout)
            .user_agent(self.config.user_agent.clone())
            .redirect(redirect::Policy::none())
            .pool_idle_timeout(self.config.pool_idle_timeout)
            .no_proxy()
            .dns_resolver(super::ssrf::RefuseUnpinned)
            .resolve_to_addrs(name, addrs)
            .resolve_to_addrs(&format!("{name}."), addrs)
            .build()
            .map_err(|e| ConnectorError::misconfigured(format!("cannot build HTTP client: {e}")))?;
        Ok(Self {
            api: client.clone(),
            token: client,
            retry: self.retry,
            follows_redirects: false,
            config: self.config.clone(),
            breakers: self.breakers.clone(),
            scope: self.scope.clone(),
        })
    }

    /// The same client with its requests going through `connector`'s circuit breakers (one
    /// per upstream host).
    pub fn for_connector(&self, connector: &str) -> Self {
        Self {
            scope: Some(Arc::from(connector)),
            ..self.clone()
        }
    }

    /// The circuit breakers of this process (for the admin dashboard).
    pub fn breakers(&self) -> &Breakers {
        &self.breakers
    }

    fn admit(&self, target: &Target) -> Result<(), ConnectorError> {
        match &self.scope {
            Some(connector) => self.breakers.admit(connector, &target.host),
            None => Ok(()),
        }
    }

    fn record(&self, target: &Target, outcome: Outcome) {
        if let Some(connector) = &self.scope {
            self.breakers.record(connector, &target.host, outcome);
        }
    }

    /// Whether this client follows redirects.
    pub fn follows_redirects(&self) -> bool {
        self.follows_redirects
    }

    /// The retry policy of [`HttpClient::send`].
    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    /// The same client with another retry policy.
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The underlying reqwest client, to build requests.
    pub fn client(&self) -> &reqwest::Client {
        &self.api
    }

    /// Starts a request; send it with [`HttpClient::send`].
    pub fn request(&self, method: Method, url: impl reqwest::IntoUrl) -> RequestBuilder {
        self.api.request(method, url)
    }

    /// Starts a GET request.
    pub fn get(&self, url: impl reqwest::IntoUrl) -> RequestBuilder {
        self.api.get(url)
    }

    /// Starts a POST request.
    pub fn post(&self, url: impl reqwest::IntoUrl) -> RequestBuilder {
        self.api.post(url)
    }

    /// Starts a PUT request.
    pub fn put(&self, url: impl reqwest::IntoUrl) -> RequestBuilder {
        self.api.put(url)
    }

    /// Starts a DELETE request.
    pub fn delete(&self, url: impl reqwest::IntoUrl) -> RequestBuilder {
        self.api.delete(url)
    }

    /// Sends a request, retrying as described in the module docs.
    ///
    /// Returns the response for every status except the retryable ones it gave up on
    /// (429 → `RateLimited`, 502/503/504 → `Upstream`); map the others with
    /// [`error_for_status`] or use [`HttpClient::send_checked`].
    pub async fn send(&self, request: RequestBuilder) -> Result<Response, ConnectorError> {
        let (client, request) = request.build_split();
        let mut request = request.map_err(|e| {
            ConnectorError::misconfigured(format!("cannot build the request: {}", e.without_url()))
        })?;
        let target = Target::of(&request);
        let idempotent = is_idempotent(request.method());
        let mut attempt = 0u32;
        loop {
            let spare = if idempotent && attempt < self.retry.max_retries {
                request.try_clone()
            } else {
                None
            };
            self.admit(&target)?;
            let started = Instant::now();
            let outcome = client.execute(request).await;
            let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let (again, delay) = match outcome {
                Ok(response) => {
                    let status = response.status();
                    tracing::debug!(
                        http.method = %target.method, http.host = %target.host, http.path = %target.path,
                        http.status = status.as_u16(), retry.attempt = attempt, duration_ms,
                        "upstream response"
                    );
                    // A 503 that says when to come back is the provider throttling: it
                    // answered, as with a 429, and that never opens its breaker.
                    let throttling = status == StatusCode::SERVICE_UNAVAILABLE
                        && parse_retry_after(response.headers()).is_some();
                    self.record(
                        &target,
                        if status.is_server_error() && !throttling {
                            Outcome::Failed
                        } else {
                            Outcome::Healthy
                        },
                    );
                    if !is_retry_status(status) {
                        return Ok(response);
                    }
                    let retry_after = parse_retry_after(response.headers());
                    match spare {
                        Some(again)
                            if retry_after.is_none_or(|wait| wait <= self.retry.max_delay) =>
                        {
                            (
                                again,
                                retry_after.unwrap_or_else(|| self.retry.backoff(attempt)),
                            )
                        }
                        _ => return Err(error_from_response(response).await),
                    }
                }
                Err(error) => {
                    let error = error.without_url();
                    tracing::debug!(
                        http.method = %target.method, http.host = %target.host, http.path = %target.path,
                        retry.attempt = attempt, duration_ms, error = %error,
                        "upstream request failed"
                    );
                    let transient =
                        error.is_connect() || error.is_timeout() || closed_before_response(&error);
                    if transient {
                        self.record(&target, Outcome::Failed);
                    }
                    match spare {
                        Some(again) if transient => (again, self.retry.backoff(attempt)),
                        _ => return Err(transport_error(&error, &target)),
                    }
                }
            };
            attempt += 1;
            tracing::info!(
                http.method = %target.method, http.host = %target.host, http.path = %target.path,
                retry.attempt = attempt, retry.delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                "retrying upstream request"
            );
            tokio::time::sleep(delay).await;
            request = again;
        }
    }

    /// [`HttpClient::send`] followed by [`error_for_status`].
    pub async fn send_checked(&self, request: RequestBuilder) -> Result<Response, ConnectorError> {
        error_for_status(self.send(request).await?).await
    }
}

/// What a log line may say about a request: method, host, path — no query, no headers.
struct Target {
    method: Method,
    host: String,
    path: String,
}

impl Target {
    fn of(request: &Request) -> Self {
        let url = request.url();
        Self {
            method: request.method().clone(),
            host: url.host_str().unwrap_or_default().to_owned(),
            path: url.path().to_owned(),
        }
    }
}

fn is_idempotent(method: &Method) -> bool {
    [
        Method::GET,
        Method::HEAD,
        Method::PUT,
        Method::DELETE,
        Method::OPTIONS,
        Method::TRACE,
    ]
    .contains(method)
}

fn is_retry_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 502 | 503 | 504)
}

/// Whether the server closed a pooled connection before any response came (hyper's
/// "connection closed before message completed"): the request never reached a handler, so
/// an idempotent one may be sent again.
fn closed_before_response(error: &reqwest::Error) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(hyper) = cause.downcast_ref::<hyper::Error>() {
            return hyper.is_incomplete_message();
        }
        source = cause.source();
    }
    false
}

fn transport_error(error: &reqwest::Error, target: &Target) -> ConnectorError {
    let host = &target.host;
    let message = if error.is_timeout() {
        format!("{host} did not respond in time")
    } else if error.is_connect() {
        format!("could not connect to {host}")
    } else {
        let cause = std::error::Error::source(error)
            .map(ToString::to_string)
            .unwrap_or_default();
        format!("request to {host} failed: {cause}")
    };
    ConnectorError::Transport { message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_under_the_doubling_ceiling_and_the_cap() {
        let policy = RetryPolicy {
            max_retries: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(500),
        };
        for _ in 0..200 {
            assert!(policy.backoff(0) <= Duration::from_millis(100));
            assert!(policy.backoff(2) <= Duration::from_millis(400));
            assert!(policy.backoff(30) <= Duration::from_millis(500));
        }
    }

    #[test]
    fn only_safe_methods_are_idempotent() {
        assert!(is_idempotent(&Method::GET));
        assert!(is_idempotent(&Method::PUT));
        assert!(is_idempotent(&Method::DELETE));
        assert!(!is_idempotent(&Method::POST));
        assert!(!is_idempotent(&Method::PATCH));
    }

    #[test]
    fn default_config_matches_the_documented_limits() {
        let config = HttpConfig::default();
        assert_eq!(config.connect_timeout, Duration::from_secs(10));
        assert_eq!(config.timeout, Duration::from_secs(60));
        assert_eq!(config.read_timeout, Duration::from_secs(60));
        assert_eq!(config.max_redirects, 5);
        assert_eq!(config.pool_idle_timeout, Duration::from_secs(4));
        assert!(config.user_agent.starts_with("campuscore/"));
        assert_eq!(
            config.retry,
            RetryPolicy {
                max_retries: 3,
                base_delay: Duration::from_millis(250),
                max_delay: Duration::from_secs(30)
            }
        );
    }

    #[test]
    fn token_endpoint_client_does_not_follow_redirects() {
        let client = HttpClient::new(HttpConfig::default());
        assert!(client.follows_redirects());
        assert!(!client.token_endpoint_client().follows_redirects());
    }
}
