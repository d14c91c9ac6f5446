//! A fake Google Drive API v3 for the integration tests and the benchmarks: an in-process
//! actix-web server on `127.0.0.1:<random port>` that holds a file tree and answers what the
//! `google-drive` connector sends the way Drive does — paths under `/drive/v3/`, query
//! parameters, opaque page tokens, field masks, error bodies and headers — plus what tests
//! need on top: expiring tokens, injected faults, slow or broken downloads, a request log.
//!
//! ```ignore
//! let drive = FakeDrive::start().await;            // connector config: API_BASE_URL = drive.base_url()
//! let course = drive.add_folder(fake_drive::ROOT, "Course");
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
//! token bookkeeping, the server — lives in `fake_upstream.rs`, shared with `fake_graph.rs`.
//! The test binary declares it in `main.rs`; a benchmark that includes this file with
//! `#[path]` declares it next to it with `#[path]` too (both reach it as
//! `crate::fake_upstream`). Both use only the app's own dependencies.

#![allow(
    dead_code,
    reason = "a benchmark includes this file with `#[path]` and uses only part of it"
)]
#![expect(
    clippy::result_large_err,
    reason = "handlers return the response to send as their error, once per request"
)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use crate::fake_upstream::{
    Blob, BodyFault, Bookkeeping, Checksum, Refused, Reply, Server, Turned, UpstreamFault,
    ensure_checksums, fingerprint, finish, media_reply, percent_decode, set_retry_after,
    splitmix64,
};

// The public names of what this fake shares with `fake_graph.rs`. `allow`, not `expect`:
// which of them go unused depends on the crate that includes this file (tests, a benchmark).
#[allow(
    unused_imports,
    reason = "the fake's public API; no crate that includes this file uses all of it"
)]
pub use crate::fake_upstream::{CHUNK_SIZE, Content, Md5, synthetic_byte};

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
/// `orderBy` keys Drive accepts (comma-separated, like the field lists below).
const ORDER_KEYS: &str = concat!(
    "createdTime,folder,modifiedByMeTime,modifiedTime,name,name_natural,",
    "quotaBytesUsed,recency,sharedWithMeTime,starred,viewedByMeTime",
);
/// The `File` resource's fields: a mask naming another one is refused.
const FILE_FIELDS: &str = concat!(
    "kind,id,name,mimeType,description,starred,trashed,explicitlyTrashed,",
    "trashingUser,trashedTime,parents,properties,appProperties,spaces,version,",
    "webContentLink,webViewLink,iconLink,hasThumbnail,thumbnailLink,",
    "thumbnailVersion,viewedByMe,viewedByMeTime,createdTime,modifiedTime,",
    "modifiedByMeTime,modifiedByMe,sharedWithMeTime,sharingUser,owners,driveId,",
    "teamDriveId,lastModifyingUser,shared,ownedByMe,capabilities,",
    "viewersCanCopyContent,copyRequiresWriterPermission,writersCanShare,",
    "permissions,permissionIds,hasAugmentedPermissions,folderColorRgb,",
    "originalFilename,fullFileExtension,fileExtension,md5Checksum,sha1Checksum,",
    "sha256Checksum,size,quotaBytesUsed,headRevisionId,contentHints,",
    "imageMediaMetadata,videoMediaMetadata,isAppAuthorized,exportLinks,",
    "shortcutDetails,contentRestrictions,resourceKey,linkShareMetadata,labelInfo,",
    "inheritedPermissionsDisabled,downloadRestrictions",
);
const FILE_LIST_FIELDS: &str = "kind,nextPageToken,incompleteSearch,files";
const DRIVE_FIELDS: &str = concat!(
    "kind,id,name,themeId,colorRgb,backgroundImageFile,backgroundImageLink,",
    "capabilities,createdTime,hidden,restrictions,orgUnitId",
);
const DRIVE_LIST_FIELDS: &str = "kind,nextPageToken,drives";
const ABOUT_FIELDS: &str = concat!(
    "kind,user,storageQuota,importFormats,exportFormats,maxImportSizes,",
    "maxUploadSize,appInstalled,folderColorPalette,driveThemes,canCreateDrives,",
    "canCreateTeamDrives,teamDriveThemes",
);

// ---------------------------------------------------------------------------------------
// Faults, log
// ---------------------------------------------------------------------------------------

/// Which kind of request a fault is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `files.list`, `drives.list`.
    List,
    /// `files.get` (metadata), `drives.get`, `about.get`.
    Metadata,
    /// `files.get?alt=media`, `files.export`.
    Content,
}

/// A failure served instead of (or into) the next response of an [`Endpoint`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// `status` with Drive's error body; `reason` is `errors[0].reason` (by default the one
    /// Drive uses for that status: 429 `rateLimitExceeded`, 403 `forbidden`, 5xx
    /// `backendError`…); `retry_after` adds `Retry-After: <seconds>`.
    Status {
        /// HTTP status.
        status: u16,
        /// `Retry-After` in seconds.
        retry_after: Option<u64>,
        /// `errors[0].reason`.
        reason: Option<&'static str>,
    },
    /// 403 with a usage-limit reason: `userRateLimitExceeded` or `rateLimitExceeded`.
    RateLimit403 {
        /// `errors[0].reason`.
        reason: &'static str,
    },
    /// 403 `insufficientPermissions`: the token lacks a scope.
    InsufficientPermissions,
    /// A 5xx with Drive's body for it.
    ServerError(u16),
    /// Announces the full `Content-Length`, sends `after` bytes, then drops the connection.
    Truncate {
        /// Bytes sent before the connection drops.
        after: u64,
    },
    /// Serves the right length, but with one byte changed (so the checksum no longer
    /// matches the listed one).
    CorruptContent,
    /// Sends `after` bytes, then nothing more, without closing the connection (until the
    /// fake is dropped).
    Stall {
        /// Bytes sent before the stall.
        after: u64,
    },
}

impl UpstreamFault for Fault {
    fn body_fault(&self) -> Option<BodyFault> {
        match self {
            Self::Truncate { after } => Some(BodyFault::Truncate(*after)),
            Self::CorruptContent => Some(BodyFault::Corrupt),
            Self::Stall { after } => Some(BodyFault::Stall(*after)),
            _ => None,
        }
    }
}

/// One request the fake received (`endpoint`: `None` for paths outside `/drive/v3/`).
pub type LoggedRequest = crate::fake_upstream::LoggedRequest<Endpoint>;

// ---------------------------------------------------------------------------------------
// The tree
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Kind {
    Folder,
    File(Arc<Blob>),
    Native { export_size: u64 },
    Shortcut { target: String, target_mime: String },
}

#[derive(Debug, Clone)]
struct Node {
    id: String,
    name: String,
    mime: String,
    kind: Kind,
    /// None for My Drive's root and shared drives' top folders.
    parent: Option<String>,
    /// The shared drive the item is in.
    drive_id: Option<String>,
    owned_by_me: bool,
    shared_with_me: bool,
    trashed: bool,
    starred: bool,
    can_download: bool,
    abusive: bool,
    created: i64,
    modified: i64,
    version: u64,
    revision: u64,
}

#[derive(Debug, Clone)]
struct SharedDrive {
    id: String,
    name: String,
    created: i64,
}

struct State {
    nodes: HashMap<String, Node>,
    /// Ids in creation order: the order of listings without `orderBy`.
    order: Vec<String>,
    drives: Vec<SharedDrive>,
    next_id: u64,
    /// Seconds since the epoch of the last change; every change moves it a minute on.
    clock: i64,
    books: Bookkeeping<Endpoint, Fault>,
    user_name: String,
    user_email: String,
}

/// The server's state, shared by the handle and the workers.
struct Shared {
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    fn new() -> Self {
        // 2026-01-05T09:00:00Z
        let clock = 1_767_603_600;
        let root = Node {
            id: ROOT_ID.to_owned(),
            name: "My Drive".to_owned(),
            mime: FOLDER_MIME.to_owned(),
            kind: Kind::Folder,
            parent: None,
            drive_id: None,
            owned_by_me: true,
            shared_with_me: false,
            trashed: false,
            starred: false,
            can_download: true,
            abusive: false,
            created: clock,
            modified: clock,
            version: 1,
            revision: 1,
        };
        Self {
            nodes: HashMap::from([(ROOT_ID.to_owned(), root)]),
            order: vec![ROOT_ID.to_owned()],
            drives: Vec::new(),
            next_id: 1,
            clock,
            books: Bookkeeping::new(),
            user_name: "Alice Example".to_owned(),
            user_email: "alice@campus.example".to_owned(),
        }
    }

    fn tick(&mut self) -> i64 {
        self.clock += 60;
        self.clock
    }

    /// A Drive-looking id: `prefix` + base64url of generated bytes.
    fn new_id(&mut self, prefix: &str, words: usize) -> String {
        let n = self.next_id;
        self.next_id += 1;
        let bytes: Vec<u8> = (0..words as u64)
            .flat_map(|i| splitmix64(n.wrapping_mul(31).wrapping_add(i)).to_le_bytes())
            .collect();
        format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
    }

