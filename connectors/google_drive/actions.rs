//! The `google-drive` actions — browse, search, metadata, streamed download and export —
//! and their inputs. Listings, searches and `get_file` return the sdk's file model with
//! Drive's own fields (`models.rs`).

use std::borrow::Cow;

use schemars::JsonSchema;
use serde::Deserialize;
use validator::{Validate, ValidationError};

use super::browse::{self, ListParams, Place};
use super::client::{Corpus, DriveClient, ListRequest, quote};
use super::mime::{Content, EXPORT_FORMAT_KEY, ExportFormat, ExportMode, Native, export_name};
use super::models::{DriveEntry, DriveFileList, SearchResults};
use super::wire::{self, FILE_FIELDS};
use crate::{
    ActionContext, ConnectorError, DOWNLOAD_IDLE_TIMEOUT, Download, FileActions, FileEntry,
    FileIcon, FileList, FileSource, SearchRequest, body_stream, connector_actions, validated,
};

/// Entries per page when the caller does not say.
const DEFAULT_PAGE_SIZE: u32 = 100;
/// MIME type when Drive gives none.
const FALLBACK_MIME: &str = "application/octet-stream";

/// The `google-drive` actions.
#[derive(Debug, Default)]
pub struct DriveActions;

/// Parameters of `list_files`.
#[derive(Debug, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ListFilesInput {
    /// The folder to list: an `id` from an earlier listing (a folder, a shortcut to a
    /// folder, `root` for My Drive, `shared-with-me`, `shared-drives`, or `drive:<id>` for a
    /// shared drive). Absent: the top level (My Drive, Shared with me, Shared drives).
    #[serde(default)]
    #[validate(custom(function = "check_id"))]
    pub folder_id: Option<String>,
    /// `next_page_token` of the previous page of the same folder.
    #[serde(default)]
    #[validate(length(min = 1, max = 4096))]
    pub page_token: Option<String>,
    /// Entries per page: 1 to 1000 (default 100; shared drives: at most 100).
    #[serde(default)]
    #[validate(range(min = 1, max = 1000))]
    pub page_size: Option<u32>,
}

/// Parameters of `search_files`.
#[derive(Debug, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct SearchFilesInput {
    /// Text the file name contains (1 to 200 characters; Drive matches word prefixes,
    /// case-insensitively).
    #[validate(length(min = 1, max = 200), custom(function = "check_not_blank"))]
    pub query: String,
    /// `next_page_token` of the previous page of the same search.
    #[serde(default)]
    #[validate(length(min = 1, max = 4096))]
    pub page_token: Option<String>,
    /// Matches per page: 1 to 1000 (default 100).
    #[serde(default)]
    #[validate(range(min = 1, max = 1000))]
    pub page_size: Option<u32>,
}

/// Parameters of `get_file` and `download_file`.
#[derive(Debug, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct FileIdInput {
    /// The file's `id` from a listing or a search (a shortcut downloads its target).
    #[validate(custom(function = "check_id"))]
    pub file_id: String,
}

/// Parameters of `export_file`.
#[derive(Debug, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ExportFileInput {
    /// The `id` of a Google Docs, Sheets, Slides, Drawings or Apps Script file (or of a
    /// shortcut to one).
    #[validate(custom(function = "check_id"))]
    pub file_id: String,
    /// The format; one of the file's `export_formats`. Absent: the connector's default
    /// (Office formats or PDF, as the administrator configured).
    #[serde(default)]
    pub format: Option<ExportFormat>,
}

fn check_id(id: &str) -> Result<(), ValidationError> {
    if browse::is_valid_id(id) {
        Ok(())
    } else {
        Err(ValidationError::new("drive_id").with_message(Cow::Borrowed(
            "must be an id from a listing: letters, digits, `-` and `_`, or `root`, \
             `shared-with-me`, `shared-drives`, `drive:<id>`",
        )))
    }
}

fn check_not_blank(text: &str) -> Result<(), ValidationError> {
    if text.trim().is_empty() {
        Err(ValidationError::new("blank").with_message(Cow::Borrowed("must not be blank")))
    } else {
        Ok(())
    }
}

#[connector_actions]
impl DriveActions {
    /// List a Google Drive folder a page at a time, folders first. Without `folder_id`,
    /// the top level: My Drive (`root`), Shared with me (`shared-with-me`) and Shared
    /// drives (`shared-drives`). The first page carries breadcrumbs from that top level.
    #[action(tags(file_browse, read))]
    async fn list_files(
        &self,
        ctx: &ActionContext,
        params: ListFilesInput,
    ) -> Result<DriveFileList, ConnectorError> {
        let page = listing::<DriveEntry>(ctx, &params).await?;
        Ok(DriveFileList {
            folder_id: page.folder_id,
            breadcrumbs: page.breadcrumbs,
            files: page.files,
            next_page_token: page.next_page_token,
        })
    }

