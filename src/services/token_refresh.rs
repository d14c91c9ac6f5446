//! OAuth token refresh that never races.
//!
//! Refresh tokens rotate at most providers: using one twice can revoke the whole grant. So
//! however many requests, workers or app processes find a connection's access token stale
//! at once, exactly one refresh request may reach the provider:
//!
//! 1. inside a process, callers queue on a per-connection async mutex;
//! 2. across processes, the one caller at the front takes a lease on the connection row
//!    (`refresh_lease_until` / `refresh_lease_owner`, a compare-and-swap `UPDATE`);
//! 3. whoever waits re-reads the row and uses the tokens the lease holder stored.
//!
//! The new access token and a rotated refresh token are written in one `UPDATE`, guarded by
//! the lease and `credentials_version`. `invalid_grant` re-reads the row first (another
//! process may have rotated the token) and only then marks the connection `needs_reauth`;
//! network errors, 429 and 5xx leave it `active` for a later retry.

use super::audit;
use super::credentials;
use super::oauth::{OAuthClient, TokenError};
use super::runtime::ConnectorRuntime;
use crate::crypto::random_token;
use crate::models::entities::connection;
use crate::models::{Channel, ConnectionStatus, connections};
use campuscore_connectors::{ConnectorError, Credentials, TokenUpdater};
use chrono::Utc;
use rand::Rng;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long one token request may take.
const REFRESH_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a refresh lease lasts: longer than a token request can take, short enough that a
/// crashed holder does not block refreshes for long.
const LEASE: chrono::Duration = chrono::Duration::seconds(45);
/// How long a caller waits for another refresher before giving up (and retrying later).
const WAIT_LIMIT: Duration = Duration::from_secs(35);
/// Refresh this long before the provider's expiry at most (a quarter of the token's
/// lifetime when that is shorter).
const MAX_MARGIN: chrono::Duration = chrono::Duration::seconds(60);

/// Whether the connection's access token should be refreshed before use.
pub fn needs_refresh(row: &connection::Model, credentials: &Credentials) -> bool {
    let Some(expires_at) = row.expires_at else {
        return false; // the provider gave no expiry: refresh only after a 401
    };
    let lifetime = credentials
        .as_value()
        .get("expires_in")
        .and_then(serde_json::Value::as_i64)
        .map(chrono::Duration::seconds);
    let margin = lifetime.map_or(MAX_MARGIN, |l| (l / 4).min(MAX_MARGIN));
    expires_at <= Utc::now() + margin
}

/// Whether the access token is still usable, even if due for refresh.
pub fn still_valid(row: &connection::Model) -> bool {
    row.expires_at.is_none_or(|at| at > Utc::now())
}

/// The token updater handed to actions of an OAuth connection.
pub struct ConnectionTokens {
    pub rt: ConnectorRuntime,
    pub connection_id: i64,
    pub client: Arc<OAuthClient>,
}

#[async_trait::async_trait]
impl TokenUpdater for ConnectionTokens {
    async fn refresh(&self, stale: &Credentials) -> Result<Credentials, ConnectorError> {
        refresh(&self.rt, self.connection_id, stale, &self.client).await
    }
}

