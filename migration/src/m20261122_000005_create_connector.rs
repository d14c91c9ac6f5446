//! The connector catalog, synced from the registered plugins at start-up.
use crate::cols;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub enum Connector {
    Table,
    Id,
    Slug,
    Name,
    Kind,
    Scoping,
    Icon,
    Description,
    IsEnabled,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Connector::Table)
                    .col(cols::id(Connector::Id))
                    .col(string_len_uniq(Connector::Slug, 64))
                    .col(string_len(Connector::Name, 200))
                    .col(string_len(Connector::Kind, 16))
                    .col(string_len(Connector::Scoping, 32))
                    .col(string_len(Connector::Icon, 64))
                    .col(text(Connector::Description))
                    .col(boolean(Connector::IsEnabled).default(true))
                    .col(cols::ts(Connector::CreatedAt))
                    .col(cols::ts(Connector::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Connector::Table).to_owned())
            .await
    }
}
