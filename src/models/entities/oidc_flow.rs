use sea_orm::entity::prelude::*;

/// A started, not yet completed campus sign-in.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "oidc_flow")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// SHA-256 (hex) of the `state` sent to the provider.
    #[sea_orm(unique)]
    pub state_hash: String,
    /// SHA-256 (hex) of the browser session's flow nonce.
    pub session_binding: String,
    /// SHA-256 (hex) of the `nonce` the ID token must carry.
    pub nonce_hash: String,
    /// Fernet token of the PKCE code verifier.
    pub pkce_verifier: String,
    /// Where to go after signing in (a local path).
    pub next_path: String,
    pub expires_at: ChronoDateTimeUtc,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
