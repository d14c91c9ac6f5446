//! Knowledge folders and the files in them, always scoped to their owner.

use super::entities::{knowledge_folder, source_file};
use super::names::FolderName;
use crate::error::{AppError, AppResult};
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};

/// The user's folders, newest first.
pub async fn list_for_user<C: ConnectionTrait>(
    db: &C,
    user_id: i64,
) -> AppResult<Vec<knowledge_folder::Model>> {
    Ok(knowledge_folder::Entity::find()
        .filter(knowledge_folder::Column::UserId.eq(user_id))
        .order_by_desc(knowledge_folder::Column::Id)
        .all(db)
        .await?)
}

/// One of the user's folders; anyone else's (or a missing one) is `NotFound`.
pub async fn find_owned<C: ConnectionTrait>(
    db: &C,
    user_id: i64,
    folder_id: i64,
) -> AppResult<knowledge_folder::Model> {
    // `all()`, not `one()`: no `LIMIT ?` for SQLite to recompile (see `crate::models`).
    knowledge_folder::Entity::find_by_id(folder_id)
        .filter(knowledge_folder::Column::UserId.eq(user_id))
        .all(db)
        .await?
        .into_iter()
        .next()
        .ok_or(AppError::NotFound)
}

/// Create a folder; a name the user already uses is a conflict.
pub async fn create<C: ConnectionTrait>(
    db: &C,
    user_id: i64,
    name: &FolderName,
) -> AppResult<knowledge_folder::Model> {
    let exists = knowledge_folder::Entity::find()
        .filter(knowledge_folder::Column::UserId.eq(user_id))
        .filter(knowledge_folder::Column::Name.eq(name.as_str()))
        .one(db)
        .await?;
    if exists.is_some() {
        return Err(AppError::Conflict(format!(
            "You already have a folder named “{name}”."
        )));
    }
    let now = Utc::now();
    Ok(knowledge_folder::ActiveModel {
        user_id: Set(user_id),
        name: Set(name.as_str().to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

/// The files of a folder, newest first.
pub async fn files<C: ConnectionTrait>(
    db: &C,
    folder_id: i64,
) -> AppResult<Vec<source_file::Model>> {
    Ok(source_file::Entity::find()
        .filter(source_file::Column::KnowledgeFolderId.eq(folder_id))
        .order_by_desc(source_file::Column::Id)
        .all(db)
        .await?)
}
