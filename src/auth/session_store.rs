//! actix-session storage in the `session` table. The cookie carries a random key; the row
//! (found by the key's SHA-256) carries the state. Deleting rows ends sessions at once, which
//! is how logout and deactivation really end them.

use super::keys;
use crate::crypto::sha256_hex;
use crate::models::entities::session;
use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration;
use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
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
        let row = session::Entity::find()
            .filter(session::Column::KeyHash.eq(sha256_hex(key.as_ref())))
            .filter(session::Column::ExpiresAt.gt(Utc::now()))
            .one(&self.db)
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
        session::Entity::insert(session::ActiveModel {
            key_hash: Set(sha256_hex(key.as_ref())),
            user_id: Set(user_id_of(&state)),
            state: Set(body),
            created_at: Set(Utc::now()),
            expires_at: Set(expires(ttl)),
            ..Default::default()
        })
        .exec(&self.db)
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
        let res = session::Entity::update_many()
            .col_expr(session::Column::State, Expr::value(body))
            .col_expr(session::Column::UserId, Expr::value(user_id_of(&state)))
            .col_expr(session::Column::ExpiresAt, Expr::value(expires(ttl)))
            .filter(session::Column::KeyHash.eq(sha256_hex(key.as_ref())))
            .exec(&self.db)
            .await
            .map_err(|e| UpdateError::Other(e.into()))?;
        if res.rows_affected == 1 {
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
        session::Entity::update_many()
            .col_expr(session::Column::ExpiresAt, Expr::value(expires(ttl)))
            .filter(session::Column::KeyHash.eq(sha256_hex(key.as_ref())))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), anyhow::Error> {
        session::Entity::delete_many()
            .filter(session::Column::KeyHash.eq(sha256_hex(key.as_ref())))
            .exec(&self.db)
            .await?;
        Ok(())
    }
}

/// End every session of a user (deactivation, password change).
pub async fn end_all_sessions(
    db: &DatabaseConnection,
    user_id: i64,
) -> Result<u64, sea_orm::DbErr> {
    let res = session::Entity::delete_many()
        .filter(session::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

/// Remove expired sessions (run periodically by the background janitor).
pub async fn purge_expired(db: &DatabaseConnection) -> Result<u64, sea_orm::DbErr> {
    let res = session::Entity::delete_many()
        .filter(session::Column::ExpiresAt.lte(Utc::now()))
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}
