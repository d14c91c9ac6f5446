//! The `onedrive` actions — browse folders (My files, shared with me), search, item
//! metadata, streamed download — and their inputs. Listings, searches and `get_file` return
//! the sdk's file model (`FileList`, `FileEntry`) as is: OneDrive has no fields of its own.

use schemars::JsonSchema;
use serde::Deserialize;
use validator::Validate;

use super::graph::{Graph, ItemRef, MAX_ID_LEN, ROOT_ID, SHARED_ID, search_segment};
use super::models::{Collection, DriveItem, ITEM_SELECT, ItemShape};
use crate::{
    ActionContext, ConnectorError, DOWNLOAD_IDLE_TIMEOUT, Download, FileEntry, FileKind, FileList,
    body_stream, connector_actions,
};

/// Entries per page when the caller does not say.
const DEFAULT_PAGE_SIZE: u32 = 100;

/// The `onedrive` actions.
#[derive(Debug, Default)]
pub struct OneDriveActions;

/// Parameters of `list_files`.
#[derive(Debug, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ListFilesInput {
    /// Folder to list: `root` (My files, the default), `shared-with-me` (files and folders
    /// other people shared with you), or a folder `id` from an earlier listing.
    #[serde(default)]
    #[validate(length(min = 1, max = 1024))]
    pub folder_id: Option<String>,
    /// `next_page_token` of the previous page of the same listing.
    #[serde(default)]
    #[validate(length(min = 1, max = 8192))]
    pub page_token: Option<String>,
    /// Entries per page, 1 to 1000 (default 100). The first page sets it for the whole
    /// listing; `shared-with-me` pages are sized by OneDrive.
    #[serde(default)]
    #[validate(range(min = 1, max = 1000))]
    pub page_size: Option<u32>,
}

/// Parameters of `search_files`.
#[derive(Debug, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct SearchFilesInput {
    /// Words to look for in file names, metadata and content (1 to 255 characters).
    #[validate(length(min = 1, max = 255))]
    pub query: String,
    /// Folder to search in, with everything below it: `root` (all of My files, the
    /// default) or a folder `id` from `list_files`.
    #[serde(default)]
    #[validate(length(min = 1, max = 1024))]
    pub folder_id: Option<String>,
    /// `next_page_token` of the previous page of the same search.
    #[serde(default)]
    #[validate(length(min = 1, max = 8192))]
    pub page_token: Option<String>,
    /// Results per page, 1 to 1000 (default 100); the first page sets it.
    #[serde(default)]
    #[validate(range(min = 1, max = 1000))]
    pub page_size: Option<u32>,
}

/// Parameters of `get_file` and `download_file`.
#[derive(Debug, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct FileIdInput {
    /// A file `id` from `list_files` or `search_files` (`get_file` also accepts folder ids,
    /// `root` and `shared-with-me`).
    #[validate(length(min = 1, max = 1024))]
    pub file_id: String,
}

#[connector_actions]
impl OneDriveActions {
    /// List the files and folders directly inside a OneDrive folder, a page at a time:
    /// `root` (My files), `shared-with-me`, or any folder id from an earlier listing. Items
    /// that live in someone else's drive come without `revision`; `get_file` has it.
    #[action(tags(file_browse, read))]
    async fn list_files(
        &self,
        ctx: &ActionContext,
        params: ListFilesInput,
    ) -> Result<FileList, ConnectorError> {
        let graph = Graph::new(ctx)?;
        let folder_id = params.folder_id.as_deref().unwrap_or(ROOT_ID);
        let folder = ItemRef::parse("folder_id", folder_id)?;
        let listed_in = match folder {
            ItemRef::MyRoot => Some(ROOT_ID),
            ItemRef::SharedWithMe => Some(SHARED_ID),
            _ => None,
        };
        let url = match (&params.page_token, folder.item_path()) {
            (Some(token), _) => graph.next_page(token)?,
            // Documented without query options; it pages with `@odata.nextLink` if needed.
            (None, None) => graph.url("/me/drive/sharedWithMe")?,
            (None, Some(path)) => graph.url(&format!(
                "{path}/children?$select={ITEM_SELECT}&$top={}",
                params.page_size.unwrap_or(DEFAULT_PAGE_SIZE)
            ))?,
        };
        let page: Collection<DriveItem> = graph
            .get_json(url)
            .await
            .map_err(|e| names_missing_item(e, "folder", folder_id))?;
        page_of(&graph, page, listed_in, folder.drive_id())
    }