    /// `root` → the root's real id.
    fn resolve<'a>(&self, id: &'a str) -> &'a str {
        if id == ROOT { ROOT_ID } else { id }
    }

    fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.get(self.resolve(id))
    }

    fn node_mut(&mut self, id: &str) -> &mut Node {
        let id = self.resolve(id).to_owned();
        self.nodes
            .get_mut(&id)
            .unwrap_or_else(|| panic!("fake Drive: no item `{id}`"))
    }

    fn insert(&mut self, parent_id: &str, name: &str, mime: &str, kind: Kind) -> String {
        let parent = self.node(parent_id).cloned().unwrap_or_else(|| {
            panic!("fake Drive: no parent folder `{parent_id}`");
        });
        assert!(
            matches!(parent.kind, Kind::Folder),
            "fake Drive: `{parent_id}` is not a folder"
        );
        let id = self.new_id("1", 3);
        let now = self.tick();
        let node = Node {
            id: id.clone(),
            name: name.to_owned(),
            mime: mime.to_owned(),
            kind,
            parent: Some(parent.id.clone()),
            drive_id: parent.drive_id.clone(),
            owned_by_me: parent.owned_by_me,
            shared_with_me: false,
            trashed: false,
            starred: false,
            can_download: true,
            abusive: false,
            created: now,
            modified: now,
            version: 1,
            revision: 1,
        };
        self.nodes.insert(id.clone(), node);
        self.order.push(id.clone());
        id
    }
}

// ---------------------------------------------------------------------------------------
// The handle
// ---------------------------------------------------------------------------------------

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
            id: id.clone(),
            name: name.to_owned(),
            mime: FOLDER_MIME.to_owned(),
            kind: Kind::Folder,
            parent: None,
            drive_id: Some(id.clone()),
            owned_by_me: false,
            shared_with_me: false,
            trashed: false,
            starred: false,
            can_download: true,
            abusive: false,
            created: now,
            modified: now,
            version: 1,
            revision: 1,
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

    /// Makes every token seen so far answer 401 (`authError`), as after an access token's
    /// lifetime: the client must refresh and retry with a new token.
    pub fn expire_all_tokens(&self) {
        self.shared.lock().books.expire_all_tokens();
    }

    /// Makes one token answer 401 from now on (also before it is first used).
    pub fn expire_token(&self, token: &str) {
        self.shared.lock().books.expire_token(token);
    }

    /// Every bearer token received, in the order first seen.
    pub fn tokens_seen(&self) -> Vec<String> {
        self.shared.lock().books.tokens_seen()
    }

    /// Queues a fault for the next request of `endpoint` (faults of one endpoint are served
    /// in order, one per request, after authentication succeeded).
    pub fn fail_next(&self, endpoint: Endpoint, fault: Fault) {
        self.shared.lock().books.fail_next(endpoint, fault);
    }

    /// Faults still queued for `endpoint`.
    pub fn pending_faults(&self, endpoint: Endpoint) -> usize {
        self.shared.lock().books.pending_faults(endpoint)
    }

    /// Drops every queued fault.
    pub fn clear_faults(&self) {
        self.shared.lock().books.clear_faults();
    }

    /// Waits this long before each content chunk.
    pub fn set_content_delay(&self, per_chunk: Duration) {
        self.shared.lock().books.pace.per_chunk = per_chunk;
    }

    /// Serves content at about this many bytes per second (`None`: as fast as possible).
    pub fn set_content_rate(&self, bytes_per_second: Option<u64>) {
        self.shared.lock().books.pace.bytes_per_second = bytes_per_second;
    }

    /// Every request received, oldest first.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared.lock().books.log.clone()
    }

    /// Forgets the request log.
    pub fn clear_log(&self) {
        self.shared.lock().books.log.clear();
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

    fn count(&self, endpoint: Endpoint) -> usize {
        self.shared.lock().books.count(endpoint)
    }
}

// ---------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    ListFiles,
    GetFile(String),
    Media(String),
    Export(String),
    ListDrives,
    GetDrive(String),
    About,
    Unknown,
}

impl Route {
    fn of(path: &str, params: &HashMap<String, String>) -> Self {
        let Some(rest) = path.strip_prefix("/drive/v3/") else {
            return Self::Unknown;
        };
        let segments: Vec<String> = rest.split('/').map(percent_decode).collect();
        let media = params.get("alt").is_some_and(|alt| alt == "media");
        match segments.iter().map(String::as_str).collect::<Vec<_>>()[..] {
            ["files"] => Self::ListFiles,
            ["files", id] if media => Self::Media(id.to_owned()),
            ["files", id] => Self::GetFile(id.to_owned()),
            ["files", id, "export"] => Self::Export(id.to_owned()),
            ["drives"] => Self::ListDrives,
            ["drives", id] => Self::GetDrive(id.to_owned()),
            ["about"] => Self::About,
            _ => Self::Unknown,
        }
    }

    fn endpoint(&self) -> Option<Endpoint> {
        match self {
            Self::ListFiles | Self::ListDrives => Some(Endpoint::List),
            Self::GetFile(_) | Self::GetDrive(_) | Self::About => Some(Endpoint::Metadata),
            Self::Media(_) | Self::Export(_) => Some(Endpoint::Content),
            Self::Unknown => None,
        }
    }
}

/// What the handler needs from a request.
type Call = crate::fake_upstream::Call<Route>;

async fn handle(req: HttpRequest, shared: web::Data<Shared>) -> HttpResponse {
    let call = Call::of(&req, Route::of);
    let response = respond(&shared, &call).await;
    let entry = call.logged(call.route.endpoint(), &response);
    shared.lock().books.log.push(entry);
    response
}

async fn respond(shared: &Shared, call: &Call) -> HttpResponse {
    let Some(endpoint) = call.route.endpoint() else {
        return error(404, "notFound", "Not Found", None);
    };
    if call.method != Method::GET {
        return error(405, "methodNotAllowed", "Method Not Allowed", None);
    }
    let admitted = shared.lock().books.admit(call, endpoint);
    let (body_fault, pace) = match admitted {
        Ok(admitted) => admitted,
        Err(Turned::Refused(refused)) => return unauthorized(refused),
        Err(Turned::Fault(fault)) => return fault_response(&fault),
    };
    let reply = match &call.route {
        Route::ListFiles => list_files(shared, call).await,
        Route::GetFile(id) => get_file(shared, call, id).await,
        Route::Media(id) => media(shared, call, id),
        Route::Export(id) => export(shared, call, id),
        Route::ListDrives => list_drives(shared, call),
        Route::GetDrive(id) => get_drive(shared, call, id),
        Route::About => about(shared, call),
        Route::Unknown => Reply::Error(error(404, "notFound", "Not Found", None)),
    };
    finish(reply, body_fault, pace, JSON)
}

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

/// Drive's error body. `location` is `(locationType, location)`.
fn error(status: u16, reason: &str, message: &str, location: Option<(&str, &str)>) -> HttpResponse {
    let domain = match reason {
        "userRateLimitExceeded" | "rateLimitExceeded" | "dailyLimitExceeded" => "usageLimits",
        _ => "global",
    };
    let mut detail = json!({"message": message, "domain": domain, "reason": reason});
    if let Some((kind, location)) = location {
        detail["locationType"] = json!(kind);
        detail["location"] = json!(location);
    }
    let body = json!({
        "error": {
            "code": status,
            "message": message,
            "errors": [detail],
            "status": rpc_status(status),
        }
    });
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status)
        .content_type(JSON)
        .body(body.to_string())
}

fn rpc_status(status: u16) -> &'static str {
    match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    }
}

fn invalid_parameter(location: &str) -> HttpResponse {
    error(
        400,
        "invalid",
        "Invalid Value",
        Some(("parameter", location)),
    )
}

fn not_found(id: &str) -> HttpResponse {
    let message = format!("File not found: {id}.");
    error(404, "notFound", &message, Some(("parameter", "fileId")))
}

/// 401: no credentials at all (`required`), or a token Google does not accept (`authError`).
fn unauthorized(refused: Refused) -> HttpResponse {
    let (reason, message, summary, challenge) = if refused == Refused::Missing {
        (
            "required",
            "Login Required.",
            "Login Required.",
            "Bearer realm=\"https://accounts.google.com/\"",
        )
    } else {
        (
            "authError",
            "Invalid Credentials",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, \
             login cookie or other valid authentication credential. See \
             https://developers.google.com/identity/sign-in/web/devconsole-project.",
            "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"",
        )
    };
    let body = json!({
        "error": {
            "code": 401,
            "message": summary,
            "errors": [{
                "message": message, "domain": "global", "reason": reason,
                "location": "Authorization", "locationType": "header"
            }],
            "status": "UNAUTHENTICATED",
        }
    });
    HttpResponse::Unauthorized()
        .insert_header((header::WWW_AUTHENTICATE, challenge))
        .content_type(JSON)
        .body(body.to_string())
}

fn fault_response(fault: &Fault) -> HttpResponse {
    match fault {
        Fault::Status {
            status,
            retry_after,
            reason,
        } => {
            let (default_reason, message) = match status {
                400 => ("badRequest", "Bad Request"),
                401 => ("authError", "Invalid Credentials"),
                403 => ("forbidden", "Forbidden"),
                404 => ("notFound", "Not Found"),
                429 => ("rateLimitExceeded", "Rate Limit Exceeded"),
                500 => ("backendError", "Backend Error"),
                502 => ("badGateway", "Bad Gateway"),
                503 => ("backendError", "The service is currently unavailable."),
                _ => ("backendError", "Backend Error"),
            };
            let message = match reason {
                Some("userRateLimitExceeded") => "User Rate Limit Exceeded",
                Some("rateLimitExceeded") => "Rate Limit Exceeded",
                _ => message,
            };
            let mut response = error(*status, reason.unwrap_or(default_reason), message, None);
            set_retry_after(&mut response, *retry_after);
            response
        }
        Fault::RateLimit403 { reason } => {
            let message = if *reason == "userRateLimitExceeded" {
                "User Rate Limit Exceeded"
            } else {
                "Rate Limit Exceeded"
            };
            error(403, reason, message, None)
        }
        Fault::InsufficientPermissions => {
            let body = json!({
                "error": {
                    "code": 403,
                    "message": "Request had insufficient authentication scopes.",
                    "errors": [{
                        "message": "Insufficient Permission",
                        "domain": "global",
                        "reason": "insufficientPermissions"
                    }],
                    "status": "PERMISSION_DENIED",
                    "details": [{
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
                        "domain": "googleapis.com",
                        "metadata": {"service": "drive.googleapis.com", "method": "google.apps.drive.v3.DriveFiles.List"}
                    }]
                }
            });
            HttpResponse::Forbidden()
                .content_type(JSON)
                .body(body.to_string())
        }
        Fault::ServerError(status) => fault_response(&Fault::Status {
            status: *status,
            retry_after: None,
            reason: None,
        }),
        Fault::Truncate { .. } | Fault::CorruptContent | Fault::Stall { .. } => {
            error(500, "backendError", "Backend Error", None)
        }
    }
}

