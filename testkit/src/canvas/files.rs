//! Course files: folders (`/courses/:id/folders[/root]`, `/folders/:id[/folders|/files]`),
//! files (`/courses/:id/files` with `search_term`, `sort`, `order`; `/files/:id`,
//! `/courses/:id/files/:id`), the download (`/files/:id/download` answers 302 to a signed,
//! expiring URL on the file store) and the file store itself, which refuses any request
//! carrying `Authorization` as S3 does.

use std::cmp::Ordering;

use actix_web::HttpResponse;
use actix_web::http::{Method, StatusCode, header};
use serde_json::{Value, json};

use super::courses::readable_course;
use super::errors::{
    json_response, not_found, s3_error, search_term_too_short, unauthenticated, unauthorized_action,
};
use super::paging::paginate;
use super::routes::{Answer, Call, Refusal, authenticate, token_of};
use super::state::{File, Folder, Link, Shared, State, iso};
use crate::upstream::{finish, media_reply};

/// `GET /api/v1/courses/:id/folders/root`.
pub(super) fn root_folder(shared: &Shared, user: i64, course: i64) -> Answer {
    let state = shared.lock();
    readable_course(&state, user, course)?;
    let root = state.root_folder(course).ok_or_else(not_found)?;
    Ok(json_response(
        StatusCode::OK,
        &folder_json(shared, &state, root),
    ))
}

/// `GET /api/v1/courses/:id/folders`: every folder of the course, root first.
pub(super) fn course_folders(shared: &Shared, call: &Call, user: i64, course: i64) -> Answer {
    let state = shared.lock();
    readable_course(&state, user, course)?;
    let mut folders: Vec<&Folder> = state
        .folders
        .iter()
        .filter(|f| f.course == course)
        .collect();
    folders.sort_by_key(|f| state.full_name(f));
    let items = folders
        .iter()
        .map(|f| folder_json(shared, &state, f))
        .collect();
    Ok(paginate(&shared.base_url, call, items))
}

/// A folder the user may see: 404 if there is none, 401 if its course is not theirs.
fn readable_folder(state: &State, user: i64, folder: i64) -> Result<&Folder, Refusal> {
    let found = state.folder(folder).ok_or_else(not_found)?;
    readable_course(state, user, found.course)?;
    Ok(found)
}

/// `GET /api/v1/folders/:id`.
pub(super) fn folder(shared: &Shared, user: i64, folder: i64) -> Answer {
    let state = shared.lock();
    let found = readable_folder(&state, user, folder)?;
    Ok(json_response(
        StatusCode::OK,
        &folder_json(shared, &state, found),
    ))
}

/// `GET /api/v1/folders/:id/folders`: the sub-folders, by name.
pub(super) fn folder_folders(shared: &Shared, call: &Call, user: i64, folder: i64) -> Answer {
    let state = shared.lock();
    readable_folder(&state, user, folder)?;
    let mut children: Vec<&Folder> = state
        .folders
        .iter()
        .filter(|f| f.parent == Some(folder))
        .collect();
    children.sort_by_key(|f| f.name.to_lowercase());
    let items = children
        .iter()
        .map(|f| folder_json(shared, &state, f))
        .collect();
    Ok(paginate(&shared.base_url, call, items))
}

/// `GET /api/v1/folders/:id/files`: the files directly in the folder.
pub(super) fn folder_files(shared: &Shared, call: &Call, user: i64, folder: i64) -> Answer {
    let state = shared.lock();
    readable_folder(&state, user, folder)?;
    let files = state.files.iter().filter(|f| f.folder == folder).collect();
    list_files(shared, call, files)
}

/// `GET /api/v1/courses/:id/files`: every file of the course.
pub(super) fn list_course_files(shared: &Shared, call: &Call, user: i64, course: i64) -> Answer {
    let state = shared.lock();
    readable_course(&state, user, course)?;
    let files = state
        .files
        .iter()
        .filter(|f| state.course_of_file(f) == Some(course))
        .collect();
    list_files(shared, call, files)
}

