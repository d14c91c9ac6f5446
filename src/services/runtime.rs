//! What the connection services run on: the pieces every connector action needs, and
//! nothing of the web layer.

use crate::config::Settings;
use crate::models::local_reads::Reads;
use crate::models::local_writes::Bookkeeping;
use crate::services::audit::AuditLog;
use crate::services::connector_config::SettingsCache;
use crate::services::refresh_locks::RefreshLocks;
use crate::services::secrets::Keyring;
use campuscore_connectors::{HttpClient, Registry};
use sea_orm::DatabaseConnection;
use std::sync::Arc;

/// The database, the keys, the registered plugins, the outbound HTTP client and the
/// single-flight refresh locks: what connecting, refreshing, disconnecting and running an
/// action take. Cheap to clone (every field is shared).
#[derive(Clone)]
pub struct ConnectorRuntime {
    /// The database pool (SQLite or PostgreSQL).
    pub db: DatabaseConnection,
    /// Where the per-request bookkeeping writes go (rate-limit hits, audit rows,
    /// `last_used_at`): on SQLite a pool of one connection, so these writers queue in the
    /// process instead of sleeping on the database's lock (`db::connect_bookkeeping`), and
    /// for an SQLite file the calling thread first (`models::local_writes`); on PostgreSQL
    /// the same pool as `db`.
    pub writes: Bookkeeping,
    /// The reads every request makes, on the calling thread when the database is an SQLite
    /// file (`models::local_reads`); otherwise through `db`.
    pub reads: Reads,
    /// The audit trail's writer: rows of concurrent requests committed together.
    pub audit: Arc<AuditLog>,
    /// Connectors' decrypted settings, by the `config_version` they were read at.
    pub connector_settings: Arc<SettingsCache>,
    /// Fernet keys: the first encrypts, every key decrypts.
    pub keyring: Keyring,
    /// Connections' credentials as last opened with `keyring`, by the token they came from.
    pub opened: Arc<super::credentials::Opened>,
    /// Every registered connector plugin, by slug.
    pub registry: Arc<Registry>,
    /// The outbound HTTP client connectors use (rustls, timeouts, retries).
    pub http: HttpClient,
    /// Per-connection locks that make token refreshes single-flight within this process.
    pub refresh_locks: Arc<RefreshLocks>,
    /// The settings the app was started with (its public address, limits).
    pub settings: Arc<Settings>,
}
