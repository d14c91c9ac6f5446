use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "admin_audit_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The administrator who made the change (kept null if the account is ever deleted).
    pub admin_user_id: Option<i64>,
    /// What was done, e.g. `connector.disable`, `connector_config.update`, `user.deactivate`.
    pub action: String,
    /// `connector`, `connection` or `user`.
    pub target_type: String,
    /// The connector slug or the row id.
    pub target_id: String,
    /// JSON of the state before; secret values as `sha256:` fingerprints only.
    pub before: String,
    /// JSON of the state after; secret values as `sha256:` fingerprints only.
    pub after: String,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
