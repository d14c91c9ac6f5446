//! actix-session storage. A signed-in session lives in the `session` table: the cookie
//! carries a random key, the row (found by the key's SHA-256) carries the state, and deleting
//! rows ends sessions at once, which is how logout and deactivation really end them.
//!
//! An anonymous visitor gets no row. Their few values (the CSRF token of the login form, a
//! flash message) travel in the cookie itself: the key is `a.` + the state with its expiry,
//! and the cookie is encrypted and authenticated with the session key
//! (`CookieContentSecurity::Private`), so it cannot be read, forged or edited. Checking a
//! form's CSRF token against it is the signed double-submit pattern; a visit to the login
//! page or to any 404 costs no write. A state holding a user id is never stored this way, and
//! one that decodes with a user id is refused, so signing in always makes a row on a fresh
//! key (`Session::renew`).
//!
//! A signed-in session is read together with its user in one query, and the user row rides
//! in the loaded state under [`keys::LOADED_USER`] for the extractors ([`loaded_user`]): one
//! query per request instead of two. It is as fresh as a second query in the same request
//! would be (a deactivation or a deleted session still counts on the next request), is never
//! written back, and is refused in an anonymous cookie.

use super::keys;
use crate::crypto::sha256_hex;
use crate::models::entities::user;
use crate::models::local_reads::Reads;
use crate::models::sessions;
use actix_session::Session;
use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration;
use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

type State = HashMap<String, String>;

/// Marks a key that carries an anonymous state. Database keys are alphanumeric, so they never
/// contain the dot.
const ANONYMOUS: &str = "a.";
/// Largest anonymous state (as JSON) kept in the cookie; a larger one, which only a long
/// flash message could make, goes to a row as before. The cookie stays well under the 4 KiB
/// browsers keep once encrypted and base64-encoded.
const MAX_COOKIE_STATE: usize = 1536;

/// An anonymous state as the cookie carries it.
#[derive(serde::Serialize, serde::Deserialize)]
struct CookieState {
    /// Unix seconds after which the state is void (a copied cookie does not live forever).
    exp: i64,
    state: State,
}

/// The user row as the loaded state carries it (every field of `user::Model`).
#[derive(Serialize, Deserialize)]
struct LoadedUser {
    id: i64,
    email: String,
    display_name: String,
    password_hash: String,
    is_admin: bool,
    is_active: bool,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    last_login_at: Option<DateTime<Utc>>,
}

impl From<user::Model> for LoadedUser {
    fn from(u: user::Model) -> Self {
        Self {
            id: u.id,
            email: u.email,
            display_name: u.display_name,
            password_hash: u.password_hash,
            is_admin: u.is_admin,
            is_active: u.is_active,
            created_at: u.created_at,
            updated_at: u.updated_at,
            last_login_at: u.last_login_at,
        }
    }
}

impl From<LoadedUser> for user::Model {
    fn from(u: LoadedUser) -> Self {
        Self {
            id: u.id,
            email: u.email,
            display_name: u.display_name,
            password_hash: u.password_hash,
            is_admin: u.is_admin,
            is_active: u.is_active,
            created_at: u.created_at,
            updated_at: u.updated_at,
            last_login_at: u.last_login_at,
        }
    }
}

/// The user row the store read with this request's session, if it named a user that exists.
pub fn loaded_user(session: &Session) -> Option<user::Model> {
    session
        .get::<LoadedUser>(keys::LOADED_USER)
        .ok()
        .flatten()
        .map(user::Model::from)
}

/// `state` without what is never stored.
fn storable(mut state: State) -> State {
    state.remove(keys::LOADED_USER);
    state
}

/// The cookie key for an anonymous `state`, or `None` when it must be a row (a user id, or
/// too large).
fn cookie_key(state: &State, ttl: &Duration) -> Option<SessionKey> {
    if state.contains_key(keys::USER_ID) {
        return None;
    }
    let body = serde_json::to_vec(&CookieState {
        exp: expires(ttl).timestamp(),
        state: state.clone(),
    })
    .ok()?;
    if body.len() > MAX_COOKIE_STATE {
        return None;
    }
    let encoded = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, body);
    SessionKey::try_from(format!("{ANONYMOUS}{encoded}")).ok()
}

/// The state an anonymous key carries: `None` when expired, and an error when it does not
/// decode or names a user.
fn from_cookie_key(encoded: &str) -> Result<Option<State>, LoadError> {
    let body = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, encoded)
        .map_err(|e| LoadError::Deserialization(e.into()))?;
    let cookie: CookieState =
        serde_json::from_slice(&body).map_err(|e| LoadError::Deserialization(e.into()))?;
    if cookie.state.contains_key(keys::USER_ID) || cookie.state.contains_key(keys::LOADED_USER) {
        return Err(LoadError::Deserialization(anyhow::anyhow!(
            "an anonymous session state names a user"
        )));
    }
    Ok((cookie.exp > Utc::now().timestamp()).then_some(cookie.state))
}

/// What a store error says when the database is out of reach, so that the middleware in
/// front of the session layer (`views::errors::session_store_outage`) can answer 503 instead
/// of the session layer's bare 500. actix-session wraps the error opaquely; its message is
/// all that shows through.
pub const STORE_UNAVAILABLE: &str = "the session store's database is unavailable";

/// A store error from a database error: [`STORE_UNAVAILABLE`] when the database is away.
fn store_error(e: sea_orm::DbErr) -> anyhow::Error {
    if crate::db::is_unavailable(&e) {
        tracing::warn!(error = %e, "session store: database unavailable");
        anyhow::anyhow!(STORE_UNAVAILABLE)
    } else {
        e.into()
    }
}

