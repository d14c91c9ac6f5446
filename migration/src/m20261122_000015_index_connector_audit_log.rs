//! Indexes for the admin audit-log page at a million rows and more. The page lists newest
//! first and pages with a keyset cursor on `(created_at, id)`, never OFFSET; each equality
//! filter (user, connector, action, status) has an index that starts with that column and
//! continues with `(created_at, id)`, so "filter + date range + cursor" is one index range
//! scan that stops after a page. The single-column indexes on `created_at`, `user_id` and
//! `connector_slug` are prefixes of the new ones and are dropped (`down` restores them).
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum ConnectorAuditLog {
    Table,
    Id,
    UserId,
    ConnectorSlug,
    Action,
    Status,
    CreatedAt,
}

use ConnectorAuditLog as L;

fn new_indexes() -> Vec<(&'static str, Vec<ConnectorAuditLog>)> {
    vec![
        ("idx_audit_created_id", vec![L::CreatedAt, L::Id]),
        (
            "idx_audit_user_created",
            vec![L::UserId, L::CreatedAt, L::Id],
        ),
        (
            "idx_audit_slug_created",
            vec![L::ConnectorSlug, L::CreatedAt, L::Id],
        ),
        (
            "idx_audit_action_created",
            vec![L::Action, L::CreatedAt, L::Id],
        ),
        (
            "idx_audit_status_created",
            vec![L::Status, L::CreatedAt, L::Id],
        ),
    ]
}

fn old_indexes() -> Vec<(&'static str, ConnectorAuditLog)> {
    vec![
        ("idx_audit_created_at", L::CreatedAt),
        ("idx_audit_user_id", L::UserId),
        ("idx_audit_connector_slug", L::ConnectorSlug),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, cols) in new_indexes() {
            let mut index = Index::create();
            index.name(name).table(L::Table);
            for c in cols {
                index.col(c);
            }
            manager.create_index(index.to_owned()).await?;
        }
        for (name, _) in old_indexes() {
            manager
                .drop_index(Index::drop().name(name).table(L::Table).to_owned())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, col) in old_indexes() {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(L::Table)
                        .col(col)
                        .to_owned(),
                )
                .await?;
        }
        for (name, _) in new_indexes() {
            manager
                .drop_index(Index::drop().name(name).table(L::Table).to_owned())
                .await?;
        }
        Ok(())
    }
}
