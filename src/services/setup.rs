//! The one-time setup link: while no account exists, start-up prints a link that lets one
//! person create the first admin account. Only the token's hash is stored; creating the
//! account uses the token up, and any newer link replaces older ones.

use crate::crypto::{random_token, sha256_hex};
use crate::error::{AppError, AppResult};
use crate::models::entities::{setup_token, user};
use crate::models::{setup_tokens, users};
use chrono::Utc;
use sea_orm::{DatabaseConnection, TransactionTrait};

/// How long a setup link stays valid.
pub const VALIDITY: chrono::Duration = chrono::Duration::hours(1);

/// Issue a new setup token (invalidating older unused ones) and return it in clear.
pub async fn issue(db: &DatabaseConnection) -> AppResult<String> {
    let token = random_token(32);
    let now = Utc::now();
    let txn = db.begin().await?;
    setup_tokens::expire_unused(&txn, now).await?;
    setup_tokens::insert(&txn, sha256_hex(&token), now, now + VALIDITY).await?;
    txn.commit().await?;
    Ok(token)
}

/// Check a token: unknown → 404, used or expired or accounts already exist → 410.
pub async fn check(db: &DatabaseConnection, token: &str) -> AppResult<setup_token::Model> {
    let row = setup_tokens::find_by_hash(db, &sha256_hex(token))
        .await?
        .ok_or(AppError::NotFound)?;
    if row.used_at.is_some() || users::count(db).await? > 0 {
        return Err(AppError::Gone(
            "This setup link has already been used. Log in with the account it created.".into(),
        ));
    }
    if row.expires_at <= Utc::now() {
        return Err(AppError::Gone(
            "This setup link has expired. Restart the server to print a new one, or run \
             `campuscore createuser --email … --admin`."
                .into(),
        ));
    }
    Ok(row)
}

/// Create the first admin with a valid token, using the token up in the same transaction.
pub async fn complete(
    db: &DatabaseConnection,
    token: &str,
    email: &str,
    password: &str,
) -> AppResult<user::Model> {
    let row = check(db, token).await?;
    let txn = db.begin().await?;
    if !setup_tokens::mark_used(&txn, row.id).await? {
        return Err(AppError::Gone(
            "This setup link has already been used.".into(),
        ));
    }
    let admin = users::create(&txn, email, password, true).await?;
    txn.commit().await?;
    tracing::info!(
        user.id = admin.id,
        "first admin account created through the setup link"
    );
    Ok(admin)
}
