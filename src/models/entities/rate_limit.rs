use sea_orm::entity::prelude::*;

/// One user's recent hits against one named limit (see `services::rate_limits`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rate_limit")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    /// The limit's name, e.g. `cloud_browse`; unique together with `user_id`.
    pub name: String,
    /// The sliding log: comma-separated Unix times in milliseconds, oldest first, at most the
    /// limit's `max` entries. It is also the value the compare-and-swap compares.
    pub hits: String,
    /// The newest hit plus the window: after this the row says nothing and may be deleted.
    pub expires_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
