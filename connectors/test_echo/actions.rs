//! The `test-echo` actions and their typed inputs and outputs.

use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use validator::Validate;

use crate::files::Breadcrumb;
use crate::sdk::status::json_body;
use crate::{
    ActionContext, ConnectorError, Download, FileEntry, FileKind, FileList, connector_actions,
};

/// Files per page of `list_files`.
const PAGE_SIZE: u32 = 3;
/// Pages of `list_files`.
const PAGES: u32 = 2;
/// Largest synthetic download.
const MAX_DOWNLOAD: u64 = 1 << 30;
/// Bytes per chunk of a synthetic download.
const CHUNK: u64 = 64 * 1024;
/// The root folder's id.
const ROOT: &str = "root";
/// Modification time of every synthetic file (RFC 3339).
const MODIFIED: &str = "2026-01-05T08:00:00Z";
/// Revision of every synthetic file: their content never changes.
const REVISION: &str = "1";

/// The `test-echo` actions.
#[derive(Debug, Default)]
pub struct EchoActions;

/// Parameters of `echo`.
#[derive(Debug, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct EchoInput {
    /// The text to send back (1 to 1000 characters).
    #[validate(length(min = 1, max = 1000))]
    pub message: String,
}

/// Result of `echo`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct EchoOutput {
    /// The text that was sent.
    pub message: String,
    /// Its length in characters.
    pub length: usize,
}

/// The failure `fail` produces.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailKind {
    /// The credentials expired.
    AuthExpired,
    /// The service is rate limiting (retry after 7 s).
    RateLimited,
    /// The item does not exist.
    NotFound,
    /// The service failed.
    Upstream,
}

/// Parameters of `fail`.
#[derive(Debug, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct FailInput {
    /// Which error to return.
    pub kind: FailKind,
}

/// Result of `whoami`: the upstream account.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct Whoami {
    /// The account as the service describes it.
    pub user: Value,
}

/// Parameters of `list_files`.
#[derive(Debug, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ListFilesInput {
    /// Folder to list; the root folder when absent.
    #[serde(default)]
    pub folder_id: Option<String>,
    /// `next_page_token` of the previous page.
    #[serde(default)]
    pub page_token: Option<String>,
}

/// Parameters of `download_file`.
#[derive(Debug, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct DownloadFileInput {
    /// File id from `list_files`.
    #[validate(length(min = 1))]
    pub file_id: String,
    /// Bytes to produce (at most 1 GiB); defaults to the size `list_files` reports.
    #[serde(default)]
    #[validate(range(max = 1_073_741_824))]
    pub size: Option<u64>,
}

/// Parameters of `post_note`.
#[derive(Debug, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct PostNoteInput {
    /// The note (1 to 500 characters).
    #[validate(length(min = 1, max = 500))]
    pub text: String,
}

/// Result of `post_note`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct PostedNote {
    /// The note as posted.
    pub posted: String,
}

/// Parameters of `sample_rows`.
#[derive(Debug, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct SampleRowsInput {
    /// How many rows (1 to 10000).
    #[validate(range(min = 1, max = 10000))]
    pub count: u32,
}

/// Result of `sample_rows`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SampleRows {
    /// `row 1: …`, `row 2: …`, each about a hundred characters.
    pub rows: Vec<String>,
}

/// Parameters of `delete_everything`.
#[derive(Debug, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct DeleteEverythingInput {
    /// Must be `true`.
    pub confirm: bool,
}

/// Result of `delete_everything`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DeleteOutput {
    /// How many items were deleted (always zero: nothing is real).
    pub deleted: u64,
}

#[connector_actions]
impl EchoActions {
    /// Send a message back unchanged, with its length.
    #[action(tags(read))]
    async fn echo(
        &self,
        _ctx: &ActionContext,
        params: EchoInput,
    ) -> Result<EchoOutput, ConnectorError> {
        let length = params.message.chars().count();
        Ok(EchoOutput {
            message: params.message,
            length,
        })
    }

    /// Fail on purpose with the chosen error.
    #[action(tags(read))]
    async fn fail(&self, _ctx: &ActionContext, params: FailInput) -> Result<(), ConnectorError> {
        let message = "failing on request".to_owned();
        Err(match params.kind {
            FailKind::AuthExpired => ConnectorError::AuthExpired { message },
            FailKind::RateLimited => ConnectorError::RateLimited {
                retry_after: Some(Duration::from_secs(7)),
                message,
            },
            FailKind::NotFound => ConnectorError::NotFound { message },
            FailKind::Upstream => ConnectorError::Upstream {
                status: 500,
                message,
            },
        })
    }

    /// Ask the service who the connected account is (`GET {API_BASE_URL}/whoami`).
    #[action(tags(read))]
    async fn whoami(&self, ctx: &ActionContext) -> Result<Whoami, ConnectorError> {
        let url = format!("{}/whoami", ctx.settings.api_base_url()?);
        let response = ctx
            .send_authorized(|credentials| {
                let request = ctx.http.get(&url);
                match credentials.bearer_token() {
                    Some(token) => request.bearer_auth(token),
                    None => request,
                }
            })
            .await?;
        json_body(response).await
    }

