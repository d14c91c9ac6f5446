//! Connection credentials at rest. Rows written here hold a Fernet token of an envelope that
//! binds the credentials to their owner and connection, checked after decrypting, so a token
//! copied onto another row is refused. A bare credentials object, as the Django system
//! stored it, is still read.

use super::secrets::Keyring;
use crate::error::{AppError, AppResult};
use crate::models::connections;
use crate::models::entities::connection;
use chrono::Utc;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

const MARKER: &str = "campuscore_credentials";

/// Encrypt `data` for connection `connection_id` of user `owner`.
pub fn seal(keyring: &Keyring, owner: i64, connection_id: i64, data: &Value) -> String {
    let envelope = json!({ MARKER: 1, "owner": owner, "connection": connection_id, "data": data });
    keyring.encrypt_str(&envelope.to_string())
}

/// Decrypt the credentials of `row`, checking the binding when there is one.
pub fn open(keyring: &Keyring, row: &connection::Model) -> AppResult<Value> {
    let plain = keyring.decrypt_str(&row.credentials).map_err(|_| {
        anyhow::anyhow!(
            "credentials of connection {} cannot be decrypted with the configured keys",
            row.id
        )
    })?;
    let value: Value = serde_json::from_str(&plain)
        .map_err(|_| anyhow::anyhow!("credentials of connection {} are not JSON", row.id))?;
    if value.get(MARKER).is_none() {
        return Ok(value); // legacy bare object
    }
    if value["owner"].as_i64() != Some(row.user_id) || value["connection"].as_i64() != Some(row.id)
    {
        tracing::error!(
            connection.id = row.id,
            "credentials are bound to another connection; refusing them"
        );
        return Err(AppError::Internal(anyhow::anyhow!(
            "credentials binding mismatch on connection {}",
            row.id
        )));
    }
    Ok(value["data"].clone())
}

/// A new connection to fill in.
pub struct NewConnection {
    pub user_id: i64,
    pub connector_id: i64,
    pub data: Value,
    pub service_identity: Option<String>,
    pub scopes: Option<String>,
    pub expires_at: Option<chrono::DateTime<Utc>>,
}

/// Insert a connection and seal its credentials (the id is part of the binding, so the row is
/// written first and sealed in the same transaction the caller passes).
pub async fn insert<C: ConnectionTrait>(
    conn: &C,
    keyring: &Keyring,
    new: NewConnection,
) -> AppResult<connection::Model> {
    let row = connections::insert(
        conn,
        connections::NewConnection {
            user_id: new.user_id,
            connector_id: new.connector_id,
            service_identity: new.service_identity,
            scopes: new.scopes,
            expires_at: new.expires_at,
        },
    )
    .await?;
    let sealed = seal(keyring, row.user_id, row.id, &new.data);
    Ok(connections::set_credentials(conn, row, sealed).await?)
}
