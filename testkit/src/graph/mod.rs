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
//! let course = graph.add_folder(graph::ROOT, "Course");
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
//!
//! Not modelled: writes, uploads, delta, permissions, thumbnails, versions, path addressing
//! (`root:/a/b:`), `$filter`/`$expand`.
//!
//! What is not Graph's own — content and its hashes (QuickXorHash included), pacing, body
//! faults, the request log, token bookkeeping, the server — lives in [`crate::upstream`],
//! shared with [`crate::drive`]. Here: [`FakeGraph`], the handle tests hold; `state` (drives,
//! items, links), `routes` (paths to handlers), `select` (`$select`, paging, `$orderby`),
//! `resources` (the `driveItem` JSON), `items` (`/me`, drives, items, children, search,
//! `sharedWithMe`), `download` (`/content` and the pre-authenticated links) and `errors`
//! (faults and Graph's error bodies).

mod download;
mod errors;
mod items;
mod resources;
mod routes;
mod select;
mod state;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use crate::upstream::FakeBooks;
use crate::upstream::{Blob, Bookkeeping, Checksum, Server};
pub use crate::upstream::{CHUNK_SIZE, Content, QuickXor, synthetic_byte};
pub use errors::{Endpoint, Fault, LoggedRequest};
use resources::{c_tag, e_tag};
use routes::handle;
use state::{Kind, Shared, State};

/// The virtual id of the user's own drive's root (`/me/drive/root`); Graph also accepts
/// `root` as an item id.
pub const ROOT: &str = "root";
/// Children per page without `$top`.
pub const DEFAULT_PAGE_SIZE: usize = 200;
/// How long a download link works unless `set_download_link_ttl` says otherwise.
pub const DEFAULT_LINK_TTL: Duration = Duration::from_secs(60 * 60);

/// The `Content-Type` of Graph's JSON responses (its error bodies say `application/json`).
const JSON: &str = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";

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

    /// [`Self::start`] on a socket the caller bound (the `campuscore-fakes` binary).
    pub fn start_on(listener: std::net::TcpListener) -> Self {
        let state = |base_url: &str| Shared {
            state: Mutex::new(State::new()),
            links: Mutex::new(HashMap::new()),
            base_url: base_url.to_owned(),
        };
        let (shared, server) = Server::start_on("fake Graph", listener, state, handle);
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

    /// Hands out download links on `base` (scheme, host and port) instead of this server,
    /// as Graph's point at SharePoint hosts: a test can aim them at another server, or at an
    /// address the app must refuse to fetch.
    pub fn set_download_base(&self, base: &str) {
        self.shared.lock().download_base = Some(base.trim_end_matches('/').to_owned());
    }

    /// Makes every download link handed out so far expire.
    pub fn expire_download_links(&self) {
        self.shared.links().clear();
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
}

impl FakeBooks for FakeGraph {
    type Endpoint = Endpoint;
    type Fault = Fault;

    fn with_books<R>(&self, f: impl FnOnce(&mut Bookkeeping<Endpoint, Fault>) -> R) -> R {
        f(&mut self.shared.lock().books)
    }
}
