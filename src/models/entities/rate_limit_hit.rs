use sea_orm::entity::prelude::*;

/// One hit against a `rate_limit` row, numbered in the order the row recorded it (see
/// `services::rate_limits`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rate_limit_hit")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub rate_limit_id: i64,
    /// The row's `next_seq` when the hit was recorded; unique together with `rate_limit_id`.
    pub seq: i64,
    /// How many hits the row stands for, numbered `seq ..= seq + hits - 1` (one check can
    /// take several at once).
    pub hits: i64,
    /// When, in Unix milliseconds.
    pub hit_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
