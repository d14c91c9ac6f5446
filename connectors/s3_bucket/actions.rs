//! The `s3-bucket` actions — browse like folders, object metadata, streamed download — and
//! their inputs and outputs: the sdk's file model plus each object's entity tag (a listing
//! reads as an sdk `FileList`).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use validator::Validate;

use super::client::S3Client;
use super::location::{S3Location, check_key, check_prefix, last_segment};
use super::models::{ObjectEntry, md5_from_etag};
use crate::{
    ActionContext, ConnectorError, DOWNLOAD_IDLE_TIMEOUT, Download, FileEntry, FileKind,
    body_stream, connector_actions,
};

/// Entries per `list_objects` page when the caller does not say (S3's own maximum).
const DEFAULT_PAGE_SIZE: u32 = 1000;
/// MIME type of folder entries.
pub const FOLDER_MIME: &str = "inode/directory";
/// MIME type when neither S3 nor the extension says.
const FALLBACK_MIME: &str = "application/octet-stream";

/// The `s3-bucket` actions.
#[derive(Debug, Default)]
pub struct S3Actions;

/// Parameters of `list_objects`.
#[derive(Debug, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ListObjectsInput {
    /// Folder to list: a folder `id` from an earlier listing (it ends in `/`), or any key
    /// prefix inside the connection's prefix. The connection's prefix when absent.
    #[serde(default)]
    pub prefix: Option<String>,
    /// `next_page_token` of the previous page.
    #[serde(default)]
    #[validate(length(min = 1, max = 4096))]
    pub page_token: Option<String>,
    /// Entries per page, folders and files together: 1 to 1000 (default 1000).
    #[serde(default)]
    #[validate(range(min = 1, max = 1000))]
    pub page_size: Option<u32>,
}

/// Parameters of `head_object` and `download_object`.
#[derive(Debug, Deserialize, JsonSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct ObjectKeyInput {
    /// The object key: a file `id` from `list_objects`.
    #[validate(length(min = 1, max = 1024))]
    pub key: String,
}

/// One folder or file of the bucket, normalized, with its entity tag.
///
/// Ids are keys: a file's id is the full object key, a folder's the key prefix ending in
/// `/` (list it with `list_objects`). Files have `revision` (the ETag) and, for single-part
/// uploads, an `md5:` checksum; folders have neither, nor a size or a time. A file's MIME
/// type is S3's `Content-Type` in `head_object`, guessed from the extension in listings.
/// There is no `web_link`. `parent_id` is the folder prefix the item is in, absent at the
/// top of the bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BucketEntry {
    /// The fields every file-browsing connector returns.
    #[serde(flatten)]
    pub file: FileEntry,
    /// The entity tag, without quotes; it changes whenever the content does (files).
    pub etag: Option<String>,
}

/// A page of a listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ObjectList {
    /// The prefix that was listed.
    pub prefix: String,
    /// This page's folders, then its files, each in key order.
    pub files: Vec<BucketEntry>,
    /// Pass as `page_token` for the next page; absent on the last page.
    pub next_page_token: Option<String>,
}

/// An object's metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ObjectInfo {
    /// The object, in the listing's shape.
    #[serde(flatten)]
    pub object: BucketEntry,
    /// User metadata (`x-amz-meta-*` headers, names without the prefix).
    pub metadata: BTreeMap<String, String>,
}

#[connector_actions]
impl S3Actions {
    /// Browse the bucket like folders: the folders and files directly inside a prefix
    /// (`/`-delimited), a page at a time. Never leaves the connection's prefix.
    #[action(tags(file_browse, read))]
    async fn list_objects(
        &self,
        ctx: &ActionContext,
        params: ListObjectsInput,
    ) -> Result<ObjectList, ConnectorError> {
        let client = connect(ctx).await?;
        let root = client.location().prefix.clone();
        let prefix = params.prefix.unwrap_or_else(|| root.clone());
        check_prefix(&root, &prefix, "prefix")?;
        let page_size = params.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        let page = client
            .list_objects(&prefix, params.page_token.as_deref(), page_size)
            .await?;
        // A compliant store only returns keys under `prefix`; a broken one must not leak
        // keys outside the connection's root, and the folder's own marker object is the
        // folder itself, not a file in it.
        let folders = page
            .common_prefixes
            .into_iter()
            .map(|p| p.prefix)
            .filter(|p| p.starts_with(&prefix) && *p != prefix)
            .map(|p| folder_entry(&p));
        let files = page
            .contents
            .into_iter()
            .filter(|o| o.key.starts_with(&prefix) && o.key != prefix)
            .map(file_entry);
        let files = folders.chain(files).collect();
        Ok(ObjectList {
            prefix,
            files,
            next_page_token: page.next_continuation_token.filter(|_| page.is_truncated),
        })
    }

