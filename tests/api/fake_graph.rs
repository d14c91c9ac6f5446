//! A fake Microsoft Graph v1.0 (OneDrive and SharePoint document libraries) for the
//! integration tests and the benchmarks: an in-process actix-web server on
//! `127.0.0.1:<random port>` that holds drives of `driveItem`s and answers what the
//! `onedrive` connector sends the way Graph does — `/v1.0` paths, `$select`, `$top`,
//! `@odata.nextLink` pages carrying `$skiptoken`, `search(q='…')`, `sharedWithMe` with
//! `remoteItem` references, Graph error bodies, `Retry-After`, and the two-step download —
//! plus what tests need on top: expiring tokens, injected faults, slow or broken downloads,
//! a request log.
//!
//! ```ignore
//! let graph = FakeGraph::start().await;            // connector config: API_BASE_URL = graph.base_url()
//! let course = graph.add_folder(fake_graph::ROOT, "Course");
//! let pdf = graph.add_file(&course, "Syllabus.pdf", "application/pdf", Content::synthetic(3 << 20, 7));
//! let id = graph.entry_id(&pdf);                   // `{driveId}:{itemId}`, the connector's file id
//! graph.fail_next(Endpoint::Download, Fault::Truncate { after: 1 << 20 });
//! ```
//!
//! Modelled after the Graph v1.0 reference (driveItem, list children, get item, get
//! content, search, sharedWithMe, user) and its error and throttling guides:
//! - `GET /me`, `/me/drive`, `/drives/{d}`, `/me/drive/root`, `/me/drive/items/{i}`,
//!   `/drives/{d}/root`, `/drives/{d}/items/{i}` (`root` works as an item id), each item
//!   with `/children`, `/content` and `/search(q='…')` (OData literal: `''` is a quote,
//!   percent-decoded first), and `/me/drive/sharedWithMe`.
//! - `$select` (top-level properties; an unknown one is `400 BadRequest` "Could not find a
//!   property named …"), `$top` (default 200), `$orderby` (`name`, `lastModifiedDateTime`,
//!   `size`, optionally `desc`), `$skiptoken` in `@odata.nextLink` (absolute, on this host,
//!   the request's other options kept; a token from another listing is `400`).
//! - driveItems carry `id`, `name`, `size` (a folder's: everything inside), `cTag`/`eTag`
//!   (`"c:{GUID},n"` / `"{GUID},n"`: the content tag changes with the content, the entity
//!   tag with any change), `file.hashes.quickXorHash` (+ `sha256Hash` unless turned off),
//!   `parentReference`, `createdDateTime`/`lastModifiedDateTime`, `webUrl`, `folder`,
//!   `package` (OneNote), `malware`, `root`, `@microsoft.graph.downloadUrl`. References
//!   (`sharedWithMe`, search hits in other drives) wrap a `remoteItem` without tags.
//! - `GET …/content` answers `302 Found` with a pre-authenticated `Location` on this host
//!   (`/personal/<owner>/_layouts/15/download.aspx?UniqueId=…&tempauth=…`, valid for
//!   [`FakeGraph::set_download_link_ttl`]); that URL must be fetched *without*
//!   `Authorization` — one carrying a bearer token is refused with 401, as SharePoint does,
//!   so a client that leaks the token fails. It honours `Range`.
//! - Errors `{"error": {"code", "message", "innerError": {"date", "request-id",
//!   "client-request-id"}}}`: `InvalidAuthenticationToken` (401, with `WWW-Authenticate`),
//!   `itemNotFound`, `accessDenied` (other people's items not shared with the user),
//!   `activityLimitReached` (429), `serviceNotAvailable` (503), `malwareDetected`…
//!
//! Not modelled: writes, uploads, delta, permissions, thumbnails, versions, path addressing
//! (`root:/a/b:`), `$filter`/`$expand`.
//!
//! What is not Graph's own — content and its hashes (QuickXorHash included), pacing, body
//! faults, the request log, token bookkeeping, the server — lives in `fake_upstream.rs`,
//! shared with `fake_drive.rs`. It uses only the app's own dependencies.

#![allow(
    dead_code,
    reason = "a benchmark includes this file with `#[path]` and uses only part of it"
)]
#![expect(
    clippy::result_large_err,
    reason = "handlers return the response to send as their error, once per request"
)]

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use actix_web::http::{Method, StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use crate::fake_upstream::{
    Blob, BodyFault, Bookkeeping, Checksum, Refused, Reply, Server, Turned, UpstreamFault,
    ensure_checksums, fingerprint, finish, media_reply, percent_decode, set_retry_after,
    splitmix64, to_usize,
};

// The public names of what this fake shares with `fake_drive.rs`.
#[expect(
    unused_imports,
    reason = "the fake's public API; the tests do not use all of it"
)]
pub use crate::fake_upstream::{CHUNK_SIZE, Content, QuickXor, synthetic_byte};

/// The virtual id of the user's own drive's root (`/me/drive/root`); Graph also accepts
/// `root` as an item id.
pub const ROOT: &str = "root";
/// Children per page without `$top`.
pub const DEFAULT_PAGE_SIZE: usize = 200;
/// How long a download link works unless `set_download_link_ttl` says otherwise.
pub const DEFAULT_LINK_TTL: Duration = Duration::from_secs(60 * 60);

/// The `Content-Type` of Graph's JSON responses (its error bodies say `application/json`).
const JSON: &str = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";
/// `driveItem` properties `$select` may name.
const ITEM_PROPERTIES: &str = concat!(
    "id,name,size,file,folder,package,remoteItem,parentReference,lastModifiedDateTime,",
    "createdDateTime,webUrl,malware,cTag,eTag,root,fileSystemInfo,createdBy,lastModifiedBy,",
    "description,image,photo,video,audio,shared,specialFolder,searchResult,deleted,",
    "webDavUrl,sharepointIds,content,bundle,location,publication,",
    "@microsoft.graph.downloadUrl",
);
/// `user` properties `$select` may name.
const USER_PROPERTIES: &str = concat!(
    "id,displayName,givenName,surname,mail,userPrincipalName,jobTitle,mobilePhone,",
    "officeLocation,preferredLanguage,businessPhones",
);
/// `drive` properties `$select` may name.
const DRIVE_PROPERTIES: &str =
    "id,name,driveType,owner,quota,webUrl,createdDateTime,lastModifiedDateTime,description";

// ---------------------------------------------------------------------------------------
// Faults, log
// ---------------------------------------------------------------------------------------

/// Which kind of request a fault is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `…/children`, `…/search(q='…')`, `/me/drive/sharedWithMe`.
    List,
    /// An item, `/me`, a drive.
    Metadata,
    /// `…/content` (the 302). A body fault queued here travels with the link it hands out
    /// and hits that download.
    Content,
    /// The pre-authenticated download URL.
    Download,
}

/// A failure served instead of (or into) the next response of an [`Endpoint`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// `status` with Graph's error body; `reason` is `error.code` (by default the one Graph
    /// uses: 429 `activityLimitReached`, 503 `serviceNotAvailable`, 500 `generalException`,
    /// 403 `accessDenied`…); `retry_after` adds `Retry-After: <seconds>`.
    Status {
        /// HTTP status.
        status: u16,
        /// `Retry-After` in seconds.
        retry_after: Option<u64>,
        /// `error.code`.
        reason: Option<&'static str>,
    },
    /// 403 `accessDenied`: the token lacks a scope.
    InsufficientPermissions,
    /// A 5xx with Graph's body for it.
    ServerError(u16),
    /// Announces the full `Content-Length`, sends `after` bytes, then drops the connection.
    Truncate {
        /// Bytes sent before the connection drops.
        after: u64,
    },
    /// Serves the right length, but with one byte changed (so the hashes no longer match
    /// the listed ones).
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

/// One request the fake received (`endpoint`: `None` for paths Graph does not have).
pub type LoggedRequest = crate::fake_upstream::LoggedRequest<Endpoint>;

// ---------------------------------------------------------------------------------------
// The drives
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Kind {
    Folder,
    File {
        blob: Arc<Blob>,
        mime: String,
    },
    /// A OneNote notebook (`package` of type `oneNote`).
    Notebook,
}

#[derive(Debug, Clone)]
struct Item {
    id: String,
    drive: String,
    name: String,
    kind: Kind,
    /// None for a drive's root.
    parent: Option<String>,
    created: i64,
    modified: i64,
    /// Bumped on every change (`eTag`).
    entity_version: u64,
    /// Bumped when the content changes (`cTag`).
    content_version: u64,
    malware: bool,
}

#[derive(Debug, Clone)]
struct DriveInfo {
    id: String,
    root: String,
    owner_name: String,
    owner_email: String,
    /// `alice_contoso_edu`: the owner's part of SharePoint URLs.
    site: String,
}

/// A pre-authenticated download link.
#[derive(Debug, Clone)]
struct Link {
    item: String,
    expires: Instant,
    fault: Option<BodyFault>,
}

struct State {
    items: HashMap<String, Item>,
    /// Ids in creation order: the order of listings without `$orderby`.
    order: Vec<String>,
    drives: Vec<DriveInfo>,
    /// `(reference id, item id)` of the items shared with the user.
    shared: Vec<(String, String)>,
    next_id: u64,
    clock: i64,
    books: Bookkeeping<Endpoint, Fault>,
    link_ttl: Duration,
    sha256: bool,
    user_name: String,
    user_mail: Option<String>,
    user_principal: String,
}

