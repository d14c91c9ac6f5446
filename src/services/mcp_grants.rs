//! MCP grants as their user sees them ("Connected assistants" on `/settings`), and ending
//! them: by the user, or by the server when a code or refresh token is replayed. A revoked
//! grant's tokens stop at once (`mcp_auth::authenticate` reads the grant on every request).

use super::mcp_auth::McpScopes;
use super::mcp_clients;
use crate::error::{AppError, AppResult};
use crate::models::{
    McpClientKind, connections, connectors, mcp_authorization_codes, mcp_clients as clients,
};
use crate::models::{mcp_grants, mcp_tokens};
use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, TransactionTrait};
use std::collections::HashMap;

/// How long ended grants, spent codes and expired tokens are kept before the janitor
/// deletes them.
const KEEP_ENDED: Duration = Duration::days(1);

/// One live grant, for the settings page.
#[derive(Clone, Debug)]
pub struct AssistantGrant {
    pub id: i64,
    pub client_name: String,
    /// The host the client is known by (see `mcp_clients::client_host`).
    pub client_host: String,
    /// Whether the client's identity was checked at its own address (a metadata document)
    /// rather than claimed at registration.
    pub verified: bool,
    /// Whether the user let it make changes.
    pub write: bool,
    /// The chosen connections still there, as "Service (account)".
    pub connections: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// The user's grants that are neither revoked nor lapsed, newest first.
pub async fn list_live(db: &DatabaseConnection, user_id: i64) -> AppResult<Vec<AssistantGrant>> {
    let grants = mcp_grants::list_live_for_user(db, user_id, Utc::now()).await?;
    if grants.is_empty() {
        return Ok(Vec::new());
    }
    let client_ids = grants.iter().map(|g| g.mcp_client_id).collect();
    let clients: HashMap<i64, _> = clients::find_many(db, client_ids)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let services: HashMap<i64, String> = connectors::list(db)
        .await?
        .into_iter()
        .map(|k| (k.id, k.name))
        .collect();
    let names: HashMap<i64, String> = connections::list_for_user(db, user_id)
        .await?
        .into_iter()
        .map(|c| {
            let service = services.get(&c.connector_id).cloned().unwrap_or_default();
            let name = match &c.service_identity {
                Some(who) => format!("{service} ({who})"),
                None => service,
            };
            (c.id, name)
        })
        .collect();
    Ok(grants
        .into_iter()
        .filter_map(|g| {
            let client = clients.get(&g.mcp_client_id)?;
            let chosen: Vec<i64> = serde_json::from_str(&g.connection_ids).unwrap_or_default();
            Some(AssistantGrant {
                id: g.id,
                client_name: client.name.clone(),
                client_host: mcp_clients::client_host(client),
                verified: client.kind == McpClientKind::Cimd,
                write: McpScopes::parse(&g.scopes).unwrap_or_default().write,
                connections: chosen
                    .iter()
                    .filter_map(|id| names.get(id).cloned())
                    .collect(),
                created_at: g.created_at,
                last_used_at: g.last_used_at,
            })
        })
        .collect())
}

/// Revokes the user's grant `grant_id` and every token of it; anyone else's grant, or one
/// already revoked, is `NotFound`.
pub async fn revoke_mine(db: &DatabaseConnection, user_id: i64, grant_id: i64) -> AppResult<()> {
    let now = Utc::now();
    let txn = db.begin().await?;
    if !mcp_grants::revoke_owned(&txn, user_id, grant_id, now).await? {
        return Err(AppError::NotFound);
    }
    mcp_tokens::retire_all_of_grant(&txn, grant_id, now).await?;
    txn.commit().await?;
    tracing::info!(
        user.id = user_id,
        mcp.grant_id = grant_id,
        "mcp grant revoked by its user"
    );
    Ok(())
}

/// Ends grant `grant_id` and every token of it (a replayed code or refresh token).
pub async fn revoke(db: &DatabaseConnection, grant_id: i64, why: &str) -> Result<(), DbErr> {
    let now = Utc::now();
    let txn = db.begin().await?;
    mcp_grants::revoke(&txn, grant_id, now).await?;
    mcp_tokens::retire_all_of_grant(&txn, grant_id, now).await?;
    txn.commit().await?;
    tracing::warn!(mcp.grant_id = grant_id, reason = why, "mcp grant revoked");
    Ok(())
}

/// Deletes what can no longer be used: grants ended, codes and tokens expired more than a
/// day ago. Returns how many rows went.
pub async fn purge_ended(db: &impl ConnectionTrait) -> AppResult<u64> {
    let before = Utc::now() - KEEP_ENDED;
    let mut purged = mcp_authorization_codes::delete_expired_before(db, before).await?;
    purged += mcp_tokens::delete_expired_before(db, before).await?;
    purged += mcp_grants::delete_ended_before(db, before).await?;
    Ok(purged)
}