    /// An object's metadata: name, size, MIME type, modification time, checksum, revision
    /// (ETag), user metadata.
    #[action(tags(read))]
    async fn head_object(
        &self,
        ctx: &ActionContext,
        params: ObjectKeyInput,
    ) -> Result<ObjectInfo, ConnectorError> {
        let client = connect(ctx).await?;
        check_key(&client.location().prefix, &params.key, "key")?;
        let head = client
            .head_object(&params.key)
            .await
            .map_err(|e| not_found_names_key(e.into(), &params.key))?;
        let etag = head.etag.as_deref().map(bare_etag);
        let checksum = head
            .etag
            .as_deref()
            .filter(|_| !head.etag_is_not_md5)
            .and_then(md5_from_etag);
        Ok(ObjectInfo {
            object: BucketEntry {
                file: FileEntry {
                    name: last_segment(&params.key).to_owned(),
                    kind: FileKind::File,
                    mime_type: mime_for(&params.key, head.content_type.as_deref()),
                    size: head.size,
                    modified_time: head.last_modified,
                    checksum,
                    revision: etag.clone(),
                    web_link: None,
                    parent_id: parent_of(&params.key),
                    can_download: true,
                    id: params.key,
                },
                etag,
            },
            metadata: head.metadata,
        })
    }

    /// Download an object, streamed as it arrives (never held in memory whole), with its
    /// name, MIME type, size and MD5 checksum when S3 knows it.
    #[action(tags(file_download), download)]
    async fn download_object(
        &self,
        ctx: &ActionContext,
        params: ObjectKeyInput,
    ) -> Result<Download, ConnectorError> {
        let client = connect(ctx).await?;
        check_key(&client.location().prefix, &params.key, "key")?;
        let response = client
            .get_object(&params.key)
            .await
            .map_err(|e| not_found_names_key(e.into(), &params.key))?;
        let headers = response.headers();
        let content_type = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let encrypted = headers
            .get("x-amz-server-side-encryption")
            .is_some_and(|v| v.as_bytes().starts_with(b"aws:kms"))
            || headers.contains_key("x-amz-server-side-encryption-customer-algorithm");
        let checksum = headers
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .filter(|_| !encrypted)
            .and_then(md5_from_etag);
        let mime = mime_for(&params.key, content_type);
        let size = response.content_length();
        let mut download = Download::new(
            last_segment(&params.key),
            mime,
            body_stream(response, DOWNLOAD_IDLE_TIMEOUT),
        );
        download.size = size;
        download.checksum = checksum;
        Ok(download)
    }
}

/// The client for the action's connection; a stored endpoint that no longer passes the
/// SSRF check (an admin narrowed `ALLOWED_HOSTS`) means the user must reconnect.
async fn connect(ctx: &ActionContext) -> Result<S3Client, ConnectorError> {
    let location = S3Location::from_credentials(&ctx.credentials)?;
    S3Client::connect(location, &ctx.settings, &ctx.http)
        .await
        .map_err(|error| match error {
            ConnectorError::InvalidInput { message, .. } => ConnectorError::AuthExpired {
                message: format!("the stored endpoint cannot be used: {message}"),
            },
            other => other,
        })
}

fn not_found_names_key(error: ConnectorError, key: &str) -> ConnectorError {
    match error {
        ConnectorError::NotFound { .. } => ConnectorError::NotFound {
            message: format!("no object `{key}` in the bucket"),
        },
        other => other,
    }
}

fn folder_entry(prefix: &str) -> BucketEntry {
    BucketEntry {
        file: FileEntry {
            id: prefix.to_owned(),
            name: last_segment(prefix).to_owned(),
            kind: FileKind::Folder,
            mime_type: FOLDER_MIME.to_owned(),
            size: None,
            modified_time: None,
            checksum: None,
            revision: None,
            web_link: None,
            parent_id: parent_of(prefix),
            can_download: false,
        },
        etag: None,
    }
}

fn file_entry(object: ObjectEntry) -> BucketEntry {
    let modified_time = object
        .last_modified
        .as_deref()
        .and_then(crate::files::parse_time);
    let etag = object.etag.as_deref().map(bare_etag);
    BucketEntry {
        file: FileEntry {
            name: last_segment(&object.key).to_owned(),
            kind: FileKind::File,
            mime_type: mime_for(&object.key, None),
            size: object.size,
            modified_time,
            checksum: object.etag.as_deref().and_then(md5_from_etag),
            revision: etag.clone(),
            web_link: None,
            parent_id: parent_of(&object.key),
            can_download: true,
            id: object.key,
        },
        etag,
    }
}

