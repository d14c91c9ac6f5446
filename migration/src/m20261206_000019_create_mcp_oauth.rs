//! The app as the OAuth 2.1 authorization server of its MCP endpoint: the assistants
//! (clients) it knows, the grants users gave them on the consent page, the single-use
//! authorization codes and the access and refresh tokens. Codes and tokens are stored only
//! as SHA-256 hashes; a grant's `connection_ids` and a client's `redirect_uris` are JSON.
use crate::cols;
use crate::m20261122_000001_create_user::User;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum McpClient {
    Table,
    Id,
    ClientId,
    Kind,
    Name,
    RedirectUris,
    Metadata,
    FetchedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum McpGrant {
    Table,
    Id,
    UserId,
    McpClientId,
    Scopes,
    ConnectionIds,
    CreatedAt,
    LastUsedAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum McpAuthorizationCode {
    Table,
    Id,
    CodeHash,
    McpGrantId,
    RedirectUri,
    CodeChallenge,
    Resource,
    ExpiresAt,
    UsedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum McpToken {
    Table,
    Id,
    TokenHash,
    McpGrantId,
    Kind,
    Scopes,
    Resource,
    ExpiresAt,
    RetiredAt,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(McpClient::Table)
                    .col(cols::id(McpClient::Id))
                    .col(string_len(McpClient::ClientId, 512))
                    .col(string_len(McpClient::Kind, 16))
                    .col(string_len(McpClient::Name, 200))
                    .col(text(McpClient::RedirectUris))
                    .col(text(McpClient::Metadata))
                    .col(cols::ts_null(McpClient::FetchedAt))
                    .col(cols::ts(McpClient::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_mcp_client_client_id")
                    .table(McpClient::Table)
                    .col(McpClient::ClientId)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(McpGrant::Table)
                    .col(cols::id(McpGrant::Id))
                    .col(cols::fk(McpGrant::UserId))
                    .col(cols::fk(McpGrant::McpClientId))
                    .col(string_len(McpGrant::Scopes, 200))
                    .col(text(McpGrant::ConnectionIds))
                    .col(cols::ts(McpGrant::CreatedAt))
                    .col(cols::ts_null(McpGrant::LastUsedAt))
                    .col(cols::ts(McpGrant::ExpiresAt))
                    .col(cols::ts_null(McpGrant::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(McpGrant::Table, McpGrant::UserId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(McpGrant::Table, McpGrant::McpClientId)
                            .to(McpClient::Table, McpClient::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_mcp_grant_user_id")
                    .table(McpGrant::Table)
                    .col(McpGrant::UserId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(McpAuthorizationCode::Table)
                    .col(cols::id(McpAuthorizationCode::Id))
                    .col(string_len_uniq(McpAuthorizationCode::CodeHash, 64))
                    .col(cols::fk(McpAuthorizationCode::McpGrantId))
                    .col(text(McpAuthorizationCode::RedirectUri))
                    .col(string_len(McpAuthorizationCode::CodeChallenge, 128))
                    .col(text(McpAuthorizationCode::Resource))
                    .col(cols::ts(McpAuthorizationCode::ExpiresAt))
                    .col(cols::ts_null(McpAuthorizationCode::UsedAt))
                    .col(cols::ts(McpAuthorizationCode::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                McpAuthorizationCode::Table,
                                McpAuthorizationCode::McpGrantId,
                            )
                            .to(McpGrant::Table, McpGrant::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_mcp_authorization_code_expires_at")
                    .table(McpAuthorizationCode::Table)
                    .col(McpAuthorizationCode::ExpiresAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(McpToken::Table)
                    .col(cols::id(McpToken::Id))
                    .col(string_len_uniq(McpToken::TokenHash, 64))
                    .col(cols::fk(McpToken::McpGrantId))
                    .col(string_len(McpToken::Kind, 16))
                    .col(string_len(McpToken::Scopes, 200))
                    .col(text(McpToken::Resource))
                    .col(cols::ts(McpToken::ExpiresAt))
                    .col(cols::ts_null(McpToken::RetiredAt))
                    .col(cols::ts(McpToken::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(McpToken::Table, McpToken::McpGrantId)
                            .to(McpGrant::Table, McpGrant::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_mcp_token_grant_id")
                    .table(McpToken::Table)
                    .col(McpToken::McpGrantId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_mcp_token_expires_at")
                    .table(McpToken::Table)
                    .col(McpToken::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(McpToken::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(McpAuthorizationCode::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(McpGrant::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(McpClient::Table).to_owned())
            .await
    }
}
