//! The normalized file model every file-browsing connector shares, and the declaration
//! (`FileSource`) that tells the app which actions browse and download. A connector whose
//! actions are tagged `file_browse` and `file_download` declares a `FileSource`; the
//! registry refuses one that does not, so it shows up in cloud import without the app
//! knowing anything about it.
//!
//! The contract: the `list` action takes `{<folder_param>?: string, page_token?: string}`
//! and returns a JSON object that reads as a [`FileList`] (connectors may add fields of
//! their own); `search`, when present, takes `{query: string, page_token?: string}` and
//! returns the same shape; `download` takes `{<file_param>: string}` with a `FileEntry::id`
//! and returns a `Download`.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Whether an entry is a folder or a file (what it behaves as: a shortcut to a folder is
/// a folder).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    /// A folder (or a top-level place such as "My Drive"): open it with the listing action.
    Folder,
    /// A file: fetch it with the download action when `can_download` is true.
    File,
}

/// One folder or file, in the shape every file-browsing connector returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FileEntry {
    /// The id to pass back to the connector's other actions.
    pub id: String,
    /// The name shown to people (not necessarily unique within a folder).
    pub name: String,
    /// Folder or file.
    pub kind: FileKind,
    /// The MIME type; `inode/directory` or a service-specific type for folders.
    pub mime_type: String,
    /// Size in bytes of the downloadable content, when known.
    #[serde(default)]
    pub size: Option<u64>,
    /// Last modification time.
    #[serde(default)]
    pub modified_time: Option<DateTime<Utc>>,
    /// The content checksum as `algorithm:lowercase-hex` (`md5:…`, `sha256:…`), when the
    /// service knows it.
    #[serde(default)]
    pub checksum: Option<String>,
    /// A value that changes whenever the content does (a version number, an entity tag),
    /// when the service has one. Imports use it to recognise a file they already have.
    #[serde(default)]
    pub revision: Option<String>,
    /// A link that opens the item in the service's own web interface.
    #[serde(default)]
    pub web_link: Option<String>,
    /// The id of the folder the item is in, when known.
    #[serde(default)]
    pub parent_id: Option<String>,
    /// Whether the download action can fetch the item's content.
    pub can_download: bool,
}

/// One step of the path from a top-level place to a folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Breadcrumb {
    /// The folder id, for the listing action.
    pub id: String,
    /// The folder name.
    pub name: String,
}

/// A page of a listing or a search, as the app reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FileList {
    /// This page's entries.
    pub files: Vec<FileEntry>,
    /// Pass as `page_token` (with the same other parameters) for the next page; absent on
    /// the last page.
    #[serde(default)]
    pub next_page_token: Option<String>,
    /// The path from the top-level place to the listed folder, that folder last, when the
    /// connector knows it (first pages only).
    #[serde(default)]
    pub breadcrumbs: Option<Vec<Breadcrumb>>,
}

/// Which actions of a connector browse and download files (see the module docs for the
/// parameter contract).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FileSource {
    /// The listing action (tagged `file_browse`).
    pub list: &'static str,
    /// Its parameter naming the folder to list (absent: the top level).
    pub folder_param: &'static str,
    /// The name-search action (tagged `file_browse`), if the service can search.
    pub search: Option<&'static str>,
    /// The download action (tagged `file_download`, returning a `Download`).
    pub download: &'static str,
    /// Its parameter naming the file.
    pub file_param: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_listing_with_connector_specific_fields_reads_as_a_file_list() {
        let page: FileList = serde_json::from_value(json!({
            "folder_id": "root",
            "files": [{
                "id": "f1", "name": "Notes.pdf", "kind": "file", "mime_type": "application/pdf",
                "size": 12, "modified_time": "2026-11-01T10:00:00Z", "checksum": "md5:00ff",
                "can_download": true, "icon": "pdf", "export_formats": []
            }, {
                "id": "d1", "name": "Course", "kind": "folder", "mime_type": "inode/directory",
                "can_download": false
            }],
            "next_page_token": "p2"
        }))
        .expect("reads");
        assert_eq!(page.files.len(), 2);
        assert_eq!(page.files[0].checksum.as_deref(), Some("md5:00ff"));
        assert_eq!(page.files[1].kind, FileKind::Folder);
        assert_eq!(page.files[1].size, None);
        assert_eq!(page.next_page_token.as_deref(), Some("p2"));
        assert_eq!(page.breadcrumbs, None);
    }
}
