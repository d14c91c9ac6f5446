//! Personal access tokens (`campuscore token create`) for the JSON API and MCP. The token is
//! shown once; only its SHA-256 is stored.

use crate::crypto::{random_token, sha256_hex};
use crate::error::AppResult;
use crate::models::entities::{api_token, user};
use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

/// Prefix that makes the tokens recognizable (e.g. by secret scanners).
pub const PREFIX: &str = "ccpat_";

/// Create a token for `user_id` and return it in clear (the only time it is visible).
pub async fn create(db: &DatabaseConnection, user_id: i64, name: &str) -> AppResult<String> {
    let token = format!("{PREFIX}{}", random_token(32));
    api_token::Entity::insert(api_token::ActiveModel {
        user_id: Set(user_id),
        name: Set(name.to_owned()),
        token_hash: Set(sha256_hex(&token)),
        created_at: Set(Utc::now()),
        ..Default::default()
    })
    .exec(db)
    .await?;
    Ok(token)
}

/// The active user a token belongs to, if the token is valid and not revoked.
pub async fn authenticate(db: &DatabaseConnection, token: &str) -> AppResult<Option<user::Model>> {
    let Some(row) = api_token::Entity::find()
        .filter(api_token::Column::TokenHash.eq(sha256_hex(token)))
        .filter(api_token::Column::RevokedAt.is_null())
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    api_token::Entity::update_many()
        .col_expr(api_token::Column::LastUsedAt, Expr::value(Utc::now()))
        .filter(api_token::Column::Id.eq(row.id))
        .exec(db)
        .await?;
    Ok(user::Entity::find_by_id(row.user_id)
        .one(db)
        .await?
        .filter(|u| u.is_active))
}