/// The server's state, shared by the handle and the workers, and the URL clients reach it
/// at (for `@odata.nextLink` and download links).
struct Shared {
    state: Mutex<State>,
    /// Download links by `tempauth` token; apart from the state so a response can hand out
    /// links while it reads the state.
    links: Mutex<HashMap<String, Link>>,
    base_url: String,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn links(&self) -> MutexGuard<'_, HashMap<String, Link>> {
        self.links.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    fn new() -> Self {
        let mut state = Self {
            items: HashMap::new(),
            order: Vec::new(),
            drives: Vec::new(),
            shared: Vec::new(),
            next_id: 1,
            // 2026-01-05T09:00:00Z
            clock: 1_767_603_600,
            books: Bookkeeping::new(),
            link_ttl: DEFAULT_LINK_TTL,
            sha256: true,
            user_name: "Alice Example".to_owned(),
            user_mail: Some("alice@campus.example".to_owned()),
            user_principal: "alice@campus.example".to_owned(),
        };
        state.new_drive("Alice Example", "alice@campus.example");
        state
    }

    fn my_drive(&self) -> &DriveInfo {
        &self.drives[0]
    }

    fn tick(&mut self) -> i64 {
        self.clock += 60;
        self.clock
    }

    fn next(&mut self) -> u64 {
        let n = self.next_id;
        self.next_id += 1;
        splitmix64(n.wrapping_mul(0x2545_F491_4F6C_DD1D))
    }

    /// `01` + 32 characters of base32: OneDrive for Business item ids look like this.
    fn new_item_id(&mut self) -> String {
        const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let (a, b) = (self.next(), self.next());
        let chars: String = (0..32)
            .map(|i| {
                let bits = if i < 12 {
                    a >> (i * 5)
                } else {
                    b >> ((i - 12) * 3)
                };
                char::from(ALPHABET[to_usize(bits & 31)])
            })
            .collect();
        format!("01{chars}")
    }

    fn new_drive(&mut self, owner_name: &str, owner_email: &str) -> String {
        let bytes: Vec<u8> = (0..6).flat_map(|_| self.next().to_le_bytes()).collect();
        let id = format!("b!{}", URL_SAFE_NO_PAD.encode(bytes));
        let root = self.new_item_id();
        let now = self.clock;
        let site: String = owner_email
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        self.drives.push(DriveInfo {
            id: id.clone(),
            root: root.clone(),
            owner_name: owner_name.to_owned(),
            owner_email: owner_email.to_owned(),
            site,
        });
        self.items.insert(
            root.clone(),
            Item {
                id: root.clone(),
                drive: id.clone(),
                name: "root".to_owned(),
                kind: Kind::Folder,
                parent: None,
                created: now,
                modified: now,
                entity_version: 1,
                content_version: 1,
                malware: false,
            },
        );
        self.order.push(root);
        id
    }

    fn drive(&self, id: &str) -> Option<&DriveInfo> {
        self.drives.iter().find(|d| d.id == id)
    }

    /// `root` → my drive's root item.
    fn resolve<'a>(&'a self, id: &'a str) -> &'a str {
        if id == ROOT {
            &self.my_drive().root
        } else {
            id
        }
    }

    fn item_mut(&mut self, id: &str) -> &mut Item {
        let id = self.resolve(id).to_owned();
        self.items
            .get_mut(&id)
            .unwrap_or_else(|| panic!("fake Graph: no item `{id}`"))
    }

    fn insert(&mut self, parent_id: &str, name: &str, kind: Kind) -> String {
        let parent_id = self.resolve(parent_id).to_owned();
        let drive = match self.items.get(&parent_id) {
            Some(parent) if matches!(parent.kind, Kind::Folder) => parent.drive.clone(),
            Some(_) => panic!("fake Graph: `{parent_id}` is not a folder"),
            None => panic!("fake Graph: no parent folder `{parent_id}`"),
        };
        let id = self.new_item_id();
        let now = self.tick();
        self.items.insert(
            id.clone(),
            Item {
                id: id.clone(),
                drive,
                name: name.to_owned(),
                kind,
                parent: Some(parent_id.clone()),
                created: now,
                modified: now,
                entity_version: 1,
                content_version: 1,
                malware: false,
            },
        );
        self.order.push(id.clone());
        self.touch_ancestors(&parent_id, now);
        id
    }

    /// A folder's tags change when something inside it does.
    fn touch_ancestors(&mut self, id: &str, now: i64) {
        let mut next = Some(id.to_owned());
        let mut seen = HashSet::new();
        while let Some(id) = next.take() {
            let Some(item) = self.items.get_mut(&id) else {
                break;
            };
            if !seen.insert(id) {
                break;
            }
            item.entity_version += 1;
            item.content_version += 1;
            item.modified = now;
            next = item.parent.clone();
        }
    }

    /// Whether the user may read `item`: everything in their drive, and what was shared
    /// with them (with everything below it) in other drives.
    fn readable(&self, item: &Item) -> bool {
        if item.drive == self.my_drive().id {
            return true;
        }
        let mut current = Some(item);
        while let Some(item) = current {
            if self.shared.iter().any(|(_, shared)| *shared == item.id) {
                return true;
            }
            current = item.parent.as_deref().and_then(|p| self.items.get(p));
        }
        false
    }

    fn is_below(&self, item: &Item, ancestor: &str) -> bool {
        let mut current = item.parent.as_deref();
        while let Some(id) = current {
            if id == ancestor {
                return true;
            }
            current = self.items.get(id).and_then(|i| i.parent.as_deref());
        }
        false
    }

    fn size(&self, item: &Item) -> u64 {
        match &item.kind {
            Kind::File { blob, .. } => blob.content.len(),
            Kind::Notebook => 0,
            Kind::Folder => self
                .items
                .values()
                .filter(|i| matches!(i.kind, Kind::File { .. }) && self.is_below(i, &item.id))
                .map(|i| self.size(i))
                .sum(),
        }
    }

    fn child_count(&self, id: &str) -> usize {
        self.items
            .values()
            .filter(|i| i.parent.as_deref() == Some(id))
            .count()
    }

    /// `/Course/Week 1` below the drive's root.
    fn path_of(&self, item: &Item) -> String {
        let mut names = Vec::new();
        let mut current = Some(item);
        while let Some(item) = current {
            if item.parent.is_none() {
                break;
            }
            names.push(item.name.clone());
            current = item.parent.as_deref().and_then(|p| self.items.get(p));
        }
        names.reverse();
        names.iter().map(|n| format!("/{n}")).collect()
    }
}

// ---------------------------------------------------------------------------------------
// The handle
// ---------------------------------------------------------------------------------------

/// A running fake Graph; stopped when dropped.
pub struct FakeGraph {
    shared: Arc<Shared>,
    server: Server,
}

impl FakeGraph {
    /// Starts the server on `127.0.0.1:<random port>` on the current Tokio runtime, with
    /// the user's empty drive.
    pub async fn start() -> Self {
        let state = |base_url: &str| Shared {
            state: Mutex::new(State::new()),
            links: Mutex::new(HashMap::new()),
            base_url: base_url.to_owned(),
        };
        let (shared, server) = Server::start("fake Graph", state, handle);
        Self { shared, server }
    }

    /// `http://127.0.0.1:<port>`: the connector's `API_BASE_URL`.
    pub fn base_url(&self) -> &str {
        self.server.base_url()
    }

    /// The id of the user's own drive.
    pub fn my_drive_id(&self) -> String {
        self.shared.lock().my_drive().id.clone()
    }

    /// The item id of the user's drive's root folder.
    pub fn root_id(&self) -> String {
        self.shared.lock().my_drive().root.clone()
    }

    /// `{driveId}:{itemId}`: the id the `onedrive` connector gives the item.
    pub fn entry_id(&self, item_id: &str) -> String {
        let mut state = self.shared.lock();
        let drive = state.item_mut(item_id).drive.clone();
        format!("{drive}:{}", state.resolve(item_id))
    }

    /// The signed-in user `GET /me` reports.
    pub fn set_user(&self, display_name: &str, mail: Option<&str>, user_principal_name: &str) {
        let mut state = self.shared.lock();
        state.user_name = display_name.to_owned();
        state.user_mail = mail.map(str::to_owned);
        state.user_principal = user_principal_name.to_owned();
    }

    /// Adds a folder under `parent_id` (`root`, or a folder in any drive); returns its id.
    pub fn add_folder(&self, parent_id: &str, name: &str) -> String {
        self.shared.lock().insert(parent_id, name, Kind::Folder)
    }

    /// Adds a file; returns its id.
    pub fn add_file(
        &self,
        parent_id: &str,
        name: &str,
        mime: &str,
        content: impl Into<Content>,
    ) -> String {
        let kind = Kind::File {
            blob: Blob::new(content.into()),
            mime: mime.to_owned(),
        };
        self.shared.lock().insert(parent_id, name, kind)
    }

    /// Adds a OneNote notebook (a `package`: neither file nor folder); returns its id.
    pub fn add_notebook(&self, parent_id: &str, name: &str) -> String {
        self.shared.lock().insert(parent_id, name, Kind::Notebook)
    }

    /// Adds another person's drive; returns its id (`drive_root` gives its root folder, to
    /// add items under). Nothing in it is readable until shared with the user.
    pub fn add_drive(&self, owner_name: &str, owner_email: &str) -> String {
        self.shared.lock().new_drive(owner_name, owner_email)
    }

    /// The root folder's item id of drive `drive_id`.
    pub fn drive_root(&self, drive_id: &str) -> String {
        let state = self.shared.lock();
        state
            .drive(drive_id)
            .map(|d| d.root.clone())
            .unwrap_or_else(|| panic!("fake Graph: no drive `{drive_id}`"))
    }

    /// Shares an item of another drive with the user: it appears in `sharedWithMe`, and it
    /// and everything below it become readable.
    pub fn share_with_me(&self, item_id: &str) {
        let mut state = self.shared.lock();
        let reference = state.new_item_id();
        let item = state.resolve(item_id).to_owned();
        state.shared.push((reference, item));
    }

