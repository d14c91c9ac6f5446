//! Personal access tokens (`campuscore token create`) for the JSON API and MCP. The token is
//! shown once; only its SHA-256 is stored.

use crate::crypto::{random_token, sha256_hex};
use crate::error::AppResult;
use crate::models::entities::user;
use crate::models::{api_tokens, users};
use sea_orm::DatabaseConnection;

/// Prefix that makes the tokens recognizable (e.g. by secret scanners).
pub const PREFIX: &str = "ccpat_";

/// Create a token for `user_id` and return it in clear (the only time it is visible).
pub async fn create(db: &DatabaseConnection, user_id: i64, name: &str) -> AppResult<String> {
    let token = format!("{PREFIX}{}", random_token(32));
    api_tokens::insert(db, user_id, name, sha256_hex(&token)).await?;
    Ok(token)
}

/// The active user a token belongs to, if the token is valid and not revoked.
pub async fn authenticate(db: &DatabaseConnection, token: &str) -> AppResult<Option<user::Model>> {
    let Some(row) = api_tokens::find_active_by_hash(db, &sha256_hex(token)).await? else {
        return Ok(None);
    };
    api_tokens::touch(db, row.id).await?;
    Ok(users::find(db, row.user_id).await?.filter(|u| u.is_active))
}
