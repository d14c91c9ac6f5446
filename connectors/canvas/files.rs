//! Course files as a drive: what `list_course_files`, `search_course_files`, `get_file`
//! and `download_file` do, and the shared course and page lookups.
//!
//! Ids. Canvas ids are numbers per kind, so entries carry the kind: `course:<id>` (a
//! course, opened as its files plus a `Pages` folder), `folder:<id>`, `pages:<course>` (the
//! course's pages), `file:<id>` and `page:<course>:<page_id>` (a page, downloaded as an
//! HTML document). A bare number is a file id, as agents get them from module items.

use bytes::Bytes;
use futures_util::StreamExt;

use super::actions::names_missing;
use super::api::{Canvas, Page};
use super::wire;
use crate::files::Breadcrumb;
use crate::{
    ConnectorError, DOWNLOAD_IDLE_TIMEOUT, Download, FileEntry, FileIcon, FileKind, FileList,
    body_stream,
};

/// MIME type of folders, courses and the `Pages` folder.
const FOLDER_MIME: &str = "inode/directory";
/// Pages of subfolders read per folder (100 each).
const MAX_FOLDER_PAGES: usize = 10;
/// Courses searched when a search names none.
const MAX_SEARCH_COURSES: usize = 20;
/// Folders walked up for breadcrumbs.
const MAX_DEPTH: usize = 16;

/// What an id points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    /// The caller's courses.
    Courses,
    /// A course (its root folder, plus its pages).
    Course(u64),
    /// A folder of course files.
    Folder(u64),
    /// The pages of a course.
    Pages(u64),
    /// One page of a course.
    Page {
        /// The course.
        course: u64,
        /// The page id.
        page: u64,
    },
    /// A file.
    File(u64),
}

impl Node {
    /// Parses an id the caller sent in `field`.
    pub fn parse(field: &str, raw: &str) -> Result<Self, ConnectorError> {
        let raw = raw.trim();
        let invalid = || {
            ConnectorError::invalid_field(
                field,
                format!(
                    "`{field}`: not a Canvas id from this connector (expected `course:<id>`, \
                     `folder:<id>`, `pages:<id>`, `file:<id>` or `page:<course>:<id>`)"
                ),
            )
        };
        let number = |s: &str| {
            s.parse::<u64>()
                .ok()
                .filter(|n| *n > 0 && s.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(invalid)
        };
        if raw.is_empty() || raw == "courses" {
            return Ok(Self::Courses);
        }
        if raw.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(Self::File(number(raw)?));
        }
        let (kind, rest) = raw.split_once(':').ok_or_else(invalid)?;
        Ok(match kind {
            "course" => Self::Course(number(rest)?),
            "folder" => Self::Folder(number(rest)?),
            "pages" => Self::Pages(number(rest)?),
            "file" => Self::File(number(rest)?),
            "page" => {
                let (course, page) = rest.split_once(':').ok_or_else(invalid)?;
                Self::Page {
                    course: number(course)?,
                    page: number(page)?,
                }
            }
            _ => return Err(invalid()),
        })
    }

    /// The id to hand back.
    pub fn to_id(self) -> String {
        match self {
            Self::Courses => "courses".to_owned(),
            Self::Course(id) => format!("course:{id}"),
            Self::Folder(id) => format!("folder:{id}"),
            Self::Pages(id) => format!("pages:{id}"),
            Self::Page { course, page } => format!("page:{course}:{page}"),
            Self::File(id) => format!("file:{id}"),
        }
    }
}

/// One page of the caller's courses with `enrollment_state` (and their terms).
pub async fn courses_page(
    canvas: &Canvas<'_>,
    enrollment_state: &str,
    page_token: Option<&str>,
) -> Result<Page<wire::Course>, ConnectorError> {
    let url = match page_token {
        Some(token) => canvas.page_url(token)?,
        None => canvas.list_url(
            "/courses",
            &[
                ("enrollment_state", enrollment_state),
                ("include[]", "term"),
            ],
        )?,
    };
    canvas.get_page(url).await
}

