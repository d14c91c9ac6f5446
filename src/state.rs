//! The one application state shared by every handler and worker.

use crate::config::Settings;
use crate::services::queue::QueueHandle;
use crate::services::refresh_locks::RefreshLocks;
use crate::services::secrets::Keyring;
use crate::services::storage::Storage;
use campuscore_connectors::{HttpClient, Registry};
use sea_orm::DatabaseConnection;
use std::sync::Arc;

/// Shared, cheaply cloneable application state.
#[derive(Clone)]
pub struct AppState {
    /// The database pool (SQLite or PostgreSQL).
    pub db: DatabaseConnection,
    /// Fernet keys: the first encrypts, every key decrypts.
    pub keyring: Keyring,
    /// Every registered connector plugin, by slug.
    pub registry: Arc<Registry>,
    /// Object storage for uploaded and imported files.
    pub storage: Storage,
    /// Wakes the in-process queue worker when a message is written.
    pub queue: QueueHandle,
    /// The outbound HTTP client connectors use (rustls, timeouts, retries).
    pub http: HttpClient,
    /// The settings the app was started with.
    pub settings: Arc<Settings>,
    /// Per-connection locks that make token refreshes single-flight within this process.
    pub refresh_locks: Arc<RefreshLocks>,
}
