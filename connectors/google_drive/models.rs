//! The normalized file model the drive connectors share (Google Drive here, OneDrive with
//! the same field names): what a listing, a search and `get_file` return, whatever the
//! service calls things. It is meant to move into `sdk/` once both connectors use it, so
//! nothing here knows about Drive's wire format.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Whether an entry is a folder, a file or a shortcut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A folder (or a top-level place such as "My Drive"): open it with `list_files`.
    Folder,
    /// A file: read it with `get_file`, `download_file` (or `export_file`).
    File,
    /// A shortcut to another item (see `shortcut_target`): a shortcut to a folder opens
    /// with `list_files`, a shortcut to a file downloads as that file.
    Shortcut,
}

/// A content checksum reported by the service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Checksum {
    /// Lowercase algorithm name (`md5` for Google Drive).
    pub algorithm: String,
    /// The digest as lowercase hex.
    pub value: String,
}

impl Checksum {
    /// The `algorithm:value` form a `Download` carries (`md5:…`).
    pub fn to_download_form(&self) -> String {
        format!("{}:{}", self.algorithm, self.value)
    }
}

/// The item a shortcut points to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ShortcutTarget {
    /// The target's id.
    pub id: String,
    /// The target's MIME type (as it was when the shortcut was made).
    pub mime_type: String,
}

/// One folder, file or shortcut, normalized.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FileEntry {
    /// The id to pass to the other actions. Besides Drive ids, the top-level places have
    /// fixed ids: `root` (My Drive), `shared-with-me`, `shared-drives`, and `drive:<id>`
    /// for a shared drive.
    pub id: String,
    /// The name shown to people (not unique within a folder).
    pub name: String,
    /// Folder, file or shortcut.
    pub kind: EntryKind,
    /// The service's MIME type (`application/vnd.google-apps.*` for Google-native items).
    pub mime_type: String,
    /// Size in bytes of the downloadable content; absent for folders, shortcuts and
    /// Google-native files (their export size is only known once exported).
    pub size: Option<u64>,
    /// Last modification time.
    pub modified_time: Option<DateTime<Utc>>,
    /// The content checksum, when the service knows it (uploaded files only).
    pub checksum: Option<Checksum>,
    /// A link that opens the item in the service's web interface.
    pub web_link: Option<String>,
    /// The id of the folder the item is in, when the account can see it.
    pub parent_id: Option<String>,
    /// Whether `download_file` can fetch the item's bytes (binary files, and Google files
    /// that can be exported, unless the owner disabled downloading).
    pub can_download: bool,
    /// An icon hint: `folder`, `my-drive`, `shared-with-me`, `shared-drives`,
    /// `shared-drive`, `document`, `spreadsheet`, `presentation`, `drawing`, `form`,
    /// `code`, `pdf`, `image`, `video`, `audio`, `archive`, `text`, `shortcut` or `file`.
    pub icon: String,
    /// For Google-native files, the `format` values `export_file` accepts (the default one
    /// first); empty otherwise.
    pub export_formats: Vec<String>,
    /// The shared drive the item is in, for shared-drive items.
    pub drive_id: Option<String>,
    /// For shortcuts, the item the shortcut points to.
    pub shortcut_target: Option<ShortcutTarget>,
}

/// One step of the path from a top-level place to a folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Breadcrumb {
    /// The folder id, for `list_files`.
    pub id: String,
    /// The folder name.
    pub name: String,
}

/// A page of a folder listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FileList {
    /// The folder that was listed; absent for the top level.
    pub folder_id: Option<String>,
    /// The path from the top-level place to the listed folder, that folder last (empty
    /// for the top level). Only on the first page: absent when `page_token` was given.
    pub breadcrumbs: Option<Vec<Breadcrumb>>,
    /// This page's entries, folders first, then by name.
    pub files: Vec<FileEntry>,
    /// Pass as `page_token` for the next page; absent on the last page.
    pub next_page_token: Option<String>,
}

/// A page of search results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SearchResults {
    /// This page's matches.
    pub files: Vec<FileEntry>,
    /// Pass as `page_token` for the next page; absent on the last page.
    pub next_page_token: Option<String>,
    /// True when the service did not search every shared drive (too many): narrow the
    /// query or browse instead.
    pub incomplete: bool,
}
