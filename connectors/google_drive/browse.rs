//! The browse model: top-level places, folder listings with breadcrumbs, shortcut
//! resolution, and Drive files turned into normalized entries (the sdk's `FileEntry` plus
//! Drive's own fields).
//!
//! Drive has no single tree, so the top level (no `folder_id`) is three places with
//! fixed ids, listed without calling Drive. Each id a listing returns maps to Drive calls:
//!
//! | id               | lists                                      | Drive call                                     |
//! |------------------|--------------------------------------------|------------------------------------------------|
//! | `root`           | My Drive                                   | `files.list q='root' in parents`               |
//! | `shared-with-me` | items others shared with the user          | `files.list q=sharedWithMe = true`             |
//! | `shared-drives`  | the user's shared drives, as `drive:<id>`  | `drives.list`                                  |
//! | `drive:<id>`     | the top folder of one shared drive         | `files.list corpora=drive&driveId=<id>`        |
//! | any Drive id     | that folder (a shortcut is followed)       | `files.get`, then `files.list q='<id>' in parents` (`corpora=drive` inside a shared drive) |
//!
//! The first page of a listing carries breadcrumbs from the place the folder belongs to
//! (My Drive, Shared with me, or a shared drive under Shared drives) down to the folder,
//! found by walking `parents` (one `files.get` per level; a parent the user cannot see
//! means the folder was shared with them).

use futures_util::future::try_join;

use super::client::{Corpus, DriveClient, ListRequest, quote};
use super::mime::{Content, ExportMode, FOLDER};
use super::models::{DriveEntry, ShortcutTarget};
use super::wire::{self, FILE_FIELDS, PARENT_FIELDS};
use crate::files::Breadcrumb;
use crate::{Checksum, ConnectorError, FileEntry, FileKind};

/// My Drive (Drive's own alias for the user's root folder).
pub const MY_DRIVE: &str = "root";
/// Items shared with the user.
pub const SHARED_WITH_ME: &str = "shared-with-me";
/// The user's shared drives.
pub const SHARED_DRIVES: &str = "shared-drives";
/// Prefix of a shared drive's id in listings (`drive:<drive id>`).
const DRIVE_PREFIX: &str = "drive:";
/// Longest accepted id.
const MAX_ID_LEN: usize = 256;
/// Deepest folder path the breadcrumbs follow.
const MAX_DEPTH: usize = 32;
/// Folders first, then natural name order (1, 2, 12).
const FOLDER_ORDER: &str = "folder,name_natural";
/// `drives.list` returns at most 100 drives per page.
const MAX_DRIVES_PAGE: u32 = 100;