/// [`SessionStore::save`]'s error as one of [`SessionStore::update`]'s.
fn as_update_error(e: SaveError) -> UpdateError {
    match e {
        SaveError::Serialization(e) => UpdateError::Serialization(e),
        SaveError::Other(e) => UpdateError::Other(e),
    }
}

/// The database-backed session store.
#[derive(Clone)]
pub struct DbSessionStore {
    db: DatabaseConnection,
    reads: Reads,
}

impl DbSessionStore {
    pub fn new(db: DatabaseConnection, reads: Reads) -> Self {
        Self { db, reads }
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
        if let Some(encoded) = key.as_ref().strip_prefix(ANONYMOUS) {
            return from_cookie_key(encoded);
        }
        let found = sessions::find_live_with_user(&self.db, &self.reads, &sha256_hex(key.as_ref()))
            .await
            .map_err(|e| LoadError::Other(store_error(e)))?;
        let Some((row, user)) = found else {
            return Ok(None);
        };
        let mut state: State =
            serde_json::from_str(&row.state).map_err(|e| LoadError::Deserialization(e.into()))?;
        state.remove(keys::LOADED_USER);
        if let Some(user) = user {
            let json = serde_json::to_string(&LoadedUser::from(user))
                .map_err(|e| LoadError::Deserialization(e.into()))?;
            state.insert(keys::LOADED_USER.to_owned(), json);
        }
        Ok(Some(state))
    }

    async fn save(&self, state: State, ttl: &Duration) -> Result<SessionKey, SaveError> {
        let state = storable(state);
        if let Some(key) = cookie_key(&state, ttl) {
            return Ok(key);
        }
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
            .map_err(|e| SaveError::Other(store_error(e)))?;
        Ok(key)
    }

    async fn update(
        &self,
        key: SessionKey,
        state: State,
        ttl: &Duration,
    ) -> Result<SessionKey, UpdateError> {
        let state = storable(state);
        if key.as_ref().starts_with(ANONYMOUS) {
            // The cookie is the state: a changed state is a new key (or a row, once large).
            return self.save(state, ttl).await.map_err(as_update_error);
        }
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
        .map_err(|e| UpdateError::Other(store_error(e)))?;
        if updated {
            return Ok(key);
        }
        // The row was deleted while the request ran (logout elsewhere, deactivation): start a
        // fresh anonymous session rather than resurrecting the login.
        let mut state = state;
        state.remove(keys::USER_ID);
        self.save(state, ttl).await.map_err(as_update_error)
    }

    async fn update_ttl(&self, key: &SessionKey, ttl: &Duration) -> Result<(), anyhow::Error> {
        // An anonymous state's expiry moves only when the state changes (the session
        // lifecycle extends on changes, so this is not called for it).
        if key.as_ref().starts_with(ANONYMOUS) {
            return Ok(());
        }
        sessions::set_expiry(&self.db, &sha256_hex(key.as_ref()), expires(ttl))
            .await
            .map_err(store_error)
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), anyhow::Error> {
        if key.as_ref().starts_with(ANONYMOUS) {
            return Ok(());
        }
        sessions::delete(&self.db, &sha256_hex(key.as_ref()))
            .await
            .map_err(store_error)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn state(pairs: &[(&str, &str)]) -> State {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn encoded(cookie: &CookieState) -> String {
        base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            serde_json::to_vec(cookie).expect("json"),
        )
    }

    #[test]
    fn an_anonymous_state_round_trips_through_its_key() {
        let s = state(&[(keys::CSRF, "\"token\"")]);
        let key = cookie_key(&s, &Duration::hours(12)).expect("a cookie key");
        let encoded = key.as_ref().strip_prefix(ANONYMOUS).expect("marked");
        assert_eq!(from_cookie_key(encoded).expect("decodes"), Some(s));
    }

    #[test]
    fn a_signed_in_or_oversized_state_is_never_a_cookie() {
        let signed_in = state(&[(keys::USER_ID, "7"), (keys::CSRF, "\"t\"")]);
        assert!(cookie_key(&signed_in, &Duration::hours(1)).is_none());
        let big = "x".repeat(MAX_COOKIE_STATE);
        assert!(cookie_key(&state(&[(keys::FLASH, &big)]), &Duration::hours(1)).is_none());
    }

    #[test]
    fn an_expired_anonymous_state_is_no_state_and_one_naming_a_user_is_refused() {
        let expired = CookieState {
            exp: Utc::now().timestamp() - 1,
            state: state(&[(keys::CSRF, "\"t\"")]),
        };
        assert_eq!(from_cookie_key(&encoded(&expired)).expect("decodes"), None);
        let forged = CookieState {
            exp: Utc::now().timestamp() + 3600,
            state: state(&[(keys::USER_ID, "1")]),
        };
        assert!(from_cookie_key(&encoded(&forged)).is_err());
        assert!(from_cookie_key("not base64 at all!").is_err());
    }

    #[test]
    fn a_loaded_user_is_never_stored_and_never_read_from_a_cookie() {
        let loaded = state(&[(keys::LOADED_USER, "{}"), (keys::CSRF, "\"t\"")]);
        assert_eq!(storable(loaded.clone()), state(&[(keys::CSRF, "\"t\"")]));
        let forged = CookieState {
            exp: Utc::now().timestamp() + 3600,
            state: loaded,
        };
        assert!(from_cookie_key(&encoded(&forged)).is_err());
    }
}
