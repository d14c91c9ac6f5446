//! The background work of a running app: the queue's message handlers (registered here, at
//! start-up, so the queue itself names no service) and the janitor. Like the views, this is
//! top-level code that may hold the whole application state.

use crate::services::disconnect::{self, RevokeToken};
use crate::services::import_service::{self, CloudImportFile};
use crate::services::queue::{self, Handlers, Worker};
use crate::services::source_files::{self, SourceFileUploaded};
use crate::state::AppState;
use std::sync::Arc;

/// Every message type the app sends, with its handler.
pub fn handlers(state: &AppState) -> Handlers {
    let mut handlers = Handlers::default();
    let s = state.clone();
    handlers.on(move |msg: SourceFileUploaded, _| {
        let s = s.clone();
        async move { source_files::mark_ready(&s.db, &s.storage, &msg).await }
    });
    let s = state.clone();
    handlers.on(move |msg: CloudImportFile, attempt| {
        let s = s.clone();
        async move { import_service::run(&s, s.files(), &msg, attempt).await }
    });
    let s = state.clone();
    handlers.on(move |msg: RevokeToken, _| {
        let s = s.clone();
        async move { disconnect::retry_revocation(&s, &msg).await }
    });
    handlers
}

/// The queue's in-process workers over the app's database.
pub fn queue_worker(state: &AppState) -> Worker {
    Worker {
        db: state.db.clone(),
        handle: state.queue.clone(),
        handlers: Arc::new(handlers(state)),
    }
}

/// Runs the queue workers until `stop` fires (or the task is dropped).
pub async fn run_queue(state: AppState, stop: queue::StopSignal) {
    queue::run_worker(queue_worker(&state), stop).await;
}
