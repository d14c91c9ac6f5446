use sea_orm::entity::prelude::*;

/// A started, not yet completed OAuth authorization.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oauth_state")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// SHA-256 (hex) of the `state` sent to the provider; the state itself is never stored.
    #[sea_orm(unique)]
    pub state_hash: String,
    pub user_id: i64,
    pub connector_slug: String,
    /// SHA-256 (hex) of the browser session's flow nonce; `None` for JSON API flows.
    pub session_binding: Option<String>,
    /// Fernet token of the PKCE code verifier.
    pub pkce_verifier: String,
    pub redirect_uri: String,
    /// The connection a "Reconnect" started from, if any.
    pub reconnect_connection_id: Option<i64>,
    pub expires_at: ChronoDateTimeUtc,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
