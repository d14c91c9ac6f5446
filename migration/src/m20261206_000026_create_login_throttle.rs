//! Failed sign-ins per account (and per remembered device), so password guessing against one
//! account is slowed in every app process alike, whatever addresses the guesses come from.
use crate::cols;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LoginThrottle {
    Table,
    Id,
    /// SHA-256 of what is throttled (`account:` + the normalised email, or `device:` + a
    /// remembered device's id): the table never holds an email address.
    SubjectHash,
    Failures,
    WindowStartedAt,
    LockedUntil,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LoginThrottle::Table)
                    .col(cols::id(LoginThrottle::Id))
                    .col(string_len_uniq(LoginThrottle::SubjectHash, 64))
                    .col(integer(LoginThrottle::Failures))
                    .col(cols::ts(LoginThrottle::WindowStartedAt))
                    .col(cols::ts_null(LoginThrottle::LockedUntil))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LoginThrottle::Table).to_owned())
            .await
    }
}
