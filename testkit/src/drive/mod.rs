//! A fake Google Drive API v3 for the integration tests and the benchmarks: an in-process
//! actix-web server on `127.0.0.1:<random port>` that holds a file tree and answers what the
//! `google-drive` connector sends the way Drive does — paths under `/drive/v3/`, query
//! parameters, opaque page tokens, field masks, error bodies and headers — plus what tests
//! need on top: expiring tokens, injected faults, slow or broken downloads, a request log.
//!
//! ```ignore
//! let drive = FakeDrive::start().await;            // connector config: API_BASE_URL = drive.base_url()
//! let course = drive.add_folder(drive::ROOT, "Course");
//! let pdf = drive.add_file(&course, "Syllabus.pdf", "application/pdf", Content::synthetic(3 << 20, 7));
//! drive.fail_next(Endpoint::Content, Fault::Status { status: 429, retry_after: Some(1), reason: None });
//! ```
//!
//! Modelled after the Drive v3 reference (files.list, files.get, files.export, drives.list,
//! drives.get, about.get) and the "Resolve errors" guide:
//! - `files.list`: `q` (`'<id>' in parents`, `name contains|=|!= '…'`, `mimeType`, `trashed`,
//!   `sharedWithMe`, `starred`, `fullText contains`, `modifiedTime`/`createdTime`
//!   comparisons, `'me' in owners`, combined with `and`/`or`/`not`/parentheses; anything else
//!   is `400 invalid` at location `q`), `pageSize` 1–1000 (default 100), `pageToken` (opaque,
//!   bound to the query: reused with another query it is `400 invalid` at `pageToken`),
//!   `orderBy`, `corpora` (`user`, `drive` + `driveId`, `allDrives`; `domain` is `user`
//!   here), `includeItemsFromAllDrives`, `supportsAllDrives`, `spaces`, `fields`.
//! - `fields` is honoured as a field mask (`a,b(c,d),e/f`, `*`); without it the defaults
//!   (`kind,id,name,mimeType`) are returned; an unknown top-level file field is `400` "Invalid
//!   field selection". Checksums are only computed when a mask asks for them.
//! - `files.get` (`supportsAllDrives`, the `root` alias), `alt=media` with `Range` (206),
//!   `acknowledgeAbuse`; `files.export` (`mimeType`, the export table, 10 MB limit);
//!   `drives.list`/`drives.get`; `about.get` (`fields` required).
//! - Errors: `{"error": {"code", "message", "errors": [{"message", "domain", "reason",
//!   "location"?, "locationType"?}], "status"}}` — `authError`/`required` (401),
//!   `userRateLimitExceeded`/`rateLimitExceeded` (403, domain `usageLimits`),
//!   `rateLimitExceeded` (429), `insufficientPermissions`, `notFound`, `fileNotDownloadable`,
//!   `fileNotExportable`, `exportSizeLimitExceeded`, `cannotDownloadAbusiveFile`, `badRequest`
//!   ("The requested conversion is not supported.").
//!
//! Not modelled: writes, uploads, permissions, revisions, changes, `sha1Checksum`.
//!
//! What is not Drive's own — content and its checksums, pacing, body faults, the request log,
//! token bookkeeping, the server — lives in [`crate::upstream`], shared with [`crate::graph`].
//! Here: [`FakeDrive`], the handle tests hold; `tree` (the items and the state), `routes`
//! (paths to handlers), `files` (`files.list` and `files.get`, paging and ordering),
//! `list_query` (the `q` grammar), `fields` (field masks), `resources` (the `File` JSON),
//! `content` (`alt=media` and `files.export`), `drives` (`drives.*`, `about.get`) and
//! `errors` (faults and Drive's error bodies).

mod content;
mod drives;
mod errors;
mod fields;
mod files;
mod list_query;
mod resources;
mod routes;
#[cfg(test)]
mod tests;
mod tree;

use std::sync::{Arc, Mutex};

pub use crate::upstream::FakeBooks;
use crate::upstream::{Blob, Bookkeeping, Checksum, Server};
pub use crate::upstream::{CHUNK_SIZE, Content, Md5, synthetic_byte};
pub use errors::{Endpoint, Fault, LoggedRequest};
use routes::handle;
use tree::{Kind, Node, Shared, SharedDrive, State};

