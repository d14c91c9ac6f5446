use sea_orm::entity::prelude::*;

/// A one-time sign-in link for one account (the break-glass path when passwords are off).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signin_link")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// SHA-256 (hex) of the token in the link; the token itself is never stored.
    #[sea_orm(unique)]
    pub token_hash: String,
    pub user_id: i64,
    pub expires_at: ChronoDateTimeUtc,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
