//! Files in knowledge folders, uploaded directly or imported from a connector. The
//! idempotency key (unique) makes a re-import of the same upstream revision a no-op.
use crate::cols;
use crate::m20261122_000001_create_user::User;
use crate::m20261122_000009_create_knowledge_folder::KnowledgeFolder;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SourceFile {
    Table,
    Id,
    Uuid,
    KnowledgeFolderId,
    UserId,
    Name,
    MimeType,
    SizeBytes,
    Sha256,
    StorageKey,
    Status,
    Origin,
    OriginRef,
    IdempotencyKey,
    Error,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SourceFile::Table)
                    .col(cols::id(SourceFile::Id))
                    .col(string_len_uniq(SourceFile::Uuid, 36))
                    .col(cols::fk(SourceFile::KnowledgeFolderId))
                    .col(cols::fk(SourceFile::UserId))
                    .col(string_len(SourceFile::Name, 255))
                    .col(string_len(SourceFile::MimeType, 255))
                    .col(big_integer(SourceFile::SizeBytes))
                    .col(string_len_null(SourceFile::Sha256, 64))
                    .col(string_len(SourceFile::StorageKey, 1024))
                    .col(string_len(SourceFile::Status, 32))
                    .col(string_len(SourceFile::Origin, 64))
                    .col(text_null(SourceFile::OriginRef))
                    .col(string_len_uniq(SourceFile::IdempotencyKey, 128).null())
                    .col(text_null(SourceFile::Error))
                    .col(cols::ts(SourceFile::CreatedAt))
                    .col(cols::ts(SourceFile::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SourceFile::Table, SourceFile::KnowledgeFolderId)
                            .to(KnowledgeFolder::Table, KnowledgeFolder::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(SourceFile::Table, SourceFile::UserId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_source_file_folder")
                    .table(SourceFile::Table)
                    .col(SourceFile::KnowledgeFolderId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SourceFile::Table).to_owned())
            .await
    }
}