    /// Flags a file as malware (`malware` facet; `/content` answers 403 `malwareDetected`).
    pub fn set_malware(&self, item_id: &str) {
        self.shared.lock().item_mut(item_id).malware = true;
    }

    /// Replaces a file's content: new `cTag`, `eTag`, hashes, `lastModifiedDateTime`.
    pub fn update_content(&self, item_id: &str, content: impl Into<Content>) {
        let mut state = self.shared.lock();
        let now = state.tick();
        let item = state.item_mut(item_id);
        let Kind::File { mime, .. } = &item.kind else {
            panic!("fake Graph: `{item_id}` is not a file");
        };
        item.kind = Kind::File {
            blob: Blob::new(content.into()),
            mime: mime.clone(),
        };
        item.modified = now;
        item.entity_version += 1;
        item.content_version += 1;
        let parent = item.parent.clone();
        if let Some(parent) = parent {
            state.touch_ancestors(&parent, now);
        }
    }

    /// Renames an item: a new `eTag`, the same `cTag`.
    pub fn rename(&self, item_id: &str, name: &str) {
        let mut state = self.shared.lock();
        let now = state.tick();
        let item = state.item_mut(item_id);
        item.name = name.to_owned();
        item.modified = now;
        item.entity_version += 1;
    }

    /// Deletes an item and everything below it (404 afterwards).
    pub fn delete(&self, item_id: &str) {
        let mut state = self.shared.lock();
        let id = state.resolve(item_id).to_owned();
        let doomed: HashSet<String> = state
            .items
            .values()
            .filter(|i| i.id == id || state.is_below(i, &id))
            .map(|i| i.id.clone())
            .collect();
        state.items.retain(|k, _| !doomed.contains(k));
        state.order.retain(|k| !doomed.contains(k));
        state.shared.retain(|(_, k)| !doomed.contains(k));
    }

    /// A file's content.
    pub fn content_of(&self, item_id: &str) -> Content {
        match &self.shared.lock().item_mut(item_id).kind {
            Kind::File { blob, .. } => blob.content.clone(),
            _ => panic!("fake Graph: `{item_id}` is not a file"),
        }
    }

    /// The `sha256Hash` Graph reports (uppercase hex), computed now if not yet.
    pub fn sha256_of(&self, item_id: &str) -> String {
        let blob = self.blob_of(item_id);
        blob.checksum(Checksum::Sha256).to_ascii_uppercase()
    }

    /// The `quickXorHash` Graph reports (base64), computed now if not yet.
    pub fn quick_xor_of(&self, item_id: &str) -> String {
        let blob = self.blob_of(item_id);
        blob.checksum(Checksum::QuickXor).to_owned()
    }

    fn blob_of(&self, item_id: &str) -> Arc<Blob> {
        match &self.shared.lock().item_mut(item_id).kind {
            Kind::File { blob, .. } => blob.clone(),
            _ => panic!("fake Graph: `{item_id}` is not a file"),
        }
    }

    /// The item's `cTag` (with its quotes, as Graph sends it).
    pub fn ctag_of(&self, item_id: &str) -> String {
        let mut state = self.shared.lock();
        let item = state.item_mut(item_id);
        c_tag(item)
    }

    /// The item's `eTag` (with its quotes).
    pub fn etag_of(&self, item_id: &str) -> String {
        let mut state = self.shared.lock();
        let item = state.item_mut(item_id);
        e_tag(item)
    }

    /// Whether files report `sha256Hash` besides `quickXorHash` (OneDrive for Business and
    /// SharePoint report only the latter). On by default.
    pub fn set_sha256_hashes(&self, on: bool) {
        self.shared.lock().sha256 = on;
    }

    /// How long the download links `/content` hands out work.
    pub fn set_download_link_ttl(&self, ttl: Duration) {
        self.shared.lock().link_ttl = ttl;
    }

    /// Makes every download link handed out so far expire.
    pub fn expire_download_links(&self) {
        self.shared.links().clear();
    }

    /// Makes every token seen so far answer 401 `InvalidAuthenticationToken`, as after an
    /// access token's lifetime: the client must refresh and retry with a new token.
    pub fn expire_all_tokens(&self) {
        self.shared.lock().books.expire_all_tokens();
    }

    /// Makes one token answer 401 from now on (also before it is first used).
    pub fn expire_token(&self, token: &str) {
        self.shared.lock().books.expire_token(token);
    }

    /// Every bearer token received by the API, in the order first seen.
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

    /// Waits this long before each downloaded chunk.
    pub fn set_content_delay(&self, per_chunk: Duration) {
        self.shared.lock().books.pace.per_chunk = per_chunk;
    }

    /// Serves downloads at about this many bytes per second (`None`: as fast as possible).
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

    /// How many listing requests (children, search, sharedWithMe) arrived.
    pub fn list_requests(&self) -> usize {
        self.count(Endpoint::List)
    }

    /// How many metadata requests (items, `/me`, drives) arrived.
    pub fn metadata_requests(&self) -> usize {
        self.count(Endpoint::Metadata)
    }

    /// How many `…/content` requests arrived.
    pub fn content_requests(&self) -> usize {
        self.count(Endpoint::Content)
    }

    /// How many pre-authenticated download requests arrived.
    pub fn download_requests(&self) -> usize {
        self.count(Endpoint::Download)
    }

    fn count(&self, endpoint: Endpoint) -> usize {
        self.shared.lock().books.count(endpoint)
    }
}

// ---------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------

/// Which item a path names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Address {
    /// `/me/drive/root`, `/me/drive/items/{id}`: an item of the user's drive.
    Mine(String),
    /// `/drives/{drive}/root`, `/drives/{drive}/items/{id}`.
    InDrive(String, String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    Me,
    Drive(Option<String>),
    SharedWithMe,
    Item(Address),
    Children(Address),
    Content(Address),
    Search(Address, String),
    Download,
    /// A path Graph does not know: the segment to name in the error.
    Unknown(String),
}

impl Route {
    fn of(path: &str) -> Self {
        if path.contains("/_layouts/15/download.aspx") {
            return Self::Download;
        }
        let Some(rest) = path.strip_prefix("/v1.0/") else {
            return Self::Unknown(path.trim_start_matches('/').to_owned());
        };
        let segments: Vec<String> = rest
            .trim_end_matches('/')
            .split('/')
            .map(percent_decode)
            .collect();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let (address, rest) = match segments[..] {
            ["me"] => return Self::Me,
            ["me", "drive"] => return Self::Drive(None),
            ["me", "drive", "sharedWithMe"] => return Self::SharedWithMe,
            ["drives", drive] => return Self::Drive(Some(drive.to_owned())),
            ["me", "drive", "root", ref rest @ ..] => (Address::Mine(ROOT.to_owned()), rest),
            ["me", "drive", "items", id, ref rest @ ..] => (Address::Mine(id.to_owned()), rest),
            ["drives", drive, "root", ref rest @ ..] => {
                (Address::InDrive(drive.to_owned(), ROOT.to_owned()), rest)
            }
            ["drives", drive, "items", id, ref rest @ ..] => {
                (Address::InDrive(drive.to_owned(), id.to_owned()), rest)
            }
            _ => {
                let last = segments.last().copied().unwrap_or_default();
                return Self::Unknown(last.to_owned());
            }
        };
        match rest {
            [] => Self::Item(address),
            ["children"] => Self::Children(address),
            ["content"] => Self::Content(address),
            [function] => match search_term(function) {
                Some(term) => Self::Search(address, term),
                None => Self::Unknown((*function).to_owned()),
            },
            [.., last] => Self::Unknown((*last).to_owned()),
        }
    }

    fn endpoint(&self) -> Option<Endpoint> {
        match self {
            Self::Children(_) | Self::Search(..) | Self::SharedWithMe => Some(Endpoint::List),
            Self::Me | Self::Drive(_) | Self::Item(_) => Some(Endpoint::Metadata),
            Self::Content(_) => Some(Endpoint::Content),
            Self::Download => Some(Endpoint::Download),
            Self::Unknown(_) => None,
        }
    }
}

/// The term of `search(q='…')`: an OData string literal, `''` standing for `'`.
fn search_term(segment: &str) -> Option<String> {
    let inner = segment
        .strip_prefix("search(q=")
        .or_else(|| segment.strip_prefix("search(q ="))?
        .strip_suffix(')')?
        .trim();
    let literal = inner.strip_prefix('\'')?.strip_suffix('\'')?;
    // A lone quote inside the literal would have ended it.
    if literal.replace("''", "").contains('\'') {
        return None;
    }
    Some(literal.replace("''", "'"))
}

/// What the handler needs from a request.
type Call = crate::fake_upstream::Call<Route>;

async fn handle(req: HttpRequest, shared: web::Data<Shared>) -> HttpResponse {
    let call = Call::of(&req, |path, _| Route::of(path));
    let response = respond(&shared, &call).await;
    let entry = call.logged(call.route.endpoint(), &response);
    shared.lock().books.log.push(entry);
    response
}

