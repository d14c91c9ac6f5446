//! Admin-managed key/values per connector; secret values hold Fernet tokens.
use crate::cols;
use crate::m20261122_000005_create_connector::Connector;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ConnectorConfig {
    Table,
    Id,
    ConnectorId,
    Key,
    Value,
    IsSecret,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ConnectorConfig::Table)
                    .col(cols::id(ConnectorConfig::Id))
                    .col(cols::fk(ConnectorConfig::ConnectorId))
                    .col(string_len(ConnectorConfig::Key, 128))
                    .col(text(ConnectorConfig::Value))
                    .col(boolean(ConnectorConfig::IsSecret).default(false))
                    .col(cols::ts(ConnectorConfig::CreatedAt))
                    .col(cols::ts(ConnectorConfig::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ConnectorConfig::Table, ConnectorConfig::ConnectorId)
                            .to(Connector::Table, Connector::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_connector_config_connector_key")
                    .table(ConnectorConfig::Table)
                    .col(ConnectorConfig::ConnectorId)
                    .col(ConnectorConfig::Key)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ConnectorConfig::Table).to_owned())
            .await
    }
}