/// The alias of the user's My Drive root folder (Drive accepts it wherever an id goes).
pub const ROOT: &str = "root";
/// Google folders.
pub const FOLDER_MIME: &str = "application/vnd.google-apps.folder";
/// Google shortcuts.
pub const SHORTCUT_MIME: &str = "application/vnd.google-apps.shortcut";
/// Google Docs.
pub const DOCUMENT_MIME: &str = "application/vnd.google-apps.document";
/// Google Sheets.
pub const SPREADSHEET_MIME: &str = "application/vnd.google-apps.spreadsheet";
/// Google Slides.
pub const PRESENTATION_MIME: &str = "application/vnd.google-apps.presentation";
/// Google Drawings.
pub const DRAWING_MIME: &str = "application/vnd.google-apps.drawing";
/// Google Forms (listed, never exported).
pub const FORM_MIME: &str = "application/vnd.google-apps.form";
/// Google exports at most this many bytes (`exportSizeLimitExceeded` beyond).
pub const EXPORT_LIMIT: u64 = 10 * 1024 * 1024;
/// Size of an export unless `set_export_size` says otherwise.
pub const DEFAULT_EXPORT_SIZE: u64 = 8 * 1024;

/// The `Content-Type` of Drive's JSON bodies.
const JSON: &str = "application/json; charset=UTF-8";
/// The real id of the My Drive root folder (`files.get root` answers with it).
const ROOT_ID: &str = "0AFakeRootFolderUk9PVA";
/// The (invisible) folder that holds the items shared with the user.
const FOREIGN_PARENT: &str = "0BForeignOwnersFolder";

/// A running fake Drive; stopped when dropped.
pub struct FakeDrive {
    shared: Arc<Shared>,
    server: Server,
}

impl FakeDrive {
    /// Starts the server on `127.0.0.1:<random port>` on the current Tokio runtime, with
    /// an empty My Drive.
    pub async fn start() -> Self {
        let state = |_: &str| Shared {
            state: Mutex::new(State::new()),
        };
        let (shared, server) = Server::start("fake Drive", state, handle);
        Self { shared, server }
    }

    /// [`Self::start`] on a socket the caller bound (the `campuscore-fakes` binary).
    pub fn start_on(listener: std::net::TcpListener) -> Self {
        let state = |_: &str| Shared {
            state: Mutex::new(State::new()),
        };
        let (shared, server) = Server::start_on("fake Drive", listener, state, handle);
        Self { shared, server }
    }

    /// `http://127.0.0.1:<port>`: the connector's `API_BASE_URL`.
    pub fn base_url(&self) -> &str {
        self.server.base_url()
    }