async fn respond(shared: &Shared, call: &Call) -> HttpResponse {
    let Some(endpoint) = call.route.endpoint() else {
        let segment = match &call.route {
            Route::Unknown(segment) => segment.as_str(),
            _ => "",
        };
        let message = format!("Resource not found for the segment '{segment}'.");
        return error(400, "BadRequest", &message);
    };
    if call.method != Method::GET {
        return error(405, "invalidRequest", "The HTTP method is not allowed.");
    }
    if endpoint == Endpoint::Download {
        return download(shared, call);
    }
    let admitted = shared.lock().books.admit(call, endpoint);
    let (body_fault, pace) = match admitted {
        Ok(admitted) => admitted,
        Err(Turned::Refused(refused)) => return unauthorized(refused),
        Err(Turned::Fault(fault)) => return fault_response(&fault),
    };
    let reply = match &call.route {
        Route::Me => me(shared, call),
        Route::Drive(id) => drive(shared, call, id.as_deref()),
        Route::SharedWithMe => shared_with_me(shared, call).await,
        Route::Item(address) => get_item(shared, call, address).await,
        Route::Children(address) => children(shared, call, address).await,
        Route::Search(address, term) => search(shared, call, address, term).await,
        // A body fault queued for `/content` travels with the link it hands out.
        Route::Content(address) => return content(shared, address, body_fault),
        Route::Download | Route::Unknown(_) => unreachable!("handled above"),
    };
    finish(reply.unwrap_or_else(Reply::Error), body_fault, pace, JSON)
}

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

/// Graph's error body.
fn error(status: u16, code: &str, message: &str) -> HttpResponse {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status)
        .content_type("application/json")
        .body(error_body(code, message).to_string())
}

fn error_body(code: &str, message: &str) -> Value {
    let request_id = request_id();
    json!({
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
                "request-id": request_id,
                "client-request-id": request_id,
            }
        }
    })
}

/// A fresh GUID-shaped id.
fn request_id() -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    guid(splitmix64(n), splitmix64(!n))
}

fn guid(a: u64, b: u64) -> String {
    let hex = format!("{a:016x}{b:016x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// 401 `InvalidAuthenticationToken`, with the message Graph gives for why.
fn unauthorized(refused: Refused) -> HttpResponse {
    let message = match refused {
        Refused::Missing => "Access token is empty.",
        Refused::Malformed => "CompactToken parsing failed with error code: 80049217",
        Refused::Expired => "Access token has expired or is not yet valid.",
    };
    let challenge = format!(
        "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", \
         client_id=\"00000003-0000-0000-c000-000000000000\", error=\"invalid_token\", \
         error_description=\"{message}\""
    );
    HttpResponse::Unauthorized()
        .insert_header((header::WWW_AUTHENTICATE, challenge))
        .content_type("application/json")
        .body(error_body("InvalidAuthenticationToken", message).to_string())
}

fn not_found() -> HttpResponse {
    error(404, "itemNotFound", "The resource could not be found.")
}

fn access_denied() -> HttpResponse {
    error(403, "accessDenied", "Access denied")
}

fn invalid_request(message: &str) -> HttpResponse {
    error(400, "invalidRequest", message)
}

fn fault_response(fault: &Fault) -> HttpResponse {
    match fault {
        Fault::Status {
            status,
            retry_after,
            reason,
        } => {
            let (code, message) = match status {
                400 => ("invalidRequest", "Invalid request"),
                401 => (
                    "InvalidAuthenticationToken",
                    "Access token has expired or is not yet valid.",
                ),
                403 => ("accessDenied", "Access denied"),
                404 => ("itemNotFound", "The resource could not be found."),
                429 => ("activityLimitReached", "The request has been throttled"),
                503 => (
                    "serviceNotAvailable",
                    "The service is not available. Try the request again after a delay. \
                     There may be a Retry-After header.",
                ),
                504 => ("gatewayTimeout", "The operation timed out."),
                _ => ("generalException", "An unspecified error has occurred."),
            };
            let mut response = error(*status, reason.unwrap_or(code), message);
            set_retry_after(&mut response, *retry_after);
            response
        }
        Fault::InsufficientPermissions => access_denied(),
        Fault::ServerError(status) => fault_response(&Fault::Status {
            status: *status,
            retry_after: None,
            reason: None,
        }),
        Fault::Truncate { .. } | Fault::CorruptContent | Fault::Stall { .. } => error(
            500,
            "generalException",
            "An unspecified error has occurred.",
        ),
    }
}

// ---------------------------------------------------------------------------------------
// $select, paging
// ---------------------------------------------------------------------------------------

/// `$select` as a list of properties (`None`: all); `Err` is the 400 to answer.
fn selection(call: &Call, allowed: &str, kind: &str) -> Result<Option<Vec<String>>, HttpResponse> {
    let Some(select) = call.param("$select") else {
        return Ok(None);
    };
    let keys: Vec<String> = select
        .split(',')
        .map(|k| k.trim().to_owned())
        .filter(|k| !k.is_empty())
        .collect();
    if let Some(bad) = keys
        .iter()
        .find(|k| !allowed.split(',').any(|a| a == k.as_str()))
    {
        let message = format!("Could not find a property named '{bad}' on type '{kind}'.");
        return Err(error(400, "BadRequest", &message));
    }
    Ok(Some(keys))
}

fn select(value: Value, keys: Option<&[String]>) -> Value {
    match (keys, value) {
        (Some(keys), Value::Object(object)) => Value::Object(
            object
                .into_iter()
                .filter(|(k, _)| k.starts_with("@odata") || keys.iter().any(|s| s == k))
                .collect(),
        ),
        (_, value) => value,
    }
}

/// One page of a listing: the items and the `@odata.nextLink`, or the 400 to answer.
fn page<T: Clone>(
    shared: &Shared,
    call: &Call,
    all: &[T],
) -> Result<(Vec<T>, Option<String>), HttpResponse> {
    let top = match call.param("$top").map(str::parse::<usize>) {
        None => DEFAULT_PAGE_SIZE,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            return Err(invalid_request(
                "Invalid value for $top: it must be a positive integer.",
            ));
        }
    };
    let print = fingerprint(&[
        &call.path,
        call.param("$select").unwrap_or_default(),
        call.param("$orderby").unwrap_or_default(),
    ]);
    let offset = match call.param("$skiptoken") {
        None => 0,
        Some(token) => skip_offset(token, print).ok_or_else(|| {
            invalid_request("The $skiptoken is invalid or does not belong to this request.")
        })?,
    };
    let items = all.iter().skip(offset).take(top).cloned().collect();
    let next = (offset + top < all.len()).then(|| {
        let kept: Vec<&str> = call
            .query
            .split('&')
            .filter(|pair| {
                let key = pair.split('=').next().unwrap_or_default();
                !key.is_empty() && percent_decode(key) != "$skiptoken"
            })
            .collect();
        let token = skip_token(offset + top, print);
        let mut query = kept.join("&");
        if !query.is_empty() {
            query.push('&');
        }
        format!("{}{}?{query}$skiptoken={token}", shared.base_url, call.path)
    });
    Ok((items, next))
}

/// A SharePoint-style `$skiptoken` (`Paged=TRUE&p_ID=…`) for the page at `offset`.
fn skip_token(offset: usize, fingerprint: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("Paged=TRUE&p_ID={offset}&p_FP={fingerprint:016x}"))
}

fn skip_offset(token: &str, fingerprint: u64) -> Option<usize> {
    let decoded = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
    let rest = decoded.strip_prefix("Paged=TRUE&p_ID=")?;
    let (offset, print) = rest.split_once("&p_FP=")?;
    (print == format!("{fingerprint:016x}")).then(|| offset.parse().ok())?
}

fn collection(shared: &Shared, items: Vec<Value>, next: Option<String>) -> Value {
    let mut body = json!({
        "@odata.context": format!("{}/v1.0/$metadata#Collection(driveItem)", shared.base_url),
        "value": items,
    });
    if let Some(next) = next {
        body["@odata.nextLink"] = json!(next);
    }
    body
}