/// Fresh credentials for connection `connection_id`, whose `stale` credentials are expiring
/// or were just rejected. If another caller (in this or another process) has refreshed
/// meanwhile, its result is returned without a request to the provider.
pub async fn refresh(
    rt: &ConnectorRuntime,
    connection_id: i64,
    stale: &Credentials,
    client: &OAuthClient,
) -> Result<Credentials, ConnectorError> {
    let lock = rt.refresh_locks.for_connection(connection_id);
    let _in_process = lock.lock_owned().await;
    let deadline = Instant::now() + WAIT_LIMIT;
    loop {
        let row = load(rt, connection_id).await?;
        if row.status == ConnectionStatus::NeedsReauth {
            return Err(reconnect());
        }
        let current = Credentials::new(open(rt, &row)?);
        if current.access_token() != stale.access_token() {
            return Ok(current); // someone refreshed while we waited
        }
        let owner = random_token(12);
        let now = Utc::now();
        let leased = connections::take_refresh_lease(
            &rt.db,
            row.id,
            row.credentials_version,
            &owner,
            now,
            now + LEASE,
        )
        .await
        .map_err(db_error)?;
        if leased {
            return refresh_with_lease(rt, row, current, &owner, client).await;
        }
        if Instant::now() >= deadline {
            return Err(ConnectorError::Transport {
                message: "another sign-in refresh is taking too long; try again shortly".into(),
            });
        }
        let pause = rand::rng().random_range(80..200);
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
}

async fn refresh_with_lease(
    rt: &ConnectorRuntime,
    row: connection::Model,
    current: Credentials,
    owner: &str,
    client: &OAuthClient,
) -> Result<Credentials, ConnectorError> {
    let started = Instant::now();
    let Some(refresh_token) = current.str_field("refresh_token").map(str::to_owned) else {
        mark_needs_reauth(rt, row.id, owner, "the provider gave no refresh token").await?;
        return Err(reconnect());
    };
    let http = rt.http.token_endpoint_client();
    let outcome = tokio::time::timeout(
        REFRESH_TIMEOUT,
        client.refresh(http.client(), &refresh_token),
    )
    .await
    .unwrap_or_else(|_| {
        Err(TokenError::Unavailable {
            message: "the token endpoint did not answer in time".into(),
            retry_after: None,
        })
    });
    let result = settle(rt, &row, &current, owner, outcome).await;
    audit_refresh(
        rt,
        client,
        (row.id, row.user_id),
        &result,
        started.elapsed(),
    )
    .await;
    result
}

/// Stores the outcome of a refresh request made under the lease (and releases the lease).
async fn settle(
    rt: &ConnectorRuntime,
    row: &connection::Model,
    current: &Credentials,
    owner: &str,
    outcome: Result<super::oauth::TokenSet, TokenError>,
) -> Result<Credentials, ConnectorError> {
    match outcome {
        Ok(tokens) => {
            let data = tokens.merge_into(Some(current.as_value()));
            let sealed = credentials::seal(&rt.keyring, row, &data);
            let stored = connections::store_refreshed(
                &rt.db,
                row.id,
                owner,
                row.credentials_version,
                connections::RefreshedTokens {
                    credentials: sealed,
                    expires_at: tokens.expires_at(),
                    scopes: tokens.scope_string(),
                },
            )
            .await
            .map_err(db_error)?;
            if stored != 1 {
                // Only possible if our lease lapsed and another refresher took over.
                tracing::error!(
                    connection.id = row.id,
                    "refreshed tokens could not be stored: the refresh lease was lost"
                );
            }
            tracing::info!(connection.id = row.id, "access token refreshed");
            Ok(Credentials::new(data))
        }
        Err(TokenError::InvalidGrant(reason)) => {
            // Another process may have rotated the refresh token after our lease lapsed:
            // only a refresh token that is still the stored one proves the grant is gone.
            let latest = load(rt, row.id).await?;
            if latest.credentials_version != row.credentials_version {
                release_lease(rt, row.id, owner).await?;
                return Ok(Credentials::new(open(rt, &latest)?));
            }
            tracing::warn!(
                connection.id = row.id,
                reason,
                "refresh token refused; the user must reconnect"
            );
            mark_needs_reauth(
                rt,
                row.id,
                owner,
                "the sign-in expired or was revoked at the provider",
            )
            .await?;
            Err(reconnect())
        }
        Err(e) => {
            tracing::warn!(connection.id = row.id, error = %e, "token refresh failed; will retry later");
            connections::record_refresh_failure(&rt.db, row.id, owner, e.to_string())
                .await
                .map_err(db_error)?;
            Err(e.into_connector_error())
        }
    }
}

async fn release_lease(rt: &ConnectorRuntime, id: i64, owner: &str) -> Result<(), ConnectorError> {
    connections::release_lease(&rt.db, id, owner)
        .await
        .map_err(db_error)
}

async fn mark_needs_reauth(
    rt: &ConnectorRuntime,
    id: i64,
    owner: &str,
    reason: &str,
) -> Result<(), ConnectorError> {
    connections::mark_needs_reauth_under_lease(&rt.db, id, owner, reason)
        .await
        .map_err(db_error)
}

async fn audit_refresh(
    rt: &ConnectorRuntime,
    client: &OAuthClient,
    (connection_id, user_id): (i64, i64),
    result: &Result<Credentials, ConnectorError>,
    elapsed: Duration,
) {
    audit::record(
        &rt.audit,
        audit::Entry {
            connection_id: Some(connection_id),
            user_id: Some(user_id),
            connector_slug: client.slug(),
            action: "token.refresh",
            request: &json!({}),
            error: result.as_ref().err().map(|e| (e.code(), e.user_message())),
            duration: elapsed,
            channel: Channel::System,
            client: None,
        },
    )
    .await;
}

async fn load(rt: &ConnectorRuntime, id: i64) -> Result<connection::Model, ConnectorError> {
    connections::find(&rt.db, id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| ConnectorError::AuthExpired {
            message: "the connection was removed".into(),
        })
}

fn open(
    rt: &ConnectorRuntime,
    row: &connection::Model,
) -> Result<serde_json::Value, ConnectorError> {
    credentials::open(&rt.keyring, row).map_err(|e| {
        tracing::error!(connection.id = row.id, error = %e, "stored credentials unreadable");
        ConnectorError::AuthExpired {
            message: "the stored credentials cannot be read; please reconnect".into(),
        }
    })
}

fn reconnect() -> ConnectorError {
    ConnectorError::AuthExpired {
        message: "the sign-in has expired or was revoked; please reconnect".into(),
    }
}

fn db_error(e: sea_orm::DbErr) -> ConnectorError {
    tracing::error!(error = %e, "database error during token refresh");
    ConnectorError::Transport {
        message: "the app's database is unavailable; try again shortly".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(expires_in: Option<chrono::Duration>) -> connection::Model {
        connection::Model {
            expires_at: expires_in.map(|d| Utc::now() + d),
            ..connections::sample(1, 1, 1)
        }
    }

    fn lifetime(secs: i64) -> Credentials {
        Credentials::new(json!({"access_token": "a", "expires_in": secs}))
    }

    #[test]
    fn tokens_are_refreshed_a_minute_before_expiry_at_most() {
        let hour = lifetime(3600);
        assert!(!needs_refresh(
            &row(Some(chrono::Duration::seconds(120))),
            &hour
        ));
        assert!(needs_refresh(
            &row(Some(chrono::Duration::seconds(50))),
            &hour
        ));
        assert!(needs_refresh(
            &row(Some(chrono::Duration::seconds(-5))),
            &hour
        ));
    }

    #[test]
    fn short_lived_tokens_get_a_quarter_of_their_lifetime_as_margin() {
        let short = lifetime(20);
        assert!(!needs_refresh(
            &row(Some(chrono::Duration::seconds(10))),
            &short
        ));
        assert!(needs_refresh(
            &row(Some(chrono::Duration::seconds(4))),
            &short
        ));
    }

    #[test]
    fn without_an_expiry_only_a_401_triggers_a_refresh() {
        assert!(!needs_refresh(&row(None), &lifetime(3600)));
        assert!(still_valid(&row(None)));
        assert!(!still_valid(&row(Some(chrono::Duration::seconds(-1)))));
    }
}
