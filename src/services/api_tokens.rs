//! Personal access tokens for the JSON API and the MCP endpoint (`campuscore token create`,
//! the list on `/settings`). A token carries scopes (`api`, `mcp`) and an expiry; only its
//! SHA-256 is stored, and the token itself is shown once.

use crate::crypto::{random_token, sha256_hex};
use crate::error::{AppError, AppResult};
use crate::models::entities::{api_token, user};
use crate::models::{api_tokens, users};
use chrono::{Duration, Utc};
use sea_orm::DatabaseConnection;
use std::fmt;

/// Prefix that makes the tokens recognizable (e.g. by secret scanners).
pub const PREFIX: &str = "ccpat_";
/// How long a token lives unless its creator says otherwise.
pub const DEFAULT_DAYS: u32 = 90;
/// The longest life a token may be given.
pub const MAX_DAYS: u32 = 366;

/// What a token may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// The JSON API under `/api/v1/` (never the admin pages).
    Api,
    /// The MCP endpoint `/mcp`.
    Mcp,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Mcp => "mcp",
        }
    }

    /// `api,mcp` → both; an unknown name is an error naming it.
    pub fn parse_list(text: &str) -> Result<Vec<Scope>, String> {
        let mut scopes = Vec::new();
        for name in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let scope = match name {
                "api" => Scope::Api,
                "mcp" => Scope::Mcp,
                other => return Err(format!("unknown scope {other:?} (use api, mcp)")),
            };
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        if scopes.is_empty() {
            return Err("give at least one scope (api, mcp)".into());
        }
        scopes.sort();
        Ok(scopes)
    }

    /// The scopes a stored row grants (unknown names are ignored).
    pub fn of(row: &api_token::Model) -> Vec<Scope> {
        Scope::parse_list(&row.scopes).unwrap_or_default()
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A token to create.
pub struct NewToken<'a> {
    pub name: &'a str,
    pub scopes: &'a [Scope],
    /// Days until it expires (1 to [`MAX_DAYS`]).
    pub days: u32,
}

/// Create a token for `user_id`: the stored row and the token in clear (the only time it is
/// visible).
pub async fn create(
    db: &DatabaseConnection,
    user_id: i64,
    new: NewToken<'_>,
) -> AppResult<(api_token::Model, String)> {
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::BadRequest(
            "Give the token a name of 1 to 100 characters.".into(),
        ));
    }
    if new.scopes.is_empty() {
        return Err(AppError::BadRequest(
            "Give the token at least one scope.".into(),
        ));
    }
    if !(1..=MAX_DAYS).contains(&new.days) {
        return Err(AppError::BadRequest(format!(
            "A token lives 1 to {MAX_DAYS} days."
        )));
    }
    let token = format!("{PREFIX}{}", random_token(32));
    let scopes: Vec<&str> = new.scopes.iter().map(|s| s.as_str()).collect();
    let row = api_tokens::insert(
        db,
        api_tokens::NewApiToken {
            user_id,
            name: name.to_owned(),
            token_hash: sha256_hex(&token),
            scopes: scopes.join(","),
            expires_at: Utc::now() + Duration::days(i64::from(new.days)),
        },
    )
    .await?;
    Ok((row, token))
}

/// A token that was accepted: whose it is and which token (for the audit's client).
#[derive(Clone, Debug)]
pub struct Authenticated {
    pub user: user::Model,
    pub token: api_token::Model,
}

/// The active user a token belongs to, if the token is valid for `scope`: known, not revoked,
/// not expired, and granted that scope.
pub async fn authenticate(
    db: &DatabaseConnection,
    token: &str,
    scope: Scope,
) -> AppResult<Option<Authenticated>> {
    let Some(row) = api_tokens::find_active_by_hash(db, &sha256_hex(token)).await? else {
        return Ok(None);
    };
    if row.expires_at.is_some_and(|at| at <= Utc::now()) || !Scope::of(&row).contains(&scope) {
        return Ok(None);
    }
    api_tokens::touch(db, row.id).await?;
    let user = users::find(db, row.user_id).await?.filter(|u| u.is_active);
    Ok(user.map(|user| Authenticated { user, token: row }))
}

/// The user's tokens that are not revoked, newest first (expired ones included, so the
/// list says they expired).
pub async fn list(db: &DatabaseConnection, user_id: i64) -> AppResult<Vec<api_token::Model>> {
    Ok(api_tokens::list_for_user(db, user_id).await?)
}

/// Every token of the account with email `email` (for the command line).
pub async fn list_by_email(
    db: &DatabaseConnection,
    email: &str,
) -> AppResult<(user::Model, Vec<api_token::Model>)> {
    let user = users::find_by_email(db, email)
        .await?
        .ok_or(AppError::NotFound)?;
    let tokens = list(db, user.id).await?;
    Ok((user, tokens))
}

/// Revokes token `id`; `owner` limits it to that user's tokens (anyone else's is `NotFound`),
/// `None` is the command line's revoke of any token.
pub async fn revoke(db: &DatabaseConnection, owner: Option<i64>, id: i64) -> AppResult<()> {
    if api_tokens::revoke(db, owner, id).await? {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}
