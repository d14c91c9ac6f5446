//! Knowledge folders: list and create, open one, upload files into it (streamed), and the
//! file table fragment the folder page polls while files are being processed.

use super::account::html;
use crate::auth::CurrentUser;
use crate::error::{AppError, AppResult};
use crate::models::entities::source_file;
use crate::models::folders;
use crate::models::names::FolderName;
use crate::services::rate_limits;
use crate::services::source_files::{self, Incoming, Origin, Quota, SizeLimit, human_size};
use crate::state::AppState;
use crate::templates::{FileRows, FilesFragment, FolderPage, FoldersPage, PageCtx, flash};
use actix_multipart::Multipart;
use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::{StreamExt, TryStreamExt};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct NewFolder {
    name: String,
}

pub async fn list(
    state: web::Data<AppState>,
    session: Session,
    user: CurrentUser,
) -> AppResult<HttpResponse> {
    let folders = folders::list_for_user(&state.db, user.id).await?;
    Ok(html(
        FoldersPage {
            ctx: PageCtx::new(&session, Some(&user)),
            folders,
            name: String::new(),
            error: None,
        },
        200,
    ))
}

pub async fn create(
    state: web::Data<AppState>,
    session: Session,
    user: CurrentUser,
    form: web::Form<NewFolder>,
) -> AppResult<HttpResponse> {
    let result = match FolderName::parse(&form.name) {
        Ok(name) => folders::create(&state.db, user.id, &name).await,
        Err(message) => Err(AppError::BadRequest(message)),
    };
    match result {
        Ok(folder) => {
            flash(
                &session,
                "success",
                format!("Folder “{}” created.", folder.name),
            );
            Ok(super::see_other(&crate::paths::folder(folder.id)))
        }
        Err(e @ (AppError::BadRequest(_) | AppError::Conflict(_))) => {
            let status = if matches!(e, AppError::Conflict(_)) {
                409
            } else {
                422
            };
            let folders = folders::list_for_user(&state.db, user.id).await?;
            let page = FoldersPage {
                ctx: PageCtx::new(&session, Some(&user)),
                folders,
                name: form.name.trim().to_owned(),
                error: Some(e.user_message()),
            };
            Ok(html(page, status))
        }
        Err(e) => Err(e),
    }
}

pub async fn show(
    state: web::Data<AppState>,
    session: Session,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let folder = folders::find_owned(&state.db, user.id, path.into_inner()).await?;
    let files = file_rows(&state, folder.id).await?;
    let page = FolderPage {
        ctx: PageCtx::new(&session, Some(&user)),
        folder,
        files,
        max_upload: human_size(state.settings.max_upload_bytes),
        storage: Quota::of(&state.db, user.id, state.settings.storage_quota_bytes)
            .await?
            .describe(),
    };
    Ok(html(page, 200))
}

pub async fn files(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let folder = folders::find_owned(&state.db, user.id, path.into_inner()).await?;
    let files = file_rows(&state, folder.id).await?;
    Ok(html(FilesFragment { folder, files }, 200))
}

/// The folder's file table, with services by name (from the registry: no query).
async fn file_rows(state: &AppState, folder_id: i64) -> AppResult<FileRows> {
    let files = folders::files(&state.db, folder_id).await?;
    Ok(FileRows::from_models(&files, |slug| {
        state.registry.get(slug).map(|c| c.spec().name)
    }))
}

/// Accept one or more `file` parts, each streamed straight to storage.
pub async fn upload(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    user: CurrentUser,
    path: web::Path<i64>,
    mut multipart: Multipart,
) -> AppResult<HttpResponse> {
    let folder = folders::find_owned(&state.db, user.id, path.into_inner()).await?;
    rate_limits::check(&state.writes, user.id, &state.settings.upload_limit()).await?;
    let limit = state.settings.max_upload_bytes;
    // Refuse early when the declared body is already far beyond the limit.
    if let Some(len) = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > limit.saturating_add(1024 * 1024)
    {
        return Err(AppError::PayloadTooLarge(format!(
            "The file is larger than the {} limit.",
            human_size(limit)
        )));
    }
    let mut stored: Vec<source_file::Model> = Vec::new();
    // One request carries at most `limit` bytes in all, and no file may pass the quota.
    let mut request_left = limit;
    while let Some(field) = multipart.next().await {
        let field = field
            .map_err(|e| AppError::BadRequest(format!("The upload could not be read: {e}")))?;
        if field.name() != Some("file") {
            continue;
        }
        let name = field
            .content_disposition()
            .and_then(|cd| cd.get_filename().map(str::to_owned))
            .unwrap_or_default();
        if name.is_empty() {
            continue; // an empty file input
        }
        let mime = field.content_type().map(|m| m.essence_str().to_owned());
        let body = field.map_err(|e| e.to_string());
        let quota = Quota::of(&state.db, user.id, state.settings.storage_quota_bytes).await?;
        if quota.left() == 0 {
            return Err(AppError::PayloadTooLarge(quota.full_message()));
        }
        let part_limit = SizeLimit::tightest(limit, Some((request_left, limit)), quota);
        let file = source_files::store(
            state.files(),
            &folder,
            Incoming {
                name,
                mime_type: mime,
            },
            Origin::upload(),
            &part_limit,
            Box::pin(body),
        )
        .await?;
        request_left = request_left.saturating_sub(file.size_bytes.max(0) as u64);
        stored.push(file);
    }
    if stored.is_empty() {
        return Err(AppError::BadRequest("Choose a file to upload.".into()));
    }
    if super::is_htmx(&req) {
        let files = file_rows(&state, folder.id).await?;
        return Ok(html(FilesFragment { folder, files }, 200));
    }
    let names: Vec<&str> = stored.iter().map(|f| f.name.as_str()).collect();
    flash(
        &session,
        "success",
        format!("Uploaded {}.", names.join(", ")),
    );
    Ok(super::see_other(&crate::paths::folder(folder.id)))
}