/// The ids of the caller's active courses (at most `max`).
pub async fn active_course_ids(
    canvas: &Canvas<'_>,
    max: usize,
) -> Result<Vec<u64>, ConnectorError> {
    let first = canvas.list_url("/courses", &[("enrollment_state", "active")])?;
    let courses: Vec<wire::Course> = canvas.get_all(first, max.div_ceil(100).max(1)).await?;
    Ok(courses.into_iter().map(|c| c.id).take(max).collect())
}

/// One course (with its term, and its syllabus when asked).
pub async fn course(
    canvas: &Canvas<'_>,
    course_id: u64,
    syllabus: bool,
) -> Result<wire::Course, ConnectorError> {
    let mut query = vec![("include[]", "term")];
    if syllabus {
        query.push(("include[]", "syllabus_body"));
    }
    let url = canvas.url(&format!("/courses/{course_id}"), &query)?;
    canvas
        .get_json(url)
        .await
        .map_err(|e| names_missing(e, "course", course_id))
}

/// One page of a course's pages by title, optionally matching `search`.
pub async fn pages_page(
    canvas: &Canvas<'_>,
    course_id: u64,
    search: &str,
    page_token: Option<&str>,
) -> Result<Page<wire::WikiPage>, ConnectorError> {
    let url = match page_token {
        Some(token) => canvas.page_url(token)?,
        None => {
            let mut query = vec![("sort", "title")];
            if !search.is_empty() {
                query.push(("search_term", search));
            }
            canvas.list_url(&format!("/courses/{course_id}/pages"), &query)?
        }
    };
    canvas
        .get_page(url)
        .await
        .map_err(|e| names_missing(e, "course", course_id))
}

/// One page with its body, by slug or page id.
pub async fn wiki_page(
    canvas: &Canvas<'_>,
    course_id: u64,
    page: &str,
) -> Result<wire::WikiPage, ConnectorError> {
    let mut url = canvas.url(&format!("/courses/{course_id}/pages"), &[])?;
    url.path_segments_mut()
        .map_err(|()| ConnectorError::misconfigured("API_BASE_URL cannot carry a path"))?
        .push(page);
    canvas
        .get_json(url)
        .await
        .map_err(|e| names_missing(e, "page", page))
}

/// `list_course_files`.
pub async fn list(
    canvas: &Canvas<'_>,
    folder_id: Option<&str>,
    page_token: Option<&str>,
) -> Result<FileList, ConnectorError> {
    match Node::parse("folder_id", folder_id.unwrap_or_default())? {
        Node::Courses => {
            let page = courses_page(canvas, "active", page_token).await?;
            Ok(FileList {
                files: page.items.iter().map(|c| course_entry(canvas, c)).collect(),
                next_page_token: page.next,
                breadcrumbs: page_token.is_none().then(Vec::new),
            })
        }
        Node::Course(course_id) => {
            let url = canvas.url(&format!("/courses/{course_id}/folders/root"), &[])?;
            let root: wire::Folder = canvas
                .get_json(url)
                .await
                .map_err(|e| names_missing(e, "course", course_id))?;
            let mut listing = folder_listing(canvas, &root, page_token).await?;
            if page_token.is_none() {
                listing.files.insert(0, pages_folder(course_id));
            }
            Ok(listing)
        }
        Node::Folder(folder_id) => {
            let url = canvas.url(&format!("/folders/{folder_id}"), &[])?;
            let folder: wire::Folder = canvas
                .get_json(url)
                .await
                .map_err(|e| names_missing(e, "folder", folder_id))?;
            folder_listing(canvas, &folder, page_token).await
        }
        Node::Pages(course_id) => {
            let page = pages_page(canvas, course_id, "", page_token).await?;
            let breadcrumbs = match page_token {
                Some(_) => None,
                None => {
                    let course = course(canvas, course_id, false).await?;
                    Some(vec![
                        course_crumb(&course),
                        crumb(Node::Pages(course_id), "Pages"),
                    ])
                }
            };
            Ok(FileList {
                files: page
                    .items
                    .iter()
                    .map(|p| page_entry(canvas, course_id, p))
                    .collect(),
                next_page_token: page.next,
                breadcrumbs,
            })
        }
        Node::Page { .. } | Node::File(_) => Err(ConnectorError::invalid_field(
            "folder_id",
            "`folder_id`: that is a file, not a folder; download it with `download_file`",
        )),
    }
}

