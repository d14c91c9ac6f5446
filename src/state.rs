//! The one application state shared by every handler and worker.

use crate::services::queue::QueueHandle;
use crate::services::runtime::ConnectorRuntime;
use crate::services::source_files::FileStore;
use crate::services::storage::Storage;

/// Shared, cheaply cloneable application state: the services' [`ConnectorRuntime`] plus
/// what only the web layer and the workers hold. It dereferences to the runtime, so
/// `state.db` and `connections::find_mine(&state, …)` read as before while services never
/// see the whole state.
#[derive(Clone)]
pub struct AppState {
    /// Database, keys, plugins, outbound HTTP, refresh locks and settings.
    pub runtime: ConnectorRuntime,
    /// Object storage for uploaded and imported files.
    pub storage: Storage,
    /// Wakes the in-process queue worker when a message is written.
    pub queue: QueueHandle,
    /// Signs and encrypts session cookies (`services::session_key`).
    pub cookie_key: actix_web::cookie::Key,
    /// Signed-in sessions read lately, for the requests that confirm theirs themselves
    /// (`auth::session_store`).
    pub sessions: crate::auth::session_store::SessionCache,
    /// Campus sign-in (OpenID Connect): settings and the provider's cached metadata.
    pub sso: std::sync::Arc<crate::services::oidc::Sso>,
}

impl std::ops::Deref for AppState {
    type Target = ConnectorRuntime;

    fn deref(&self) -> &ConnectorRuntime {
        &self.runtime
    }
}

impl AppState {
    /// Where stored files are kept, for the file services.
    pub fn files(&self) -> FileStore<'_> {
        FileStore {
            db: &self.runtime.db,
            storage: &self.storage,
            outbox: &self.queue,
        }
    }
}
