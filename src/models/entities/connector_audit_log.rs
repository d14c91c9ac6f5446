use crate::models::Channel;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "connector_audit_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub connection_id: Option<i64>,
    pub user_id: Option<i64>,
    pub connector_slug: String,
    pub action: String,
    /// `success` or `error`.
    pub status: String,
    /// The request parameters as JSON, secrets redacted.
    pub request: String,
    pub error: Option<String>,
    pub error_code: Option<String>,
    pub duration_ms: i64,
    pub created_at: ChronoDateTimeUtc,
    /// Where the call came from.
    pub channel: Channel,
    /// The program that made the call (a token's name, an assistant's name), if known.
    pub client: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