/// What an id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place<'a> {
    /// `root`.
    MyDrive,
    /// `shared-with-me`.
    SharedWithMe,
    /// `shared-drives`.
    SharedDrives,
    /// `drive:<id>`.
    SharedDrive(&'a str),
    /// A Drive file or folder id.
    Item(&'a str),
}

impl<'a> Place<'a> {
    /// Reads an id (checked by [`is_valid_id`] beforehand).
    pub fn parse(id: &'a str) -> Self {
        match id {
            MY_DRIVE => Self::MyDrive,
            SHARED_WITH_ME => Self::SharedWithMe,
            SHARED_DRIVES => Self::SharedDrives,
            _ => match id.strip_prefix(DRIVE_PREFIX) {
                Some(drive_id) => Self::SharedDrive(drive_id),
                None => Self::Item(id),
            },
        }
    }
}

/// Whether `id` is a place id or a Drive id (letters, digits, `-`, `_`).
pub fn is_valid_id(id: &str) -> bool {
    let drive_id = |s: &str| {
        !s.is_empty()
            && s.len() <= MAX_ID_LEN
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    match Place::parse(id) {
        Place::SharedDrive(drive) => drive_id(drive),
        Place::Item(item) => drive_id(item),
        _ => true,
    }
}

/// Parameters of a listing.
#[derive(Debug, Clone, Copy)]
pub struct ListParams<'a> {
    /// The folder; the top level when absent.
    pub folder_id: Option<&'a str>,
    /// `next_page_token` of the previous page.
    pub page_token: Option<&'a str>,
    /// Entries per page.
    pub page_size: u32,
}

/// What a listing's entries are made into: the actions' [`DriveEntry`], or for cloud
/// import the plain [`FileEntry`], which leaves Drive's own fields (icon hint, export
/// formats: a few strings per Google file) unbuilt.
pub trait Entry: Sized {
    /// A file or folder Drive listed.
    fn of_file(file: wire::File, mode: ExportMode) -> Self;
    /// A top-level place or a shared drive.
    fn of_place(entry: DriveEntry) -> Self;
}

impl Entry for DriveEntry {
    fn of_file(file: wire::File, mode: ExportMode) -> Self {
        entry_from(file, mode)
    }

    fn of_place(entry: DriveEntry) -> Self {
        entry
    }
}

impl Entry for FileEntry {
    fn of_file(file: wire::File, _: ExportMode) -> Self {
        read_file(file).0
    }

    fn of_place(entry: DriveEntry) -> Self {
        entry.file
    }
}

/// A page of a listing (the `list_files` action's `DriveFileList`, with entries of `E`).
#[derive(Debug)]
pub struct Listing<E> {
    /// The folder that was listed; absent for the top level.
    pub folder_id: Option<String>,
    /// From the top-level place to the listed folder; only on the first page.
    pub breadcrumbs: Option<Vec<Breadcrumb>>,
    /// This page's entries, folders first, then by name.
    pub files: Vec<E>,
    /// The next page's token; absent on the last page.
    pub next_page_token: Option<String>,
}

/// Lists one page of a place or folder.
pub async fn list<E: Entry>(
    drive: &DriveClient<'_>,
    mode: ExportMode,
    params: ListParams<'_>,
) -> Result<Listing<E>, ConnectorError> {
    let Some(folder_id) = params.folder_id else {
        if params.page_token.is_some() {
            return Err(ConnectorError::invalid_field(
                "page_token",
                "`page_token`: the top level has a single page",
            ));
        }
        return Ok(Listing {
            folder_id: None,
            breadcrumbs: Some(Vec::new()),
            files: top_level().into_iter().map(E::of_place).collect(),
            next_page_token: None,
        });
    };
    let first_page = params.page_token.is_none();
    let children = |q: String, corpus| async move {
        let request = ListRequest {
            q: &q,
            corpus,
            order_by: Some(FOLDER_ORDER),
            page_size: params.page_size,
            page_token: params.page_token,
        };
        drive.list_files(&request).await
    };
    let (page, breadcrumbs) = match Place::parse(folder_id) {
        Place::MyDrive => (
            children(in_folder(MY_DRIVE), Corpus::Default).await?,
            vec![place_crumb(MY_DRIVE)],
        ),
        Place::SharedWithMe => (
            children(
                "sharedWithMe = true and trashed = false".to_owned(),
                Corpus::Default,
            )
            .await?,
            vec![place_crumb(SHARED_WITH_ME)],
        ),
        Place::SharedDrives => return list_shared_drives(drive, params).await,
        Place::SharedDrive(drive_id) => {
            let page = children(in_folder(drive_id), Corpus::SharedDrive(drive_id));
            if first_page {
                let (page, name) =
                    try_join(page, drive_name(drive, drive_id, "Shared drive")).await?;
                let crumbs = vec![place_crumb(SHARED_DRIVES), drive_crumb(drive_id, name)];
                (page, crumbs)
            } else {
                (page.await?, Vec::new())
            }
        }
        Place::Item(id) => {
            let folder = resolve(drive, id, FILE_FIELDS).await?;
            if Content::of(&folder.mime_type) != Content::Folder {
                return Err(ConnectorError::invalid_field(
                    "folder_id",
                    format!("`folder_id`: `{id}` is a file, not a folder"),
                ));
            }
            let corpus = match folder.drive_id.as_deref() {
                Some(drive_id) => Corpus::SharedDrive(drive_id),
                None => Corpus::Default,
            };
            let page = children(in_folder(&folder.id), corpus);
            if first_page {
                try_join(page, trail(drive, &folder)).await?
            } else {
                (page.await?, Vec::new())
            }
        }
    };
    Ok(Listing {
        folder_id: Some(folder_id.to_owned()),
        breadcrumbs: first_page.then_some(breadcrumbs),
        files: page
            .files
            .into_iter()
            .map(|f| E::of_file(f, mode))
            .collect(),
        next_page_token: page.next_page_token.filter(|t| !t.is_empty()),
    })
}

async fn list_shared_drives<E: Entry>(
    drive: &DriveClient<'_>,
    params: ListParams<'_>,
) -> Result<Listing<E>, ConnectorError> {
    let page = drive
        .list_drives(params.page_size.min(MAX_DRIVES_PAGE), params.page_token)
        .await?;
    Ok(Listing {
        folder_id: Some(SHARED_DRIVES.to_owned()),
        breadcrumbs: params
            .page_token
            .is_none()
            .then(|| vec![place_crumb(SHARED_DRIVES)]),
        files: page
            .drives
            .into_iter()
            .map(|d| E::of_place(shared_drive_entry(d)))
            .collect(),
        next_page_token: page.next_page_token.filter(|t| !t.is_empty()),
    })
}

/// `'<id>' in parents and trashed = false`.
fn in_folder(id: &str) -> String {
    format!("{} in parents and trashed = false", quote(id))
}

/// `files.get` of `id`; for a shortcut, `files.get` of its target instead.
pub async fn resolve(
    drive: &DriveClient<'_>,
    id: &str,
    fields: &str,
) -> Result<wire::File, ConnectorError> {
    let file = drive.get_file(id, fields).await?;
    if Content::of(&file.mime_type) != Content::Shortcut {
        return Ok(file);
    }
    let gone = || ConnectorError::NotFound {
        message: format!(
            "the shortcut `{}` points to an item that was deleted or that this account cannot see",
            file.name
        ),
    };
    let target = file
        .shortcut_details
        .as_ref()
        .and_then(|d| d.target_id.as_deref())
        .ok_or_else(gone)?;
    drive
        .get_file(target, fields)
        .await
        .map_err(|error| match error {
            ConnectorError::NotFound { .. } => gone(),
            other => other,
        })
}

/// The breadcrumbs of `folder`: walks up `parents` to My Drive, a shared drive, or the
/// first ancestor the user cannot see (then the folder was shared with them).
async fn trail(
    drive: &DriveClient<'_>,
    folder: &wire::File,
) -> Result<Vec<Breadcrumb>, ConnectorError> {
    let mut crumbs = Vec::new();
    let mut current = folder.clone();
    for _ in 0..MAX_DEPTH {
        if let Some(drive_id) = current.drive_id.as_deref().filter(|d| *d == current.id) {
            let name = drive_name(drive, drive_id, &current.name).await?;
            crumbs.push(drive_crumb(drive_id, name));
            crumbs.push(place_crumb(SHARED_DRIVES));
            break;
        }
        let Some(parent_id) = current.parents.first().cloned() else {
            if current.drive_id.is_none() && current.owned_by_me == Some(true) {
                // The user's own folder without parent is the My Drive root.
                crumbs.push(place_crumb(MY_DRIVE));
            } else {
                crumbs.push(crumb_of(&current));
                crumbs.push(place_crumb(SHARED_WITH_ME));
            }
            break;
        };
        crumbs.push(crumb_of(&current));
        match drive.get_file(&parent_id, PARENT_FIELDS).await {
            Ok(parent) => current = parent,
            Err(ConnectorError::NotFound { .. } | ConnectorError::PermissionDenied { .. }) => {
                crumbs.push(place_crumb(SHARED_WITH_ME));
                break;
            }
            Err(error) => return Err(error),
        }
    }
    crumbs.reverse();
    Ok(crumbs)
}

/// A shared drive's name from `drives.get`, or `fallback` when the user may not read
/// the drive itself (only some of its folders).
async fn drive_name(
    drive: &DriveClient<'_>,
    drive_id: &str,
    fallback: &str,
) -> Result<String, ConnectorError> {
    match drive.get_drive(drive_id).await {
        Ok(found) => Ok(found.name),
        Err(ConnectorError::NotFound { .. } | ConnectorError::PermissionDenied { .. }) => {
            Ok(fallback.to_owned())
        }
        Err(error) => Err(error),
    }
}

fn crumb_of(file: &wire::File) -> Breadcrumb {
    Breadcrumb {
        id: file.id.clone(),
        name: file.name.clone(),
    }
}

fn drive_crumb(drive_id: &str, name: String) -> Breadcrumb {
    Breadcrumb {
        id: format!("{DRIVE_PREFIX}{drive_id}"),
        name,
    }
}

fn place_crumb(id: &'static str) -> Breadcrumb {
    let entry = place_entry(id).file;
    Breadcrumb {
        id: entry.id,
        name: entry.name,
    }
}

/// The three top-level places.
pub fn top_level() -> Vec<DriveEntry> {
    [MY_DRIVE, SHARED_WITH_ME, SHARED_DRIVES]
        .into_iter()
        .map(place_entry)
        .collect()
}

/// The entry of a top-level place (`root`, `shared-with-me` or `shared-drives`).
pub fn place_entry(id: &'static str) -> DriveEntry {
    let (name, icon, page) = match id {
        SHARED_WITH_ME => ("Shared with me", "shared-with-me", "shared-with-me"),
        SHARED_DRIVES => ("Shared drives", "shared-drives", "shared-drives"),
        _ => ("My Drive", "my-drive", "my-drive"),
    };
    folder_entry(
        FileEntry {
            web_link: Some(format!("https://drive.google.com/drive/{page}")),
            ..folder(id.to_owned(), name.to_owned())
        },
        icon,
        None,
    )
}

/// The entry of a shared drive, with id `drive:<id>`.
pub fn shared_drive_entry(drive: wire::Drive) -> DriveEntry {
    let file = FileEntry {
        web_link: Some(format!(
            "https://drive.google.com/drive/folders/{}",
            drive.id
        )),
        parent_id: Some(SHARED_DRIVES.to_owned()),
        ..folder(format!("{DRIVE_PREFIX}{}", drive.id), drive.name)
    };
    folder_entry(file, "shared-drive", Some(drive.id))
}

/// A folder's common fields (a place or a shared drive: no Drive file behind it).
fn folder(id: String, name: String) -> FileEntry {
    FileEntry {
        id,
        name,
        kind: FileKind::Folder,
        mime_type: FOLDER.to_owned(),
        size: None,
        modified_time: None,
        checksum: None,
        revision: None,
        web_link: None,
        parent_id: None,
        can_download: false,
    }
}

fn folder_entry(file: FileEntry, icon: &str, drive_id: Option<String>) -> DriveEntry {
    DriveEntry {
        file,
        icon: icon.to_owned(),
        export_formats: Vec::new(),
        drive_id,
        shortcut_target: None,
    }
}

/// A Drive file as a normalized entry; `mode` orders the export formats (default first).
///
/// A shortcut takes the kind, export formats and downloadability of its target (what it
/// behaves as), keeps its own id, name and MIME type, and has the icon `shortcut`; its
/// size, checksum and revision would be the target's, which the listing does not carry,
/// so they are absent.
pub fn entry_from(file: wire::File, mode: ExportMode) -> DriveEntry {
    let (entry, drive) = read_file(file);
    let icon = match (drive.content, drive.effective) {
        (Content::Folder, _) => "folder",
        (Content::Shortcut, _) => "shortcut",
        _ => super::mime::icon_for(&entry.mime_type),
    };
    let export_formats = match drive.effective {
        Content::Native(native) => {
            let default = native.default_format(mode);
            std::iter::once(default)
                .chain(native.formats().iter().copied().filter(|f| *f != default))
                .map(|f| f.as_str().to_owned())
                .collect()
        }
        _ => Vec::new(),
    };
    DriveEntry {
        file: entry,
        icon: icon.to_owned(),
        export_formats,
        drive_id: drive.drive_id,
        shortcut_target: drive.shortcut_target,
    }
}

/// What [`read_file`] found besides the normalized entry.
struct DriveFields {
    /// The file's own content kind.
    content: Content,
    /// What it behaves as: its target's for a shortcut.
    effective: Content,
    drive_id: Option<String>,
    shortcut_target: Option<ShortcutTarget>,
}

/// The normalized entry of a Drive file (see [`entry_from`]), and the rest of what
/// [`DriveEntry`] is made from.
fn read_file(mut file: wire::File) -> (FileEntry, DriveFields) {
    let content = Content::of(&file.mime_type);
    let binary = content == Content::Binary;
    let checksum = content_checksum(&file).filter(|_| binary);
    let revision = revision(&mut file, content);
    let shortcut_target = file.shortcut_details.and_then(|details| {
        Some(ShortcutTarget {
            id: details.target_id?,
            mime_type: details.target_mime_type.unwrap_or_default(),
        })
    });
    let effective = match (content, &shortcut_target) {
        (Content::Shortcut, Some(target)) => Content::of(&target.mime_type),
        (Content::Shortcut, None) => Content::NotDownloadable("shortcut"),
        _ => content,
    };
    let kind = if effective == Content::Folder {
        FileKind::Folder
    } else {
        FileKind::File
    };
    let allowed = content == Content::Shortcut
        || file.capabilities.as_ref().and_then(|c| c.can_download) != Some(false);
    let entry = FileEntry {
        kind,
        size: file.size.filter(|_| binary),
        modified_time: file.modified_time,
        checksum,
        revision,
        web_link: file.web_view_link,
        parent_id: file.parents.into_iter().next(),
        can_download: allowed && effective.is_downloadable(),
        id: file.id,
        name: file.name,
        mime_type: file.mime_type,
    };
    let drive = DriveFields {
        content,
        effective,
        drive_id: file.drive_id,
        shortcut_target,
    };
    (entry, drive)
}

/// The file's content checksum, when Drive reports one (binary content only): its SHA-256
/// as `sha256:<lowercase hex>`, else its MD5 as `md5:…`. SHA-256 is preferred because the
/// app computes it for every stored file anyway, so checking it costs no second pass.
pub fn content_checksum(file: &wire::File) -> Option<Checksum> {
    let pick = |algorithm: &str, value: &Option<String>| {
        value
            .as_deref()
            .and_then(|hex| Checksum::from_hex(algorithm, hex.trim()))
    };
    pick("sha256", &file.sha256_checksum).or_else(|| pick("md5", &file.md5_checksum))
}

/// What changes when the content does. Uploaded files: the head revision id, which
/// changes only when new content is uploaded (a rename or a new permission keeps it, so
/// an import does not fetch the same bytes again); Drive's `version` when the head
/// revision is missing. Google-native files have no head revision: their `version`, which
/// changes with every edit (metadata too, so it may say "changed" when only the name
/// did, never the reverse). Folders, shortcuts (the shortcut's own version says nothing
/// about its target) and other Google items: none. Taken out of `file`, not copied.
fn revision(file: &mut wire::File, content: Content) -> Option<String> {
    let non_empty = |value: &mut Option<String>| value.take().filter(|v| !v.is_empty());
    match content {
        Content::Binary => {
            non_empty(&mut file.head_revision_id).or_else(|| non_empty(&mut file.version))
        }
        Content::Native(_) => non_empty(&mut file.version),
        _ => None,
    }
}

#[cfg(test)]
#[path = "browse_tests.rs"]
mod tests;