/// The folder prefix a key or folder prefix is in (`a/b/c.txt` and `a/b/c/` → `a/b/`);
/// `None` at the top of the bucket, which has no folder id.
fn parent_of(key: &str) -> Option<String> {
    let trimmed = key.strip_suffix('/').unwrap_or(key);
    trimmed.rfind('/').map(|slash| trimmed[..=slash].to_owned())
}

fn bare_etag(etag: &str) -> String {
    etag.trim().trim_matches('"').to_owned()
}

/// S3's `Content-Type` unless it is the generic default, else a guess from the key's
/// extension, else `application/octet-stream`.
fn mime_for(key: &str, content_type: Option<&str>) -> String {
    let specific = content_type
        .map(str::trim)
        .filter(|t| !t.is_empty() && !matches!(*t, "binary/octet-stream" | FALLBACK_MIME));
    match specific {
        Some(t) => t.to_owned(),
        None => mime_guess::from_path(last_segment(key))
            .first_raw()
            .unwrap_or(FALLBACK_MIME)
            .to_owned(),
    }
}

/// Cloud import's view of a bucket: folders are key prefixes, files are keys.
#[async_trait::async_trait]
impl crate::FileSource for S3Actions {
    fn actions(&self) -> crate::FileActions {
        crate::FileActions {
            list: "list_objects",
            search: None,
            download: "download_object",
        }
    }

    async fn list(
        &self,
        ctx: &ActionContext,
        request: crate::ListRequest,
    ) -> Result<crate::FileList, ConnectorError> {
        let input = crate::validated(ListObjectsInput {
            prefix: request.folder,
            page_token: request.page_token,
            page_size: None,
        })?;
        let page = self.list_objects(ctx, input).await?;
        Ok(crate::FileList {
            files: page.files.into_iter().map(|entry| entry.file).collect(),
            next_page_token: page.next_page_token,
            // The trail the app carries in its links names the folders; a prefix alone
            // does not say where the connection's root ends.
            breadcrumbs: None,
        })
    }

    async fn download(
        &self,
        ctx: &ActionContext,
        file_id: &str,
    ) -> Result<Download, ConnectorError> {
        let input = crate::validated(ObjectKeyInput {
            key: file_id.to_owned(),
        })?;
        self.download_object(ctx, input).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mime_types_prefer_specific_content_types_then_extensions() {
        assert_eq!(mime_for("a/report.pdf", None), "application/pdf");
        assert_eq!(
            mime_for("a/report.pdf", Some("binary/octet-stream")),
            "application/pdf"
        );
        assert_eq!(mime_for("a/notes", Some("text/markdown")), "text/markdown");
        assert_eq!(mime_for("a/blob", None), FALLBACK_MIME);
    }

    #[test]
    fn listing_entries_are_normalized() {
        let entry = file_entry(ObjectEntry {
            key: "team/Q1 report.pdf".to_owned(),
            last_modified: Some("2026-01-12T17:50:30.000Z".to_owned()),
            etag: Some("\"fba9dede5f27731c9771645a39863328\"".to_owned()),
            size: Some(42),
        });
        assert_eq!(
            entry.etag.as_deref(),
            Some("fba9dede5f27731c9771645a39863328")
        );
        let entry = entry.file;
        assert_eq!(entry.name, "Q1 report.pdf");
        assert_eq!(entry.kind, FileKind::File);
        assert_eq!(entry.mime_type, "application/pdf");
        assert_eq!(
            entry.checksum.as_ref().map(crate::Checksum::as_str),
            Some("md5:fba9dede5f27731c9771645a39863328")
        );
        assert_eq!(
            entry.revision.as_deref(),
            Some("fba9dede5f27731c9771645a39863328")
        );
        assert_eq!(entry.parent_id.as_deref(), Some("team/"));
        assert!(entry.can_download);
        assert_eq!(
            entry.modified_time.map(|t| t.to_rfc3339()),
            Some("2026-01-12T17:50:30+00:00".to_owned())
        );
        let folder = folder_entry("team/2024/").file;
        assert_eq!(
            (folder.name.as_str(), folder.kind),
            ("2024", FileKind::Folder)
        );
        assert_eq!(folder.parent_id.as_deref(), Some("team/"));
        assert_eq!((folder.revision, folder.can_download), (None, false));
    }

    #[test]
    fn parents_are_folder_prefixes_and_the_top_has_none() {
        assert_eq!(parent_of("a/b/c.txt").as_deref(), Some("a/b/"));
        assert_eq!(parent_of("a/b/c/").as_deref(), Some("a/b/"));
        assert_eq!(parent_of("a/").as_deref(), None);
        assert_eq!(parent_of("top.txt").as_deref(), None);
    }
}
