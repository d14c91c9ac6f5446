//! `connector.config_version`: a counter moved in the same transaction as every change to the
//! connector's `connector_config` rows (set, removal, key rotation). A process caches the
//! connector's decrypted settings under the version it read, and reads the version with the
//! connector row on every request, so every process notices a change on its next request
//! without re-reading and re-decrypting the config each time.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Connector {
    Table,
    ConfigVersion,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Connector::Table)
                    .add_column(
                        ColumnDef::new(Connector::ConfigVersion)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Connector::Table)
                    .drop_column(Connector::ConfigVersion)
                    .to_owned(),
            )
            .await
    }
}