    /// Search Google Drive by file name — My Drive, files shared with you and your shared
    /// drives — a page at a time. Trashed files are left out.
    #[action(tags(file_browse, read))]
    async fn search_files(
        &self,
        ctx: &ActionContext,
        params: SearchFilesInput,
    ) -> Result<SearchResults, ConnectorError> {
        let (files, next_page_token, incomplete) = search::<DriveEntry>(ctx, &params).await?;
        Ok(SearchResults {
            files,
            next_page_token,
            incomplete,
        })
    }

    /// A file's or folder's metadata: name, kind, MIME type, size, modification time,
    /// checksum, revision, web link, parent, whether it can be downloaded and its export
    /// formats.
    #[action(tags(read))]
    async fn get_file(
        &self,
        ctx: &ActionContext,
        params: FileIdInput,
    ) -> Result<DriveEntry, ConnectorError> {
        let drive = DriveClient::new(ctx)?;
        let mode = export_mode(ctx)?;
        match Place::parse(&params.file_id) {
            Place::MyDrive => Ok(browse::place_entry(browse::MY_DRIVE)),
            Place::SharedWithMe => Ok(browse::place_entry(browse::SHARED_WITH_ME)),
            Place::SharedDrives => Ok(browse::place_entry(browse::SHARED_DRIVES)),
            Place::SharedDrive(id) => Ok(browse::shared_drive_entry(drive.get_drive(id).await?)),
            Place::Item(id) => Ok(browse::entry_from(
                drive.get_file(id, FILE_FIELDS).await?,
                mode,
            )),
        }
    }

    /// Download a file, streamed as it arrives, with its name, MIME type, size and content
    /// checksum. Google Docs, Sheets, Slides and Drawings are exported instead, to the
    /// format the administrator chose (Office formats or PDF); Forms, Sites and My Maps
    /// cannot be downloaded.
    #[action(tags(file_download), download)]
    async fn download_file(
        &self,
        ctx: &ActionContext,
        params: FileIdInput,
    ) -> Result<Download, ConnectorError> {
        let drive = DriveClient::new(ctx)?;
        let mode = export_mode(ctx)?;
        let file = downloadable(&drive, &params.file_id).await?;
        match Content::of(&file.mime_type) {
            Content::Native(native) => {
                export(&drive, &file, native, native.default_format(mode)).await
            }
            Content::Binary => {
                let response = drive.media(&file.id).await?;
                let size = file.size.or_else(|| response.content_length());
                let mime_type = if file.mime_type.is_empty() {
                    FALLBACK_MIME.to_owned()
                } else {
                    file.mime_type.clone()
                };
                let mut download = Download::new(
                    &file.name,
                    mime_type,
                    body_stream(response, DOWNLOAD_IDLE_TIMEOUT),
                );
                download.size = size;
                download.checksum = browse::content_checksum(&file);
                Ok(download)
            }
            other => Err(not_downloadable(&file, other)),
        }
    }

    /// Export a Google Docs, Sheets, Slides, Drawings or Apps Script file to another
    /// format (docx, xlsx, pptx, pdf, odt, csv, png…), streamed. Google exports at most
    /// 10 MB.
    #[action(tags(file_download), download)]
    async fn export_file(
        &self,
        ctx: &ActionContext,
        params: ExportFileInput,
    ) -> Result<Download, ConnectorError> {
        let drive = DriveClient::new(ctx)?;
        let mode = export_mode(ctx)?;
        let file = downloadable(&drive, &params.file_id).await?;
        match Content::of(&file.mime_type) {
            Content::Native(native) => {
                let format = params.format.unwrap_or(native.default_format(mode));
                export(&drive, &file, native, native.check_format(format)?).await
            }
            Content::Binary => Err(ConnectorError::Unsupported {
                message: format!(
                    "`{}` is not a Google Docs, Sheets, Slides or Drawings file and has no \
                     export formats; download it with download_file",
                    file.name
                ),
            }),
            other => Err(not_downloadable(&file, other)),
        }
    }
}

/// One page of `list_files`, its entries made into `E`.
async fn listing<E: browse::Entry>(
    ctx: &ActionContext,
    params: &ListFilesInput,
) -> Result<browse::Listing<E>, ConnectorError> {
    let drive = DriveClient::new(ctx)?;
    let list = ListParams {
        folder_id: params.folder_id.as_deref(),
        page_token: params.page_token.as_deref(),
        page_size: params.page_size.unwrap_or(DEFAULT_PAGE_SIZE),
    };
    browse::list(&drive, export_mode(ctx)?, list).await
}

