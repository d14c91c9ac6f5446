use sea_orm::entity::prelude::*;

/// A secret of the app itself, shared by every instance. Its `Debug` leaves out the value.
#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "app_secret")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub name: String,
    /// The secret as a Fernet token.
    pub value: String,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("app_secret::Model")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("value", &"<redacted>")
            .finish()
    }
}
