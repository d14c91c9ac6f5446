//! Accounts (`user`): creation (CLI, setup link), lookup, login bookkeeping, and the counts
//! and searches of the admin pages.

use super::entities::user;
use super::keyset::{self, Keyset, Order, Window};
use super::names::Email;
use super::search::{ilike, like_pattern};
use crate::crypto::password;
use crate::error::{AppError, AppResult};
use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr,
    EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
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

/// The account with this email (normalized first).
pub async fn find_by_email<C: ConnectionTrait>(
    db: &C,
    email: &str,
) -> AppResult<Option<user::Model>> {
    Ok(user::Entity::find()
        .filter(user::Column::Email.eq(normalize_email(email)))
        .one(db)
        .await?)
}

/// How many accounts there are.
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

/// The account `id`, active or not.
pub async fn find(db: &impl ConnectionTrait, id: i64) -> Result<Option<user::Model>, DbErr> {
    user::Entity::find_by_id(id).one(db).await
}

/// Records a login now.
pub async fn touch_last_login(db: &impl ConnectionTrait, id: i64) -> Result<(), DbErr> {
    user::Entity::update_many()
        .col_expr(user::Column::LastLoginAt, Expr::value(Utc::now()))
        .filter(user::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Replaces the account's password hash with `new` if it is still `old` (a hash of the same
/// password with newer parameters, see `crypto::password::Verdict::Upgrade`); a hash changed
/// meanwhile is left as it is. Returns whether it was replaced.
pub async fn upgrade_password_hash(
    db: &impl ConnectionTrait,
    id: i64,
    old: &str,
    new: &str,
) -> Result<bool, DbErr> {
    let done = user::Entity::update_many()
        .col_expr(user::Column::PasswordHash, Expr::value(new))
        .filter(user::Column::Id.eq(id))
        .filter(user::Column::PasswordHash.eq(old))
        .exec(db)
        .await?;
    Ok(done.rows_affected == 1)
}

/// How many accounts are administrators.
pub async fn count_admins(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    user::Entity::find()
        .filter(user::Column::IsAdmin.eq(true))
        .count(db)
        .await
}

/// How many accounts are deactivated.
pub async fn count_inactive(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    user::Entity::find()
        .filter(user::Column::IsActive.eq(false))
        .count(db)
        .await
}

/// The emails of the accounts `ids` (id → email; unknown ids are absent).
pub async fn emails_of(
    db: &impl ConnectionTrait,
    ids: Vec<i64>,
) -> Result<Vec<(i64, String)>, DbErr> {
    user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .column(user::Column::Email)
        .filter(user::Column::Id.is_in(ids))
        .into_tuple()
        .all(db)
        .await
}

/// Ids of the accounts whose email or name contains `text` (case-insensitive), at most `cap`.
pub async fn ids_matching(
    db: &impl ConnectionTrait,
    text: &str,
    cap: u64,
) -> Result<Vec<i64>, DbErr> {
    let pattern = like_pattern(text);
    user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .filter(
            Condition::any()
                .add(ilike(user::Column::Email, &pattern))
                .add(ilike(user::Column::DisplayName, &pattern)),
        )
        .limit(cap)
        .into_tuple()
        .all(db)
        .await
}

/// The page `keyset` asks for of the accounts matching `filter`, by email.
pub async fn window(
    db: &impl ConnectionTrait,
    filter: Condition,
    keyset: &Keyset<String>,
    limit: u64,
) -> AppResult<Window<user::Model>> {
    keyset::window(
        db,
        user::Entity::find().filter(filter),
        user::Column::Email,
        Order::Ascending,
        keyset,
        limit,
    )
    .await
}
