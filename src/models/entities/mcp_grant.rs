use sea_orm::entity::prelude::*;

/// What a user allowed an MCP client on the consent page.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mcp_grant")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    pub mcp_client_id: i64,
    /// Space-separated scopes: `mcp:read`, plus `mcp:write` when the user allowed changes.
    pub scopes: String,
    /// JSON array of the ids of the connections the user chose.
    pub connection_ids: String,
    pub created_at: ChronoDateTimeUtc,
    pub last_used_at: Option<ChronoDateTimeUtc>,
    /// When the grant lapses unless a refresh moves it on (the newest refresh token's end).
    pub expires_at: ChronoDateTimeUtc,
    /// Set when the user, or a replayed code or refresh token, ended the grant.
    pub revoked_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
