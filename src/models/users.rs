//! Accounts: creation (CLI, setup link), lookup by email.

use super::entities::user;
use super::names::Email;
use crate::crypto::password;
use crate::error::{AppError, AppResult};
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter,
};
use std::collections::BTreeMap;

/// Shortest password we accept.
pub const MIN_PASSWORD_LEN: usize = 10;

/// Normalize an email for storage and lookup.
pub fn normalize_email(email: &str) -> String {
    Email::parse(email).map_or_else(|_| email.trim().to_lowercase(), |e| e.to_string())
}

/// Check email and password, collecting a message per field.
pub fn check_credentials(email: &str, password: &str) -> Result<(), BTreeMap<String, String>> {
    let mut errors = BTreeMap::new();
    if let Err(message) = Email::parse(email) {
        errors.insert("email".into(), message);
    }
    if password.chars().count() < MIN_PASSWORD_LEN {
        errors.insert(
            "password".into(),
            format!("Use at least {MIN_PASSWORD_LEN} characters."),
        );
    } else if password.len() > 1024 {
        errors.insert("password".into(), "Use at most 1024 characters.".into());
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

pub async fn find_by_email<C: ConnectionTrait>(
    db: &C,
    email: &str,
) -> AppResult<Option<user::Model>> {
    Ok(user::Entity::find()
        .filter(user::Column::Email.eq(normalize_email(email)))
        .one(db)
        .await?)
}

pub async fn count<C: ConnectionTrait>(db: &C) -> AppResult<u64> {
    Ok(user::Entity::find().count(db).await?)
}

/// Create an account after validating it; a taken email is a field error.
pub async fn create<C: ConnectionTrait>(
    db: &C,
    email: &str,
    password: &str,
    is_admin: bool,
) -> AppResult<user::Model> {
    let email = normalize_email(email);
    check_credentials(&email, password).map_err(AppError::Invalid)?;
    if find_by_email(db, &email).await?.is_some() {
        let mut e = BTreeMap::new();
        e.insert(
            "email".into(),
            "An account with this email already exists.".into(),
        );
        return Err(AppError::Invalid(e));
    }
    let hash = password::hash(password).await?;
    let now = Utc::now();
    Ok(user::ActiveModel {
        email: Set(email),
        display_name: Set(String::new()),
        password_hash: Set(hash),
        is_admin: Set(is_admin),
        is_active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        last_login_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

/// Grant or withdraw administrator rights; returns the updated account.
pub async fn set_admin<C: ConnectionTrait>(
    db: &C,
    user: user::Model,
    is_admin: bool,
) -> AppResult<user::Model> {
    let mut active: user::ActiveModel = user.into();
    active.is_admin = Set(is_admin);
    active.updated_at = Set(Utc::now());
    Ok(active.update(db).await?)
}

/// Activate or deactivate an account; returns the updated account. Ending the sessions of a
/// deactivated account is the caller's job (`auth::session_store::end_all_sessions`).
pub async fn set_active<C: ConnectionTrait>(
    db: &C,
    user: user::Model,
    is_active: bool,
) -> AppResult<user::Model> {
    let mut active: user::ActiveModel = user.into();
    active.is_active = Set(is_active);
    active.updated_at = Set(Utc::now());
    Ok(active.update(db).await?)
}
