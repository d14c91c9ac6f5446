//! Pending OAuth authorizations: one row per started flow, deleted when it completes. The
//! `state` is stored only as a SHA-256 hash, the PKCE verifier as a Fernet token, and each
//! row is bound to the user and (for browser flows) the session that started it.
use crate::cols;
use crate::m20261122_000001_create_user::User;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OauthState {
    Table,
    Id,
    StateHash,
    UserId,
    ConnectorSlug,
    SessionBinding,
    PkceVerifier,
    RedirectUri,
    ReconnectConnectionId,
    ExpiresAt,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OauthState::Table)
                    .col(cols::id(OauthState::Id))
                    .col(string_len_uniq(OauthState::StateHash, 64))
                    .col(cols::fk(OauthState::UserId))
                    .col(string_len(OauthState::ConnectorSlug, 64))
                    .col(string_len_null(OauthState::SessionBinding, 64))
                    .col(text(OauthState::PkceVerifier))
                    .col(text(OauthState::RedirectUri))
                    .col(cols::fk_null(OauthState::ReconnectConnectionId))
                    .col(cols::ts(OauthState::ExpiresAt))
                    .col(cols::ts(OauthState::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(OauthState::Table, OauthState::UserId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_oauth_state_expires_at")
                    .table(OauthState::Table)
                    .col(OauthState::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OauthState::Table).to_owned())
            .await
    }
}
