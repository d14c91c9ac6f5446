//! What the actions return: the sdk's normalized file model ([`FileEntry`], [`Breadcrumb`])
//! plus the fields only Google Drive has (icon hint, export formats, shared drive,
//! shortcut target). Every listing and search reads as an sdk `FileList`; nothing here
//! knows about Drive's wire format.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::FileEntry;
use crate::files::Breadcrumb;

/// The item a shortcut points to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ShortcutTarget {
    /// The target's id.
    pub id: String,
    /// The target's MIME type (as it was when the shortcut was made).
    pub mime_type: String,
}

/// One folder or file (or shortcut), normalized, with Google Drive's own fields.
///
/// Ids: besides Drive ids, the top-level places have fixed ids: `root` (My Drive),
/// `shared-with-me`, `shared-drives`, and `drive:<id>` for a shared drive. A shortcut is
/// the kind of what it points to (a shortcut to a folder is a `folder` and opens with
/// `list_files`; any other shortcut is a `file`, downloaded as its target when
/// `can_download`); it keeps its own MIME type, its `icon` is `shortcut` and
/// `shortcut_target` names the target. Google Docs, Sheets and Slides have no `size` or
/// `checksum` (their export is only known once exported). `revision` is Drive's head
/// revision id for uploaded files and Drive's version number for Google files; absent for
/// folders and shortcuts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DriveEntry {
    /// The fields every file-browsing connector returns.
    #[serde(flatten)]
    pub file: FileEntry,
    /// An icon hint: `folder`, `my-drive`, `shared-with-me`, `shared-drives`,
    /// `shared-drive`, `document`, `spreadsheet`, `presentation`, `drawing`, `form`,
    /// `code`, `pdf`, `image`, `video`, `audio`, `archive`, `text`, `shortcut` or `file`.
    pub icon: String,
    /// For Google-native files (and shortcuts to them), the `format` values `export_file`
    /// accepts (the default one first); empty otherwise.
    pub export_formats: Vec<String>,
    /// The shared drive the item is in, for shared-drive items.
    pub drive_id: Option<String>,
    /// For shortcuts, the item the shortcut points to.
    pub shortcut_target: Option<ShortcutTarget>,
}

/// A page of a folder listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DriveFileList {
    /// The folder that was listed; absent for the top level.
    pub folder_id: Option<String>,
    /// The path from the top-level place to the listed folder, that folder last (empty
    /// for the top level). Only on the first page: absent when `page_token` was given.
    pub breadcrumbs: Option<Vec<Breadcrumb>>,
    /// This page's entries, folders first, then by name.
    pub files: Vec<DriveEntry>,
    /// Pass as `page_token` for the next page; absent on the last page.
    pub next_page_token: Option<String>,
}

/// A page of search results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SearchResults {
    /// This page's matches.
    pub files: Vec<DriveEntry>,
    /// Pass as `page_token` for the next page; absent on the last page.
    pub next_page_token: Option<String>,
    /// True when the service did not search every shared drive (too many): narrow the
    /// query or browse instead.
    pub incomplete: bool,
}
