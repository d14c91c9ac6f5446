//! For the fakes' tests: a registered connector that reaches a fake, as the app runs it.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use campuscore_connectors::{
    ActionContext, Connector, ConnectorError, ConnectorSettings, Credentials, HttpClient,
    HttpConfig, Registry, RetryPolicy, TokenUpdater,
};
use serde_json::json;

/// Hands out `token-2`, `token-3`… as the app's token refresh would.
#[derive(Default)]
pub struct Refresher {
    /// Refreshes so far.
    pub calls: AtomicUsize,
}

#[async_trait::async_trait]
impl TokenUpdater for Refresher {
    async fn refresh(&self, _stale: &Credentials) -> Result<Credentials, ConnectorError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 2;
        Ok(Credentials::new(
            json!({"access_token": format!("token-{n}"), "refresh_token": "refresh"}),
        ))
    }
}

/// The connector `slug` from the registry, and a context whose `API_BASE_URL` is
/// `base_url`: it starts with `token-1`, refreshes through the returned [`Refresher`],
/// and retries twice with short waits.
pub fn connect(slug: &str, base_url: &str) -> (Arc<dyn Connector>, ActionContext, Arc<Refresher>) {
    let registry = Registry::from_inventory().expect("registry");
    let connector = registry
        .get(slug)
        .unwrap_or_else(|| panic!("{slug} is registered"))
        .clone();
    let settings = ConnectorSettings::new(
        connector.spec(),
        HashMap::from([("API_BASE_URL".to_owned(), base_url.to_owned())]),
    );
    let http = HttpClient::new(HttpConfig {
        retry: RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_secs(2),
        },
        ..HttpConfig::default()
    });
    let refresher = Arc::new(Refresher::default());
    let credentials = Credentials::new(json!({"access_token": "token-1", "refresh_token": "r"}));
    let ctx = ActionContext::new(credentials, settings, http).with_token_updater(refresher.clone());
    (connector, ctx, refresher)
}

/// [`connect`] with tokens a fake issued (`access`, `refresh`), for fakes that let in only
/// their own tokens; no token updater (the fake would refuse its `token-2`).
pub fn signed_in(
    slug: &str,
    base_url: &str,
    access: &str,
    refresh: &str,
) -> (Arc<dyn Connector>, ActionContext) {
    let (connector, mut ctx, _) = connect(slug, base_url);
    ctx.credentials = Credentials::new(json!({"access_token": access, "refresh_token": refresh}));
    ctx.token_updater = None;
    (connector, ctx)
}