    /// Search a OneDrive folder and everything below it (all of My files by default) for
    /// files and folders whose name, metadata or content matches the query. Matches that
    /// live in someone else's drive come without `revision`; `get_file` has it.
    #[action(tags(file_browse, read))]
    async fn search_files(
        &self,
        ctx: &ActionContext,
        params: SearchFilesInput,
    ) -> Result<FileList, ConnectorError> {
        let graph = Graph::new(ctx)?;
        let term = params.query.trim();
        if term.is_empty() {
            return Err(ConnectorError::invalid_field(
                "query",
                "`query`: must contain something other than spaces",
            ));
        }
        let folder_id = params.folder_id.as_deref().unwrap_or(ROOT_ID);
        let folder = ItemRef::parse("folder_id", folder_id)?;
        let Some(path) = folder.item_path() else {
            return Err(ConnectorError::invalid_field(
                "folder_id",
                "`folder_id`: `shared-with-me` cannot be searched; search inside one of its folders",
            ));
        };
        let url = match &params.page_token {
            Some(token) => graph.next_page(token)?,
            None => graph.url(&format!(
                "{path}/{}?$select={ITEM_SELECT}&$top={}",
                search_segment(term),
                params.page_size.unwrap_or(DEFAULT_PAGE_SIZE)
            ))?,
        };
        let page: Collection<DriveItem> = graph
            .get_json(url)
            .await
            .map_err(|e| names_missing_item(e, "folder", folder_id))?;
        page_of(&graph, page, None, folder.drive_id())
    }

    /// Metadata of one OneDrive file or folder: name, kind, MIME type, size, modification
    /// time, checksum, revision (content tag), link, parent and whether it can be
    /// downloaded.
    #[action(tags(read))]
    async fn get_file(
        &self,
        ctx: &ActionContext,
        params: FileIdInput,
    ) -> Result<FileEntry, ConnectorError> {
        let graph = Graph::new(ctx)?;
        let target = ItemRef::parse("file_id", &params.file_id)?;
        let Some(path) = target.item_path() else {
            return Ok(virtual_folder(SHARED_ID, "Shared with me"));
        };
        let item = fetch_item(&graph, &path, &params.file_id).await?;
        let mut entry = item.normalize(None, target.drive_id());
        if target == ItemRef::MyRoot {
            entry = FileEntry {
                modified_time: entry.modified_time,
                web_link: entry.web_link,
                ..virtual_folder(ROOT_ID, "My files")
            };
        }
        Ok(entry)
    }

    /// Download a OneDrive file, streamed as it arrives (never held in memory whole), with
    /// its name, MIME type, size and SHA-256/SHA-1 checksum when OneDrive has one. Folders
    /// and OneNote notebooks cannot be downloaded.
    #[action(tags(file_download, read), download)]
    async fn download_file(
        &self,
        ctx: &ActionContext,
        params: FileIdInput,
    ) -> Result<Download, ConnectorError> {
        let graph = Graph::new(ctx)?;
        let target = ItemRef::parse("file_id", &params.file_id)?;
        let Some(path) = target.item_path() else {
            return Err(is_a_folder(&params.file_id));
        };
        let item = fetch_item(&graph, &path, &params.file_id).await?;
        let entry = item.normalize(None, target.drive_id());
        match item.shape() {
            ItemShape::File if item.malware.is_some() => {
                return Err(ConnectorError::Unsupported {
                    message: format!(
                        "`{}` was flagged as malware by Microsoft and cannot be downloaded",
                        entry.name
                    ),
                });
            }
            ItemShape::File => {}
            ItemShape::Folder => return Err(is_a_folder(&params.file_id)),
            ItemShape::Package { onenote: true } => {
                return Err(ConnectorError::Unsupported {
                    message: format!(
                        "`{}` is a OneNote notebook, which cannot be downloaded as a file; open it in OneNote instead",
                        entry.name
                    ),
                });
            }
            ItemShape::Package { onenote: false } | ItemShape::Unknown => {
                return Err(ConnectorError::Unsupported {
                    message: format!("`{}` is not a file that can be downloaded", entry.name),
                });
            }
        }
        // A shortcut or shared reference is downloaded from the drive it points into.
        let content_path = item
            .item_ref(target.drive_id())
            .and_then(|r| r.item_path())
            .unwrap_or(path);
        let response = graph
            .open_content(&content_path)
            .await
            .map_err(|e| names_missing_item(e, "file", &params.file_id))?;
        let length = response.content_length();
        // SharePoint can serve Office files with rewritten metadata: when the bytes are not
        // the ones the listing described, the listed checksum does not apply to them.
        let checksum = match (length, entry.size) {
            (Some(served), Some(listed)) if served != listed => None,
            _ => entry.checksum,
        };
        let mut download = Download::new(
            entry.name,
            entry.mime_type,
            body_stream(response, DOWNLOAD_IDLE_TIMEOUT),
        );
        download.size = length.or(entry.size);
        download.checksum = checksum;
        Ok(download)
    }
}

