//! actix-session storage in the `session` table. The cookie carries a random key; the row
//! (found by the key's SHA-256) carries the state. Deleting rows ends sessions at once, which
//! is how logout and deactivation really end them.

use super::keys;
use crate::crypto::sha256_hex;
use crate::models::sessions;
use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration;
use chrono::Utc;
use sea_orm::DatabaseConnection;
use std::collections::HashMap;

type State = HashMap<String, String>;

/// The database-backed session store.
#[derive(Clone)]
pub struct DbSessionStore {
    db: DatabaseConnection,
}

impl DbSessionStore {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

fn expires(ttl: &Duration) -> chrono::DateTime<Utc> {
    Utc::now() + chrono::Duration::seconds(ttl.whole_seconds().max(60))
}

fn user_id_of(state: &State) -> Option<i64> {
    state.get(keys::USER_ID).and_then(|v| v.parse().ok())
}

impl SessionStore for DbSessionStore {
    async fn load(&self, key: &SessionKey) -> Result<Option<State>, LoadError> {
        let row = sessions::find_live(&self.db, &sha256_hex(key.as_ref()))
            .await
            .map_err(|e| LoadError::Other(e.into()))?;
        match row {
            None => Ok(None),
            Some(row) => serde_json::from_str(&row.state)
                .map(Some)
                .map_err(|e| LoadError::Deserialization(e.into())),
        }
    }

    async fn save(&self, state: State, ttl: &Duration) -> Result<SessionKey, SaveError> {
        let key = actix_session::storage::generate_session_key();
        let body = serde_json::to_string(&state).map_err(|e| SaveError::Serialization(e.into()))?;
        let new = sessions::NewSession {
            key_hash: sha256_hex(key.as_ref()),
            user_id: user_id_of(&state),
            state: body,
            expires_at: expires(ttl),
        };
        sessions::insert(&self.db, new)
            .await
            .map_err(|e| SaveError::Other(e.into()))?;
        Ok(key)
    }

    async fn update(
        &self,
        key: SessionKey,
        state: State,
        ttl: &Duration,
    ) -> Result<SessionKey, UpdateError> {
        let body =
            serde_json::to_string(&state).map_err(|e| UpdateError::Serialization(e.into()))?;
        let updated = sessions::update(
            &self.db,
            &sha256_hex(key.as_ref()),
            body,
            user_id_of(&state),
            expires(ttl),
        )
        .await
        .map_err(|e| UpdateError::Other(e.into()))?;
        if updated {
            return Ok(key);
        }
        // The row was deleted while the request ran (logout elsewhere, deactivation): start a
        // fresh anonymous session rather than resurrecting the login.
        let mut state = state;
        state.remove(keys::USER_ID);
        self.save(state, ttl)
            .await
            .map_err(|e| UpdateError::Other(anyhow::anyhow!(e.to_string())))
    }

    async fn update_ttl(&self, key: &SessionKey, ttl: &Duration) -> Result<(), anyhow::Error> {
        Ok(sessions::set_expiry(&self.db, &sha256_hex(key.as_ref()), expires(ttl)).await?)
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), anyhow::Error> {
        Ok(sessions::delete(&self.db, &sha256_hex(key.as_ref())).await?)
    }
}

/// End every session of a user (deactivation, password change).
pub async fn end_all_sessions(
    db: &DatabaseConnection,
    user_id: i64,
) -> Result<u64, sea_orm::DbErr> {
    sessions::delete_for_user(db, user_id).await
}

/// Remove expired sessions (run periodically by the background janitor).
pub async fn purge_expired(db: &DatabaseConnection) -> Result<u64, sea_orm::DbErr> {
    sessions::delete_expired(db).await
}