/// A folder's subfolders (first page only) and one page of its files.
async fn folder_listing(
    canvas: &Canvas<'_>,
    folder: &wire::Folder,
    page_token: Option<&str>,
) -> Result<FileList, ConnectorError> {
    let mut entries = Vec::new();
    let files_url = match page_token {
        Some(token) => canvas.page_url(token)?,
        None => {
            let url = canvas.list_url(&format!("/folders/{}/folders", folder.id), &[])?;
            let folders: Vec<wire::Folder> = canvas.get_all(url, MAX_FOLDER_PAGES).await?;
            entries.extend(
                folders
                    .iter()
                    .filter(|f| !f.hidden_for_user)
                    .map(folder_entry),
            );
            canvas.list_url(&format!("/folders/{}/files", folder.id), &[])?
        }
    };
    let page = canvas.get_page::<wire::File>(files_url).await?;
    entries.extend(
        page.items
            .iter()
            .filter(|f| !f.hidden_for_user)
            .map(|f| file_entry(canvas, f)),
    );
    let breadcrumbs = match page_token {
        Some(_) => None,
        None => Some(breadcrumbs(canvas, folder).await?),
    };
    Ok(FileList {
        files: entries,
        next_page_token: page.next,
        breadcrumbs,
    })
}

/// The course, then every folder below the course's root down to `folder`.
async fn breadcrumbs(
    canvas: &Canvas<'_>,
    folder: &wire::Folder,
) -> Result<Vec<Breadcrumb>, ConnectorError> {
    let mut chain = Vec::new();
    let mut current = folder.clone();
    for _ in 0..MAX_DEPTH {
        let Some(parent) = current.parent_folder_id else {
            break; // the course's root folder: shown as the course itself
        };
        chain.push(crumb(Node::Folder(current.id), &current.name));
        let url = canvas.url(&format!("/folders/{parent}"), &[])?;
        current = canvas.get_json(url).await?;
    }
    let mut crumbs = Vec::new();
    if current.context_type.as_deref() == Some("Course")
        && let Some(course_id) = current.context_id
    {
        crumbs.push(course_crumb(&course(canvas, course_id, false).await?));
    }
    crumbs.extend(chain.into_iter().rev());
    Ok(crumbs)
}

/// `search_course_files`.
pub async fn search(
    canvas: &Canvas<'_>,
    query: &str,
    course_id: Option<u64>,
    page_token: Option<&str>,
) -> Result<FileList, ConnectorError> {
    if query.chars().count() < 2 {
        return Err(ConnectorError::invalid_field(
            "query",
            "`query`: Canvas searches need at least 2 characters",
        ));
    }
    let search_url = |id: u64| {
        canvas.list_url(
            &format!("/courses/{id}/files"),
            &[("search_term", query), ("sort", "name")],
        )
    };
    if let Some(id) = course_id {
        let url = match page_token {
            Some(token) => canvas.page_url(token)?,
            None => search_url(id)?,
        };
        let page = canvas
            .get_page::<wire::File>(url)
            .await
            .map_err(|e| names_missing(e, "course", id))?;
        return Ok(FileList {
            files: page.items.iter().map(|f| file_entry(canvas, f)).collect(),
            next_page_token: page.next,
            breadcrumbs: None,
        });
    }
    if page_token.is_some() {
        return Err(ConnectorError::invalid_field(
            "page_token",
            "`page_token`: searches across courses have one page; name a `course_id` for more",
        ));
    }
    let mut files = Vec::new();
    for id in active_course_ids(canvas, MAX_SEARCH_COURSES).await? {
        match canvas.get_page::<wire::File>(search_url(id)?).await {
            Ok(page) => files.extend(page.items.iter().map(|f| file_entry(canvas, f))),
            // A course whose Files are hidden from students is simply not searched.
            Err(ConnectorError::PermissionDenied { .. } | ConnectorError::NotFound { .. }) => {}
            Err(other) => return Err(other),
        }
    }
    Ok(FileList {
        files,
        next_page_token: None,
        breadcrumbs: None,
    })
}

