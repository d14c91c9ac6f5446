//! Secrets of the app itself that every instance must share, each stored as a Fernet token:
//! today the key that signs and encrypts session cookies, so a Fernet key rotation (which
//! re-encrypts this row) no longer signs everyone out.
use crate::cols;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AppSecret {
    Table,
    Id,
    Name,
    Value,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AppSecret::Table)
                    .col(cols::id(AppSecret::Id))
                    .col(string_len_uniq(AppSecret::Name, 64))
                    .col(text(AppSecret::Value))
                    .col(cols::ts(AppSecret::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AppSecret::Table).to_owned())
            .await
    }
}