/// `GET {path}?$select=…`.
async fn fetch_item(graph: &Graph<'_>, path: &str, id: &str) -> Result<DriveItem, ConnectorError> {
    graph
        .get_json(graph.url(&format!("{path}?$select={ITEM_SELECT}"))?)
        .await
        .map_err(|e| names_missing_item(e, "item", id))
}

fn page_of(
    graph: &Graph<'_>,
    page: Collection<DriveItem>,
    listed_in: Option<&str>,
    drive_hint: Option<&str>,
) -> Result<FileList, ConnectorError> {
    let files = page
        .value
        .iter()
        .map(|item| item.normalize(listed_in, drive_hint))
        .filter(|entry| !entry.id.is_empty() && entry.id.len() <= MAX_ID_LEN)
        .collect();
    Ok(FileList {
        files,
        next_page_token: graph.next_page_token(page.next_link)?,
        breadcrumbs: None,
    })
}

fn virtual_folder(id: &str, name: &str) -> FileEntry {
    FileEntry {
        id: id.to_owned(),
        name: name.to_owned(),
        kind: FileKind::Folder,
        mime_type: super::models::FOLDER_MIME.to_owned(),
        size: None,
        modified_time: None,
        checksum: None,
        revision: None,
        web_link: None,
        parent_id: None,
        can_download: false,
    }
}

fn is_a_folder(id: &str) -> ConnectorError {
    ConnectorError::invalid_field(
        "file_id",
        format!("`file_id`: `{id}` is a folder; list it with `list_files` instead"),
    )
}

/// Graph's 404 message (`itemNotFound`) is for developers; say which id was missing.
fn names_missing_item(error: ConnectorError, what: &str, id: &str) -> ConnectorError {
    match error {
        ConnectorError::NotFound { .. } => ConnectorError::NotFound {
            message: format!("no OneDrive {what} `{id}` (or it is not shared with you)"),
        },
        other => other,
    }
}

/// Cloud import's view of OneDrive: the same actions; searches cover all of My files.
#[async_trait::async_trait]
impl crate::FileSource for OneDriveActions {
    fn actions(&self) -> crate::FileActions {
        crate::FileActions {
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
        let input = crate::validated(ListFilesInput {
            folder_id: request.folder,
            page_token: request.page_token,
            page_size: None,
        })?;
        self.list_files(ctx, input).await
    }

    async fn search(
        &self,
        ctx: &ActionContext,
        request: crate::SearchRequest,
    ) -> Result<FileList, ConnectorError> {
        let input = crate::validated(SearchFilesInput {
            query: request.query,
            folder_id: None,
            page_token: request.page_token,
            page_size: None,
        })?;
        self.search_files(ctx, input).await
    }

    async fn download(
        &self,
        ctx: &ActionContext,
        file_id: &str,
    ) -> Result<Download, ConnectorError> {
        let input = crate::validated(FileIdInput {
            file_id: file_id.to_owned(),
        })?;
        self.download_file(ctx, input).await
    }
}
