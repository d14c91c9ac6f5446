//! The files of knowledge folders (`source_file`): rows written by uploads and cloud imports,
//! and the status changes the import and document workers make. The import worker's updates
//! only touch a row still `queued` or `downloading`, so a redelivered message never undoes a
//! stored file. A folder's list of files is `folders::files`.

use super::entities::source_file;
use super::status::SourceFileStatus;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter,
};

/// The bytes the user's stored and arriving files take (failed imports take none).
pub async fn bytes_used_by(db: &impl ConnectionTrait, user_id: i64) -> Result<i64, DbErr> {
    use sea_orm::{FromQueryResult, QuerySelect};
    #[derive(FromQueryResult)]
    struct Used {
        bytes: Option<i64>,
    }
    let used = source_file::Entity::find()
        .select_only()
        .column_as(
            Expr::cust("CAST(COALESCE(SUM(size_bytes), 0) AS BIGINT)"),
            "bytes",
        )
        .filter(source_file::Column::UserId.eq(user_id))
        .filter(source_file::Column::Status.ne(SourceFileStatus::Failed.as_str()))
        .into_model::<Used>()
        .one(db)
        .await?;
    Ok(used.and_then(|u| u.bytes).unwrap_or(0))
}

/// The file `id`.
pub async fn find(db: &impl ConnectionTrait, id: i64) -> Result<Option<source_file::Model>, DbErr> {
    source_file::Entity::find_by_id(id).one(db).await
}

/// The file with `uuid`.
pub async fn find_by_uuid(
    db: &impl ConnectionTrait,
    uuid: &str,
) -> Result<Option<source_file::Model>, DbErr> {
    source_file::Entity::find()
        .filter(source_file::Column::Uuid.eq(uuid))
        .one(db)
        .await
}

/// The file imported under idempotency key `key`.
pub async fn find_by_idempotency_key(
    db: &impl ConnectionTrait,
    key: &str,
) -> Result<Option<source_file::Model>, DbErr> {
    source_file::Entity::find()
        .filter(source_file::Column::IdempotencyKey.eq(key))
        .one(db)
        .await
}

/// A file row to write.
pub struct NewSourceFile {
    pub uuid: String,
    pub knowledge_folder_id: i64,
    pub user_id: i64,
    pub name: String,
    pub mime_type: String,
    pub size_bytes: i64,
    pub sha256: Option<String>,
    pub storage_key: String,
    pub status: SourceFileStatus,
    /// `upload` or a connector slug.
    pub origin: String,
    pub origin_ref: Option<String>,
    pub idempotency_key: Option<String>,
}

fn active(new: NewSourceFile, now: DateTime<Utc>) -> source_file::ActiveModel {
    source_file::ActiveModel {
        uuid: Set(new.uuid),
        knowledge_folder_id: Set(new.knowledge_folder_id),
        user_id: Set(new.user_id),
        name: Set(new.name),
        mime_type: Set(new.mime_type),
        size_bytes: Set(new.size_bytes),
        sha256: Set(new.sha256),
        storage_key: Set(new.storage_key),
        status: Set(new.status),
        origin: Set(new.origin),
        origin_ref: Set(new.origin_ref),
        idempotency_key: Set(new.idempotency_key),
        error: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
}

/// Inserts a file row (an upload, stored already).
pub async fn insert(
    db: &impl ConnectionTrait,
    new: NewSourceFile,
) -> Result<source_file::Model, DbErr> {
    active(new, Utc::now()).insert(db).await
}

/// Inserts a file row unless one with the same idempotency key exists (safe against a
/// concurrent insert of that key). Returns whether the row was inserted.
pub async fn insert_unless_key_exists(
    db: &impl ConnectionTrait,
    new: NewSourceFile,
) -> Result<bool, DbErr> {
    let mut row = active(new, Utc::now());
    row.bytes_received = Set(None);
    let inserted = source_file::Entity::insert(row)
        .on_conflict(
            OnConflict::column(source_file::Column::IdempotencyKey)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(inserted == 1)
}

/// Puts a file back in the import queue (`queued`, error and progress cleared).
pub async fn requeue(
    db: &impl ConnectionTrait,
    file: source_file::Model,
) -> Result<source_file::Model, DbErr> {
    let mut row: source_file::ActiveModel = file.into();
    row.status = Set(SourceFileStatus::Queued);
    row.error = Set(None);
    row.bytes_received = Set(None);
    row.updated_at = Set(Utc::now());
    row.update(db).await
}

/// Sets the import status, error and progress of file `id`, if it is still `queued` or
/// `downloading`.
pub async fn set_import_status(
    db: &impl ConnectionTrait,
    id: i64,
    status: SourceFileStatus,
    error: Option<String>,
    bytes_received: Option<i64>,
) -> Result<(), DbErr> {
    source_file::Entity::update_many()
        .col_expr(source_file::Column::Status, Expr::value(status.as_str()))
        .col_expr(source_file::Column::Error, Expr::value(error))
        .col_expr(
            source_file::Column::BytesReceived,
            Expr::value(bytes_received),
        )
        .col_expr(source_file::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(source_file::Column::Id.eq(id))
        .filter(source_file::Column::Status.is_in(["queued", "downloading"]))
        .exec(db)
        .await?;
    Ok(())
}

/// Records how many bytes of file `id` arrived, while it is `downloading`.
pub async fn set_progress(db: &impl ConnectionTrait, id: i64, bytes: i64) -> Result<(), DbErr> {
    source_file::Entity::update_many()
        .col_expr(source_file::Column::BytesReceived, Expr::value(bytes))
        .filter(source_file::Column::Id.eq(id))
        .filter(source_file::Column::Status.eq(SourceFileStatus::Downloading.as_str()))
        .exec(db)
        .await?;
    Ok(())
}

/// What an import stored.
pub struct Imported {
    pub size: i64,
    pub sha256: String,
    pub mime_type: String,
    pub name: String,
    pub storage_key: String,
}

/// Marks file `id` `uploaded` with what was stored, if it is still `queued` or
/// `downloading`. Returns whether this call did it.
pub async fn mark_uploaded(
    db: &impl ConnectionTrait,
    id: i64,
    stored: Imported,
) -> Result<bool, DbErr> {
    let done = source_file::Entity::update_many()
        .col_expr(
            source_file::Column::Status,
            Expr::value(SourceFileStatus::Uploaded.as_str()),
        )
        .col_expr(source_file::Column::SizeBytes, Expr::value(stored.size))
        .col_expr(source_file::Column::Sha256, Expr::value(stored.sha256))
        .col_expr(source_file::Column::MimeType, Expr::value(stored.mime_type))
        .col_expr(source_file::Column::Name, Expr::value(stored.name))
        .col_expr(
            source_file::Column::StorageKey,
            Expr::value(stored.storage_key),
        )
        .col_expr(
            source_file::Column::Error,
            Expr::value(Option::<String>::None),
        )
        .col_expr(source_file::Column::BytesReceived, Expr::value(stored.size))
        .col_expr(source_file::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(source_file::Column::Id.eq(id))
        .filter(source_file::Column::Status.is_in(["queued", "downloading"]))
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// Sets the status and error of file `id` (the document check's verdict).
pub async fn set_status(
    db: &impl ConnectionTrait,
    id: i64,
    status: SourceFileStatus,
    error: Option<String>,
) -> Result<(), DbErr> {
    source_file::Entity::update_many()
        .col_expr(source_file::Column::Status, Expr::value(status.as_str()))
        .col_expr(source_file::Column::Error, Expr::value(error))
        .col_expr(source_file::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(source_file::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}
