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
//!
//! A request whose handler confirms the session in its own statement (the cloud-import
//! browser, `paths::is_cloud_browse`; the outer middleware marks it with [`confirmed_later`])
//! reads no session row first: the store serves the state this process read from the row
//! within the last [`CACHED_FOR`] ([`SessionCache`]), marked [`keys::UNCONFIRMED`] with the
//! key's hash. The handler's read then checks, in the same statement, that the session still
//! exists, has not expired and names its user, who is still active
//! (`models::connections::SessionToConfirm`), so a logout, an expiry or a deactivation in
//! any process counts on the very next request, as before; one round trip per browse fewer.
//! Any other reader of a marked session (`extractors::session_user`) confirms it with the
//! row's own read, so a handler that does not confirm loses nothing but the saving. Only a
//! state with a CSRF token is served this way (a handler finds its token and has no reason
//! to write the session), and the marker is never stored and is refused in an anonymous
//! cookie.

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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

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
    state.remove(keys::UNCONFIRMED);
    state
}

/// The key hash of a session served from [`SessionCache`] without reading its row: the
/// caller must confirm it before acting (see the module's notes).
pub fn unconfirmed(session: &Session) -> Option<String> {
    match session.get::<String>(keys::UNCONFIRMED) {
        Ok(found) => found,
        // Marked but unreadable (it cannot be): a key hash no session has, which no read
        // confirms.
        Err(_) => Some(String::new()),
    }
}

tokio::task_local! {
    /// Set around a request whose handler confirms its session in its own statement.
    static CONFIRMED_LATER: ();
}

/// Runs `request` (the session layer and everything inside it) as one whose handler
/// confirms the session itself: the store may serve it from [`SessionCache`].
pub async fn confirmed_later<F: std::future::Future>(request: F) -> F::Output {
    CONFIRMED_LATER.scope((), request).await
}

fn handler_confirms() -> bool {
    CONFIRMED_LATER.try_with(|_| ()).is_ok()
}

/// How long a signed-in session read from its row may serve the requests that confirm it
/// themselves: its state (user id, CSRF token) and user row are at most this old, while
/// whether it is live is read fresh by every such request.
pub const CACHED_FOR: std::time::Duration = std::time::Duration::from_secs(60);
/// Most sessions kept; when full, the stale ones go, and if none is stale, all of them.
const CACHE_CAPACITY: usize = 10_000;

/// Signed-in sessions this process read from their rows lately, by key hash, each with its
/// user row (see the module's notes). Shared by the workers.
#[derive(Clone, Default)]
pub struct SessionCache(Arc<CacheInner>);

#[derive(Default)]
struct CacheInner {
    entries: Mutex<HashMap<String, Cached>>,
    served: AtomicU64,
}

struct Cached {
    /// The state as loaded, with [`keys::LOADED_USER`].
    state: State,
    read_at: Instant,
}

impl SessionCache {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cached>> {
        // A panic while the lock was held leaves nothing half-done: each entry is whole.
        self.0
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The state of session `key_hash` if it was read within [`CACHED_FOR`].
    fn get(&self, key_hash: &str) -> Option<State> {
        let mut entries = self.entries();
        let cached = entries.get(key_hash)?;
        if cached.read_at.elapsed() >= CACHED_FOR {
            entries.remove(key_hash);
            return None;
        }
        let state = cached.state.clone();
        drop(entries);
        self.0.served.fetch_add(1, Ordering::Relaxed);
        Some(state)
    }

    /// Keeps `state`, just read from the row of session `key_hash`, if it may serve such
    /// requests: signed in, its user active and loaded with it, and a CSRF token.
    fn put(&self, key_hash: &str, state: &State, user: Option<&user::Model>) {
        let servable = user.is_some_and(|u| u.is_active && user_id_of(state) == Some(u.id))
            && state.contains_key(keys::CSRF)
            && state.contains_key(keys::LOADED_USER);
        let mut entries = self.entries();
        if !servable {
            entries.remove(key_hash);
            return;
        }
        if entries.len() >= CACHE_CAPACITY && !entries.contains_key(key_hash) {
            entries.retain(|_, c| c.read_at.elapsed() < CACHED_FOR);
            if entries.len() >= CACHE_CAPACITY {
                entries.clear();
            }
        }
        entries.insert(
            key_hash.to_owned(),
            Cached {
                state: state.clone(),
                read_at: Instant::now(),
            },
        );
    }

    /// Forgets session `key_hash` (this process changed or ended it).
    fn forget(&self, key_hash: &str) {
        self.entries().remove(key_hash);
    }

