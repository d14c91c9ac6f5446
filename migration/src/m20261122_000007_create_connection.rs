//! A user's authenticated link to a connector. Credentials are a Fernet token; the refresh
//! bookkeeping columns let one process at a time refresh a token (lease + version).
use crate::cols;
use crate::m20261122_000001_create_user::User;
use crate::m20261122_000005_create_connector::Connector;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub enum Connection {
    Table,
    Id,
    UserId,
    ConnectorId,
    Credentials,
    CredentialsVersion,
    Status,
    ServiceIdentity,
    Scopes,
    ExpiresAt,
    LastUsedAt,
    LastRefreshAt,
    RefreshFailures,
    RefreshLeaseUntil,
    LastError,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Connection::Table)
                    .col(cols::id(Connection::Id))
                    .col(cols::fk(Connection::UserId))
                    .col(cols::fk(Connection::ConnectorId))
                    .col(text(Connection::Credentials))
                    .col(big_integer(Connection::CredentialsVersion).default(1))
                    .col(string_len(Connection::Status, 32))
                    .col(string_len_null(Connection::ServiceIdentity, 320))
                    .col(text_null(Connection::Scopes))
                    .col(cols::ts_null(Connection::ExpiresAt))
                    .col(cols::ts_null(Connection::LastUsedAt))
                    .col(cols::ts_null(Connection::LastRefreshAt))
                    .col(integer(Connection::RefreshFailures).default(0))
                    .col(cols::ts_null(Connection::RefreshLeaseUntil))
                    .col(text_null(Connection::LastError))
                    .col(cols::ts(Connection::CreatedAt))
                    .col(cols::ts(Connection::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Connection::Table, Connection::UserId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Connection::Table, Connection::ConnectorId)
                            .to(Connector::Table, Connector::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_connection_user_connector")
                    .table(Connection::Table)
                    .col(Connection::UserId)
                    .col(Connection::ConnectorId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Connection::Table).to_owned())
            .await
    }
}
