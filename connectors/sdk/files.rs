//! The normalized file model every file-browsing connector shares, and the typed contract
//! cloud import talks to: [`FileSource`] (list, search, download). A connector whose
//! actions are tagged `file_browse` and `file_download` implements it (the registry
//! refuses one that does not), and then appears in cloud import without the app knowing
//! anything about it: no action names, no JSON built by hand, no checksum strings.

use std::borrow::Cow;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use validator::Validate;

use super::action::Download;
use super::checksum::Checksum;
use super::context::ActionContext;
use super::error::ConnectorError;

/// `text` in ASCII lower case; borrowed when it already is (MIME types nearly always are).
pub fn ascii_lowercase(text: &str) -> Cow<'_, str> {
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(text.to_ascii_lowercase())
    } else {
        Cow::Borrowed(text)
    }
}

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
    pub checksum: Option<Checksum>,
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

/// What a listing asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListRequest {
    /// The folder to list: a folder's [`FileEntry::id`], or `None` for the top level.
    pub folder: Option<String>,
    /// The previous page's [`FileList::next_page_token`].
    pub page_token: Option<String>,
}

/// What a name search asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchRequest {
    /// The text to look for (already trimmed, not empty).
    pub query: String,
    /// The previous page's [`FileList::next_page_token`].
    pub page_token: Option<String>,
}

/// The actions behind a [`FileSource`]'s calls: audit rows and rate limits name them, and
/// the registry checks they exist and carry `file_browse` / `file_download`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FileActions {
    /// The listing action (tagged `file_browse`).
    pub list: &'static str,
    /// The name-search action (tagged `file_browse`), if the service can search.
    pub search: Option<&'static str>,
    /// The download action (tagged `file_download`, returning a `Download`).
    pub download: &'static str,
}

/// A service that holds folders and files, as cloud import sees it.
///
/// Implementations sit beside the connector's actions and call them with their own typed
/// inputs (validated, as the action would be), so the JSON API, the agents and cloud
/// import run the same code.
#[async_trait]
pub trait FileSource: Send + Sync {
    /// The actions each call stands for.
    fn actions(&self) -> FileActions;

    /// One page of a folder (or of the top level).
    async fn list(
        &self,
        ctx: &ActionContext,
        request: ListRequest,
    ) -> Result<FileList, ConnectorError>;

    /// One page of files whose name matches; only called when `actions().search` is set.
    async fn search(
        &self,
        ctx: &ActionContext,
        request: SearchRequest,
    ) -> Result<FileList, ConnectorError> {
        let _ = (ctx, request);
        Err(ConnectorError::Unsupported {
            message: "this service cannot search; browse instead".into(),
        })
    }

    /// The content of the file `file_id` (a [`FileEntry::id`]), streamed, with the
    /// service's checksum when it has one.
    async fn download(
        &self,
        ctx: &ActionContext,
        file_id: &str,
    ) -> Result<Download, ConnectorError>;

    /// The icon to show for an entry; services with types of their own (Google Docs…)
    /// map those first.
    fn icon(&self, entry: &FileEntry) -> FileIcon {
        FileIcon::of(entry)
    }
}

/// Runs a typed action input through its validation, as the action's JSON path does.
pub fn validated<T: Validate>(input: T) -> Result<T, ConnectorError> {
    input
        .validate()
        .map_err(|errors| super::input::validation_error(&errors))?;
    Ok(input)
}

/// The file-type icons the app draws (`static/icons/files/<name>.svg`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FileIcon {
    /// A folder or a top-level place.
    Folder,
    /// A word-processing document.
    Document,
    /// A spreadsheet.
    Spreadsheet,
    /// A slide deck.
    Presentation,
    /// A PDF.
    Pdf,
    /// A picture.
    Image,
    /// A video.
    Video,
    /// A sound file.
    Audio,
    /// Plain text.
    Text,
    /// Source code or structured data.
    Code,
    /// A compressed archive.
    Archive,
    /// Anything else.
    File,
}