/// `get_file`.
pub async fn entry(canvas: &Canvas<'_>, id: &str) -> Result<FileEntry, ConnectorError> {
    match Node::parse("file_id", id)? {
        Node::Courses => Ok(folder(Node::Courses, "Courses", None)),
        Node::Course(course_id) => Ok(course_entry(
            canvas,
            &course(canvas, course_id, false).await?,
        )),
        Node::Pages(course_id) => Ok(pages_folder(course_id)),
        Node::Folder(folder_id) => {
            let url = canvas.url(&format!("/folders/{folder_id}"), &[])?;
            let folder: wire::Folder = canvas
                .get_json(url)
                .await
                .map_err(|e| names_missing(e, "folder", folder_id))?;
            Ok(folder_entry(&folder))
        }
        Node::Page { course, page } => {
            let found = wiki_page(canvas, course, &page.to_string()).await?;
            Ok(page_entry(canvas, course, &found))
        }
        Node::File(file_id) => Ok(file_entry(canvas, &file(canvas, file_id).await?)),
    }
}

async fn file(canvas: &Canvas<'_>, file_id: u64) -> Result<wire::File, ConnectorError> {
    let url = canvas.url(&format!("/files/{file_id}"), &[])?;
    canvas
        .get_json(url)
        .await
        .map_err(|e| names_missing(e, "file", file_id))
}

/// `download_file`.
pub async fn download(canvas: &Canvas<'_>, id: &str) -> Result<Download, ConnectorError> {
    match Node::parse("file_id", id)? {
        Node::File(file_id) => {
            let file = file(canvas, file_id).await?;
            let entry = file_entry(canvas, &file);
            let link = file
                .url
                .as_deref()
                .filter(|u| !u.is_empty() && !file.locked_for_user)
                .and_then(|u| url::Url::parse(u).ok());
            let Some(link) = link else {
                return Err(ConnectorError::PermissionDenied {
                    message: format!(
                        "`{}` is locked in Canvas and cannot be downloaded yet",
                        entry.name
                    ),
                });
            };
            let response = canvas.open_download(link).await?;
            let length = response.content_length();
            let mut download = Download::new(
                entry.name,
                entry.mime_type,
                body_stream(response, DOWNLOAD_IDLE_TIMEOUT),
            );
            download.size = length.or(entry.size);
            Ok(download)
        }
        Node::Page { course, page } => {
            let found = wiki_page(canvas, course, &page.to_string()).await?;
            let entry = page_entry(canvas, course, &found);
            let body = canvas.rich_text(found.body.as_deref().unwrap_or_default());
            let document = crate::sdk::html::document(&found.title, None, &body.html);
            let bytes = Bytes::from(document.into_bytes());
            let size = bytes.len() as u64;
            let stream = futures_util::stream::once(async move { Ok(bytes) }).boxed();
            Ok(Download::new(entry.name, entry.mime_type, stream).with_size(size))
        }
        _ => Err(ConnectorError::invalid_field(
            "file_id",
            format!("`file_id`: `{id}` is a folder; list it with `list_course_files`"),
        )),
    }
}