    /// The real id of My Drive's root folder (`root` is its alias).
    pub fn root_id(&self) -> &'static str {
        ROOT_ID
    }

    /// The signed-in user `about.get` reports.
    pub fn set_user(&self, display_name: &str, email: &str) {
        let mut state = self.shared.lock();
        state.user_name = display_name.to_owned();
        state.user_email = email.to_owned();
    }

    /// Adds a folder under `parent_id` (`root`, a folder or a shared drive id); returns its id.
    pub fn add_folder(&self, parent_id: &str, name: &str) -> String {
        self.shared
            .lock()
            .insert(parent_id, name, FOLDER_MIME, Kind::Folder)
    }

    /// Adds an uploaded (binary) file; returns its id.
    pub fn add_file(
        &self,
        parent_id: &str,
        name: &str,
        mime: &str,
        content: impl Into<Content>,
    ) -> String {
        let blob = Blob::new(content.into());
        self.shared
            .lock()
            .insert(parent_id, name, mime, Kind::File(blob))
    }

    /// Adds a Google-native file (`application/vnd.google-apps.document`, `…spreadsheet`…):
    /// no size or checksum; `files.export` serves [`DEFAULT_EXPORT_SIZE`] generated bytes for
    /// each format of Drive's export table.
    pub fn add_native(&self, parent_id: &str, name: &str, mime: &str) -> String {
        let kind = Kind::Native {
            export_size: DEFAULT_EXPORT_SIZE,
        };
        self.shared.lock().insert(parent_id, name, mime, kind)
    }

    /// Adds a shortcut to `target_id`; returns the shortcut's id.
    pub fn add_shortcut(&self, parent_id: &str, name: &str, target_id: &str) -> String {
        let mut state = self.shared.lock();
        let target_mime = state
            .node(target_id)
            .map(|n| n.mime.clone())
            .unwrap_or_else(|| panic!("fake Drive: no shortcut target `{target_id}`"));
        let kind = Kind::Shortcut {
            target: state.resolve(target_id).to_owned(),
            target_mime,
        };
        state.insert(parent_id, name, SHORTCUT_MIME, kind)
    }

    /// Adds a shared drive the user is a member of; returns its id (also the id of its top
    /// folder, under which `add_folder`/`add_file` put its items).
    pub fn add_shared_drive(&self, name: &str) -> String {
        let mut state = self.shared.lock();
        let id = format!("0A{}Uk9PVA", state.new_id("", 1));
        let now = state.tick();
        state.drives.push(SharedDrive {
            id: id.clone(),
            name: name.to_owned(),
            created: now,
        });
        let node = Node {
            drive_id: Some(id.clone()),
            owned_by_me: false,
            ..Node::new(&id, name, FOLDER_MIME, Kind::Folder, now)
        };
        state.nodes.insert(id.clone(), node);
        state.order.push(id.clone());
        id
    }

    /// Adds a folder someone else owns and shared with the user: it shows up under
    /// `sharedWithMe = true`, its parent is invisible to the user (404).
    pub fn add_shared_folder(&self, name: &str) -> String {
        self.add_shared(name, FOLDER_MIME, Kind::Folder)
    }

    /// Adds a file someone else owns and shared with the user.
    pub fn add_shared_file(&self, name: &str, mime: &str, content: impl Into<Content>) -> String {
        self.add_shared(name, mime, Kind::File(Blob::new(content.into())))
    }

    fn add_shared(&self, name: &str, mime: &str, kind: Kind) -> String {
        let mut state = self.shared.lock();
        let id = state.insert(ROOT, name, mime, kind);
        let node = state.node_mut(&id);
        node.parent = Some(FOREIGN_PARENT.to_owned());
        node.owned_by_me = false;
        node.shared_with_me = true;
        id
    }

    /// Sets `capabilities.canDownload` (false: the owner disabled downloads for viewers).
    pub fn set_can_download(&self, id: &str, can_download: bool) {
        self.shared.lock().node_mut(id).can_download = can_download;
    }

    /// Flags a file as malware: `alt=media` answers `cannotDownloadAbusiveFile` unless the
    /// owner sends `acknowledgeAbuse=true`.
    pub fn set_abusive(&self, id: &str, abusive: bool) {
        self.shared.lock().node_mut(id).abusive = abusive;
    }

    /// Sets the size of a native file's exports (over [`EXPORT_LIMIT`]: 403
    /// `exportSizeLimitExceeded`).
    pub fn set_export_size(&self, id: &str, size: u64) {
        let mut state = self.shared.lock();
        let node = state.node_mut(id);
        assert!(
            matches!(node.kind, Kind::Native { .. }),
            "fake Drive: `{id}` is not a Google-native file"
        );
        node.kind = Kind::Native { export_size: size };
    }

    /// Replaces a file's content: a new `headRevisionId`, `version`, `modifiedTime`.
    pub fn update_content(&self, id: &str, content: impl Into<Content>) {
        let mut state = self.shared.lock();
        let now = state.tick();
        let node = state.node_mut(id);
        assert!(
            matches!(node.kind, Kind::File(_)),
            "fake Drive: `{id}` is not a binary file"
        );
        node.kind = Kind::File(Blob::new(content.into()));
        node.modified = now;
        node.version += 1;
        node.revision += 1;
    }

    /// Renames an item (a new `version` and `modifiedTime`, same `headRevisionId`).
    pub fn rename(&self, id: &str, name: &str) {
        let mut state = self.shared.lock();
        let now = state.tick();
        let node = state.node_mut(id);
        node.name = name.to_owned();
        node.modified = now;
        node.version += 1;
    }

    /// Moves an item to the trash (still listed unless the query says `trashed = false`).
    pub fn trash(&self, id: &str) {
        let mut state = self.shared.lock();
        let node = state.node_mut(id);
        node.trashed = true;
        node.version += 1;
    }

    /// Deletes an item for good (404 afterwards).
    pub fn delete(&self, id: &str) {
        let mut state = self.shared.lock();
        let id = state.resolve(id).to_owned();
        state.nodes.remove(&id);
        state.order.retain(|i| *i != id);
    }

    /// The content of a binary file.
    pub fn content_of(&self, id: &str) -> Content {
        match &self.shared.lock().node_mut(id).kind {
            Kind::File(blob) => blob.content.clone(),
            _ => panic!("fake Drive: `{id}` is not a binary file"),
        }
    }

    /// The MD5 the API reports for a binary file (computed now if not yet).
    pub fn md5_of(&self, id: &str) -> String {
        match &self.shared.lock().node_mut(id).kind {
            Kind::File(blob) => blob.checksum(Checksum::Md5).to_owned(),
            _ => panic!("fake Drive: `{id}` is not a binary file"),
        }
    }

    /// The `version` the API reports for an item.
    pub fn version_of(&self, id: &str) -> u64 {
        self.shared.lock().node_mut(id).version
    }

    /// How many `files.list`/`drives.list` requests arrived.
    pub fn list_requests(&self) -> usize {
        self.count(Endpoint::List)
    }

    /// How many metadata requests (`files.get`, `drives.get`, `about.get`) arrived.
    pub fn metadata_requests(&self) -> usize {
        self.count(Endpoint::Metadata)
    }

    /// How many content requests (`alt=media`, exports) arrived.
    pub fn content_requests(&self) -> usize {
        self.count(Endpoint::Content)
    }
}

impl FakeBooks for FakeDrive {
    type Endpoint = Endpoint;
    type Fault = Fault;

    fn with_books<R>(&self, f: impl FnOnce(&mut Bookkeeping<Endpoint, Fault>) -> R) -> R {
        f(&mut self.shared.lock().books)
    }
}
