//! Connection credentials at rest. Rows written here hold a Fernet token of an envelope that
//! binds the credentials to their owner, connection and connector, checked after decrypting,
//! so a token copied onto another row is refused. A bare credentials object, as the Django
//! system stored it, and an envelope written before the connector was bound, are still read,
//! and `keys rotate` seals both to their row ([`reseal`]).

use super::secrets::Keyring;
use crate::error::{AppError, AppResult};
use crate::models::connections;
use crate::models::entities::connection;
use chrono::Utc;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

const MARKER: &str = "campuscore_credentials";

/// Encrypt `data` for connection `row` (bound to its owner, id and connector).
pub fn seal(keyring: &Keyring, row: &connection::Model, data: &Value) -> String {
    let envelope = json!({
        MARKER: 1,
        "owner": row.user_id,
        "connection": row.id,
        "connector": row.connector_id,
        "data": data,
    });
    keyring.encrypt_str(&envelope.to_string())
}

/// What a row's stored credentials are, once decrypted.
enum Stored {
    /// An envelope bound to this row's owner, connection and connector.
    Bound(Value),
    /// A bare object (the Django system's) or an envelope from before the connector was
    /// bound: readable, and to be sealed to the row.
    Unbound(Value),
}

fn read(keyring: &Keyring, row: &connection::Model) -> AppResult<Stored> {
    let plain = keyring.decrypt_str(&row.credentials).map_err(|_| {
        anyhow::anyhow!(
            "credentials of connection {} cannot be decrypted with the configured keys",
            row.id
        )
    })?;
    let value: Value = serde_json::from_str(&plain)
        .map_err(|_| anyhow::anyhow!("credentials of connection {} are not JSON", row.id))?;
    if value.get(MARKER).is_none() {
        return Ok(Stored::Unbound(value));
    }
    let connector = value.get("connector").map(Value::as_i64);
    if value["owner"].as_i64() != Some(row.user_id)
        || value["connection"].as_i64() != Some(row.id)
        || connector.is_some_and(|c| c != Some(row.connector_id))
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
    let data = value["data"].clone();
    Ok(match connector {
        Some(_) => Stored::Bound(data),
        None => Stored::Unbound(data),
    })
}

/// Decrypt the credentials of `row`, checking the binding when there is one.
pub fn open(keyring: &Keyring, row: &connection::Model) -> AppResult<Value> {
    Ok(match read(keyring, row)? {
        Stored::Bound(data) | Stored::Unbound(data) => data,
    })
}

/// The most connections whose opened credentials [`Opened`] keeps; past it, it starts over.
const MAX_OPENED: usize = 4096;

/// Credentials this process has opened, by connection, each with the token they were
/// opened from and the owner and connector they were checked against. Every call of an
/// action opens its connection's credentials, and a Fernet decryption with its HMAC and the
/// envelope's JSON cost more than the rest of reading the row; a row whose token, owner
/// and connector are unchanged opens to the same credentials, so they are kept. A refresh,
/// a reconnect or a key rotation writes a new token, which is opened afresh. The process
/// holds them in memory either way while it uses them, and never writes them anywhere.
#[derive(Default)]
pub struct Opened {
    by_connection: std::sync::Mutex<std::collections::HashMap<i64, OpenedEntry>>,
}

struct OpenedEntry {
    token: String,
    user_id: i64,
    connector_id: i64,
    data: Value,
}

impl Opened {
    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<i64, OpenedEntry>> {
        self.by_connection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// [`open`], from `opened` when it last opened this very token for this row's owner and
/// connector.
pub fn open_kept(opened: &Opened, keyring: &Keyring, row: &connection::Model) -> AppResult<Value> {
    if let Some(kept) = opened.lock().get(&row.id)
        && kept.token == row.credentials
        && kept.user_id == row.user_id
        && kept.connector_id == row.connector_id
    {
        return Ok(kept.data.clone());
    }
    let data = open(keyring, row)?;
    let mut kept = opened.lock();
    if kept.len() >= MAX_OPENED && !kept.contains_key(&row.id) {
        kept.clear();
    }
    kept.insert(
        row.id,
        OpenedEntry {
            token: row.credentials.clone(),
            user_id: row.user_id,
            connector_id: row.connector_id,
            data: data.clone(),
        },
    );
    Ok(data)
}

/// What `keys rotate` does with a connection's credentials.
#[derive(Debug, PartialEq, Eq)]
pub enum Reseal {
    /// Bound and under the primary key: nothing to do.
    Current,
    /// Re-encrypted under the primary key (same plaintext).
    Rotated(String),
    /// Unbound (bare, or without the connector): sealed to the row under the primary key.
    Sealed(String),
    /// No configured key opens it, or it is bound to another row: left untouched.
    Unreadable,
}

/// The new token for `row`'s credentials, if it needs one: unbound credentials are sealed to
/// the row (whatever key they were under), bound ones are re-encrypted only when not under
/// the primary key.
pub fn reseal(keyring: &Keyring, row: &connection::Model) -> Reseal {
    match read(keyring, row) {
        Err(_) => Reseal::Unreadable,
        Ok(Stored::Unbound(data)) => Reseal::Sealed(seal(keyring, row, &data)),
        Ok(Stored::Bound(_)) => match keyring.rotate_token(&row.credentials) {
            Ok(None) => Reseal::Current,
            Ok(Some(token)) => Reseal::Rotated(token),
            Err(_) => Reseal::Unreadable,
        },
    }
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
    let sealed = seal(keyring, &row, &new.data);
    Ok(connections::set_credentials(conn, row, sealed).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, user_id: i64) -> connection::Model {
        connections::sample(id, user_id, 3)
    }

    #[test]
    fn kept_credentials_are_the_rows_own_and_follow_its_token() {
        let keyring = Keyring::from_keys(&[Keyring::generate_key()]).expect("keyring");
        let opened = Opened::default();
        let mut mine = row(1, 10);
        mine.credentials = seal(&keyring, &mine, &json!({ "access_token": "a1" }));
        for _ in 0..2 {
            let data = open_kept(&opened, &keyring, &mine).expect("opens");
            assert_eq!(data["access_token"], "a1");
        }

        // A new token (a refresh) opens to what it holds.
        mine.credentials = seal(&keyring, &mine, &json!({ "access_token": "a2" }));
        let data = open_kept(&opened, &keyring, &mine).expect("opens");
        assert_eq!(data["access_token"], "a2");

        // The same token on a row of another owner, or under another connection's id, is
        // refused as it is without the kept copy.
        let mut theirs = row(1, 11);
        theirs.credentials = mine.credentials.clone();
        assert!(open_kept(&opened, &keyring, &theirs).is_err());
        let mut other = row(2, 10);
        other.credentials = mine.credentials.clone();
        assert!(open_kept(&opened, &keyring, &other).is_err());
        assert_eq!(
            open_kept(&opened, &keyring, &mine).expect("opens")["access_token"],
            "a2"
        );
    }
}
