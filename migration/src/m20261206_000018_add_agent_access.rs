//! Agent access. Personal access tokens gain scopes (`api`, `mcp`) and an expiry; tokens made
//! before this migration keep working as what they were (JSON API tokens) for 90 more days.
//! Audit rows record the channel an action came through (`web`, `api`, `agent`, `mcp`,
//! `worker`) and the client. Write tools reach agents only where an administrator allows it
//! for the connector and the user for the connection: both flags start off.
use crate::cols;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::prelude::{ChronoDateTimeUtc, ChronoUtc};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ApiToken {
    Table,
    Scopes,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum ConnectorAuditLog {
    Table,
    Channel,
    Client,
}

#[derive(DeriveIden)]
enum Connector {
    Table,
    AgentWrites,
}

#[derive(DeriveIden)]
enum Connection {
    Table,
    AgentWrites,
}

/// How long tokens made before scopes existed stay valid.
const LEGACY_TOKEN_DAYS: u64 = 90;

/// One column per statement: SQLite adds one column per `ALTER TABLE`.
fn add(table: impl IntoIden, column: ColumnDef) -> TableAlterStatement {
    Table::alter().table(table).add_column(column).to_owned()
}

fn drop_column(table: impl IntoIden, column: impl IntoIden) -> TableAlterStatement {
    Table::alter().table(table).drop_column(column).to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let changes = [
            add(
                ApiToken::Table,
                ColumnDef::new(ApiToken::Scopes)
                    .string()
                    .not_null()
                    .default("api")
                    .to_owned(),
            ),
            add(ApiToken::Table, cols::ts_null(ApiToken::ExpiresAt)),
            add(
                ConnectorAuditLog::Table,
                ColumnDef::new(ConnectorAuditLog::Channel)
                    .string()
                    .not_null()
                    .default("web")
                    .to_owned(),
            ),
            add(
                ConnectorAuditLog::Table,
                ColumnDef::new(ConnectorAuditLog::Client)
                    .string()
                    .null()
                    .to_owned(),
            ),
            add(
                Connector::Table,
                ColumnDef::new(Connector::AgentWrites)
                    .boolean()
                    .not_null()
                    .default(false)
                    .to_owned(),
            ),
            add(
                Connection::Table,
                ColumnDef::new(Connection::AgentWrites)
                    .boolean()
                    .not_null()
                    .default(false)
                    .to_owned(),
            ),
        ];
        for change in changes {
            manager.alter_table(change).await?;
        }
        let until: ChronoDateTimeUtc =
            ChronoUtc::now() + std::time::Duration::from_secs(LEGACY_TOKEN_DAYS * 86_400);
        manager
            .exec_stmt(
                Query::update()
                    .table(ApiToken::Table)
                    .value(ApiToken::ExpiresAt, until)
                    .and_where(Expr::col(ApiToken::ExpiresAt).is_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let changes = [
            drop_column(Connection::Table, Connection::AgentWrites),
            drop_column(Connector::Table, Connector::AgentWrites),
            drop_column(ConnectorAuditLog::Table, ConnectorAuditLog::Client),
            drop_column(ConnectorAuditLog::Table, ConnectorAuditLog::Channel),
            drop_column(ApiToken::Table, ApiToken::ExpiresAt),
            drop_column(ApiToken::Table, ApiToken::Scopes),
        ];
        for change in changes {
            manager.alter_table(change).await?;
        }
        Ok(())
    }
}
