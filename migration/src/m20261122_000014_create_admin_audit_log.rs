//! One row per change an administrator makes on the admin pages (who, what, before/after).
//! Secret values never appear: they are recorded as `sha256:` fingerprints.
use crate::cols;
use crate::m20261122_000001_create_user::User;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AdminAuditLog {
    Table,
    Id,
    AdminUserId,
    Action,
    TargetType,
    TargetId,
    Before,
    After,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AdminAuditLog::Table)
                    .col(cols::id(AdminAuditLog::Id))
                    .col(cols::fk_null(AdminAuditLog::AdminUserId))
                    .col(string_len(AdminAuditLog::Action, 64))
                    .col(string_len(AdminAuditLog::TargetType, 32))
                    .col(string_len(AdminAuditLog::TargetId, 128))
                    .col(text(AdminAuditLog::Before))
                    .col(text(AdminAuditLog::After))
                    .col(cols::ts(AdminAuditLog::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(AdminAuditLog::Table, AdminAuditLog::AdminUserId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            (
                "idx_admin_audit_target",
                vec![AdminAuditLog::TargetType, AdminAuditLog::TargetId],
            ),
            ("idx_admin_audit_admin", vec![AdminAuditLog::AdminUserId]),
        ] {
            let mut index = Index::create();
            index.name(name).table(AdminAuditLog::Table);
            for c in cols {
                index.col(c);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AdminAuditLog::Table).to_owned())
            .await
    }
}
