//! The fake Graph's drives and items (the user's own drive, other people's drives, items
//! shared with the user), the download links handed out, and the state the server and the
//! handle share.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::errors::{Endpoint, Fault};
use super::{DEFAULT_LINK_TTL, ROOT};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::upstream::{Blob, BodyFault, Bookkeeping, splitmix64, to_usize};

#[derive(Debug, Clone)]
pub(super) enum Kind {
    Folder,
    File {
        blob: Arc<Blob>,
        mime: String,
    },
    /// A OneNote notebook (`package` of type `oneNote`).
    Notebook,
}

#[derive(Debug, Clone)]
pub(super) struct Item {
    pub(super) id: String,
    pub(super) drive: String,
    pub(super) name: String,
    pub(super) kind: Kind,
    /// None for a drive's root.
    pub(super) parent: Option<String>,
    pub(super) created: i64,
    pub(super) modified: i64,
    /// Bumped on every change (`eTag`).
    pub(super) entity_version: u64,
    /// Bumped when the content changes (`cTag`).
    pub(super) content_version: u64,
    pub(super) malware: bool,
}

#[derive(Debug, Clone)]
pub(super) struct DriveInfo {
    pub(super) id: String,
    pub(super) root: String,
    pub(super) owner_name: String,
    pub(super) owner_email: String,
    /// `alice_contoso_edu`: the owner's part of SharePoint URLs.
    pub(super) site: String,
}

/// A pre-authenticated download link.
#[derive(Debug, Clone)]
pub(super) struct Link {
    pub(super) item: String,
    pub(super) expires: Instant,
    pub(super) fault: Option<BodyFault>,
}

pub(super) struct State {
    pub(super) items: HashMap<String, Item>,
    /// Ids in creation order: the order of listings without `$orderby`.
    pub(super) order: Vec<String>,
    pub(super) drives: Vec<DriveInfo>,
    /// `(reference id, item id)` of the items shared with the user.
    pub(super) shared: Vec<(String, String)>,
    pub(super) next_id: u64,
    pub(super) clock: i64,
    pub(super) books: Bookkeeping<Endpoint, Fault>,
    pub(super) link_ttl: Duration,
    pub(super) sha256: bool,
    pub(super) user_name: String,
    pub(super) user_mail: Option<String>,
    pub(super) user_principal: String,
    /// Where download links point (Graph's point at SharePoint hosts); `None`: this server.
    pub(super) download_base: Option<String>,
}

/// The server's state, shared by the handle and the workers, and the URL clients reach it
/// at (for `@odata.nextLink` and download links).
pub(super) struct Shared {
    pub(super) state: Mutex<State>,
    /// Download links by `tempauth` token; apart from the state so a response can hand out
    /// links while it reads the state.
    pub(super) links: Mutex<HashMap<String, Link>>,
    pub(super) base_url: String,
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn links(&self) -> MutexGuard<'_, HashMap<String, Link>> {
        self.links.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    pub(super) fn new() -> Self {
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
            download_base: None,
        };
        state.new_drive("Alice Example", "alice@campus.example");
        state
    }

    pub(super) fn my_drive(&self) -> &DriveInfo {
        &self.drives[0]
    }

    pub(super) fn tick(&mut self) -> i64 {
        self.clock += 60;
        self.clock
    }

    pub(super) fn next(&mut self) -> u64 {
        let n = self.next_id;
        self.next_id += 1;
        splitmix64(n.wrapping_mul(0x2545_F491_4F6C_DD1D))
    }

    /// `01` + 32 characters of base32: OneDrive for Business item ids look like this.
    pub(super) fn new_item_id(&mut self) -> String {
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

    pub(super) fn new_drive(&mut self, owner_name: &str, owner_email: &str) -> String {
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

    pub(super) fn drive(&self, id: &str) -> Option<&DriveInfo> {
        self.drives.iter().find(|d| d.id == id)
    }

    /// `root` → my drive's root item.
    pub(super) fn resolve<'a>(&'a self, id: &'a str) -> &'a str {
        if id == ROOT {
            &self.my_drive().root
        } else {
            id
        }
    }

    pub(super) fn item_mut(&mut self, id: &str) -> &mut Item {
        let id = self.resolve(id).to_owned();
        self.items
            .get_mut(&id)
            .unwrap_or_else(|| panic!("fake Graph: no item `{id}`"))
    }

    pub(super) fn insert(&mut self, parent_id: &str, name: &str, kind: Kind) -> String {
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
    pub(super) fn touch_ancestors(&mut self, id: &str, now: i64) {
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
    pub(super) fn readable(&self, item: &Item) -> bool {
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

    pub(super) fn is_below(&self, item: &Item, ancestor: &str) -> bool {
        let mut current = item.parent.as_deref();
        while let Some(id) = current {
            if id == ancestor {
                return true;
            }
            current = self.items.get(id).and_then(|i| i.parent.as_deref());
        }
        false
    }

    pub(super) fn size(&self, item: &Item) -> u64 {
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

    pub(super) fn child_count(&self, id: &str) -> usize {
        self.items
            .values()
            .filter(|i| i.parent.as_deref() == Some(id))
            .count()
    }

    /// `/Course/Week 1` below the drive's root.
    pub(super) fn path_of(&self, item: &Item) -> String {
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
