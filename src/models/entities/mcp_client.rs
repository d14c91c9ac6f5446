use crate::models::status::McpClientKind;
use sea_orm::entity::prelude::*;

/// An MCP client (an assistant) the authorization server knows.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mcp_client")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The OAuth `client_id`: the document's https URL (CIMD) or the id `/oauth/register`
    /// issued (DCR).
    #[sea_orm(unique)]
    pub client_id: String,
    pub kind: McpClientKind,
    /// The name the client gives itself (shown on the consent page with its host).
    pub name: String,
    /// JSON array of the registered redirect URIs.
    pub redirect_uris: String,
    /// The client's metadata as JSON (the fetched document, or the registration request).
    pub metadata: String,
    /// When the metadata document was last fetched (CIMD only).
    pub fetched_at: Option<ChronoDateTimeUtc>,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