/// `search_term` (two characters at least), `sort` (`name` by default, `size`,
/// `created_at`, `updated_at`, `content_type`), `order`, then one page.
fn list_files(shared: &Shared, call: &Call, mut files: Vec<&File>) -> Answer {
    if let Some(term) = call.param("search_term") {
        if term.chars().count() < 2 {
            return Err(search_term_too_short().into());
        }
        let term = term.to_lowercase();
        files.retain(|f| f.display_name.to_lowercase().contains(&term));
    }
    let by: fn(&File, &File) -> Ordering = match call.param("sort") {
        Some("size") => |a, b| a.blob.content.len().cmp(&b.blob.content.len()),
        Some("created_at" | "updated_at") => |a, b| a.created_at.cmp(&b.created_at),
        Some("content_type") => |a, b| a.content_type.cmp(&b.content_type),
        _ => |a, b| {
            a.display_name
                .to_lowercase()
                .cmp(&b.display_name.to_lowercase())
        },
    };
    files.sort_by(|a, b| by(a, b).then(a.id.cmp(&b.id)));
    if call.param("order") == Some("desc") {
        files.reverse();
    }
    let items = files.iter().map(|f| file_json(shared, f)).collect();
    Ok(paginate(&shared.base_url, call, items))
}

/// `GET /api/v1/files/:id` and `GET /api/v1/courses/:course/files/:id` (the file must be in
/// that course).
pub(super) fn get_file(shared: &Shared, user: i64, course: Option<i64>, file: i64) -> Answer {
    let state = shared.lock();
    let found = state.file(file).ok_or_else(not_found)?;
    let owner = state.course_of_file(found).ok_or_else(not_found)?;
    if course.is_some_and(|c| c != owner) {
        return Err(not_found().into());
    }
    readable_course(&state, user, owner)?;
    Ok(json_response(StatusCode::OK, &file_json(shared, found)))
}

/// Canvas's Folder object.
fn folder_json(shared: &Shared, state: &State, folder: &Folder) -> Value {
    let base = &shared.base_url;
    let files = state.files.iter().filter(|f| f.folder == folder.id).count();
    let folders = state
        .folders
        .iter()
        .filter(|f| f.parent == Some(folder.id))
        .count();
    json!({
        "id": folder.id,
        "name": folder.name,
        "full_name": state.full_name(folder),
        "context_id": folder.course,
        "context_type": "Course",
        "parent_folder_id": folder.parent,
        "created_at": iso(folder.created_at),
        "updated_at": iso(folder.created_at),
        "lock_at": null,
        "unlock_at": null,
        "position": null,
        "locked": false,
        "folders_url": format!("{base}/api/v1/folders/{}/folders", folder.id),
        "files_url": format!("{base}/api/v1/folders/{}/files", folder.id),
        "files_count": files,
        "folders_count": folders,
        "hidden": null,
        "locked_for_user": false,
        "hidden_for_user": false,
        "for_submissions": false,
        "can_upload": false,
    })
}

/// Canvas's File object; `url` is the download URL with the file's verifier.
pub(super) fn file_json(shared: &Shared, file: &File) -> Value {
    let filename: String =
        url::form_urlencoded::byte_serialize(file.display_name.as_bytes()).collect();
    json!({
        "id": file.id,
        "uuid": file.uuid,
        "folder_id": file.folder,
        "display_name": file.display_name,
        "filename": filename,
        "upload_status": "success",
        "content-type": file.content_type,
        "url": download_url(shared, file),
        "size": file.blob.content.len(),
        "created_at": iso(file.created_at),
        "updated_at": iso(file.created_at),
        "unlock_at": null,
        "locked": false,
        "hidden": false,
        "lock_at": null,
        "hidden_for_user": false,
        "thumbnail_url": null,
        "modified_at": iso(file.created_at),
        "mime_class": mime_class(&file.content_type),
        "media_entry_id": null,
        "category": "uncategorized",
        "locked_for_user": false,
        "visibility_level": "inherit",
    })
}

/// `http://<instance>/files/<id>/download?download_frd=1&verifier=<uuid>`.
pub(super) fn download_url(shared: &Shared, file: &File) -> String {
    format!(
        "{}/files/{}/download?download_frd=1&verifier={}",
        shared.base_url, file.id, file.uuid
    )
}