/// The icon of an entry: pages are documents; everything else by its MIME type.
pub fn icon(entry: &FileEntry) -> FileIcon {
    if entry.id.starts_with("page:") {
        return FileIcon::Document;
    }
    FileIcon::of(entry)
}

fn crumb(node: Node, name: &str) -> Breadcrumb {
    Breadcrumb {
        id: node.to_id(),
        name: name.to_owned(),
    }
}

fn course_name(course: &wire::Course) -> String {
    course
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| format!("Course {}", course.id))
}

fn course_crumb(course: &wire::Course) -> Breadcrumb {
    crumb(Node::Course(course.id), &course_name(course))
}

fn folder(node: Node, name: &str, modified: Option<chrono::DateTime<chrono::Utc>>) -> FileEntry {
    FileEntry {
        id: node.to_id(),
        name: name.to_owned(),
        kind: FileKind::Folder,
        mime_type: FOLDER_MIME.to_owned(),
        size: None,
        modified_time: modified,
        checksum: None,
        revision: None,
        web_link: None,
        parent_id: None,
        can_download: false,
    }
}

fn course_entry(canvas: &Canvas<'_>, course: &wire::Course) -> FileEntry {
    FileEntry {
        web_link: canvas.web_link(&format!("/courses/{}", course.id)),
        ..folder(Node::Course(course.id), &course_name(course), None)
    }
}

fn pages_folder(course_id: u64) -> FileEntry {
    FileEntry {
        parent_id: Some(Node::Course(course_id).to_id()),
        ..folder(Node::Pages(course_id), "Pages", None)
    }
}

fn folder_entry(f: &wire::Folder) -> FileEntry {
    FileEntry {
        parent_id: f.parent_folder_id.map(|p| Node::Folder(p).to_id()),
        ..folder(Node::Folder(f.id), &f.name, f.updated_at)
    }
}

fn file_entry(canvas: &Canvas<'_>, f: &wire::File) -> FileEntry {
    let name = if f.display_name.trim().is_empty() {
        f.filename.clone()
    } else {
        f.display_name.clone()
    };
    let modified = f.modified_at.or(f.updated_at);
    let mime_type = f
        .content_type
        .clone()
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| {
            mime_guess::from_path(&name)
                .first_or_octet_stream()
                .essence_str()
                .to_owned()
        });
    FileEntry {
        id: Node::File(f.id).to_id(),
        name,
        kind: FileKind::File,
        mime_type,
        size: f.size,
        modified_time: modified,
        checksum: None,
        // Canvas keeps a file's id when its content is replaced, and moves `updated_at`.
        revision: f
            .updated_at
            .map(|t| format!("{}/{}", t.to_rfc3339(), f.size.unwrap_or(0))),
        web_link: canvas.web_link(&format!("/files/{}", f.id)),
        parent_id: f.folder_id.map(|p| Node::Folder(p).to_id()),
        can_download: !f.locked_for_user && f.url.as_deref().is_some_and(|u| !u.is_empty()),
    }
}

fn page_entry(canvas: &Canvas<'_>, course_id: u64, page: &wire::WikiPage) -> FileEntry {
    let title = if page.title.trim().is_empty() {
        page.url.clone()
    } else {
        page.title.clone()
    };
    FileEntry {
        id: Node::Page {
            course: course_id,
            page: page.page_id,
        }
        .to_id(),
        name: format!("{}.html", title.replace(['/', '\\'], "-")),
        kind: FileKind::File,
        mime_type: "text/html".to_owned(),
        size: None,
        modified_time: page.updated_at,
        checksum: None,
        revision: page.updated_at.map(|t| t.to_rfc3339()),
        web_link: page
            .html_url
            .clone()
            .or_else(|| canvas.web_link(&format!("/courses/{course_id}/pages/{}", page.url))),
        parent_id: Some(Node::Pages(course_id).to_id()),
        can_download: !page.locked_for_user,
    }
}

#[cfg(test)]
#[path = "files_tests.rs"]
mod tests;
