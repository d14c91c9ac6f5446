//! Local accounts.
use crate::cols;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub enum User {
    Table,
    Id,
    Email,
    DisplayName,
    PasswordHash,
    IsAdmin,
    IsActive,
    CreatedAt,
    UpdatedAt,
    LastLoginAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(User::Table)
                    .col(cols::id(User::Id))
                    .col(string_len_uniq(User::Email, 254))
                    .col(string_len(User::DisplayName, 200).default(""))
                    .col(string_len(User::PasswordHash, 255))
                    .col(boolean(User::IsAdmin).default(false))
                    .col(boolean(User::IsActive).default(true))
                    .col(cols::ts(User::CreatedAt))
                    .col(cols::ts(User::UpdatedAt))
                    .col(cols::ts_null(User::LastLoginAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(User::Table).to_owned())
            .await
    }
}
