use crate::models::status::McpTokenKind;
use sea_orm::entity::prelude::*;

/// An access or refresh token of an MCP grant.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mcp_token")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// SHA-256 (hex) of the token; the token itself is never stored.
    #[sea_orm(unique)]
    pub token_hash: String,
    pub mcp_grant_id: i64,
    pub kind: McpTokenKind,
    /// Space-separated scopes this token carries (the grant's, or fewer).
    pub scopes: String,
    /// The audience (RFC 8707 resource) the token is good for.
    pub resource: String,
    pub expires_at: ChronoDateTimeUtc,
    /// Set when a refresh token was exchanged (rotation) or a token revoked.
    pub retired_at: Option<ChronoDateTimeUtc>,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