    /// How many requests were served from the cache since the process started.
    pub fn served(&self) -> u64 {
        self.0.served.load(Ordering::Relaxed)
    }
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
    if [keys::USER_ID, keys::LOADED_USER, keys::UNCONFIRMED]
        .iter()
        .any(|k| cookie.state.contains_key(*k))
    {
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
    cache: SessionCache,
}

impl DbSessionStore {
    pub fn new(db: DatabaseConnection, reads: Reads, cache: SessionCache) -> Self {
        Self { db, reads, cache }
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
        let key_hash = sha256_hex(key.as_ref());
        if handler_confirms()
            && let Some(mut state) = self.cache.get(&key_hash)
        {
            // Session values are JSON, as `Session::get` reads them.
            let marker = serde_json::to_string(&key_hash)
                .map_err(|e| LoadError::Deserialization(e.into()))?;
            state.insert(keys::UNCONFIRMED.to_owned(), marker);
            return Ok(Some(state));
        }
        let found = sessions::find_live_with_user(&self.db, &self.reads, &key_hash)
            .await
            .map_err(|e| LoadError::Other(store_error(e)))?;
        let Some((row, user)) = found else {
            self.cache.forget(&key_hash);
            return Ok(None);
        };
        let mut state: State =
            serde_json::from_str(&row.state).map_err(|e| LoadError::Deserialization(e.into()))?;
        state.remove(keys::LOADED_USER);
        state.remove(keys::UNCONFIRMED);
        if let Some(user) = &user {
            let json = serde_json::to_string(&LoadedUser::from(user.clone()))
                .map_err(|e| LoadError::Deserialization(e.into()))?;
            state.insert(keys::LOADED_USER.to_owned(), json);
        }
        self.cache.put(&key_hash, &state, user.as_ref());
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
        let key_hash = sha256_hex(key.as_ref());
        self.cache.forget(&key_hash);
        let updated = sessions::update(&self.db, &key_hash, body, user_id_of(&state), expires(ttl))
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
        let key_hash = sha256_hex(key.as_ref());
        self.cache.forget(&key_hash);
        sessions::set_expiry(&self.db, &key_hash, expires(ttl))
            .await
            .map_err(store_error)
    }

    async fn delete(&self, key: &SessionKey) -> Result<(), anyhow::Error> {
        if key.as_ref().starts_with(ANONYMOUS) {
            return Ok(());
        }
        let key_hash = sha256_hex(key.as_ref());
        self.cache.forget(&key_hash);
        sessions::delete(&self.db, &key_hash)
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

    fn user(id: i64, is_active: bool) -> user::Model {
        let now = Utc::now();
        user::Model {
            id,
            email: format!("u{id}@campus.edu"),
            display_name: String::new(),
            password_hash: String::new(),
            is_admin: false,
            is_active,
            created_at: now,
            updated_at: now,
            last_login_at: None,
        }
    }

    fn signed_in(id: i64) -> State {
        state(&[
            (keys::USER_ID, &id.to_string()),
            (keys::CSRF, "\"t\""),
            (keys::LOADED_USER, "{}"),
        ])
    }

    #[test]
    fn only_a_signed_in_state_of_an_active_user_with_a_csrf_token_is_kept() {
        let cache = SessionCache::default();
        cache.put("a", &signed_in(7), Some(&user(7, true)));
        assert_eq!(cache.get("a"), Some(signed_in(7)));
        assert_eq!(cache.served(), 1);
        let mut no_token = signed_in(8);
        no_token.remove(keys::CSRF);
        for (key, state, user) in [
            ("b", signed_in(8), None),
            ("c", signed_in(8), Some(user(8, false))),
            ("d", signed_in(8), Some(user(9, true))),
            ("e", no_token, Some(user(8, true))),
            ("f", state(&[(keys::CSRF, "\"t\"")]), Some(user(8, true))),
        ] {
            cache.put(key, &state, user.as_ref());
            assert_eq!(cache.get(key), None, "{key}");
        }
        // Read again and no longer servable (deactivated since): the old entry goes.
        cache.put("a", &signed_in(7), Some(&user(7, false)));
        assert_eq!(cache.get("a"), None);
        assert_eq!(cache.served(), 1);
    }

    #[test]
    fn a_kept_session_is_served_until_it_is_stale_or_forgotten() {
        let cache = SessionCache::default();
        cache.put("a", &signed_in(7), Some(&user(7, true)));
        cache.put("b", &signed_in(8), Some(&user(8, true)));
        cache.forget("a");
        assert_eq!(cache.get("a"), None);
        assert!(cache.get("b").is_some());
        if let Some(c) = cache.entries().get_mut("b") {
            c.read_at = Instant::now() - CACHED_FOR;
        }
        assert_eq!(cache.get("b"), None, "stale");
        assert!(cache.entries().is_empty(), "and dropped");
    }

    #[test]
    fn a_full_cache_drops_the_stale_entries_first_then_all() {
        let cache = SessionCache::default();
        for i in 0..CACHE_CAPACITY {
            cache.put(&i.to_string(), &signed_in(7), Some(&user(7, true)));
        }
        if let Some(c) = cache.entries().get_mut("0") {
            c.read_at = Instant::now() - CACHED_FOR;
        }
        cache.put("new", &signed_in(7), Some(&user(7, true)));
        assert_eq!(cache.entries().len(), CACHE_CAPACITY);
        assert!(cache.get("0").is_none() && cache.get("1").is_some());
        cache.put("newer", &signed_in(7), Some(&user(7, true)));
        assert_eq!(cache.entries().len(), 1, "none stale: all dropped");
        assert!(cache.get("newer").is_some());
    }

    #[tokio::test]
    async fn only_a_request_marked_as_confirmed_later_may_be_served_unread() {
        assert!(!handler_confirms());
        assert!(confirmed_later(async { handler_confirms() }).await);
        assert!(!handler_confirms());
    }

    #[test]
    fn the_unconfirmed_mark_is_never_stored_and_never_read_from_a_cookie() {
        let marked = state(&[(keys::UNCONFIRMED, "\"abc\""), (keys::CSRF, "\"t\"")]);
        assert_eq!(storable(marked.clone()), state(&[(keys::CSRF, "\"t\"")]));
        let forged = CookieState {
            exp: Utc::now().timestamp() + 3600,
            state: marked,
        };
        assert!(from_cookie_key(&encoded(&forged)).is_err());
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
