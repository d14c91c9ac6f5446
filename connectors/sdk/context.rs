//! What an action runs with: decrypted `Credentials`, the connector's `ConnectorSettings`,
//! the shared `HttpClient`, and an optional `TokenUpdater` through which the app refreshes
//! OAuth tokens (single-flight, persisted) when the upstream says they went stale.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use reqwest::{RequestBuilder, Response, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::ConnectorError;
use super::http::HttpClient;
use super::settings::ConnectorSettings;
use super::status::error_for_status;

/// Decrypted connection credentials (OAuth tokens or a manual form's values).
///
/// `Debug` prints key names only, so credentials can sit in structs that get logged.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Credentials(Value);

impl Credentials {
    /// Wraps a credentials JSON value.
    pub fn new(value: Value) -> Self {
        Self(value)
    }

    /// The raw JSON value.
    pub fn as_value(&self) -> &Value {
        &self.0
    }

    /// The raw JSON value, by value.
    pub fn into_value(self) -> Value {
        self.0
    }

    /// A top-level string field (`None` when absent, not a string, or empty).
    pub fn str_field(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    /// A top-level string field that must be present; a missing one means the stored
    /// connection is unusable, so the user must reconnect (`AuthExpired`).
    pub fn require_str(&self, name: &str) -> Result<&str, ConnectorError> {
        self.str_field(name)
            .ok_or_else(|| ConnectorError::AuthExpired {
                message: format!("the stored credentials have no `{name}`"),
            })
    }

    /// `access_token`, the OAuth bearer token.
    pub fn access_token(&self) -> Option<&str> {
        self.str_field("access_token")
    }

    /// The token to send as `Authorization: Bearer`: `access_token`, else `api_key`.
    pub fn bearer_token(&self) -> Option<&str> {
        self.access_token().or_else(|| self.str_field("api_key"))
    }
}

impl From<Value> for Credentials {
    fn from(value: Value) -> Self {
        Self(value)
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Value::Object(map) => f
                .debug_tuple("Credentials")
                .field(&map.keys().collect::<Vec<_>>())
                .finish(),
            _ => f.write_str("Credentials(..)"),
        }
    }
}

/// Refreshes stale OAuth credentials; implemented by the app.
#[async_trait::async_trait]
pub trait TokenUpdater: Send + Sync {
    /// Returns fresh credentials for the connection whose `stale` credentials were just
    /// rejected. Implementations refresh at most once for concurrent callers, persist the
    /// result, and return `AuthExpired` when the refresh token itself is refused.
    async fn refresh(&self, stale: &Credentials) -> Result<Credentials, ConnectorError>;
}

/// Who the user is at the campus identity provider (OpenID Connect `iss` + `sub`), for
/// institution-wide connectors, which hold one shared credential and must scope every call
/// to the person asking themselves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserIdentity {
    /// The provider's issuer identifier.
    pub issuer: String,
    /// The user's stable subject identifier at that issuer.
    pub subject: String,
}

/// Everything an action needs to reach its service.
pub struct ActionContext {
    /// Credentials of the connection, as given at the start of the action.
    pub credentials: Credentials,
    /// Effective connector configuration.
    pub settings: ConnectorSettings,
    /// Shared outbound HTTP client.
    pub http: HttpClient,
    /// Refresh hook for OAuth connections.
    pub token_updater: Option<Arc<dyn TokenUpdater>>,
    /// The user's campus identity, given to institution-wide connectors when the user has
    /// signed in with campus sign-in (`None` otherwise, and for every other connector).
    pub identity: Option<UserIdentity>,
    /// Credentials obtained by a refresh during this action.
    refreshed: Mutex<Option<Credentials>>,
}

impl ActionContext {
    /// A context without token updater.
    pub fn new(credentials: Credentials, settings: ConnectorSettings, http: HttpClient) -> Self {
        Self {
            credentials,
            settings,
            http,
            token_updater: None,
            identity: None,
            refreshed: Mutex::new(None),
        }
    }

    /// Adds the user's campus identity.
    pub fn with_identity(mut self, identity: Option<UserIdentity>) -> Self {
        self.identity = identity;
        self
    }

    /// Adds the token updater.
    pub fn with_token_updater(mut self, updater: Arc<dyn TokenUpdater>) -> Self {
        self.token_updater = Some(updater);
        self
    }

    /// The newest credentials: those from a refresh during this action, else the original.
    pub fn current_credentials(&self) -> Credentials {
        let refreshed = self
            .refreshed
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        refreshed
            .clone()
            .unwrap_or_else(|| self.credentials.clone())
    }

    /// Asks the token updater for fresh credentials once `stale` was rejected, and keeps
    /// them for the rest of the action. Without an updater the user must reconnect.
    pub async fn refresh_credentials(
        &self,
        stale: &Credentials,
    ) -> Result<Credentials, ConnectorError> {
        let Some(updater) = &self.token_updater else {
            return Err(ConnectorError::AuthExpired {
                message: "the service rejected the stored credentials".to_owned(),
            });
        };
        tracing::info!(
            connector.slug = self.settings.slug(),
            "refreshing credentials after a 401"
        );
        let fresh = updater.refresh(stale).await?;
        *self
            .refreshed
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(fresh.clone());
        Ok(fresh)
    }

    /// Sends the request `build` makes from the current credentials; on a 401 refreshes
    /// the credentials once (through the token updater) and sends a rebuilt request once
    /// more. The final response goes through [`error_for_status`], so a second 401 is
    /// `AuthExpired`.
    pub async fn send_authorized<F>(&self, build: F) -> Result<Response, ConnectorError>
    where
        F: Fn(&Credentials) -> RequestBuilder + Send + Sync,
    {
        let credentials = self.current_credentials();
        let response = self.http.send(build(&credentials)).await?;
        if response.status() != StatusCode::UNAUTHORIZED || self.token_updater.is_none() {
            return error_for_status(response).await;
        }
        drop(response);
        let fresh = self.refresh_credentials(&credentials).await?;
        error_for_status(self.http.send(build(&fresh)).await?).await
    }
}

impl fmt::Debug for ActionContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActionContext")
            .field("credentials", &self.credentials)
            .field("settings", &self.settings)
            .field("token_updater", &self.token_updater.is_some())
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn credentials_debug_shows_key_names_but_no_values() {
        let credentials = Credentials::new(json!({"access_token": "ya29.secret", "user": "alice"}));
        let shown = format!("{credentials:?}");
        assert!(shown.contains("access_token"));
        assert!(!shown.contains("ya29.secret"));
        assert!(!shown.contains("alice"));
    }

    #[test]
    fn credential_getters_ignore_empty_and_non_string_values() {
        let credentials =
            Credentials::new(json!({"access_token": "", "api_key": "k", "port": 5432}));
        assert_eq!(credentials.access_token(), None);
        assert_eq!(credentials.bearer_token(), Some("k"));
        assert_eq!(credentials.str_field("port"), None);
        assert!(matches!(
            credentials.require_str("port"),
            Err(ConnectorError::AuthExpired { .. })
        ));
    }

    #[tokio::test]
    async fn refreshing_without_an_updater_means_reconnect() {
        let http = HttpClient::new(crate::HttpConfig::default());
        let ctx = ActionContext::new(Credentials::default(), ConnectorSettings::default(), http);
        let result = ctx.refresh_credentials(&Credentials::default()).await;
        assert!(matches!(result, Err(ConnectorError::AuthExpired { .. })));
    }
}
