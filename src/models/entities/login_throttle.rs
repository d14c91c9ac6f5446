use sea_orm::entity::prelude::*;

/// Failed sign-ins against one account or one remembered device (see
/// `services::login_throttle`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "login_throttle")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// SHA-256 (hex) of the throttled subject; never the email itself.
    #[sea_orm(unique)]
    pub subject_hash: String,
    /// Failures since `window_started_at`.
    pub failures: i32,
    pub window_started_at: ChronoDateTimeUtc,
    /// Sign-ins for the subject are refused until then.
    pub locked_until: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
