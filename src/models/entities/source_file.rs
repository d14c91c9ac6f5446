use crate::models::status::SourceFileStatus;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "source_file")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub uuid: String,
    pub knowledge_folder_id: i64,
    pub user_id: i64,
    pub name: String,
    pub mime_type: String,
    pub size_bytes: i64,
    pub sha256: Option<String>,
    pub storage_key: String,
    pub status: SourceFileStatus,
    /// `upload`, or the slug of the connector the file was imported from.
    pub origin: String,
    pub origin_ref: Option<String>,
    pub idempotency_key: Option<String>,
    pub error: Option<String>,
    /// Bytes streamed so far by a cloud import in progress.
    pub bytes_received: Option<i64>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
