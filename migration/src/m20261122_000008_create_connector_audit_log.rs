//! One row per action execution (and per admin change later). Rows outlive the connection
//! they describe, so the references are nullable and the slug is copied.
use crate::cols;
use crate::m20261122_000001_create_user::User;
use crate::m20261122_000007_create_connection::Connection;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ConnectorAuditLog {
    Table,
    Id,
    ConnectionId,
    UserId,
    ConnectorSlug,
    Action,
    Status,
    Request,
    Error,
    ErrorCode,
    DurationMs,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ConnectorAuditLog::Table)
                    .col(cols::id(ConnectorAuditLog::Id))
                    .col(cols::fk_null(ConnectorAuditLog::ConnectionId))
                    .col(cols::fk_null(ConnectorAuditLog::UserId))
                    .col(string_len(ConnectorAuditLog::ConnectorSlug, 64))
                    .col(string_len(ConnectorAuditLog::Action, 128))
                    .col(string_len(ConnectorAuditLog::Status, 16))
                    .col(text(ConnectorAuditLog::Request))
                    .col(text_null(ConnectorAuditLog::Error))
                    .col(string_len_null(ConnectorAuditLog::ErrorCode, 64))
                    .col(big_integer(ConnectorAuditLog::DurationMs))
                    .col(cols::ts(ConnectorAuditLog::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ConnectorAuditLog::Table, ConnectorAuditLog::ConnectionId)
                            .to(Connection::Table, Connection::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ConnectorAuditLog::Table, ConnectorAuditLog::UserId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("idx_audit_created_at", ConnectorAuditLog::CreatedAt),
            ("idx_audit_user_id", ConnectorAuditLog::UserId),
            ("idx_audit_connection_id", ConnectorAuditLog::ConnectionId),
            ("idx_audit_connector_slug", ConnectorAuditLog::ConnectorSlug),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(ConnectorAuditLog::Table)
                        .col(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ConnectorAuditLog::Table).to_owned())
            .await
    }
}