/// Canvas's coarse file class (`pdf`, `image`, `doc`…).
fn mime_class(content_type: &str) -> &'static str {
    let t = content_type.to_ascii_lowercase();
    match t.as_str() {
        "application/pdf" => "pdf",
        "text/html" => "html",
        "text/plain" => "text",
        "application/zip" | "application/x-zip-compressed" => "zip",
        _ if t.starts_with("image/") => "image",
        _ if t.starts_with("video/") => "video",
        _ if t.starts_with("audio/") => "audio",
        _ if t.contains("msword") || t.contains("wordprocessingml") => "doc",
        _ if t.contains("excel") || t.contains("spreadsheetml") => "xls",
        _ if t.contains("powerpoint") || t.contains("presentationml") => "ppt",
        _ => "file",
    }
}

/// `GET /files/:id/download`: a valid `verifier`, or a token whose user may see the file,
/// gets a 302 to a fresh signed URL on the file store.
pub(super) fn download(shared: &Shared, call: &Call, file: i64) -> Answer {
    let verified = {
        let state = shared.lock();
        let found = state.file(file).ok_or_else(not_found)?;
        call.param("verifier") == Some(found.uuid.as_str())
    };
    if !verified {
        if token_of(call).is_none() {
            return Err(unauthenticated().into());
        }
        let user = authenticate(shared, call)?;
        let state = shared.lock();
        let found = state.file(file).ok_or_else(not_found)?;
        let owner = state.course_of_file(found).ok_or_else(not_found)?;
        if !state.is_enrolled(user, owner) {
            return Err(unauthorized_action().into());
        }
    }
    let mut state = shared.lock();
    let found = state.file(file).ok_or_else(not_found)?;
    let name: String =
        url::form_urlencoded::byte_serialize(found.display_name.as_bytes()).collect();
    let signature = hex::encode(rand::random::<[u8; 32]>());
    let now = state.now();
    let expires = now + state.link_ttl;
    let location = format!(
        "{}/account_1/attachments/{file}/{name}?response-content-disposition=attachment\
         &X-Amz-Algorithm=AWS4-HMAC-SHA256\
         &X-Amz-Credential=AKIAFAKECANVAS%2F{}%2Fus-east-1%2Fs3%2Faws4_request\
         &X-Amz-Date={}&X-Amz-Expires={}&X-Amz-SignedHeaders=host&X-Amz-Signature={signature}",
        shared.file_store_url,
        now.format("%Y%m%d"),
        now.format("%Y%m%dT%H%M%SZ"),
        state.link_ttl.num_seconds(),
    );
    state.links.insert(signature, Link { file, expires });
    Ok(HttpResponse::Found()
        .insert_header((header::LOCATION, location))
        .finish())
}

/// The file store: only a signed URL it handed out and that has not expired, only without
/// `Authorization`; honours `Range`.
pub(super) fn file_store(shared: &Shared, call: &crate::upstream::Call<()>) -> HttpResponse {
    if call.authorization.is_some() {
        return s3_error(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, \
             Signature query string parameter or the Authorization header should be specified",
        );
    }
    if call.method != Method::GET && call.method != Method::HEAD {
        return s3_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
        );
    }
    let mut state = shared.lock();
    let Some(signature) = call.param("X-Amz-Signature") else {
        return s3_error(StatusCode::FORBIDDEN, "AccessDenied", "Access Denied");
    };
    let Some(link) = state.links.get(signature) else {
        return s3_error(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        );
    };
    if link.expires <= state.now() {
        return s3_error(StatusCode::FORBIDDEN, "AccessDenied", "Request has expired");
    }
    let Some(file) = state.file(link.file) else {
        return s3_error(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
        );
    };
    let (content_type, content) = (file.content_type.clone(), file.blob.content.clone());
    let body_fault = match state.books.take_body_fault(super::Endpoint::FileStore) {
        Ok(fault) => fault,
        Err(fault) => return super::errors::fault_response(&fault),
    };
    let pace = state.books.pace;
    drop(state);
    let reply = media_reply(call.range.as_deref(), content_type.clone(), content);
    finish(reply, body_fault, pace, &content_type)
}
