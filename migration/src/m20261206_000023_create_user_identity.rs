//! Campus sign-in (OpenID Connect): `user_identity` maps a provider's (`iss`, `sub`) to an
//! account; `oidc_flow` holds a started sign-in (state, nonce and PKCE verifier, bound to the
//! browser session, single-use, expiring); `oidc_logout_jti` remembers the back-channel
//! logout tokens already used, so a replay is refused; `signin_link` holds the one-time
//! break-glass links the CLI makes when passwords are switched off.
use crate::cols;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum User {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum UserIdentity {
    Table,
    Id,
    Iss,
    Sub,
    UserId,
    LastSid,
    CreatedAt,
    LastLoginAt,
}

#[derive(DeriveIden)]
enum OidcFlow {
    Table,
    Id,
    StateHash,
    SessionBinding,
    NonceHash,
    PkceVerifier,
    NextPath,
    ExpiresAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OidcLogoutJti {
    Table,
    Id,
    JtiHash,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum SigninLink {
    Table,
    Id,
    TokenHash,
    UserId,
    ExpiresAt,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UserIdentity::Table)
                    .col(cols::id(UserIdentity::Id))
                    .col(string_len(UserIdentity::Iss, 512))
                    .col(string_len(UserIdentity::Sub, 255))
                    .col(cols::fk(UserIdentity::UserId))
                    .col(string_len_null(UserIdentity::LastSid, 255))
                    .col(cols::ts(UserIdentity::CreatedAt))
                    .col(cols::ts_null(UserIdentity::LastLoginAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(UserIdentity::Table, UserIdentity::UserId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_user_identity_iss_sub")
                    .table(UserIdentity::Table)
                    .col(UserIdentity::Iss)
                    .col(UserIdentity::Sub)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_user_identity_user_id")
                    .table(UserIdentity::Table)
                    .col(UserIdentity::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OidcFlow::Table)
                    .col(cols::id(OidcFlow::Id))
                    .col(string_len_uniq(OidcFlow::StateHash, 64))
                    .col(string_len(OidcFlow::SessionBinding, 64))
                    .col(string_len(OidcFlow::NonceHash, 64))
                    .col(text(OidcFlow::PkceVerifier))
                    .col(text(OidcFlow::NextPath))
                    .col(cols::ts(OidcFlow::ExpiresAt))
                    .col(cols::ts(OidcFlow::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OidcLogoutJti::Table)
                    .col(cols::id(OidcLogoutJti::Id))
                    .col(string_len_uniq(OidcLogoutJti::JtiHash, 64))
                    .col(cols::ts(OidcLogoutJti::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SigninLink::Table)
                    .col(cols::id(SigninLink::Id))
                    .col(string_len_uniq(SigninLink::TokenHash, 64))
                    .col(cols::fk(SigninLink::UserId))
                    .col(cols::ts(SigninLink::ExpiresAt))
                    .col(cols::ts(SigninLink::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SigninLink::Table, SigninLink::UserId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            SigninLink::Table.into_iden(),
            OidcLogoutJti::Table.into_iden(),
            OidcFlow::Table.into_iden(),
            UserIdentity::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
