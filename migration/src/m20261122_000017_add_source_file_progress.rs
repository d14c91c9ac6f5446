//! Import progress: `bytes_received` counts what a cloud import has streamed so far, so the
//! folder page can show "12.0 MiB of 1.0 GiB" while a file is downloading. Direct uploads
//! never set it.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SourceFile {
    Table,
    BytesReceived,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(SourceFile::Table)
                    .add_column(
                        ColumnDef::new(SourceFile::BytesReceived)
                            .big_integer()
                            .null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(SourceFile::Table)
                    .drop_column(SourceFile::BytesReceived)
                    .to_owned(),
            )
            .await
    }
}
