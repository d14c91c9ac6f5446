//! One-time links that let the first person create the first admin account.
use crate::cols;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SetupToken {
    Table,
    Id,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SetupToken::Table)
                    .col(cols::id(SetupToken::Id))
                    .col(string_len_uniq(SetupToken::TokenHash, 64))
                    .col(cols::ts(SetupToken::CreatedAt))
                    .col(cols::ts(SetupToken::ExpiresAt))
                    .col(cols::ts_null(SetupToken::UsedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SetupToken::Table).to_owned())
            .await
    }
}