impl FileIcon {
    /// The icon's file name without extension.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Folder => "folder",
            Self::Document => "document",
            Self::Spreadsheet => "spreadsheet",
            Self::Presentation => "presentation",
            Self::Pdf => "pdf",
            Self::Image => "image",
            Self::Video => "video",
            Self::Audio => "audio",
            Self::Text => "text",
            Self::Code => "code",
            Self::Archive => "archive",
            Self::File => "file",
        }
    }

    /// The icon of an entry from its kind and standard MIME type.
    pub fn of(entry: &FileEntry) -> Self {
        if entry.kind == FileKind::Folder {
            return Self::Folder;
        }
        Self::for_mime(&entry.mime_type)
    }

    /// The icon of a standard MIME type (`image/*`, PDF, Office and OpenDocument formats,
    /// archives, code); [`FileIcon::File`] for anything else.
    pub fn for_mime(mime_type: &str) -> Self {
        let mime = ascii_lowercase(mime_type.trim());
        let (top, sub) = mime.split_once('/').unwrap_or((&mime, ""));
        let sub = sub.split(';').next().unwrap_or_default().trim();
        match top {
            "image" => return Self::Image,
            "video" => return Self::Video,
            "audio" => return Self::Audio,
            _ => {}
        }
        match sub {
            "pdf" => Self::Pdf,
            "msword" | "rtf" => Self::Document,
            "vnd.ms-excel" | "csv" => Self::Spreadsheet,
            "vnd.ms-powerpoint" => Self::Presentation,
            "zip" | "gzip" | "x-tar" | "x-7z-compressed" | "vnd.rar" | "x-rar-compressed" => {
                Self::Archive
            }
            "json" | "xml" | "javascript" | "x-python" | "x-sh" | "x-yaml" => Self::Code,
            _ if sub.ends_with("wordprocessingml.document")
                || sub.ends_with("opendocument.text") =>
            {
                Self::Document
            }
            _ if sub.ends_with("spreadsheetml.sheet")
                || sub.ends_with("opendocument.spreadsheet") =>
            {
                Self::Spreadsheet
            }
            _ if sub.ends_with("presentationml.presentation")
                || sub.ends_with("opendocument.presentation") =>
            {
                Self::Presentation
            }
            _ if top == "text" => Self::Text,
            _ => Self::File,
        }
    }
}

/// An RFC 3339 time from a listing, in UTC. The form the file APIs send (`2026-11-30T14:05:12Z`,
/// with or without milliseconds, in UTC) is read field by field, a listing has one per file;
/// anything else (offsets, other fractions, a leap second) goes to chrono's parser, so every
/// text reads as `DateTime::parse_from_rfc3339` reads it.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    parse_utc_time(text.as_bytes()).or_else(|| {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    })
}

/// `YYYY-MM-DDTHH:MM:SSZ` or `YYYY-MM-DDTHH:MM:SS.mmmZ` (`t` or `z` too, as RFC 3339 allows),
/// when it is a valid time.
fn parse_utc_time(b: &[u8]) -> Option<DateTime<Utc>> {
    let millis = match b.len() {
        20 => 0,
        24 if b[19] == b'.' => number(&b[20..23])?,
        _ => return None,
    };
    let separators = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if separators.iter().any(|&(i, c)| b[i] != c)
        || !matches!(b[10], b'T' | b't')
        || !matches!(b[b.len() - 1], b'Z' | b'z')
    {
        return None;
    }
    let date = chrono::NaiveDate::from_ymd_opt(
        i32::try_from(number(&b[0..4])?).ok()?,
        number(&b[5..7])?,
        number(&b[8..10])?,
    )?;
    let time = date.and_hms_milli_opt(
        number(&b[11..13])?,
        number(&b[14..16])?,
        number(&b[17..19])?,
        millis,
    )?;
    Some(time.and_utc())
}