    /// List the files in a folder, three per page (every third entry is a folder).
    #[action(tags(file_browse, read))]
    async fn list_files(
        &self,
        _ctx: &ActionContext,
        params: ListFilesInput,
    ) -> Result<FileList, ConnectorError> {
        let folder = params.folder_id.as_deref().unwrap_or(ROOT);
        let page = match params.page_token.as_deref() {
            None => 1,
            Some(token) => token
                .strip_prefix("page-")
                .and_then(|n| n.parse::<u32>().ok())
                .filter(|n| (2..=PAGES).contains(n))
                .ok_or_else(|| {
                    ConnectorError::invalid_field("page_token", "`page_token`: unknown page token")
                })?,
        };
        let first = (page - 1) * PAGE_SIZE + 1;
        let files = (first..first + PAGE_SIZE)
            .map(|n| file_entry(folder, n))
            .collect();
        let next_page_token = (page < PAGES).then(|| format!("page-{}", page + 1));
        Ok(FileList {
            files,
            next_page_token,
            breadcrumbs: (page == 1).then(|| breadcrumbs(folder)),
        })
    }

    /// Download a synthetic file of deterministic bytes, streamed in 64 KiB chunks.
    #[action(tags(file_download), download)]
    async fn download_file(
        &self,
        _ctx: &ActionContext,
        params: DownloadFileInput,
    ) -> Result<Download, ConnectorError> {
        let size = params.size.unwrap_or_else(|| listed_size(&params.file_id));
        let stream = futures_util::stream::unfold(0u64, move |offset| async move {
            (offset < size).then(|| {
                let end = (offset + CHUNK).min(size);
                (Ok(synthetic_bytes(offset, end)), end)
            })
        });
        let download = Download::new(
            format!("{}.bin", params.file_id),
            "application/octet-stream",
            stream.boxed(),
        );
        Ok(download.with_size(size))
    }

    /// Return `count` numbered rows of filler text (for size limits).
    #[action(tags(read))]
    async fn sample_rows(
        &self,
        _ctx: &ActionContext,
        params: SampleRowsInput,
    ) -> Result<SampleRows, ConnectorError> {
        let filler = "lorem ipsum dolor sit amet ".repeat(3);
        Ok(SampleRows {
            rows: (1..=params.count)
                .map(|n| format!("row {n}: {filler}"))
                .collect(),
        })
    }

    /// Post a note to the account (it changes nothing real: the service is fake).
    #[action(tags(write))]
    async fn post_note(
        &self,
        _ctx: &ActionContext,
        params: PostNoteInput,
    ) -> Result<PostedNote, ConnectorError> {
        Ok(PostedNote {
            posted: params.text,
        })
    }

    /// Delete every item in the account (deletes nothing: the service is fake).
    #[action(tags(write, destructive))]
    async fn delete_everything(
        &self,
        _ctx: &ActionContext,
        params: DeleteEverythingInput,
    ) -> Result<DeleteOutput, ConnectorError> {
        if !params.confirm {
            return Err(ConnectorError::invalid_field(
                "confirm",
                "`confirm`: must be true to delete anything",
            ));
        }
        Ok(DeleteOutput { deleted: 0 })
    }
}

/// Entry `n` of `folder`: a folder when `n` is a multiple of three, else a text file of
/// `n` KiB with the bytes `download_file` produces, their SHA-256 and a fixed revision.
fn file_entry(folder: &str, n: u32) -> FileEntry {
    let id = format!("{folder}-file-{n}");
    let common = FileEntry {
        name: String::new(),
        kind: FileKind::File,
        mime_type: String::new(),
        size: None,
        modified_time: DateTime::parse_from_rfc3339(MODIFIED)
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        checksum: None,
        revision: None,
        web_link: None,
        parent_id: Some(folder.to_owned()),
        can_download: false,
        id,
    };
    if n.is_multiple_of(PAGE_SIZE) {
        return FileEntry {
            name: format!("Folder {n}"),
            kind: FileKind::Folder,
            mime_type: "inode/directory".to_owned(),
            ..common
        };
    }
    let size = listed_size(&common.id);
    FileEntry {
        name: format!("File {n}.txt"),
        mime_type: "text/plain".to_owned(),
        size: Some(size),
        checksum: crate::Checksum::from_bytes("sha256", &Sha256::digest(synthetic_bytes(0, size))),
        revision: Some(REVISION.to_owned()),
        can_download: true,
        ..common
    }
}

/// The path to `folder`: the root folder, then `folder` itself when it is another one.
fn breadcrumbs(folder: &str) -> Vec<Breadcrumb> {
    let crumb = |id: &str| Breadcrumb {
        id: id.to_owned(),
        name: id.to_owned(),
    };
    let mut path = vec![crumb(ROOT)];
    if folder != ROOT {
        path.push(crumb(folder));
    }
    path
}

/// The size `list_files` reports for `file_id`, or 1 KiB for ids it never lists.
fn listed_size(file_id: &str) -> u64 {
    let n = file_id
        .rsplit_once("-file-")
        .and_then(|(_, n)| n.parse::<u64>().ok());
    n.map_or(1024, |n| n * 1024).min(MAX_DOWNLOAD)
}

/// Bytes `offset..end` of every synthetic file: byte `i` is `i % 251`.
pub(super) fn synthetic_bytes(offset: u64, end: u64) -> Bytes {
    (offset..end)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<u8>>()
        .into()
}

#[async_trait::async_trait]
impl crate::FileSource for EchoActions {
    fn actions(&self) -> crate::FileActions {
        crate::FileActions {
            list: "list_files",
            search: None,
            download: "download_file",
        }
    }

    async fn list(
        &self,
        ctx: &ActionContext,
        request: crate::ListRequest,
    ) -> Result<FileList, ConnectorError> {
        let input = crate::validated(ListFilesInput {
            folder_id: request.folder,
            page_token: request.page_token,
        })?;
        self.list_files(ctx, input).await
    }

    async fn download(
        &self,
        ctx: &ActionContext,
        file_id: &str,
    ) -> Result<Download, ConnectorError> {
        let input = crate::validated(DownloadFileInput {
            file_id: file_id.to_owned(),
            size: None,
        })?;
        self.download_file(ctx, input).await
    }
}
