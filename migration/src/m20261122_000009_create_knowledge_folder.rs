//! A user's knowledge folders (names unique per owner).
use crate::cols;
use crate::m20261122_000001_create_user::User;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub enum KnowledgeFolder {
    Table,
    Id,
    UserId,
    Name,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(KnowledgeFolder::Table)
                    .col(cols::id(KnowledgeFolder::Id))
                    .col(cols::fk(KnowledgeFolder::UserId))
                    .col(string_len(KnowledgeFolder::Name, 200))
                    .col(cols::ts(KnowledgeFolder::CreatedAt))
                    .col(cols::ts(KnowledgeFolder::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(KnowledgeFolder::Table, KnowledgeFolder::UserId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_knowledge_folder_user_name")
                    .table(KnowledgeFolder::Table)
                    .col(KnowledgeFolder::UserId)
                    .col(KnowledgeFolder::Name)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(KnowledgeFolder::Table).to_owned())
            .await
    }
}
