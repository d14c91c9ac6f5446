use sea_orm::entity::prelude::*;

/// A single-use authorization code, issued when a user allows a client.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mcp_authorization_code")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// SHA-256 (hex) of the code; the code itself is never stored.
    #[sea_orm(unique)]
    pub code_hash: String,
    /// The grant the code was issued for (which names the client).
    pub mcp_grant_id: i64,
    pub redirect_uri: String,
    /// The PKCE S256 challenge the client sent.
    pub code_challenge: String,
    /// The resource (RFC 8707) the tokens will be bound to.
    pub resource: String,
    pub expires_at: ChronoDateTimeUtc,
    /// Set by the one exchange that may use it; a second one finds it set.
    pub used_at: Option<ChronoDateTimeUtc>,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