/// `$orderby` applied to `items`; `Err` for a property it cannot sort by.
fn order(state: &State, call: &Call, items: &mut [Item]) -> Result<(), HttpResponse> {
    let Some(text) = call.param("$orderby") else {
        return Ok(());
    };
    for clause in text.split(',').rev() {
        let mut words = clause.split_whitespace();
        let key = words.next().unwrap_or_default();
        let desc = match words.next() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(_) => return Err(invalid_request("Invalid $orderby expression.")),
        };
        match key {
            "name" => items.sort_by_key(|i| i.name.to_lowercase()),
            "lastModifiedDateTime" => items.sort_by_key(|i| i.modified),
            "size" => items.sort_by_key(|i| state.size(i)),
            _ => {
                let message = format!("Sorting by '{key}' is not supported.");
                return Err(invalid_request(&message));
            }
        }
        if desc {
            items.reverse();
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------------------

fn tag_guid(item: &Item) -> String {
    let seed = fingerprint(&[&item.id]);
    guid(splitmix64(seed), splitmix64(seed ^ 0xA5A5)).to_uppercase()
}

fn e_tag(item: &Item) -> String {
    format!("\"{{{}}},{}\"", tag_guid(item), item.entity_version)
}

fn c_tag(item: &Item) -> String {
    format!("\"c:{{{}}},{}\"", tag_guid(item), item.content_version)
}

fn format_time(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn web_url(state: &State, item: &Item) -> String {
    let site = state.drive(&item.drive).map_or("", |d| d.site.as_str());
    let path: String = state
        .path_of(item)
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| format!("/{}", s.replace(' ', "%20")))
        .collect();
    format!("https://campus-my.sharepoint.com/personal/{site}/Documents{path}")
}

fn identity(name: &str, email: &str) -> Value {
    json!({"user": {"displayName": name, "email": email}})
}

/// The facets that say what an item is, with its size.
fn facets(state: &State, item: &Item, object: &mut Map<String, Value>) {
    object.insert("size".to_owned(), json!(state.size(item)));
    match &item.kind {
        Kind::Folder => {
            object.insert(
                "folder".to_owned(),
                json!({"childCount": state.child_count(&item.id)}),
            );
        }
        Kind::File { blob, mime } => {
            let mut hashes = Map::new();
            if let Some(quick_xor) = blob.computed(Checksum::QuickXor) {
                hashes.insert("quickXorHash".to_owned(), json!(quick_xor));
            }
            if state.sha256
                && let Some(sha256) = blob.computed(Checksum::Sha256)
            {
                hashes.insert("sha256Hash".to_owned(), json!(sha256.to_ascii_uppercase()));
            }
            object.insert(
                "file".to_owned(),
                json!({"mimeType": mime, "hashes": hashes}),
            );
        }
        Kind::Notebook => {
            object.insert("package".to_owned(), json!({"type": "oneNote"}));
        }
    }
}

/// A `driveItem` of the drive it lives in; `download_url` adds a fresh
/// `@microsoft.graph.downloadUrl` to files (only when `$select` does not leave it out:
/// each is a new link).
fn item_json(shared: &Shared, state: &State, item: &Item, download_url: bool) -> Value {
    let drive = state.drive(&item.drive);
    let mut object = Map::new();
    object.insert("id".to_owned(), json!(item.id));
    object.insert("name".to_owned(), json!(item.name));
    object.insert("eTag".to_owned(), json!(e_tag(item)));
    object.insert("cTag".to_owned(), json!(c_tag(item)));
    object.insert(
        "createdDateTime".to_owned(),
        json!(format_time(item.created)),
    );
    object.insert(
        "lastModifiedDateTime".to_owned(),
        json!(format_time(item.modified)),
    );
    object.insert("webUrl".to_owned(), json!(web_url(state, item)));
    if let Some(drive) = drive {
        let who = identity(&drive.owner_name, &drive.owner_email);
        object.insert("createdBy".to_owned(), who.clone());
        object.insert("lastModifiedBy".to_owned(), who);
    }
    object.insert(
        "fileSystemInfo".to_owned(),
        json!({"createdDateTime": format_time(item.created),
               "lastModifiedDateTime": format_time(item.modified)}),
    );
    let mut parent = json!({"driveType": "business", "driveId": item.drive});
    if let Some(parent_id) = &item.parent {
        let parent_path = state
            .items
            .get(parent_id)
            .map(|p| state.path_of(p))
            .unwrap_or_default();
        let prefix = if drive.is_some_and(|d| d.id == state.my_drive().id) {
            "/drive/root:".to_owned()
        } else {
            format!("/drives/{}/root:", item.drive)
        };
        parent["id"] = json!(parent_id);
        parent["path"] = json!(format!("{prefix}{parent_path}"));
    } else {
        object.insert("root".to_owned(), json!({}));
    }
    object.insert("parentReference".to_owned(), parent);
    facets(state, item, &mut object);
    if item.malware {
        object.insert(
            "malware".to_owned(),
            json!({"description": "Trojan:Win32/Fake.A"}),
        );
    }
    if download_url && matches!(item.kind, Kind::File { .. }) {
        object.insert(
            "@microsoft.graph.downloadUrl".to_owned(),
            json!(issue_link(shared, state, item, None)),
        );
    }
    Value::Object(object)
}

/// A reference to `item` (in another drive) as `sharedWithMe` and search list it.
fn reference_json(state: &State, reference_id: &str, item: &Item, search_hit: bool) -> Value {
    let mut remote = Map::new();
    remote.insert("id".to_owned(), json!(item.id));
    remote.insert("name".to_owned(), json!(item.name));
    remote.insert(
        "createdDateTime".to_owned(),
        json!(format_time(item.created)),
    );
    remote.insert(
        "lastModifiedDateTime".to_owned(),
        json!(format_time(item.modified)),
    );
    remote.insert("webUrl".to_owned(), json!(web_url(state, item)));
    let mut parent = json!({"driveType": "business", "driveId": item.drive});
    if let Some(parent_id) = &item.parent {
        parent["id"] = json!(parent_id);
    }
    remote.insert("parentReference".to_owned(), parent);
    if let Some(drive) = state.drive(&item.drive) {
        remote.insert(
            "shared".to_owned(),
            json!({"owner": identity(&drive.owner_name, &drive.owner_email),
                   "scope": "users"}),
        );
        remote.insert(
            "createdBy".to_owned(),
            identity(&drive.owner_name, &drive.owner_email),
        );
    }
    facets(state, item, &mut remote);
    let mut object = json!({
        "id": reference_id,
        "name": item.name,
        "webUrl": web_url(state, item),
        "remoteItem": remote,
    });
    if search_hit {
        object["searchResult"] = json!({});
    }
    object
}

/// Makes a download link for `item`, valid for the configured time.
fn issue_link(shared: &Shared, state: &State, item: &Item, fault: Option<BodyFault>) -> String {
    static ISSUED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = ISSUED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let words = [splitmix64(n ^ fingerprint(&[&item.id])), splitmix64(n)];
    let token = URL_SAFE_NO_PAD.encode(
        words
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect::<Vec<u8>>(),
    );
    let link = Link {
        item: item.id.clone(),
        expires: Instant::now() + state.link_ttl,
        fault,
    };
    shared.links().insert(token.clone(), link);
    let site = state.drive(&item.drive).map_or("", |d| d.site.as_str());
    format!(
        "{}/personal/{site}/_layouts/15/download.aspx?UniqueId={}&tempauth={token}",
        shared.base_url,
        tag_guid(item)
    )
}
// ---------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------

/// The item `address` names, if the user may read it.
fn find(state: &State, address: &Address) -> Result<Item, HttpResponse> {
    let (drive_id, id) = match address {
        Address::Mine(id) => (state.my_drive().id.as_str(), id.as_str()),
        Address::InDrive(drive, id) => (drive.as_str(), id.as_str()),
    };
    let Some(drive) = state.drive(drive_id) else {
        return Err(not_found());
    };
    let id = if id == ROOT { drive.root.as_str() } else { id };
    match state.items.get(id) {
        Some(item) if item.drive == drive.id && state.readable(item) => Ok(item.clone()),
        Some(item) if item.drive == drive.id => Err(access_denied()),
        _ => Err(not_found()),
    }
}

/// The hashes files report: `quickXorHash`, and `sha256Hash` unless turned off.
fn hashes(sha256: bool) -> &'static [Checksum] {
    if sha256 {
        &[Checksum::QuickXor, Checksum::Sha256]
    } else {
        &[Checksum::QuickXor]
    }
}

fn blobs_of<'a>(items: impl IntoIterator<Item = &'a Item>) -> Vec<Arc<Blob>> {
    items
        .into_iter()
        .filter_map(|item| match &item.kind {
            Kind::File { blob, .. } => Some(blob.clone()),
            _ => None,
        })
        .collect()
}

/// Whether a response with this `$select` carries `@microsoft.graph.downloadUrl`.
fn wants_download_url(keys: Option<&[String]>) -> bool {
    keys.is_none_or(|keys| keys.iter().any(|k| k == "@microsoft.graph.downloadUrl"))
}

fn me(shared: &Shared, call: &Call) -> Result<Reply, HttpResponse> {
    let keys = selection(call, USER_PROPERTIES, "microsoft.graph.user")?;
    let state = shared.lock();
    let context = match &keys {
        Some(keys) => format!("$metadata#users({})/$entity", keys.join(",")),
        None => "$metadata#users/$entity".to_owned(),
    };
    let (given, surname) = state
        .user_name
        .split_once(' ')
        .unwrap_or((state.user_name.as_str(), ""));
    let body = json!({
        "@odata.context": format!("{}/v1.0/{context}", shared.base_url),
        "id": guid(fingerprint(&[&state.user_principal]), 7),
        "displayName": state.user_name,
        "givenName": given,
        "surname": surname,
        "mail": state.user_mail,
        "userPrincipalName": state.user_principal,
        "jobTitle": null,
        "mobilePhone": null,
        "officeLocation": null,
        "preferredLanguage": "en-US",
        "businessPhones": [],
    });
    Ok(Reply::Json(select(body, keys.as_deref())))
}

fn drive(shared: &Shared, call: &Call, id: Option<&str>) -> Result<Reply, HttpResponse> {
    let keys = selection(call, DRIVE_PROPERTIES, "microsoft.graph.drive")?;
    let state = shared.lock();
    let mine = state.my_drive().id.clone();
    let drive = state.drive(id.unwrap_or(&mine)).ok_or_else(not_found)?;
    if drive.id != mine {
        return Err(access_denied());
    }
    let body = json!({
        "@odata.context": format!("{}/v1.0/$metadata#drives/$entity", shared.base_url),
        "id": drive.id,
        "name": "OneDrive",
        "driveType": "business",
        "createdDateTime": format_time(state.clock),
        "lastModifiedDateTime": format_time(state.clock),
        "webUrl": format!("https://campus-my.sharepoint.com/personal/{}/Documents", drive.site),
        "owner": identity(&drive.owner_name, &drive.owner_email),
        "quota": {"total": 1_099_511_627_776u64, "used": 0, "remaining": 1_099_511_627_776u64,
                  "deleted": 0, "state": "normal"},
    });
    Ok(Reply::Json(select(body, keys.as_deref())))
}

async fn get_item(shared: &Shared, call: &Call, address: &Address) -> Result<Reply, HttpResponse> {
    let keys = selection(call, ITEM_PROPERTIES, "microsoft.graph.driveItem")?;
    let (item, sha256) = {
        let state = shared.lock();
        (find(&state, address)?, state.sha256)
    };
    ensure_checksums(blobs_of([&item]), hashes(sha256)).await;
    let state = shared.lock();
    let mut body = item_json(shared, &state, &item, wants_download_url(keys.as_deref()));
    body["@odata.context"] = json!(format!(
        "{}/v1.0/$metadata#drives('{}')/items/$entity",
        shared.base_url, item.drive
    ));
    Ok(Reply::Json(select(body, keys.as_deref())))
}