// ---------------------------------------------------------------------------------------
// Field masks
// ---------------------------------------------------------------------------------------

/// A `fields` selector: everything, or these keys (each with its own selector).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Mask {
    All,
    Keys(BTreeMap<String, Mask>),
}

impl Mask {
    fn parse(text: &str) -> Result<Self, String> {
        let chars: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
        let mut position = 0;
        let mask = Self::parse_list(&chars, &mut position)?;
        if position == chars.len() {
            Ok(mask)
        } else {
            Err(chars[position..].iter().collect())
        }
    }

    fn parse_list(chars: &[char], position: &mut usize) -> Result<Self, String> {
        let mut keys = BTreeMap::new();
        loop {
            let start = *position;
            while *position < chars.len() && !matches!(chars[*position], ',' | '(' | ')') {
                *position += 1;
            }
            let path: String = chars[start..*position].iter().collect();
            if path.is_empty() || path.split('/').any(str::is_empty) {
                return Err(path);
            }
            let sub = if chars.get(*position) == Some(&'(') {
                *position += 1;
                let sub = Self::parse_list(chars, position)?;
                if chars.get(*position) != Some(&')') {
                    return Err(path);
                }
                *position += 1;
                sub
            } else {
                Self::All
            };
            let nested = path.rsplit('/').fold(sub, |inner, key| {
                Self::Keys(BTreeMap::from([(key.to_owned(), inner)]))
            });
            if let Self::Keys(top) = nested {
                for (key, mask) in top {
                    let merged = match keys.remove(&key) {
                        Some(existing) => Self::merge(existing, mask),
                        None => mask,
                    };
                    keys.insert(key, merged);
                }
            }
            if chars.get(*position) == Some(&',') {
                *position += 1;
            } else {
                return Ok(Self::Keys(keys));
            }
        }
    }

    fn merge(a: Self, b: Self) -> Self {
        match (a, b) {
            (Self::Keys(mut a), Self::Keys(b)) => {
                for (key, mask) in b {
                    let merged = match a.remove(&key) {
                        Some(existing) => Self::merge(existing, mask),
                        None => mask,
                    };
                    a.insert(key, merged);
                }
                Self::Keys(a)
            }
            _ => Self::All,
        }
    }

    fn selects(&self, key: &str) -> bool {
        match self {
            Self::All => true,
            Self::Keys(keys) => keys.contains_key(key) || keys.contains_key("*"),
        }
    }

    fn sub(&self, key: &str) -> Self {
        match self {
            Self::All => Self::All,
            Self::Keys(keys) => keys.get(key).cloned().unwrap_or(Self::All),
        }
    }

    /// The first key not in `allowed` (`*` is always allowed).
    fn unknown_key(&self, allowed: &str) -> Option<String> {
        match self {
            Self::All => None,
            Self::Keys(keys) => keys
                .keys()
                .find(|k| *k != "*" && !allowed.split(',').any(|a| a == k.as_str()))
                .cloned(),
        }
    }

    fn apply(&self, value: Value) -> Value {
        match (self, value) {
            (Self::All, value) => value,
            (Self::Keys(keys), value) if keys.contains_key("*") => value,
            (Self::Keys(keys), Value::Object(object)) => Value::Object(
                object
                    .into_iter()
                    .filter_map(|(k, v)| keys.get(&k).map(|mask| (k, mask.apply(v))))
                    .collect(),
            ),
            (mask @ Self::Keys(_), Value::Array(items)) => {
                Value::Array(items.into_iter().map(|v| mask.apply(v)).collect())
            }
            (_, value) => value,
        }
    }
}

/// The `fields` mask of a request, or `default`; `Err` is the 400 to answer.
fn mask_of(
    call: &Call,
    default: &str,
    allowed: &str,
    nested: Option<(&str, &str)>,
) -> Result<Mask, HttpResponse> {
    let text = call.param("fields").unwrap_or(default);
    let invalid = |selection: &str| {
        let message = format!("Invalid field selection {selection}");
        error(
            400,
            "invalidParameter",
            &message,
            Some(("parameter", "fields")),
        )
    };
    let mask = Mask::parse(text).map_err(|bad| invalid(&bad))?;
    if let Some(bad) = mask.unknown_key(allowed) {
        return Err(invalid(&bad));
    }
    if let Some((key, inner)) = nested
        && let Some(bad) = mask.sub(key).unknown_key(inner)
    {
        return Err(invalid(&bad));
    }
    Ok(mask)
}

