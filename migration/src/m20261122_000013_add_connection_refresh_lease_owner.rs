//! Who holds a connection's refresh lease: only the holder may write the refreshed tokens
//! back or release the lease, so a slow refresher whose lease lapsed cannot clobber another's.
use crate::m20261122_000007_create_connection::Connection;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Lease {
    RefreshLeaseOwner,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Connection::Table)
                    .add_column(string_len_null(Lease::RefreshLeaseOwner, 64))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Connection::Table)
                    .drop_column(Lease::RefreshLeaseOwner)
                    .to_owned(),
            )
            .await
    }
}
