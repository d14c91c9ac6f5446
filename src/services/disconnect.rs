//! Disconnecting: the user's connection is deleted at once (credentials gone) and the
//! provider is asked to revoke its tokens (RFC 7009) where the connector declares a
//! revocation endpoint; a provider that cannot be reached is asked again from the queue.

use super::connections::{
    ResolvedConnector, audit_event, connector_by_id, find_mine, oauth_client,
};
use super::credentials;
use super::oauth::OAuthClient;
use super::queue::{self, QueueHandle};
use super::runtime::ConnectorRuntime;
use crate::error::{AppError, AppResult};
use crate::models::{self, Channel};
use campuscore_connectors::ConnectorKind;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::time::Instant;

/// Whether the provider confirmed that the connection's tokens are revoked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Revocation {
    /// The provider's revocation endpoint accepted the request.
    Confirmed,
    /// The provider could not be reached; a background retry will ask again.
    Pending,
    /// The connector has no revocation endpoint (or is a manual connector).
    Unsupported,
}

impl Revocation {
    pub fn as_str(self) -> &'static str {
        match self {
            Revocation::Confirmed => "confirmed",
            Revocation::Pending => "pending",
            Revocation::Unsupported => "unsupported",
        }
    }
}

/// The outcome of a disconnect.
pub struct Disconnected {
    pub revocation: Revocation,
    pub at: DateTime<Utc>,
    pub connector_name: String,
}

/// Deletes the user's connection (credentials gone at once) and asks the provider to revoke
/// its tokens where the connector declares a revocation endpoint (RFC 7009). A provider that
/// cannot be reached gets the revocation again from the queue worker (`pending`).
pub async fn disconnect(
    rt: &ConnectorRuntime,
    outbox: &QueueHandle,
    channel: Channel,
    user_id: i64,
    connection_id: i64,
) -> AppResult<Disconnected> {
    let conn = find_mine(rt, user_id, connection_id).await?;
    let started = Instant::now();
    let row = models::connectors::find(&rt.db, conn.connector_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let plugin = rt.registry.get(&row.slug).cloned();
    let data = credentials::open(&rt.keyring, &conn).ok();
    models::connections::delete_owned(&rt.db, user_id, conn.id).await?;
    let token = data.as_ref().and_then(|d| {
        let get = |k: &str| d.get(k).and_then(Value::as_str).filter(|t| !t.is_empty());
        // Revoking the refresh token ends the whole grant at most providers (RFC 7009 §2.1).
        get("refresh_token")
            .map(|t| (t.to_owned(), "refresh_token"))
            .or_else(|| get("access_token").map(|t| (t.to_owned(), "access_token")))
    });
    let client = match &plugin {
        Some(p) if p.spec().kind == ConnectorKind::OAuth2 => {
            let resolved = ResolvedConnector {
                row: row.clone(),
                plugin: p.clone(),
            };
            oauth_client(rt, &resolved)
                .await
                .ok()
                .filter(OAuthClient::can_revoke)
        }
        _ => None,
    };
    let revocation = match (client, token) {
        (Some(client), Some((token, hint))) => {
            let http = rt.http.token_endpoint_client();
            match client.revoke(http.client(), &token, hint).await {
                Ok(_) => Revocation::Confirmed,
                Err(e) => {
                    tracing::warn!(connection.id = conn.id, error = %e, "token revocation failed; queued for retry");
                    let retry = RevokeToken {
                        connector_id: row.id,
                        connection_id: conn.id,
                        token: rt.keyring.encrypt_str(&token),
                        token_type_hint: hint.to_owned(),
                    };
                    queue::enqueue(&rt.db, &retry).await?;
                    outbox.wake();
                    Revocation::Pending
                }
            }
        }
        _ => Revocation::Unsupported,
    };
    tracing::info!(connection.id = conn.id, connector.slug = %row.slug, revocation = revocation.as_str(), "connection disconnected");
    audit_event(
        rt,
        channel,
        user_id,
        None,
        &row.slug,
        "connection.disconnect",
        json!({"connection_id": conn.id, "service_revocation_status": revocation.as_str()}),
        None,
        started,
    )
    .await;
    Ok(Disconnected {
        revocation,
        at: Utc::now(),
        connector_name: row.name,
    })
}

/// `oauth.revoke_token`: ask the provider again to revoke a disconnected connection's token
/// (the connection row itself is already gone).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RevokeToken {
    pub connector_id: i64,
    pub connection_id: i64,
    /// The token, as a Fernet token.
    pub token: String,
    /// `refresh_token` or `access_token` (RFC 7009).
    #[serde(default = "refresh_token_hint")]
    pub token_type_hint: String,
}

fn refresh_token_hint() -> String {
    "refresh_token".into()
}

impl queue::OutboxMessage for RevokeToken {
    const TYPE: &'static str = "oauth.revoke_token";
    const QUEUE: &'static str = queue::MAINTENANCE_QUEUE;

    fn dedup_key(&self) -> Option<String> {
        Some(format!("{}:{}", Self::TYPE, self.connection_id))
    }
}

/// The queue worker's retry of a revocation that failed during disconnect.
pub async fn retry_revocation(rt: &ConnectorRuntime, msg: &RevokeToken) -> anyhow::Result<()> {
    use anyhow::Context;
    let hint = msg.token_type_hint.as_str();
    let token = rt
        .keyring
        .decrypt_str(&msg.token)
        .context("the queued token cannot be decrypted")?;
    let Ok(connector) = connector_by_id(rt, msg.connector_id).await else {
        return Ok(()); // the connector is gone or off: nothing left to revoke through
    };
    let client = oauth_client(rt, &connector)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let http = rt.http.token_endpoint_client();
    match client.revoke(http.client(), &token, hint).await {
        Ok(_) => {
            tracing::info!(connector.slug = %connector.row.slug, "queued token revocation confirmed");
            Ok(())
        }
        Err(e) => Err(anyhow::anyhow!("revocation still failing: {e}")),
    }
}
