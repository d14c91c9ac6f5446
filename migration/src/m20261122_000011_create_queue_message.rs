//! The embedded queue: an outbox table written in the same transaction as the change it
//! announces, drained by an in-process worker (lease + attempts + dead-lettering).
use crate::cols;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum QueueMessage {
    Table,
    Id,
    Queue,
    MessageType,
    Payload,
    DedupKey,
    Status,
    Attempts,
    AvailableAt,
    LockedUntil,
    LastError,
    CreatedAt,
    ProcessedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(QueueMessage::Table)
                    .col(cols::id(QueueMessage::Id))
                    .col(string_len(QueueMessage::Queue, 64))
                    .col(string_len(QueueMessage::MessageType, 128))
                    .col(text(QueueMessage::Payload))
                    .col(string_len_uniq(QueueMessage::DedupKey, 191).null())
                    .col(string_len(QueueMessage::Status, 16))
                    .col(integer(QueueMessage::Attempts).default(0))
                    .col(cols::ts(QueueMessage::AvailableAt))
                    .col(cols::ts_null(QueueMessage::LockedUntil))
                    .col(text_null(QueueMessage::LastError))
                    .col(cols::ts(QueueMessage::CreatedAt))
                    .col(cols::ts_null(QueueMessage::ProcessedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_queue_message_ready")
                    .table(QueueMessage::Table)
                    .col(QueueMessage::Queue)
                    .col(QueueMessage::Status)
                    .col(QueueMessage::AvailableAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(QueueMessage::Table).to_owned())
            .await
    }
}