// ---------------------------------------------------------------------------------------
// The `q` language
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Lexeme {
    Text(String),
    Word(String),
    Op(&'static str),
    Open,
    Close,
}

#[derive(Debug, Clone, PartialEq)]
enum Query {
    All,
    And(Vec<Query>),
    Or(Vec<Query>),
    Not(Box<Query>),
    InParents(String),
    OwnedByMe,
    Name(&'static str, String),
    FullText(String),
    Mime(&'static str, String),
    Flag(&'static str, bool),
    Time(&'static str, &'static str, String),
}

fn tokenize(q: &str) -> Option<Vec<Lexeme>> {
    let mut tokens = Vec::new();
    let mut chars = q.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                chars.next();
            }
            '\'' => {
                chars.next();
                let mut text = String::new();
                loop {
                    match chars.next()? {
                        '\\' => text.push(chars.next()?),
                        '\'' => break,
                        other => text.push(other),
                    }
                }
                tokens.push(Lexeme::Text(text));
            }
            '(' | ')' => {
                chars.next();
                tokens.push(if c == '(' {
                    Lexeme::Open
                } else {
                    Lexeme::Close
                });
            }
            '=' => {
                chars.next();
                tokens.push(Lexeme::Op("="));
            }
            '!' | '<' | '>' => {
                chars.next();
                let equals = chars.next_if_eq(&'=').is_some();
                let op = match (c, equals) {
                    ('!', true) => "!=",
                    ('<', false) => "<",
                    ('<', true) => "<=",
                    ('>', false) => ">",
                    ('>', true) => ">=",
                    _ => return None,
                };
                tokens.push(Lexeme::Op(op));
            }
            c if c.is_ascii_alphanumeric() || c == '_' => {
                let mut word = String::new();
                while let Some(c) = chars.next_if(|c| c.is_ascii_alphanumeric() || *c == '_') {
                    word.push(c);
                }
                tokens.push(Lexeme::Word(word));
            }
            _ => return None,
        }
    }
    Some(tokens)
}

struct Parser {
    tokens: Vec<Lexeme>,
    position: usize,
}

impl Parser {
    fn parse(q: &str) -> Option<Query> {
        let tokens = tokenize(q)?;
        if tokens.is_empty() {
            return Some(Query::All);
        }
        let mut parser = Self {
            tokens,
            position: 0,
        };
        let query = parser.or()?;
        (parser.position == parser.tokens.len()).then_some(query)
    }

    fn peek_word(&self, word: &str) -> bool {
        matches!(self.tokens.get(self.position), Some(Lexeme::Word(w)) if w == word)
    }

    fn next(&mut self) -> Option<Lexeme> {
        let token = self.tokens.get(self.position).cloned();
        self.position += 1;
        token
    }

    fn or(&mut self) -> Option<Query> {
        let mut terms = vec![self.and()?];
        while self.peek_word("or") {
            self.position += 1;
            terms.push(self.and()?);
        }
        Some(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Query::Or(terms)
        })
    }

    fn and(&mut self) -> Option<Query> {
        let mut terms = vec![self.unary()?];
        while self.peek_word("and") {
            self.position += 1;
            terms.push(self.unary()?);
        }
        Some(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Query::And(terms)
        })
    }

    fn unary(&mut self) -> Option<Query> {
        if self.peek_word("not") {
            self.position += 1;
            return Some(Query::Not(Box::new(self.unary()?)));
        }
        if self.tokens.get(self.position) == Some(&Lexeme::Open) {
            self.position += 1;
            let inner = self.or()?;
            return (self.next()? == Lexeme::Close).then_some(inner);
        }
        self.condition()
    }

    fn condition(&mut self) -> Option<Query> {
        match self.next()? {
            Lexeme::Text(value) => {
                let Lexeme::Word(in_word) = self.next()? else {
                    return None;
                };
                let Lexeme::Word(collection) = self.next()? else {
                    return None;
                };
                match (in_word.as_str(), collection.as_str(), value.as_str()) {
                    ("in", "parents", _) => Some(Query::InParents(value)),
                    ("in", "owners", "me") => Some(Query::OwnedByMe),
                    _ => None,
                }
            }
            Lexeme::Word(field) => {
                let op = match self.next()? {
                    Lexeme::Op(op) => op,
                    Lexeme::Word(w) if w == "contains" => "contains",
                    _ => return None,
                };
                let value = self.next()?;
                match (field.as_str(), op, value) {
                    ("name", "contains" | "=" | "!=", Lexeme::Text(v)) => Some(Query::Name(op, v)),
                    ("fullText", "contains", Lexeme::Text(v)) => Some(Query::FullText(v)),
                    ("mimeType", "contains" | "=" | "!=", Lexeme::Text(v)) => {
                        Some(Query::Mime(op, v))
                    }
                    ("trashed" | "starred" | "sharedWithMe", "=" | "!=", Lexeme::Word(v))
                        if v == "true" || v == "false" =>
                    {
                        let field = match field.as_str() {
                            "trashed" => "trashed",
                            "starred" => "starred",
                            _ => "sharedWithMe",
                        };
                        Some(Query::Flag(field, (v == "true") == (op == "=")))
                    }
                    ("modifiedTime" | "createdTime", _, Lexeme::Text(v)) if op != "contains" => {
                        let field = if field == "modifiedTime" {
                            "modifiedTime"
                        } else {
                            "createdTime"
                        };
                        Some(Query::Time(field, op, v))
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

impl Query {
    fn matches(&self, node: &Node) -> bool {
        match self {
            Self::All => true,
            Self::And(terms) => terms.iter().all(|t| t.matches(node)),
            Self::Or(terms) => terms.iter().any(|t| t.matches(node)),
            Self::Not(inner) => !inner.matches(node),
            Self::InParents(id) => {
                let id = if id == ROOT { ROOT_ID } else { id.as_str() };
                node.parent.as_deref() == Some(id)
            }
            Self::OwnedByMe => node.owned_by_me,
            Self::Name("contains", text) | Self::FullText(text) => word_prefix(&node.name, text),
            Self::Name("=", text) => node.name == *text,
            Self::Name(_, text) => node.name != *text,
            Self::Mime("contains", text) => node.mime.contains(text.as_str()),
            Self::Mime("=", text) => node.mime == *text,
            Self::Mime(_, text) => node.mime != *text,
            Self::Flag(field, wanted) => {
                let value = match *field {
                    "trashed" => node.trashed,
                    "starred" => node.starred,
                    _ => node.shared_with_me,
                };
                value == *wanted
            }
            Self::Time(field, op, text) => {
                let at = if *field == "modifiedTime" {
                    node.modified
                } else {
                    node.created
                };
                let Some(wanted) = parse_time(text) else {
                    return false;
                };
                match *op {
                    "<" => at < wanted,
                    "<=" => at <= wanted,
                    ">" => at > wanted,
                    ">=" => at >= wanted,
                    "=" => at == wanted,
                    _ => at != wanted,
                }
            }
        }
    }
}

/// Drive's `name contains`: a case-insensitive match at the start of the name or of a word
/// in it ("HelloWorld" matches `'Hello'`, not `'World'`).
fn word_prefix(name: &str, text: &str) -> bool {
    let name = name.to_lowercase();
    let text = text.to_lowercase();
    if text.is_empty() {
        return true;
    }
    name.match_indices(&text).any(|(i, _)| {
        name[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric())
    })
}

fn parse_time(text: &str) -> Option<i64> {
    let with_zone = if text.ends_with('Z') || text.contains('+') {
        text.to_owned()
    } else {
        format!("{text}Z")
    };
    chrono::DateTime::parse_from_rfc3339(&with_zone)
        .ok()
        .map(|t| t.timestamp())
}

fn format_time(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

// ---------------------------------------------------------------------------------------
// Page tokens and ordering
// ---------------------------------------------------------------------------------------

/// An opaque token for the page starting at `offset` of the listing `fingerprint` names.
fn page_token(offset: usize, fingerprint: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("~!!~{offset}:{fingerprint:016x}"))
}

fn page_offset(token: &str, fingerprint: u64) -> Option<usize> {
    let decoded = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
    let (offset, print) = decoded.strip_prefix("~!!~")?.split_once(':')?;
    (print == format!("{fingerprint:016x}")).then(|| offset.parse().ok())?
}

/// `orderBy` as (key, descending) pairs; `None` if a key is unknown.
fn parse_order(text: &str) -> Option<Vec<(String, bool)>> {
    text.split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(|key| {
            let (key, desc) = match key.split_once(' ') {
                Some((key, dir)) if dir.trim().eq_ignore_ascii_case("desc") => (key, true),
                Some((key, dir)) if dir.trim().eq_ignore_ascii_case("asc") => (key, false),
                Some(_) => return None,
                None => (key, false),
            };
            ORDER_KEYS
                .split(',')
                .any(|k| k == key)
                .then(|| (key.to_owned(), desc))
        })
        .collect()
}

fn compare(a: &Node, b: &Node, order: &[(String, bool)]) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    for (key, desc) in order {
        let ordering = match key.as_str() {
            "folder" => {
                let folder = |n: &Node| !matches!(n.kind, Kind::Folder);
                folder(a).cmp(&folder(b))
            }
            "name" => a.name.cmp(&b.name),
            "name_natural" => natural(&a.name, &b.name),
            "modifiedTime" | "modifiedByMeTime" | "recency" => a.modified.cmp(&b.modified),
            "createdTime" => a.created.cmp(&b.created),
            "quotaBytesUsed" => size_of(a).cmp(&size_of(b)),
            "starred" => b.starred.cmp(&a.starred),
            _ => Ordering::Equal,
        };
        let ordering = if *desc { ordering.reverse() } else { ordering };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    Ordering::Equal
}

fn size_of(node: &Node) -> u64 {
    match &node.kind {
        Kind::File(blob) => blob.content.len(),
        _ => 0,
    }
}

/// Case-insensitive, with digit runs compared as numbers ("file 2" < "file 12").
fn natural(a: &str, b: &str) -> std::cmp::Ordering {
    fn parts(s: &str) -> Vec<(bool, String)> {
        let mut parts: Vec<(bool, String)> = Vec::new();
        for c in s.to_lowercase().chars() {
            let digit = c.is_ascii_digit();
            match parts.last_mut() {
                Some((d, text)) if *d == digit => text.push(c),
                _ => parts.push((digit, c.to_string())),
            }
        }
        parts
    }
    let (a, b) = (parts(a), parts(b));
    for (x, y) in a.iter().zip(&b) {
        let ordering = match (x, y) {
            ((true, x), (true, y)) => {
                let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
                x.len().cmp(&y.len()).then_with(|| x.cmp(y))
            }
            ((_, x), (_, y)) => x.cmp(y),
        };
        if ordering.is_ne() {
            return ordering;
        }
    }
    a.len().cmp(&b.len())
}

// ---------------------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------------------

/// A `File` resource with every field the fake knows; checksums only when `digests` says
/// (and they were computed beforehand).
fn file_json(node: &Node, md5: bool, sha256: bool) -> Value {
    let mut file = Map::new();
    let mut put = |key: &str, value: Value| {
        file.insert(key.to_owned(), value);
    };
    put("kind", json!("drive#file"));
    put("id", json!(node.id));
    put("name", json!(node.name));
    put("mimeType", json!(node.mime));
    put("starred", json!(node.starred));
    put("trashed", json!(node.trashed));
    put("explicitlyTrashed", json!(node.trashed));
    if let Some(parent) = &node.parent {
        put("parents", json!([parent]));
    }
    put("spaces", json!(["drive"]));
    put("version", json!(node.version.to_string()));
    put("webViewLink", json!(web_view_link(node)));
    put(
        "iconLink",
        json!(format!(
            "https://drive-thirdparty.googleusercontent.com/16/type/{}",
            node.mime
        )),
    );
    put("hasThumbnail", json!(false));
    put("viewedByMe", json!(node.owned_by_me));
    put("createdTime", json!(format_time(node.created)));
    put("modifiedTime", json!(format_time(node.modified)));
    if node.shared_with_me {
        put("sharedWithMeTime", json!(format_time(node.created)));
    }
    put(
        "shared",
        json!(node.shared_with_me || node.drive_id.is_some()),
    );
    match &node.drive_id {
        Some(drive_id) => {
            put("driveId", json!(drive_id));
            put("teamDriveId", json!(drive_id));
        }
        None => put("ownedByMe", json!(node.owned_by_me)),
    }
    put(
        "capabilities",
        json!({
            "canDownload": node.can_download,
            "canCopy": node.can_download && !matches!(node.kind, Kind::Folder),
            "canEdit": node.owned_by_me,
            "canListChildren": matches!(node.kind, Kind::Folder),
            "canReadRevisions": node.owned_by_me,
            "canRename": node.owned_by_me,
            "canShare": node.owned_by_me,
            "canTrash": node.owned_by_me,
        }),
    );
    put("viewersCanCopyContent", json!(node.can_download));
    put("copyRequiresWriterPermission", json!(!node.can_download));
    put("writersCanShare", json!(true));
    match &node.kind {
        Kind::File(blob) => {
            let size = blob.content.len().to_string();
            put("size", json!(size));
            put("quotaBytesUsed", json!(size));
            put("originalFilename", json!(node.name));
            if let Some((_, extension)) = node.name.rsplit_once('.') {
                put("fileExtension", json!(extension));
                put("fullFileExtension", json!(extension));
            }
            put("headRevisionId", json!(head_revision_id(node)));
            put(
                "webContentLink",
                json!(format!(
                    "https://drive.google.com/uc?id={}&export=download",
                    node.id
                )),
            );
            if md5 {
                put("md5Checksum", json!(blob.checksum(Checksum::Md5)));
            }
            if sha256 {
                put("sha256Checksum", json!(blob.checksum(Checksum::Sha256)));
            }
        }
        Kind::Native { .. } => {
            put("quotaBytesUsed", json!("0"));
            let links: Map<String, Value> = export_formats(&node.mime)
                .iter()
                .map(|mime| {
                    let link = format!(
                        "https://docs.google.com/feeds/download/export?id={}&exportFormat={mime}",
                        node.id
                    );
                    ((*mime).to_owned(), json!(link))
                })
                .collect();
            if !links.is_empty() {
                put("exportLinks", Value::Object(links));
            }
        }
        Kind::Shortcut {
            target,
            target_mime,
        } => put(
            "shortcutDetails",
            json!({"targetId": target, "targetMimeType": target_mime}),
        ),
        Kind::Folder => put("quotaBytesUsed", json!("0")),
    }
    Value::Object(file)
}

fn head_revision_id(node: &Node) -> String {
    let bytes = splitmix64(fingerprint(&[&node.id]) ^ node.revision).to_le_bytes();
    format!("0B{}", URL_SAFE_NO_PAD.encode(bytes))
}

fn web_view_link(node: &Node) -> String {
    let id = &node.id;
    match node.mime.strip_prefix("application/vnd.google-apps.") {
        Some("folder") => format!("https://drive.google.com/drive/folders/{id}"),
        Some("document") => format!("https://docs.google.com/document/d/{id}/edit?usp=drivesdk"),
        Some("spreadsheet") => {
            format!("https://docs.google.com/spreadsheets/d/{id}/edit?usp=drivesdk")
        }
        Some("presentation") => {
            format!("https://docs.google.com/presentation/d/{id}/edit?usp=drivesdk")
        }
        Some("drawing") => format!("https://docs.google.com/drawings/d/{id}/edit?usp=drivesdk"),
        _ => format!("https://drive.google.com/file/d/{id}/view?usp=drivesdk"),
    }
}

/// The export MIME types of a Google-native type (Drive's "Export MIME types" table).
fn export_formats(mime: &str) -> &'static [&'static str] {
    const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
    const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    const PPTX: &str = "application/vnd.openxmlformats-officedocument.presentationml.presentation";
    match mime.strip_prefix("application/vnd.google-apps.") {
        Some("document") => &[
            DOCX,
            "application/vnd.oasis.opendocument.text",
            "application/rtf",
            "application/pdf",
            "text/plain",
            "application/zip",
            "application/epub+zip",
            "text/markdown",
        ],
        Some("spreadsheet") => &[
            XLSX,
            "application/x-vnd.oasis.opendocument.spreadsheet",
            "application/vnd.oasis.opendocument.spreadsheet",
            "application/pdf",
            "text/csv",
            "text/tab-separated-values",
            "application/zip",
        ],
        Some("presentation") => &[
            PPTX,
            "application/vnd.oasis.opendocument.presentation",
            "application/pdf",
            "text/plain",
            "image/jpeg",
            "image/png",
            "image/svg+xml",
        ],
        Some("drawing") => &[
            "application/pdf",
            "image/jpeg",
            "image/png",
            "image/svg+xml",
        ],
        Some("script") => &["application/vnd.google-apps.script+json"],
        _ => &[],
    }
}

// ---------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------

async fn list_files(shared: &Shared, call: &Call) -> Reply {
    let mask = match mask_of(
        call,
        "kind,incompleteSearch,nextPageToken,files(kind,id,name,mimeType)",
        FILE_LIST_FIELDS,
        Some(("files", FILE_FIELDS)),
    ) {
        Ok(mask) => mask,
        Err(response) => return Reply::Error(response),
    };
    let page_size = match call.param("pageSize").map(str::parse::<usize>) {
        None => 100,
        Some(Ok(n)) if (1..=1000).contains(&n) => n,
        Some(_) => return Reply::Error(invalid_parameter("pageSize")),
    };
    let Some(query) = Parser::parse(call.param("q").unwrap_or_default()) else {
        return Reply::Error(invalid_parameter("q"));
    };
    let Some(order) = parse_order(call.param("orderBy").unwrap_or_default()) else {
        return Reply::Error(invalid_parameter("orderBy"));
    };
    let all_drives = call.flag("includeItemsFromAllDrives");
    let corpora = call.param("corpora").unwrap_or("user");
    let drive_id = call.param("driveId");
    let corpus: fn(&Node, Option<&str>) -> bool = match (corpora, drive_id) {
        ("user" | "domain", None) => |n, _| n.drive_id.is_none(),
        ("drive", Some(_)) => |n, d| n.drive_id.as_deref() == d,
        ("allDrives", None) => |_, _| true,
        ("drive", None) | ("user" | "domain" | "allDrives", Some(_)) => {
            let message =
                "The driveId parameter must be specified if and only if corpora is set to drive.";
            return Reply::Error(error(
                400,
                "badRequest",
                message,
                Some(("parameter", "driveId")),
            ));
        }
        _ => return Reply::Error(invalid_parameter("corpora")),
    };
    if (corpora == "drive" || corpora == "allDrives") && !all_drives {
        let message = "The includeItemsFromAllDrives parameter must be set to true when \
                       corpora is drive or allDrives.";
        return Reply::Error(error(
            400,
            "badRequest",
            message,
            Some(("parameter", "includeItemsFromAllDrives")),
        ));
    }
    let spaces = call.param("spaces").unwrap_or("drive");
    if !spaces
        .split(',')
        .all(|s| matches!(s.trim(), "drive" | "appDataFolder"))
    {
        return Reply::Error(invalid_parameter("spaces"));
    }
    let print = fingerprint(&[
        call.param("q").unwrap_or_default(),
        corpora,
        drive_id.unwrap_or_default(),
        call.param("orderBy").unwrap_or_default(),
        spaces,
        if all_drives { "all" } else { "" },
    ]);
    let offset = match call.param("pageToken") {
        None => 0,
        Some(token) => match page_offset(token, print) {
            Some(offset) => offset,
            None => return Reply::Error(invalid_parameter("pageToken")),
        },
    };
    let (page, next) = {
        let state = shared.lock();
        let mut matches: Vec<&Node> = state
            .order
            .iter()
            .filter_map(|id| state.nodes.get(id))
            .filter(|n| n.parent.is_some() && spaces.contains("drive"))
            .filter(|n| corpus(n, drive_id) && (all_drives || n.drive_id.is_none()))
            .filter(|n| query.matches(n))
            .collect();
        matches.sort_by(|a, b| compare(a, b, &order));
        let page: Vec<Node> = matches
            .iter()
            .skip(offset)
            .take(page_size)
            .map(|n| (*n).clone())
            .collect();
        let next =
            (offset + page_size < matches.len()).then(|| page_token(offset + page_size, print));
        (page, next)
    };
    let file_mask = mask.sub("files");
    let (md5, sha256) = (
        file_mask.selects("md5Checksum"),
        file_mask.selects("sha256Checksum"),
    );
    ensure_checksums(blobs_of(&page), &checksums(md5, sha256)).await;
    let mut body = json!({
        "kind": "drive#fileList",
        "incompleteSearch": false,
        "files": page.iter().map(|n| file_json(n, md5, sha256)).collect::<Vec<_>>(),
    });
    if let Some(next) = next {
        body["nextPageToken"] = json!(next);
    }
    Reply::Json(mask.apply(body))
}

/// The checksums a `fields` mask asks for.
fn checksums(md5: bool, sha256: bool) -> Vec<Checksum> {
    [(md5, Checksum::Md5), (sha256, Checksum::Sha256)]
        .into_iter()
        .filter_map(|(wanted, checksum)| wanted.then_some(checksum))
        .collect()
}

fn blobs_of(nodes: &[Node]) -> Vec<Arc<Blob>> {
    nodes
        .iter()
        .filter_map(|n| match &n.kind {
            Kind::File(blob) => Some(blob.clone()),
            _ => None,
        })
        .collect()
}

/// The item `id` as the caller may see it: shared-drive items need `supportsAllDrives`.
fn visible(state: &State, call: &Call, id: &str) -> Result<Node, HttpResponse> {
    match state.node(id) {
        Some(node) if node.drive_id.is_none() || call.flag("supportsAllDrives") => Ok(node.clone()),
        _ => Err(not_found(id)),
    }
}

async fn get_file(shared: &Shared, call: &Call, id: &str) -> Reply {
    let mask = match mask_of(call, "kind,id,name,mimeType", FILE_FIELDS, None) {
        Ok(mask) => mask,
        Err(response) => return Reply::Error(response),
    };
    let node = match visible(&shared.lock(), call, id) {
        Ok(node) => node,
        Err(response) => return Reply::Error(response),
    };
    let (md5, sha256) = (mask.selects("md5Checksum"), mask.selects("sha256Checksum"));
    let node_blobs = blobs_of(std::slice::from_ref(&node));
    ensure_checksums(node_blobs, &checksums(md5, sha256)).await;
    Reply::Json(mask.apply(file_json(&node, md5, sha256)))
}

fn media(shared: &Shared, call: &Call, id: &str) -> Reply {
    let node = match visible(&shared.lock(), call, id) {
        Ok(node) => node,
        Err(response) => return Reply::Error(response),
    };
    let Kind::File(blob) = &node.kind else {
        let message = "Only files with binary content can be downloaded. Use Export with Docs \
                       Editors files.";
        return Reply::Error(error(
            403,
            "fileNotDownloadable",
            message,
            Some(("parameter", "alt")),
        ));
    };
    if node.abusive && !(node.owned_by_me && call.flag("acknowledgeAbuse")) {
        let message = "This file has been identified as malware or spam and cannot be \
                       downloaded.";
        return Reply::Error(error(
            403,
            "cannotDownloadAbusiveFile",
            message,
            Some(("parameter", "acknowledgeAbuse")),
        ));
    }
    if !node.can_download {
        let message = "The user does not have sufficient permissions to download this file.";
        return Reply::Error(error(403, "cannotDownloadFile", message, None));
    }
    media_reply(
        call.range.as_deref(),
        node.mime.clone(),
        blob.content.clone(),
    )
}

fn export(shared: &Shared, call: &Call, id: &str) -> Reply {
    let Some(mime) = call.param("mimeType").filter(|m| !m.is_empty()) else {
        let message = "Required parameter: mimeType";
        return Reply::Error(error(
            400,
            "required",
            message,
            Some(("parameter", "mimeType")),
        ));
    };
    let node = match shared.lock().node(id) {
        Some(node) => node.clone(),
        None => return Reply::Error(not_found(id)),
    };
    let Kind::Native { export_size } = node.kind else {
        let message = "Export only supports Docs Editors files.";
        return Reply::Error(error(403, "fileNotExportable", message, None));
    };
    if !export_formats(&node.mime).contains(&mime) {
        let message = "The requested conversion is not supported.";
        return Reply::Error(error(
            400,
            "badRequest",
            message,
            Some(("parameter", "convertTo")),
        ));
    }
    if export_size > EXPORT_LIMIT {
        let message = "This file is too large to be exported.";
        return Reply::Error(error(403, "exportSizeLimitExceeded", message, None));
    }
    let seed = fingerprint(&[&node.id, mime]) ^ node.version;
    Reply::Media {
        status: StatusCode::OK,
        content_type: mime.to_owned(),
        content: Content::synthetic(export_size, seed),
        start: 0,
        end: export_size,
    }
}

fn drive_json(drive: &SharedDrive) -> Value {
    json!({
        "kind": "drive#drive",
        "id": drive.id,
        "name": drive.name,
        "createdTime": format_time(drive.created),
        "hidden": false,
        "capabilities": {"canDownload": true, "canListChildren": true},
        "restrictions": {"copyRequiresWriterPermission": false, "domainUsersOnly": false},
    })
}

fn list_drives(shared: &Shared, call: &Call) -> Reply {
    let mask = match mask_of(
        call,
        "kind,nextPageToken,drives(kind,id,name)",
        DRIVE_LIST_FIELDS,
        Some(("drives", DRIVE_FIELDS)),
    ) {
        Ok(mask) => mask,
        Err(response) => return Reply::Error(response),
    };
    let page_size = match call.param("pageSize").map(str::parse::<usize>) {
        None => 10,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        Some(_) => return Reply::Error(invalid_parameter("pageSize")),
    };
    let print = fingerprint(&["drives", call.param("q").unwrap_or_default()]);
    let offset = match call.param("pageToken") {
        None => 0,
        Some(token) => match page_offset(token, print) {
            Some(offset) => offset,
            None => return Reply::Error(invalid_parameter("pageToken")),
        },
    };
    let state = shared.lock();
    let drives: Vec<Value> = state
        .drives
        .iter()
        .skip(offset)
        .take(page_size)
        .map(drive_json)
        .collect();
    let mut body = json!({"kind": "drive#driveList", "drives": drives});
    if offset + page_size < state.drives.len() {
        body["nextPageToken"] = json!(page_token(offset + page_size, print));
    }
    Reply::Json(mask.apply(body))
}

fn get_drive(shared: &Shared, call: &Call, id: &str) -> Reply {
    let mask = match mask_of(call, "kind,id,name", DRIVE_FIELDS, None) {
        Ok(mask) => mask,
        Err(response) => return Reply::Error(response),
    };
    let state = shared.lock();
    match state.drives.iter().find(|d| d.id == id) {
        Some(drive) => Reply::Json(mask.apply(drive_json(drive))),
        None => {
            let message = format!("Shared drive not found: {id}");
            Reply::Error(error(
                404,
                "notFound",
                &message,
                Some(("parameter", "driveId")),
            ))
        }
    }
}

fn about(shared: &Shared, call: &Call) -> Reply {
    if call.param("fields").is_none() {
        let message = "The 'fields' parameter is required for this method.";
        return Reply::Error(error(
            400,
            "required",
            message,
            Some(("parameter", "fields")),
        ));
    }
    let mask = match mask_of(call, "", ABOUT_FIELDS, None) {
        Ok(mask) => mask,
        Err(response) => return Reply::Error(response),
    };
    let state = shared.lock();
    let body = json!({
        "kind": "drive#about",
        "user": {
            "kind": "drive#user",
            "displayName": state.user_name,
            "emailAddress": state.user_email,
            "me": true,
            "permissionId": "00112233445566778899",
        },
        "storageQuota": {"limit": "16106127360", "usage": "0"},
        "canCreateDrives": true,
        "maxUploadSize": "5242880000000",
    });
    Reply::Json(mask.apply(body))
}

#[cfg(test)]
mod tests {
    // What only test functions use is imported in them: a benchmark that includes this file
    // compiles this module with `cfg(test)` but without its test functions.
    use super::*;

    const PDF: &str = "application/pdf";
    const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
    const LIST_FIELDS: &str = "nextPageToken,files(id,name,mimeType,size,md5Checksum,parents)";

    /// `GET {base}/drive/v3/{path}` with `token` as bearer.
    async fn get(
        drive: &FakeDrive,
        path: &str,
        query: &[(&str, &str)],
        token: Option<&str>,
    ) -> reqwest::Response {
        let mut request = reqwest::Client::new()
            .get(format!("{}/drive/v3/{path}", drive.base_url()))
            .query(query);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("the fake answers")
    }

    async fn json_of(response: reqwest::Response) -> Value {
        response.json().await.expect("a JSON body")
    }

    fn reason(body: &Value) -> &str {
        body["error"]["errors"][0]["reason"]
            .as_str()
            .unwrap_or_default()
    }

    #[test]
    fn the_q_parser_takes_drive_syntax_and_refuses_the_rest() {
        for ok in [
            "'root' in parents and trashed = false",
            r"name contains 'Valentine\'s Day' and trashed = false",
            "sharedWithMe = true and trashed = false",
            "(mimeType = 'application/pdf' or mimeType != 'x') and not starred = true",
            "modifiedTime > '2012-06-04T12:00:00' and 'me' in owners",
            "",
        ] {
            assert!(Parser::parse(ok).is_some(), "{ok}");
        }
        for bad in [
            "name has 'x'",
            "'root' in children",
            "trashed = 'false'",
            "name contains 'unterminated",
            "title contains 'v2 syntax'",
            "'a' in parents and",
        ] {
            assert!(Parser::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(
            Parser::parse(r"name contains 'it\'s'"),
            Some(Query::Name("contains", "it's".to_owned()))
        );
        assert!(word_prefix("HelloWorld.pdf", "hello"));
        assert!(!word_prefix("HelloWorld.pdf", "world"));
        assert!(word_prefix("Lab report (final).pdf", "final"));
        assert_eq!(natural("file 2", "file 12"), std::cmp::Ordering::Less);
    }

    #[tokio::test]
    async fn a_folder_of_250_files_takes_three_pages_of_100() {
        let drive = FakeDrive::start().await;
        let folder = drive.add_folder(ROOT, "Course");
        for n in (1..=250).rev() {
            drive.add_file(&folder, &format!("Week {n}.pdf"), PDF, "x");
        }
        drive.add_folder(&folder, "Zeta folder");
        let q = format!("'{folder}' in parents and trashed = false");
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut query = vec![
                ("q", q.as_str()),
                ("pageSize", "100"),
                ("orderBy", "folder,name_natural"),
                ("fields", LIST_FIELDS),
            ];
            if let Some(token) = &token {
                query.push(("pageToken", token));
            }
            let page = json_of(get(&drive, "files", &query, Some("t")).await).await;
            pages += 1;
            names.extend(
                page["files"]
                    .as_array()
                    .expect("files")
                    .iter()
                    .map(|f| f["name"].as_str().expect("name").to_owned()),
            );
            match page["nextPageToken"].as_str() {
                Some(next) => token = Some(next.to_owned()),
                None => break,
            }
        }
        assert_eq!(pages, 3);
        assert_eq!(names.len(), 251);
        assert_eq!(names[0], "Zeta folder", "folders first");
        assert_eq!(names[1..4], ["Week 1.pdf", "Week 2.pdf", "Week 3.pdf"]);
        assert_eq!(names[250], "Week 250.pdf");
        assert_eq!(drive.list_requests(), 3);

        // A token only works with the query it came from.
        let first =
            json_of(get(&drive, "files", &[("q", &q), ("pageSize", "10")], Some("t")).await).await;
        let token = first["nextPageToken"].as_str().expect("more pages");
        let other = get(
            &drive,
            "files",
            &[("q", "trashed = false"), ("pageToken", token)],
            Some("t"),
        )
        .await;
        assert_eq!(other.status(), 400);
        let body = json_of(other).await;
        assert_eq!(body["error"]["errors"][0]["location"], "pageToken");
        assert_eq!(
            first["files"][0],
            json!({"kind": "drive#file", "id": first["files"][0]["id"], "name": first["files"][0]["name"], "mimeType": PDF}),
            "the default fields"
        );
    }

    #[tokio::test]
    async fn search_and_corpora_follow_drive() {
        let drive = FakeDrive::start().await;
        let course = drive.add_folder(ROOT, "Course");
        let notes = drive.add_file(&course, "Lecture notes.pdf", PDF, "n");
        drive.add_file(&course, "Prelecture.pdf", PDF, "p");
        let binned = drive.add_file(&course, "Lecture old.pdf", PDF, "o");
        drive.trash(&binned);
        let team = drive.add_shared_drive("Physics dept");
        let team_file = drive.add_file(&team, "Lecture plan.pdf", PDF, "t");
        let shared = drive.add_shared_file("Lecture from Bob.pdf", PDF, "b");

        let search = |corpora: &'static str| {
            let drive = &drive;
            async move {
                let q = "name contains 'lecture' and trashed = false";
                let query = [
                    ("q", q),
                    ("corpora", corpora),
                    ("includeItemsFromAllDrives", "true"),
                    ("supportsAllDrives", "true"),
                    ("fields", "files(id)"),
                ];
                let body = json_of(get(drive, "files", &query, Some("t")).await).await;
                let mut ids: Vec<String> = body["files"]
                    .as_array()
                    .expect("files")
                    .iter()
                    .map(|f| f["id"].as_str().expect("id").to_owned())
                    .collect();
                ids.sort();
                ids
            }
        };
        let mut everywhere = vec![notes.clone(), team_file.clone(), shared.clone()];
        everywhere.sort();
        assert_eq!(search("allDrives").await, everywhere);
        let mut mine = vec![notes.clone(), shared.clone()];
        mine.sort();
        assert_eq!(search("user").await, mine);

        let in_team = [
            ("q", format!("'{team}' in parents and trashed = false")),
            ("corpora", "drive".to_owned()),
            ("driveId", team.clone()),
            ("includeItemsFromAllDrives", "true".to_owned()),
            ("supportsAllDrives", "true".to_owned()),
            ("fields", "files(id,driveId,parents)".to_owned()),
        ];
        let query: Vec<(&str, &str)> = in_team.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let body = json_of(get(&drive, "files", &query, Some("t")).await).await;
        assert_eq!(
            body["files"],
            json!([{"id": team_file, "driveId": team, "parents": [team]}])
        );

        let shared_with_me = [
            ("q", "sharedWithMe = true and trashed = false"),
            ("fields", "files(id,ownedByMe,parents)"),
        ];
        let body = json_of(get(&drive, "files", &shared_with_me, Some("t")).await).await;
        assert_eq!(body["files"][0]["id"], shared);
        assert_eq!(body["files"][0]["ownedByMe"], false);
        let parent = body["files"][0]["parents"][0].as_str().expect("a parent");
        let hidden = get(&drive, &format!("files/{parent}"), &[], Some("t")).await;
        assert_eq!(hidden.status(), 404, "the owner's folder is not visible");

        for (query, location) in [
            (vec![("q", "name has 'x'")], "q"),
            (vec![("pageSize", "0")], "pageSize"),
            (vec![("orderBy", "size")], "orderBy"),
            (vec![("corpora", "everything")], "corpora"),
        ] {
            let response = get(&drive, "files", &query, Some("t")).await;
            assert_eq!(response.status(), 400, "{query:?}");
            let body = json_of(response).await;
            assert_eq!(reason(&body), "invalid");
            assert_eq!(body["error"]["errors"][0]["location"], location);
        }
        let no_drive_items = get(&drive, "files", &[("corpora", "allDrives")], Some("t")).await;
        assert_eq!(no_drive_items.status(), 400);
        let bad_field = get(
            &drive,
            "files",
            &[("fields", "files(id,md5checksum)")],
            Some("t"),
        )
        .await;
        assert_eq!(bad_field.status(), 400);
        let body = json_of(bad_field).await;
        assert_eq!(
            body["error"]["message"],
            "Invalid field selection md5checksum"
        );
        let unsupported = get(&drive, &format!("files/{team_file}"), &[], Some("t")).await;
        assert_eq!(
            unsupported.status(),
            404,
            "shared-drive items need supportsAllDrives"
        );
    }

    #[tokio::test]
    async fn exports_follow_the_export_table_and_the_size_limit() {
        let drive = FakeDrive::start().await;
        let doc = drive.add_native(ROOT, "Essay", DOCUMENT_MIME);
        let pdf = drive.add_file(ROOT, "Scan.pdf", PDF, "%PDF");
        let form = drive.add_native(ROOT, "Survey", FORM_MIME);
        let export = |id: String, mime: &'static str| {
            let drive = &drive;
            async move {
                get(
                    drive,
                    &format!("files/{id}/export"),
                    &[("mimeType", mime)],
                    Some("t"),
                )
                .await
            }
        };
        let ok = export(doc.clone(), DOCX).await;
        assert_eq!(ok.status(), 200);
        assert_eq!(ok.headers()[header::CONTENT_TYPE.as_str()], DOCX);
        let bytes = ok.bytes().await.expect("bytes");
        assert_eq!(bytes.len() as u64, DEFAULT_EXPORT_SIZE);
        let again = export(doc.clone(), DOCX)
            .await
            .bytes()
            .await
            .expect("bytes");
        assert_eq!(bytes, again, "exports are deterministic");

        let unsupported = export(doc.clone(), "image/png").await;
        assert_eq!(unsupported.status(), 400);
        let body = json_of(unsupported).await;
        assert_eq!(reason(&body), "badRequest");
        assert_eq!(
            body["error"]["message"],
            "The requested conversion is not supported."
        );
        assert_eq!(
            reason(&json_of(export(form, PDF).await).await),
            "badRequest"
        );

        let binary = export(pdf.clone(), PDF).await;
        assert_eq!(binary.status(), 403);
        assert_eq!(reason(&json_of(binary).await), "fileNotExportable");

        drive.set_export_size(&doc, EXPORT_LIMIT + 1);
        let too_big = export(doc.clone(), DOCX).await;
        assert_eq!(too_big.status(), 403);
        assert_eq!(reason(&json_of(too_big).await), "exportSizeLimitExceeded");

        let media = get(
            &drive,
            &format!("files/{doc}"),
            &[("alt", "media")],
            Some("t"),
        )
        .await;
        assert_eq!(media.status(), 403);
        assert_eq!(reason(&json_of(media).await), "fileNotDownloadable");
        let listed = json_of(
            get(
                &drive,
                &format!("files/{doc}"),
                &[("fields", "size,md5Checksum,exportLinks")],
                Some("t"),
            )
            .await,
        )
        .await;
        assert!(listed.get("size").is_none() && listed.get("md5Checksum").is_none());
        assert!(listed["exportLinks"][DOCX].is_string());
    }

    #[tokio::test]
    async fn expired_tokens_get_401_and_new_ones_work() {
        let drive = FakeDrive::start().await;
        assert_eq!(
            get(&drive, "about", &[("fields", "user")], Some("first"))
                .await
                .status(),
            200
        );
        drive.expire_all_tokens();
        let expired = get(&drive, "about", &[("fields", "user")], Some("first")).await;
        assert_eq!(expired.status(), 401);
        assert!(
            expired.headers()[header::WWW_AUTHENTICATE.as_str()]
                .to_str()
                .expect("ascii")
                .contains("invalid_token")
        );
        let body = json_of(expired).await;
        assert_eq!(reason(&body), "authError");
        assert_eq!(body["error"]["status"], "UNAUTHENTICATED");
        let fresh = get(
            &drive,
            "about",
            &[("fields", "user(emailAddress)")],
            Some("second"),
        )
        .await;
        assert_eq!(
            json_of(fresh).await,
            json!({"user": {"emailAddress": "alice@campus.example"}})
        );
        let missing = get(&drive, "about", &[("fields", "user")], None).await;
        assert_eq!(missing.status(), 401);
        assert_eq!(reason(&json_of(missing).await), "required");
        assert_eq!(drive.tokens_seen(), ["first", "second"]);
        let requests = drive.requests();
        assert_eq!(requests.len(), 4);
        assert!(requests[0].authorization && !requests[3].authorization);
        assert_eq!(requests[1].status, 401);
        assert_eq!(
            requests[2].param("fields").as_deref(),
            Some("user(emailAddress)")
        );
        let no_fields = get(&drive, "about", &[], Some("second")).await;
        assert_eq!(no_fields.status(), 400, "about.get requires fields");
    }

    #[tokio::test]
    async fn injected_faults_are_served_in_order_with_drive_bodies() {
        let drive = FakeDrive::start().await;
        let file = drive.add_file(ROOT, "a.pdf", PDF, "abc");
        drive.fail_next(
            Endpoint::Metadata,
            Fault::Status {
                status: 429,
                retry_after: Some(7),
                reason: None,
            },
        );
        drive.fail_next(
            Endpoint::Metadata,
            Fault::RateLimit403 {
                reason: "userRateLimitExceeded",
            },
        );
        drive.fail_next(Endpoint::Metadata, Fault::InsufficientPermissions);
        drive.fail_next(Endpoint::Metadata, Fault::ServerError(503));
        assert_eq!(drive.pending_faults(Endpoint::Metadata), 4);
        let path = format!("files/{file}");

        let throttled = get(&drive, &path, &[], Some("t")).await;
        assert_eq!(throttled.status(), 429);
        assert_eq!(throttled.headers()[header::RETRY_AFTER.as_str()], "7");
        let body = json_of(throttled).await;
        assert_eq!(reason(&body), "rateLimitExceeded");
        assert_eq!(body["error"]["errors"][0]["domain"], "usageLimits");

        let body = json_of(get(&drive, &path, &[], Some("t")).await).await;
        assert_eq!(
            body,
            json!({"error": {"code": 403, "message": "User Rate Limit Exceeded",
                "errors": [{"message": "User Rate Limit Exceeded", "domain": "usageLimits",
                            "reason": "userRateLimitExceeded"}],
                "status": "PERMISSION_DENIED"}})
        );
        let body = json_of(get(&drive, &path, &[], Some("t")).await).await;
        assert_eq!(reason(&body), "insufficientPermissions");
        let unavailable = get(&drive, &path, &[], Some("t")).await;
        assert_eq!(unavailable.status(), 503);
        assert_eq!(reason(&json_of(unavailable).await), "backendError");
        assert_eq!(get(&drive, &path, &[], Some("t")).await.status(), 200);
        assert_eq!(drive.metadata_requests(), 5);
        assert_eq!(drive.content_requests(), 0);

        // A content fault waits for a content request.
        drive.fail_next(Endpoint::Content, Fault::ServerError(500));
        assert_eq!(get(&drive, &path, &[], Some("t")).await.status(), 200);
        let media = get(&drive, &path, &[("alt", "media")], Some("t")).await;
        assert_eq!(media.status(), 500);
    }

    #[tokio::test]
    async fn truncated_corrupted_and_stalled_downloads() {
        use futures_util::StreamExt;

        let drive = FakeDrive::start().await;
        let content = Content::synthetic(3 * CHUNK_SIZE as u64 + 5, 9);
        let file = drive.add_file(ROOT, "big.bin", "application/octet-stream", content.clone());
        let path = format!("files/{file}");
        let media = [("alt", "media")];

        drive.fail_next(Endpoint::Content, Fault::Truncate { after: 300_000 });
        let response = get(&drive, &path, &media, Some("t")).await;
        assert_eq!(response.content_length(), Some(content.len()));
        let mut stream = response.bytes_stream();
        let mut received = 0;
        let mut failed = false;
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(chunk) => received += chunk.len(),
                Err(_) => failed = true,
            }
        }
        assert!(failed, "the body breaks off");
        assert_eq!(received, 300_000);

        drive.fail_next(Endpoint::Content, Fault::CorruptContent);
        let corrupt = get(&drive, &path, &media, Some("t"))
            .await
            .bytes()
            .await
            .expect("body");
        assert_eq!(corrupt.len() as u64, content.len());
        let mut md5 = Md5::new();
        md5.update(&corrupt);
        assert_ne!(hex::encode(md5.finish()), drive.md5_of(&file));

        drive.fail_next(Endpoint::Content, Fault::Stall { after: 1000 });
        let response = get(&drive, &path, &media, Some("t")).await;
        let mut stream = response.bytes_stream();
        let first = stream.next().await.expect("a chunk").expect("bytes");
        assert_eq!(first.len(), 1000);
        let next = tokio::time::timeout(Duration::from_millis(300), stream.next()).await;
        assert!(next.is_err(), "nothing more arrives");

        let whole = get(&drive, &path, &media, Some("t"))
            .await
            .bytes()
            .await
            .expect("body");
        assert_eq!(whole, content.to_bytes());

        let partial = reqwest::Client::new()
            .get(format!("{}/drive/v3/{path}?alt=media", drive.base_url()))
            .bearer_auth("t")
            .header(header::RANGE.as_str(), "bytes=100-199")
            .send()
            .await
            .expect("range");
        assert_eq!(partial.status(), 206);
        assert_eq!(
            partial.headers()[header::CONTENT_RANGE.as_str()],
            format!("bytes 100-199/{}", content.len()).as_str()
        );
        assert_eq!(partial.bytes().await.expect("body"), content.read(100, 100));
    }

    #[tokio::test]
    async fn a_synthetic_64_mib_download_matches_the_listed_md5() {
        use futures_util::StreamExt;

        let drive = FakeDrive::start().await;
        let size = 64 * 1024 * 1024;
        let file = drive.add_file(
            ROOT,
            "dataset.bin",
            "application/octet-stream",
            Content::synthetic(size, 2026),
        );
        let q = "'root' in parents and trashed = false";
        let listed = json_of(
            get(
                &drive,
                "files",
                &[("q", q), ("fields", LIST_FIELDS)],
                Some("t"),
            )
            .await,
        )
        .await;
        let entry = &listed["files"][0];
        assert_eq!(entry["id"], file.as_str());
        assert_eq!(entry["size"], size.to_string());
        let listed_md5 = entry["md5Checksum"].as_str().expect("md5").to_owned();

        let response = get(
            &drive,
            &format!("files/{file}"),
            &[("alt", "media")],
            Some("t"),
        )
        .await;
        assert_eq!(response.content_length(), Some(size));
        let mut stream = response.bytes_stream();
        let mut md5 = Md5::new();
        let mut received = 0u64;
        let mut chunks = 0;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.expect("chunk");
            received += chunk.len() as u64;
            chunks += 1;
            md5.update(&chunk);
        }
        assert_eq!(received, size);
        assert!(chunks > 1);
        assert_eq!(hex::encode(md5.finish()), listed_md5);
    }

    #[tokio::test]
    async fn throttled_content_arrives_at_the_configured_rate() {
        let drive = FakeDrive::start().await;
        let file = drive.add_file(
            ROOT,
            "slow.bin",
            "application/octet-stream",
            Content::synthetic(40_000, 1),
        );
        drive.set_content_rate(Some(100_000));
        let started = std::time::Instant::now();
        let body = get(
            &drive,
            &format!("files/{file}"),
            &[("alt", "media")],
            Some("t"),
        )
        .await
        .bytes()
        .await
        .expect("body");
        assert_eq!(body.len(), 40_000);
        assert!(
            started.elapsed() >= Duration::from_millis(350),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn the_google_drive_connector_lists_searches_and_downloads_from_the_fake() {
        use std::sync::atomic::Ordering;

        use futures_util::StreamExt;

        use crate::fake_upstream::connector_runs::connect;

        let drive = FakeDrive::start().await;
        let course = drive.add_folder(ROOT, "Course");
        for n in 1..=130 {
            drive.add_file(
                &course,
                &format!("Week {n}.pdf"),
                PDF,
                format!("week {n}").into_bytes(),
            );
        }
        let lecture = drive.add_file(
            &course,
            "Lecture.mp4",
            "video/mp4",
            Content::synthetic(3 << 20, 5),
        );
        let essay = drive.add_native(&course, "Essay", DOCUMENT_MIME);
        drive.add_shortcut(ROOT, "Lecture shortcut", &lecture);

        let (connector, ctx, refresher) = connect("google-drive", drive.base_url());
        let run = |action: &'static str, params: Value| {
            let (connector, ctx) = (connector.clone(), &ctx);
            async move {
                connector
                    .execute_action(action, ctx, params)
                    .await
                    .unwrap_or_else(|e| panic!("{action}: {e:?}"))
            }
        };

        let first = run("list_files", json!({"folder_id": course}))
            .await
            .into_json()
            .expect("json");
        assert_eq!(first["files"].as_array().expect("files").len(), 100);
        assert_eq!(first["breadcrumbs"][0]["id"], "root");
        assert_eq!(first["breadcrumbs"][1]["name"], "Course");
        let token = first["next_page_token"].as_str().expect("a second page");
        let second = run(
            "list_files",
            json!({"folder_id": course, "page_token": token}),
        )
        .await
        .into_json()
        .expect("json");
        assert_eq!(second["files"].as_array().expect("files").len(), 32);
        assert_eq!(second["next_page_token"], Value::Null);

        let found = run("search_files", json!({"query": "lecture"}))
            .await
            .into_json()
            .expect("json");
        let names: Vec<&str> = found["files"]
            .as_array()
            .expect("files")
            .iter()
            .map(|f| f["name"].as_str().expect("name"))
            .collect();
        assert_eq!(names, ["Lecture.mp4", "Lecture shortcut"]);

        // Mid-session the token expires and Drive throttles once: refresh, back off, succeed.
        drive.expire_all_tokens();
        drive.fail_next(
            Endpoint::Content,
            Fault::RateLimit403 {
                reason: "userRateLimitExceeded",
            },
        );
        let download = run("download_file", json!({"file_id": lecture}))
            .await
            .into_download()
            .expect("a download");
        // Drive reports both digests; the connector passes on SHA-256 (the one the app
        // computes for every stored file anyway).
        let expected = format!("sha256:{}", drive.content_of(&lecture).sha256_hex());
        assert_eq!(
            download
                .checksum
                .as_ref()
                .map(campuscore_connectors::Checksum::as_str),
            Some(expected.as_str())
        );
        assert_eq!(download.size, Some(3 << 20));
        let mut sha256 = sha2::Sha256::default();
        let mut stream = download.stream;
        while let Some(chunk) = stream.next().await {
            sha2::Digest::update(&mut sha256, chunk.expect("chunk"));
        }
        assert_eq!(
            format!("sha256:{}", hex::encode(sha2::Digest::finalize(sha256))),
            expected
        );
        assert_eq!(refresher.calls.load(Ordering::SeqCst), 1);
        assert_eq!(drive.tokens_seen(), ["token-1", "token-2"]);

        let export = run("download_file", json!({"file_id": essay}))
            .await
            .into_download()
            .expect("an export");
        assert_eq!(export.name, "Essay.docx");
        assert_eq!(export.mime_type, DOCX);
        let exported: Vec<_> = export.stream.collect().await;
        let exported: usize = exported.into_iter().map(|c| c.expect("chunk").len()).sum();
        assert_eq!(exported as u64, DEFAULT_EXPORT_SIZE);

        // The revision follows the content, not the name.
        let get_file = |id: String| {
            let run = &run;
            async move {
                run("get_file", json!({"file_id": id}))
                    .await
                    .into_json()
                    .expect("json")
            }
        };
        let before = get_file(lecture.clone()).await;
        drive.rename(&lecture, "Lecture 1.mp4");
        let renamed = get_file(lecture.clone()).await;
        drive.update_content(&lecture, Content::synthetic(1 << 20, 6));
        let updated = get_file(lecture.clone()).await;
        assert!(before["revision"].is_string(), "{before}");
        assert_eq!(before["revision"], renamed["revision"]);
        assert_ne!(before["revision"], updated["revision"]);
        assert_ne!(before["checksum"], updated["checksum"]);

        let identity = connector.fetch_identity(&ctx).await.expect("identity");
        assert_eq!(identity.as_deref(), Some("alice@campus.example"));
        assert!(
            drive.requests().iter().all(|r| r.status != 400),
            "{:#?}",
            drive
                .requests()
                .iter()
                .filter(|r| r.status == 400)
                .collect::<Vec<_>>()
        );
    }
}
