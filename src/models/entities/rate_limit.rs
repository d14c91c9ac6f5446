use sea_orm::entity::prelude::*;

/// One user's count of hits against one named limit (see `services::rate_limits`); the hits
/// themselves are `rate_limit_hit` rows, and on PostgreSQL the newest (up to 64) are kept in
/// the row's own `recent` column (migration 28; not mapped here, read by
/// `models::rate_limits::hits`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rate_limit")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    /// The limit's name, e.g. `cloud_browse`; unique together with `user_id`.
    pub name: String,
    /// How many hits this row has recorded: the next hit's number.
    pub next_seq: i64,
    /// At least the newest hit plus the window: after this the row says nothing and may be
    /// deleted. (PostgreSQL moves it two windows ahead whenever it would fall short, so most
    /// checks leave it, and its index, alone.)
    pub expires_at: ChronoDateTimeUtc,
    /// When the newest hit was recorded (Unix ms; 0 before the first).
    pub last_hit_at: i64,
    /// The limit the newest check was made against: hits this far behind the newest are no
    /// longer read, and are deleted.
    pub max_hits: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