async fn children(shared: &Shared, call: &Call, address: &Address) -> Result<Reply, HttpResponse> {
    let keys = selection(call, ITEM_PROPERTIES, "microsoft.graph.driveItem")?;
    let (items, next, sha256) = {
        let state = shared.lock();
        let folder = find(&state, address)?;
        let mut all: Vec<Item> = state
            .order
            .iter()
            .filter_map(|id| state.items.get(id))
            .filter(|i| i.parent.as_deref() == Some(folder.id.as_str()))
            .cloned()
            .collect();
        order(&state, call, &mut all)?;
        let (items, next) = page(shared, call, &all)?;
        (items, next, state.sha256)
    };
    ensure_checksums(blobs_of(&items), hashes(sha256)).await;
    let state = shared.lock();
    let download = wants_download_url(keys.as_deref());
    let values = items
        .iter()
        .map(|item| select(item_json(shared, &state, item, download), keys.as_deref()))
        .collect();
    Ok(Reply::Json(collection(shared, values, next)))
}

/// A search hit: an item of the searched drive, or a reference to an item shared with the
/// user.
#[derive(Debug, Clone)]
enum Hit {
    Own(Item),
    Shared(String, Item),
}

/// Graph's search matches names, metadata and content; here every word of the query must
/// occur in the name, case-insensitively.
fn name_matches(name: &str, term: &str) -> bool {
    let name = name.to_lowercase();
    term.to_lowercase()
        .split_whitespace()
        .all(|word| name.contains(word))
}

async fn search(
    shared: &Shared,
    call: &Call,
    address: &Address,
    term: &str,
) -> Result<Reply, HttpResponse> {
    let keys = selection(call, ITEM_PROPERTIES, "microsoft.graph.driveItem")?;
    if term.trim().is_empty() {
        return Err(invalid_request("The search query must not be empty."));
    }
    let (hits, next, sha256) = {
        let state = shared.lock();
        let folder = find(&state, address)?;
        let mut all: Vec<Hit> = state
            .order
            .iter()
            .filter_map(|id| state.items.get(id))
            .filter(|i| i.drive == folder.drive && state.is_below(i, &folder.id))
            .filter(|i| name_matches(&i.name, term))
            .map(|i| Hit::Own(i.clone()))
            .collect();
        if folder.parent.is_none() && folder.drive == state.my_drive().id {
            all.extend(state.shared.iter().filter_map(|(reference, id)| {
                let item = state.items.get(id)?;
                name_matches(&item.name, term).then(|| Hit::Shared(reference.clone(), item.clone()))
            }));
        }
        let (hits, next) = page(shared, call, &all)?;
        (hits, next, state.sha256)
    };
    let items = hits.iter().map(|hit| match hit {
        Hit::Own(item) | Hit::Shared(_, item) => item,
    });
    ensure_checksums(blobs_of(items), hashes(sha256)).await;
    let state = shared.lock();
    let download = wants_download_url(keys.as_deref());
    let values = hits
        .iter()
        .map(|hit| {
            let value = match hit {
                Hit::Own(item) => {
                    let mut value = item_json(shared, &state, item, download);
                    value["searchResult"] = json!({});
                    value
                }
                Hit::Shared(reference, item) => reference_json(&state, reference, item, true),
            };
            select(value, keys.as_deref())
        })
        .collect();
    Ok(Reply::Json(collection(shared, values, next)))
}

async fn shared_with_me(shared: &Shared, call: &Call) -> Result<Reply, HttpResponse> {
    let keys = selection(call, ITEM_PROPERTIES, "microsoft.graph.driveItem")?;
    let (entries, next, sha256) = {
        let state = shared.lock();
        let all: Vec<(String, Item)> = state
            .shared
            .iter()
            .filter_map(|(reference, id)| Some((reference.clone(), state.items.get(id)?.clone())))
            .collect();
        let (entries, next) = page(shared, call, &all)?;
        (entries, next, state.sha256)
    };
    ensure_checksums(
        blobs_of(entries.iter().map(|(_, item)| item)),
        hashes(sha256),
    )
    .await;
    let state = shared.lock();
    let values = entries
        .iter()
        .map(|(reference, item)| {
            select(
                reference_json(&state, reference, item, false),
                keys.as_deref(),
            )
        })
        .collect();
    Ok(Reply::Json(collection(shared, values, next)))
}

/// `…/content`: 302 to a fresh pre-authenticated link (carrying `fault`, if any).
fn content(shared: &Shared, address: &Address, fault: Option<BodyFault>) -> HttpResponse {
    let state = shared.lock();
    let item = match find(&state, address) {
        Ok(item) => item,
        Err(response) => return response,
    };
    match item.kind {
        Kind::File { .. } if item.malware => error(
            403,
            "malwareDetected",
            "Malicious software was detected in the requested item.",
        ),
        Kind::File { .. } => {
            let link = issue_link(shared, &state, &item, fault);
            HttpResponse::Found()
                .insert_header((header::LOCATION, link))
                .finish()
        }
        Kind::Folder | Kind::Notebook => invalid_request("Only files can be downloaded."),
    }
}

/// SharePoint's answer to a refused download link.
fn link_refused(description: &str) -> HttpResponse {
    HttpResponse::Unauthorized()
        .insert_header((
            header::WWW_AUTHENTICATE,
            "Bearer realm=\"\", client_id=\"00000003-0000-0ff1-ce00-000000000000\"",
        ))
        .content_type("application/json")
        .body(json!({"error_description": description}).to_string())
}

