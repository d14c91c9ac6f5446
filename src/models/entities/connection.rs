use crate::models::status::ConnectionStatus;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "connection")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    pub connector_id: i64,
    /// Fernet token of the credentials JSON (never a TTL).
    pub credentials: String,
    /// Bumped on every credentials write: the compare-and-swap guard for refreshes.
    pub credentials_version: i64,
    pub status: ConnectionStatus,
    pub service_identity: Option<String>,
    pub scopes: Option<String>,
    pub expires_at: Option<ChronoDateTimeUtc>,
    pub last_used_at: Option<ChronoDateTimeUtc>,
    pub last_refresh_at: Option<ChronoDateTimeUtc>,
    pub refresh_failures: i32,
    pub refresh_lease_until: Option<ChronoDateTimeUtc>,
    /// Random id of the refresher holding the lease (see `services::token_refresh`).
    pub refresh_lease_owner: Option<String>,
    pub last_error: Option<String>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
    /// Whether the user lets assistants make changes through this connection.
    pub agent_writes: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The catalog row of the connection's service (read together in one query).
    #[sea_orm(
        belongs_to = "super::connector::Entity",
        from = "Column::ConnectorId",
        to = "super::connector::Column::Id"
    )]
    Connector,
}

impl Related<super::connector::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Connector.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
