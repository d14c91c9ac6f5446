//! The connector-test harness: what every connector's tests build the same way — an HTTP
//! client that retries quickly, settings pointed at a fake upstream, an action context, and
//! running an action for its JSON or its download. Compiled for this crate's tests and with
//! the `testing` feature (the app's tests and the testkit use it too).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;

use super::action::{ActionOutput, Download};
use super::connector::Connector;
use super::context::{ActionContext, Credentials, TokenUpdater};
use super::error::ConnectorError;
use super::http::{HttpClient, HttpConfig, RetryPolicy};
use super::settings::ConnectorSettings;
use super::spec::ConnectorSpec;

/// An HTTP client whose retries wait milliseconds, not seconds (`max_retries` after the
/// first attempt).
pub fn quick_http(max_retries: u32) -> HttpClient {
    HttpClient::new(HttpConfig {
        retry: RetryPolicy {
            max_retries,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_secs(1),
        },
        ..HttpConfig::default()
    })
}

/// `spec`'s settings with admin overrides (`API_BASE_URL` pointing at a fake, …).
pub fn settings(spec: &'static ConnectorSpec, overrides: &[(&str, &str)]) -> ConnectorSettings {
    let overrides: HashMap<String, String> = overrides
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect();
    ConnectorSettings::new(spec, overrides)
}

/// An action context for `spec` with `credentials`, settings `overrides` and a quickly
/// retrying client (two retries).
pub fn context(
    spec: &'static ConnectorSpec,
    overrides: &[(&str, &str)],
    credentials: Value,
) -> ActionContext {
    ActionContext::new(
        Credentials::new(credentials),
        settings(spec, overrides),
        quick_http(2),
    )
}

/// Runs `action` and returns its JSON result.
///
/// # Panics
/// When the action fails or returns a download.
pub async fn run_json(
    connector: &dyn Connector,
    ctx: &ActionContext,
    action: &str,
    params: Value,
) -> Value {
    match connector.execute_action(action, ctx, params).await {
        Ok(output) => output
            .into_json()
            .unwrap_or_else(|| panic!("{action} returned a download, not JSON")),
        Err(error) => panic!("{action} failed: {error:?}"),
    }
}

/// Runs `action` and returns its download.
///
/// # Panics
/// When the action fails or returns JSON.
pub async fn run_download(
    connector: &dyn Connector,
    ctx: &ActionContext,
    action: &str,
    params: Value,
) -> Download {
    match connector.execute_action(action, ctx, params).await {
        Ok(output) => output
            .into_download()
            .unwrap_or_else(|| panic!("{action} returned JSON, not a download")),
        Err(error) => panic!("{action} failed: {error:?}"),
    }
}

/// Runs `action`, expecting an error.
///
/// # Panics
/// When the action succeeds.
pub async fn run_err(
    connector: &dyn Connector,
    ctx: &ActionContext,
    action: &str,
    params: Value,
) -> ConnectorError {
    match connector.execute_action(action, ctx, params).await {
        Ok(ActionOutput::Json(value)) => panic!("{action} succeeded: {value}"),
        Ok(ActionOutput::Download(download)) => panic!("{action} succeeded: {download:?}"),
        Err(error) => error,
    }
}

/// The app's token refresh, as connector tests need it: counts its calls, expects the
/// stale token to be `stale-token`, and hands out `fresh-token` (refresh token `r2`).
#[derive(Debug, Default)]
pub struct StaleToFresh {
    /// Refreshes so far.
    pub calls: AtomicUsize,
}

#[async_trait::async_trait]
impl TokenUpdater for StaleToFresh {
    async fn refresh(&self, stale: &Credentials) -> Result<Credentials, ConnectorError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        assert_eq!(stale.access_token(), Some("stale-token"));
        Ok(Credentials::new(
            serde_json::json!({"access_token": "fresh-token", "refresh_token": "r2"}),
        ))
    }
}
