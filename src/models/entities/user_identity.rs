use sea_orm::entity::prelude::*;

/// An account's identity at the campus OpenID provider: (`iss`, `sub`) is unique and is the
/// only thing an account is found by at sign-in (never the email alone).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_identity")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The issuer identifier, exactly as in the ID token.
    pub iss: String,
    /// The subject identifier at that issuer.
    pub sub: String,
    pub user_id: i64,
    /// The provider's session id (`sid`) of the latest sign-in, for back-channel logout.
    pub last_sid: Option<String>,
    pub created_at: ChronoDateTimeUtc,
    pub last_login_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