/// One page of `search_files`, its entries made into `E`: the entries, the next page's
/// token, and whether the search left some shared drives out.
async fn search<E: browse::Entry>(
    ctx: &ActionContext,
    params: &SearchFilesInput,
) -> Result<(Vec<E>, Option<String>, bool), ConnectorError> {
    let drive = DriveClient::new(ctx)?;
    let mode = export_mode(ctx)?;
    let q = format!(
        "name contains {} and trashed = false",
        quote(params.query.trim())
    );
    let request = ListRequest {
        q: &q,
        corpus: Corpus::AllDrives,
        order_by: None,
        page_size: params.page_size.unwrap_or(DEFAULT_PAGE_SIZE),
        page_token: params.page_token.as_deref(),
    };
    let page = drive.list_files(&request).await?;
    let files = page
        .files
        .into_iter()
        .map(|f| E::of_file(f, mode))
        .collect();
    let next_page_token = page.next_page_token.filter(|t| !t.is_empty());
    Ok((files, next_page_token, page.incomplete_search))
}

/// The connector's `EXPORT_FORMAT`.
fn export_mode(ctx: &ActionContext) -> Result<ExportMode, ConnectorError> {
    ExportMode::from_setting(ctx.settings.get(EXPORT_FORMAT_KEY))
}

/// The file behind `id` (a shortcut's target), refusing places and files whose owner
/// disabled downloading.
async fn downloadable(drive: &DriveClient<'_>, id: &str) -> Result<wire::File, ConnectorError> {
    if !matches!(Place::parse(id), Place::Item(_)) {
        return Err(ConnectorError::invalid_field(
            "file_id",
            format!("`file_id`: `{id}` is a folder; open it with list_files"),
        ));
    }
    let file = browse::resolve(drive, id, FILE_FIELDS).await?;
    if file.capabilities.as_ref().and_then(|c| c.can_download) == Some(false) {
        return Err(ConnectorError::PermissionDenied {
            message: format!(
                "the owner of `{}` has disabled downloading for viewers",
                file.name
            ),
        });
    }
    Ok(file)
}

async fn export(
    drive: &DriveClient<'_>,
    file: &wire::File,
    native: Native,
    format: ExportFormat,
) -> Result<Download, ConnectorError> {
    let response = drive.export(&file.id, format.mime_type()).await?;
    let size = response.content_length();
    let mut download = Download::new(
        export_name(&file.name, format),
        format.mime_type(),
        body_stream(response, DOWNLOAD_IDLE_TIMEOUT),
    );
    download.size = size;
    tracing::debug!(
        export.from = native.label(),
        export.to = format.as_str(),
        "exporting a Google file"
    );
    Ok(download)
}

fn not_downloadable(file: &wire::File, content: Content) -> ConnectorError {
    match content {
        Content::Folder => ConnectorError::invalid_field(
            "file_id",
            format!(
                "`file_id`: `{}` is a folder; open it with list_files",
                file.name
            ),
        ),
        Content::NotDownloadable(label) => ConnectorError::Unsupported {
            message: format!(
                "`{}` is a {label} item; Google Drive cannot download or export it. \
                 Open it in Google Drive instead",
                file.name
            ),
        },
        _ => ConnectorError::Unsupported {
            message: format!("`{}` cannot be downloaded", file.name),
        },
    }
}

/// Cloud import's view of Google Drive: the same actions, with Drive's own fields dropped.
#[async_trait::async_trait]
impl FileSource for DriveActions {
    fn actions(&self) -> FileActions {
        FileActions {
            list: "list_files",
            search: Some("search_files"),
            download: "download_file",
        }
    }

    async fn list(
        &self,
        ctx: &ActionContext,
        request: crate::ListRequest,
    ) -> Result<FileList, ConnectorError> {
        let input = validated(ListFilesInput {
            folder_id: request.folder,
            page_token: request.page_token,
            page_size: None,
        })?;
        let page = listing::<FileEntry>(ctx, &input).await?;
        Ok(FileList {
            files: page.files,
            next_page_token: page.next_page_token,
            breadcrumbs: page.breadcrumbs,
        })
    }

    async fn search(
        &self,
        ctx: &ActionContext,
        request: SearchRequest,
    ) -> Result<FileList, ConnectorError> {
        let input = validated(SearchFilesInput {
            query: request.query,
            page_token: request.page_token,
            page_size: None,
        })?;
        let (files, next_page_token, _) = search::<FileEntry>(ctx, &input).await?;
        Ok(FileList {
            files,
            next_page_token,
            breadcrumbs: None,
        })
    }

    async fn download(
        &self,
        ctx: &ActionContext,
        file_id: &str,
    ) -> Result<Download, ConnectorError> {
        let input = validated(FileIdInput {
            file_id: file_id.to_owned(),
        })?;
        self.download_file(ctx, input).await
    }

    fn icon(&self, entry: &FileEntry) -> FileIcon {
        super::mime::file_icon(&entry.mime_type).unwrap_or_else(|| FileIcon::of(entry))
    }
}
