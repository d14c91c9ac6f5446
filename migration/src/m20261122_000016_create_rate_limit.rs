//! Per-user rate limits: one row per (user, named limit) holding that limit's sliding log of
//! recent hits. Every process updates it with a compare-and-swap, so the limit holds across
//! restarts and across app processes sharing the database. `expires_at` (the newest hit plus
//! the window) lets fully expired rows be deleted with one index range scan.
use crate::cols;
use crate::m20261122_000001_create_user::User;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RateLimit {
    Table,
    Id,
    UserId,
    Name,
    Hits,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RateLimit::Table)
                    .col(cols::id(RateLimit::Id))
                    .col(cols::fk(RateLimit::UserId))
                    .col(string_len(RateLimit::Name, 64))
                    .col(text(RateLimit::Hits))
                    .col(cols::ts(RateLimit::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(RateLimit::Table, RateLimit::UserId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_rate_limit_user_name")
                    .table(RateLimit::Table)
                    .col(RateLimit::UserId)
                    .col(RateLimit::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_rate_limit_expires_at")
                    .table(RateLimit::Table)
                    .col(RateLimit::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RateLimit::Table).to_owned())
            .await
    }
}