/// The decimal number `digits` spell, when they are all digits.
fn number(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn listing_times_read_as_chrono_reads_them() {
        let by_chrono = |text: &str| {
            DateTime::parse_from_rfc3339(text)
                .ok()
                .map(|t| t.with_timezone(&Utc))
        };
        for text in [
            "2026-11-30T14:05:12.345Z",
            "2026-11-30T14:05:12Z",
            "2026-11-30t14:05:12.000z",
            "2024-02-29T23:59:59.999Z",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            // Read by chrono: offsets, other fractions, a leap second, a space.
            "2026-11-30T14:05:12+01:00",
            "2026-11-30T14:05:12.5Z",
            "2026-11-30T14:05:12.123456789Z",
            "2016-12-31T23:59:60Z",
            "2026-11-30 14:05:12Z",
            // Not times.
            "2023-02-29T10:00:00Z",
            "2026-13-01T10:00:00Z",
            "2026-11-30T24:00:00Z",
            "2026-11-30T14:60:00Z",
            "2026-11-30T14:05:12.34aZ",
            "2026-11-30T14:05:12.345",
            "2026-11-30X14:05:12Z",
            "+026-11-30T14:05:12Z",
            "2026/11/30T14:05:12Z",
            "",
        ] {
            assert_eq!(parse_time(text), by_chrono(text), "{text:?}");
        }
        assert!(parse_utc_time(b"2026-11-30T14:05:12.345Z").is_some());
        assert!(parse_utc_time(b"2026-11-30T14:05:12Z").is_some());
        assert_eq!(
            parse_time("2026-11-30T14:05:12.345Z").map(|t| t.timestamp_millis()),
            Some(1_796_047_512_345)
        );
    }

    #[test]
    fn a_listing_with_connector_specific_fields_reads_as_a_file_list() {
        let page: FileList = serde_json::from_value(json!({
            "folder_id": "root",
            "files": [{
                "id": "f1", "name": "Notes.pdf", "kind": "file", "mime_type": "application/pdf",
                "size": 12, "modified_time": "2026-11-01T10:00:00Z", "checksum": "md5:5D41402ABC4B2A76B9719D911017C592",
                "can_download": true, "icon": "pdf", "export_formats": []
            }, {
                "id": "d1", "name": "Course", "kind": "folder", "mime_type": "inode/directory",
                "can_download": false
            }],
            "next_page_token": "p2"
        }))
        .expect("reads");
        assert_eq!(page.files.len(), 2);
        assert_eq!(
            page.files[0].checksum,
            Checksum::parse("md5:5d41402abc4b2a76b9719d911017c592")
        );
        assert_eq!(page.files[1].kind, FileKind::Folder);
        assert_eq!(page.files[1].size, None);
        assert_eq!(page.next_page_token.as_deref(), Some("p2"));
        assert_eq!(page.breadcrumbs, None);
    }

    #[test]
    fn icons_follow_the_kind_and_the_standard_mime_types() {
        let entry = |kind, mime: &str| FileEntry {
            id: "x".into(),
            name: "x".into(),
            kind,
            mime_type: mime.into(),
            size: None,
            modified_time: None,
            checksum: None,
            revision: None,
            web_link: None,
            parent_id: None,
            can_download: true,
        };
        let cases = [
            (FileKind::Folder, "application/pdf", FileIcon::Folder),
            (FileKind::File, "application/pdf", FileIcon::Pdf),
            (FileKind::File, "image/png", FileIcon::Image),
            (FileKind::File, " Image/PNG ", FileIcon::Image),
            (FileKind::File, "Application/PDF", FileIcon::Pdf),
            (
                FileKind::File,
                "text/markdown; charset=utf-8",
                FileIcon::Text,
            ),
            (FileKind::File, "text/csv", FileIcon::Spreadsheet),
            (FileKind::File, "application/zip", FileIcon::Archive),
            (FileKind::File, "application/json", FileIcon::Code),
            (
                FileKind::File,
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                FileIcon::Document,
            ),
            (
                FileKind::File,
                "application/vnd.oasis.opendocument.presentation",
                FileIcon::Presentation,
            ),
            (FileKind::File, "application/octet-stream", FileIcon::File),
        ];
        for (kind, mime, icon) in cases {
            assert_eq!(FileIcon::of(&entry(kind, mime)), icon, "{mime}");
        }
    }
}