/// The pre-authenticated download URL: no `Authorization` allowed, `Range` honoured.
fn download(shared: &Shared, call: &Call) -> HttpResponse {
    if call.authorization.is_some() {
        // SharePoint tries to validate a bearer token sent along and refuses a Graph one.
        return link_refused(
            "Exception of type 'Microsoft.IdentityModel.Tokens.AudienceUriValidationFailedException' was thrown.",
        );
    }
    let link = call
        .param("tempauth")
        .and_then(|token| shared.links().get(token).cloned())
        .filter(|link| link.expires > Instant::now());
    let Some(link) = link else {
        return link_refused("Invalid JWT token. The token is expired.");
    };
    let (fault, pace, item) = {
        let mut state = shared.lock();
        let fault = state.books.take_body_fault(Endpoint::Download);
        (
            fault,
            state.books.pace,
            state.items.get(&link.item).cloned(),
        )
    };
    // A fault queued for downloads comes before the one the link carries.
    let body_fault = match fault {
        Ok(queued) => queued.or(link.fault),
        Err(fault) => return fault_response(&fault),
    };
    let Some(Item {
        kind: Kind::File { blob, mime },
        ..
    }) = item
    else {
        return error(404, "itemNotFound", "The resource could not be found.");
    };
    let reply = media_reply(call.range.as_deref(), mime, blob.content.clone());
    finish(reply, body_fault, pace, JSON)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use base64::engine::general_purpose::STANDARD;
    use campuscore_connectors::ConnectorError;
    use futures_util::StreamExt;
    use sha2::{Digest as _, Sha256};

    use super::*;
    use crate::fake_upstream::connector_runs::connect;

    const PDF: &str = "application/pdf";
    const SELECT: &str = "id,name,size,file,folder,package,remoteItem,parentReference,\
                          lastModifiedDateTime,webUrl,malware,cTag,eTag";

    fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
    }

    /// `GET {base}/v1.0{path_and_query}` (already escaped) with `token` as bearer.
    async fn get(
        graph: &FakeGraph,
        path_and_query: &str,
        token: Option<&str>,
    ) -> reqwest::Response {
        let url = if path_and_query.starts_with("http") {
            path_and_query.to_owned()
        } else {
            format!("{}/v1.0{path_and_query}", graph.base_url())
        };
        let mut request = client().get(url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("the fake answers")
    }

    async fn json_of(response: reqwest::Response) -> Value {
        response.json().await.expect("a JSON body")
    }

    fn names(page: &Value) -> Vec<String> {
        page["value"]
            .as_array()
            .expect("value")
            .iter()
            .map(|item| {
                let name = item["name"]
                    .as_str()
                    .or_else(|| item["remoteItem"]["name"].as_str());
                name.expect("a name").to_owned()
            })
            .collect()
    }

    #[test]
    fn paths_route_like_graph() {
        let route = |path: &str| Route::of(path);
        assert_eq!(route("/v1.0/me"), Route::Me);
        assert_eq!(
            route("/v1.0/me/drive/root/children"),
            Route::Children(Address::Mine(ROOT.to_owned()))
        );
        assert_eq!(
            route("/v1.0/drives/b!x-y/items/01AB/content"),
            Route::Content(Address::InDrive("b!x-y".to_owned(), "01AB".to_owned()))
        );
        assert_eq!(
            route("/v1.0/me/drive/root/search(q='O''Brien%20lab%20%231')"),
            Route::Search(Address::Mine(ROOT.to_owned()), "O'Brien lab #1".to_owned())
        );
        assert_eq!(
            route("/v1.0/me/drive/root/search(q='a'b')"),
            Route::Unknown("search(q='a'b')".to_owned())
        );
        assert_eq!(
            route("/v1.0/me/messages"),
            Route::Unknown("messages".to_owned())
        );
    }

    #[tokio::test]
    async fn children_page_through_absolute_next_links() {
        let graph = FakeGraph::start().await;
        let course = graph.add_folder(ROOT, "Course");
        for n in 1..=250 {
            graph.add_file(&course, &format!("Week {n}.pdf"), PDF, "x");
        }
        let mut url = format!("/me/drive/items/{course}/children?$select={SELECT}&$top=100");
        let mut all = Vec::new();
        let mut pages = 0;
        loop {
            let page = json_of(get(&graph, &url, Some("t")).await).await;
            pages += 1;
            all.extend(names(&page));
            let first = &page["value"][0];
            assert!(
                first.get("createdBy").is_none(),
                "$select leaves the rest out"
            );
            assert!(first["cTag"].as_str().expect("cTag").starts_with("\"c:{"));
            match page["@odata.nextLink"].as_str() {
                Some(next) => {
                    assert!(
                        next.starts_with(&format!("{}/v1.0/me/drive/items/", graph.base_url()))
                    );
                    assert!(next.contains("$top=100") && next.contains("$skiptoken="));
                    url = next.to_owned();
                }
                None => break,
            }
        }
        assert_eq!(pages, 3);
        assert_eq!(all.len(), 250);
        assert_eq!(all[0], "Week 1.pdf");
        assert_eq!(all[249], "Week 250.pdf");
        assert_eq!(graph.list_requests(), 3);

        // A skip token only works for the listing it came from.
        let first = json_of(
            get(
                &graph,
                &format!("/me/drive/items/{course}/children?$top=5"),
                Some("t"),
            )
            .await,
        )
        .await;
        let next = first["@odata.nextLink"].as_str().expect("more").to_owned();
        let token = next.split("$skiptoken=").nth(1).expect("token");
        let elsewhere = get(
            &graph,
            &format!("/me/drive/root/children?$skiptoken={token}"),
            Some("t"),
        )
        .await;
        assert_eq!(elsewhere.status(), 400);
        assert_eq!(json_of(elsewhere).await["error"]["code"], "invalidRequest");

        let unknown = get(&graph, "/me/drive/root/children?$select=id,nmae", Some("t")).await;
        assert_eq!(unknown.status(), 400);
        let body = json_of(unknown).await;
        assert_eq!(
            body["error"]["message"],
            "Could not find a property named 'nmae' on type 'microsoft.graph.driveItem'."
        );
        assert!(body["error"]["innerError"]["request-id"].is_string());
        let ordered = json_of(
            get(
                &graph,
                &format!("/me/drive/items/{course}/children?$orderby=name%20desc&$top=2"),
                Some("t"),
            )
            .await,
        )
        .await;
        assert_eq!(names(&ordered), ["Week 99.pdf", "Week 98.pdf"]);
    }

    #[tokio::test]
    async fn search_shared_items_and_access_follow_graph() {
        let graph = FakeGraph::start().await;
        let me = graph.my_drive_id();
        let course = graph.add_folder(ROOT, "Course");
        graph.add_file(&course, "O'Brien lab #1.pdf", PDF, "mine");
        graph.add_file(ROOT, "Unrelated.pdf", PDF, "u");
        let bob = graph.add_drive("Bob Builder", "bob@campus.example");
        let bob_root = graph.drive_root(&bob);
        let project = graph.add_folder(&bob_root, "Group project");
        let draft = graph.add_file(&project, "Draft.pdf", PDF, "draft");
        let bob_lab = graph.add_file(
            &bob_root,
            "O'Brien lab #1 (Bob).docx",
            "application/msword",
            "b",
        );
        let private = graph.add_file(&bob_root, "Diary.txt", "text/plain", "secret");
        graph.share_with_me(&project);
        graph.share_with_me(&bob_lab);

        let found = json_of(
            get(
                &graph,
                "/me/drive/root/search(q='O''Brien%20lab%20%231')",
                Some("t"),
            )
            .await,
        )
        .await;
        assert_eq!(
            names(&found),
            ["O'Brien lab #1.pdf", "O'Brien lab #1 (Bob).docx"]
        );
        assert_eq!(found["value"][0]["parentReference"]["driveId"], me);
        let remote = &found["value"][1]["remoteItem"];
        assert_eq!(remote["id"], bob_lab);
        assert_eq!(remote["parentReference"]["driveId"], bob);
        assert!(remote.get("cTag").is_none(), "references carry no tags");
        let in_folder = json_of(
            get(
                &graph,
                &format!("/drives/{me}/items/{course}/search(q='lab')"),
                Some("t"),
            )
            .await,
        )
        .await;
        assert_eq!(names(&in_folder), ["O'Brien lab #1.pdf"]);

        let shared = json_of(get(&graph, "/me/drive/sharedWithMe", Some("t")).await).await;
        assert_eq!(
            names(&shared),
            ["Group project", "O'Brien lab #1 (Bob).docx"]
        );
        assert_eq!(shared["value"][0]["remoteItem"]["folder"]["childCount"], 1);
        let inside = json_of(
            get(
                &graph,
                &format!("/drives/{bob}/items/{project}/children"),
                Some("t"),
            )
            .await,
        )
        .await;
        assert_eq!(names(&inside), ["Draft.pdf"]);
        assert_eq!(inside["value"][0]["id"], draft);

        let denied = get(&graph, &format!("/drives/{bob}/items/{private}"), Some("t")).await;
        assert_eq!(denied.status(), 403);
        assert_eq!(json_of(denied).await["error"]["code"], "accessDenied");
        let missing = get(&graph, "/me/drive/items/01NOSUCHITEM", Some("t")).await;
        assert_eq!(missing.status(), 404);
        assert_eq!(json_of(missing).await["error"]["code"], "itemNotFound");
        let wrong_drive = get(&graph, &format!("/me/drive/items/{draft}"), Some("t")).await;
        assert_eq!(
            wrong_drive.status(),
            404,
            "an item is addressed in its own drive"
        );
        let segment = get(&graph, "/me/drive/recent", Some("t")).await;
        assert_eq!(segment.status(), 400);

        let me_body =
            json_of(get(&graph, "/me?$select=userPrincipalName,mail", Some("t")).await).await;
        assert_eq!(me_body["mail"], "alice@campus.example");
        assert!(me_body.get("displayName").is_none());
    }

    #[tokio::test]
    async fn content_redirects_to_a_link_that_refuses_bearer_tokens() {
        let graph = FakeGraph::start().await;
        let content = Content::synthetic(1_000_000, 3);
        let file = graph.add_file(ROOT, "Notes.pdf", PDF, content.clone());
        let redirect = get(
            &graph,
            &format!("/me/drive/items/{file}/content"),
            Some("t"),
        )
        .await;
        assert_eq!(redirect.status(), 302);
        let location = redirect.headers()[header::LOCATION.as_str()]
            .to_str()
            .expect("ascii")
            .to_owned();
        assert!(location.starts_with(graph.base_url()) && location.contains("tempauth="));

        let leaked = client()
            .get(&location)
            .bearer_auth("t")
            .send()
            .await
            .expect("answer");
        assert_eq!(
            leaked.status(),
            401,
            "a bearer token on the download URL is refused"
        );
        let body = client().get(&location).send().await.expect("answer");
        assert_eq!(body.status(), 200);
        assert_eq!(body.headers()[header::CONTENT_TYPE.as_str()], PDF);
        assert_eq!(body.bytes().await.expect("bytes"), content.to_bytes());
        let partial = client()
            .get(&location)
            .header(header::RANGE.as_str(), "bytes=-10")
            .send()
            .await
            .expect("answer");
        assert_eq!(partial.status(), 206);
        assert_eq!(
            partial.bytes().await.expect("bytes"),
            content.read(999_990, 10)
        );
        assert_eq!(graph.content_requests(), 1);
        assert_eq!(graph.download_requests(), 3);
        assert_eq!(
            graph.tokens_seen(),
            ["t"],
            "the download host sees no token"
        );

        graph.expire_download_links();
        assert_eq!(
            client()
                .get(&location)
                .send()
                .await
                .expect("answer")
                .status(),
            401
        );

        let item = json_of(get(&graph, &format!("/me/drive/items/{file}"), Some("t")).await).await;
        let download_url = item["@microsoft.graph.downloadUrl"]
            .as_str()
            .expect("a download URL");
        assert_eq!(
            client()
                .get(download_url)
                .send()
                .await
                .expect("answer")
                .bytes()
                .await
                .expect("bytes")
                .len(),
            1_000_000
        );

        let notebook = graph.add_notebook(ROOT, "Biology");
        let refused = get(
            &graph,
            &format!("/me/drive/items/{notebook}/content"),
            Some("t"),
        )
        .await;
        assert_eq!(refused.status(), 400);
        graph.set_malware(&file);
        let malware = get(
            &graph,
            &format!("/me/drive/items/{file}/content"),
            Some("t"),
        )
        .await;
        assert_eq!(json_of(malware).await["error"]["code"], "malwareDetected");
    }

    #[tokio::test]
    async fn tokens_expire_and_faults_come_with_graph_bodies() {
        let graph = FakeGraph::start().await;
        let file = graph.add_file(ROOT, "a.pdf", PDF, Content::synthetic(600_000, 1));
        let missing = get(&graph, "/me/drive/root", None).await;
        assert_eq!(missing.status(), 401);
        assert_eq!(
            json_of(missing).await["error"]["message"],
            "Access token is empty."
        );
        assert_eq!(
            get(&graph, "/me/drive/root", Some("one")).await.status(),
            200
        );
        graph.expire_all_tokens();
        let expired = get(&graph, "/me/drive/root", Some("one")).await;
        assert_eq!(expired.status(), 401);
        assert!(
            expired
                .headers()
                .contains_key(header::WWW_AUTHENTICATE.as_str())
        );
        assert_eq!(
            json_of(expired).await["error"]["code"],
            "InvalidAuthenticationToken"
        );
        assert_eq!(
            get(&graph, "/me/drive/root", Some("two")).await.status(),
            200
        );
        assert_eq!(graph.tokens_seen(), ["one", "two"]);

        graph.fail_next(
            Endpoint::List,
            Fault::Status {
                status: 429,
                retry_after: Some(3),
                reason: None,
            },
        );
        graph.fail_next(Endpoint::List, Fault::ServerError(503));
        graph.fail_next(Endpoint::List, Fault::InsufficientPermissions);
        let throttled = get(&graph, "/me/drive/root/children", Some("two")).await;
        assert_eq!(throttled.status(), 429);
        assert_eq!(throttled.headers()[header::RETRY_AFTER.as_str()], "3");
        assert_eq!(
            json_of(throttled).await["error"]["code"],
            "activityLimitReached"
        );
        let unavailable = get(&graph, "/me/drive/root/children", Some("two")).await;
        assert_eq!(
            json_of(unavailable).await["error"]["code"],
            "serviceNotAvailable"
        );
        let denied = get(&graph, "/me/drive/root/children", Some("two")).await;
        assert_eq!(json_of(denied).await["error"]["code"], "accessDenied");
        assert_eq!(
            get(&graph, "/me/drive/root/children", Some("two"))
                .await
                .status(),
            200
        );

        // A body fault queued for `/content` hits the download its link leads to.
        graph.fail_next(Endpoint::Content, Fault::Truncate { after: 70_000 });
        let location = get(
            &graph,
            &format!("/me/drive/items/{file}/content"),
            Some("two"),
        )
        .await
        .headers()[header::LOCATION.as_str()]
        .to_str()
        .expect("ascii")
        .to_owned();
        let response = client().get(&location).send().await.expect("answer");
        assert_eq!(response.content_length(), Some(600_000));
        let mut stream = response.bytes_stream();
        let (mut received, mut broke) = (0, false);
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(chunk) => received += chunk.len(),
                Err(_) => broke = true,
            }
        }
        assert!(broke);
        assert_eq!(received, 70_000);

        graph.fail_next(Endpoint::Download, Fault::CorruptContent);
        let corrupt = client()
            .get(&location)
            .send()
            .await
            .expect("answer")
            .bytes()
            .await
            .expect("bytes");
        assert_eq!(corrupt.len(), 600_000);
        assert_ne!(corrupt, graph.content_of(&file).to_bytes());
        graph.fail_next(Endpoint::Download, Fault::Stall { after: 10 });
        let mut stalled = client()
            .get(&location)
            .send()
            .await
            .expect("answer")
            .bytes_stream();
        assert_eq!(
            stalled.next().await.expect("a chunk").expect("bytes").len(),
            10
        );
        assert!(
            tokio::time::timeout(Duration::from_millis(300), stalled.next())
                .await
                .is_err()
        );
        graph.fail_next(
            Endpoint::Download,
            Fault::Status {
                status: 503,
                retry_after: Some(1),
                reason: None,
            },
        );
        assert_eq!(
            client()
                .get(&location)
                .send()
                .await
                .expect("answer")
                .status(),
            503
        );
    }

    #[tokio::test]
    async fn a_synthetic_64_mib_download_matches_the_listed_hashes() {
        let graph = FakeGraph::start().await;
        let size = 64 * 1024 * 1024;
        let file = graph.add_file(
            ROOT,
            "dataset.bin",
            "application/octet-stream",
            Content::synthetic(size, 2026),
        );
        let listed = json_of(
            get(
                &graph,
                &format!("/me/drive/root/children?$select={SELECT}"),
                Some("t"),
            )
            .await,
        )
        .await;
        let entry = &listed["value"][0];
        assert_eq!(entry["id"], file);
        assert_eq!(entry["size"], size);
        let sha256 = entry["file"]["hashes"]["sha256Hash"]
            .as_str()
            .expect("sha256")
            .to_owned();
        let quick_xor = entry["file"]["hashes"]["quickXorHash"]
            .as_str()
            .expect("quickXor")
            .to_owned();

        let location = get(
            &graph,
            &format!("/me/drive/items/{file}/content"),
            Some("t"),
        )
        .await
        .headers()[header::LOCATION.as_str()]
        .to_str()
        .expect("ascii")
        .to_owned();
        let response = client().get(&location).send().await.expect("answer");
        assert_eq!(response.content_length(), Some(size));
        let mut stream = response.bytes_stream();
        let (mut sha, mut xor, mut received) = (Sha256::new(), QuickXor::new(), 0u64);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.expect("chunk");
            received += chunk.len() as u64;
            sha.update(&chunk);
            xor.update(&chunk);
        }
        assert_eq!(received, size);
        assert_eq!(hex::encode_upper(sha.finalize()), sha256);
        assert_eq!(STANDARD.encode(xor.finish()), quick_xor);
    }

    #[tokio::test]
    async fn the_onedrive_connector_lists_searches_and_downloads_from_the_fake() {
        let graph = FakeGraph::start().await;
        for n in 1..=130 {
            graph.add_file(
                ROOT,
                &format!("Week {n}.pdf"),
                PDF,
                format!("week {n}").into_bytes(),
            );
        }
        let lecture = graph.add_file(
            ROOT,
            "Lecture.mp4",
            "video/mp4",
            Content::synthetic(3 << 20, 5),
        );
        let bob = graph.add_drive("Bob Builder", "bob@campus.example");
        let project = graph.add_folder(&graph.drive_root(&bob), "Group project");
        let draft = graph.add_file(&project, "Draft.pdf", PDF, "draft");
        graph.share_with_me(&project);

        let (connector, ctx, refresher) = connect("onedrive", graph.base_url());
        let run = |action: &'static str, params: Value| {
            let (connector, ctx) = (connector.clone(), &ctx);
            async move { connector.execute_action(action, ctx, params).await }
        };
        let json_of = |output: Result<campuscore_connectors::ActionOutput, ConnectorError>| {
            output
                .expect("the action succeeds")
                .into_json()
                .expect("json")
        };

        graph.fail_next(
            Endpoint::List,
            Fault::Status {
                status: 429,
                retry_after: Some(0),
                reason: None,
            },
        );
        let first = json_of(run("list_files", json!({"page_size": 100})).await);
        assert_eq!(first["files"].as_array().expect("files").len(), 100);
        let token = first["next_page_token"].as_str().expect("a second page");
        let second = json_of(run("list_files", json!({"page_token": token})).await);
        assert_eq!(second["files"].as_array().expect("files").len(), 31);
        assert_eq!(second["next_page_token"], Value::Null);
        let lecture_entry = second["files"]
            .as_array()
            .expect("files")
            .iter()
            .find(|f| f["name"] == "Lecture.mp4")
            .expect("listed")
            .clone();
        assert_eq!(lecture_entry["id"], graph.entry_id(&lecture));
        assert_eq!(
            lecture_entry["checksum"],
            format!("sha256:{}", graph.sha256_of(&lecture).to_lowercase())
        );

        let shared = json_of(run("list_files", json!({"folder_id": "shared-with-me"})).await);
        assert_eq!(shared["files"][0]["id"], graph.entry_id(&project));
        assert_eq!(shared["files"][0]["kind"], "folder");
        let inside =
            json_of(run("list_files", json!({"folder_id": graph.entry_id(&project)})).await);
        assert_eq!(inside["files"][0]["id"], graph.entry_id(&draft));

        let found = json_of(run("search_files", json!({"query": "lecture"})).await);
        assert_eq!(found["files"][0]["name"], "Lecture.mp4");

        // The token expires mid-session: refresh once, go on with the new one.
        graph.expire_all_tokens();
        let download = run(
            "download_file",
            json!({"file_id": graph.entry_id(&lecture)}),
        )
        .await
        .expect("a download")
        .into_download()
        .expect("a download");
        assert_eq!(download.size, Some(3 << 20));
        let expected = format!("sha256:{}", graph.sha256_of(&lecture).to_lowercase());
        assert_eq!(
            download
                .checksum
                .as_ref()
                .map(campuscore_connectors::Checksum::as_str),
            Some(expected.as_str())
        );
        let mut sha = Sha256::new();
        let mut stream = download.stream;
        while let Some(chunk) = stream.next().await {
            sha.update(chunk.expect("chunk"));
        }
        assert_eq!(format!("sha256:{}", hex::encode(sha.finalize())), expected);
        assert_eq!(refresher.calls.load(Ordering::SeqCst), 1);
        assert_eq!(graph.tokens_seen(), ["token-1", "token-2"]);
        assert!(
            graph
                .requests()
                .iter()
                .filter(|r| r.endpoint == Some(Endpoint::Download))
                .all(|r| !r.authorization),
            "the connector never sends its token to the download host"
        );

        // A revision changes with the content.
        let before = json_of(run("get_file", json!({"file_id": graph.entry_id(&lecture)})).await);
        graph.rename(&lecture, "Lecture 1.mp4");
        let renamed = json_of(run("get_file", json!({"file_id": graph.entry_id(&lecture)})).await);
        graph.update_content(&lecture, Content::synthetic(1 << 20, 6));
        let updated = json_of(run("get_file", json!({"file_id": graph.entry_id(&lecture)})).await);
        assert!(before["revision"].is_string());
        assert_eq!(
            before["revision"], renamed["revision"],
            "a rename keeps the content tag"
        );
        assert_ne!(before["revision"], updated["revision"]);

        // A download cut short surfaces as an error from the stream.
        graph.fail_next(Endpoint::Download, Fault::Truncate { after: 100_000 });
        let broken = run(
            "download_file",
            json!({"file_id": graph.entry_id(&lecture)}),
        )
        .await
        .expect("a download")
        .into_download()
        .expect("a download");
        let chunks: Vec<_> = broken.stream.collect().await;
        assert!(chunks.iter().any(Result::is_err), "the cut is reported");

        let identity = connector.fetch_identity(&ctx).await.expect("identity");
        assert_eq!(identity.as_deref(), Some("alice@campus.example"));
        let refused: Vec<_> = graph
            .requests()
            .into_iter()
            .filter(|r| r.status == 400)
            .collect();
        assert!(
            refused.is_empty(),
            "the fake accepts what the connector sends: {refused:#?}"
        );
    }
}
