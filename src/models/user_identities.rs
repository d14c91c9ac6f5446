//! Campus sign-in identities (`user_identity`): (`iss`, `sub`) → account, plus the account
//! rows a sign-in creates or refreshes (just-in-time accounts have no usable password).

use super::entities::{user, user_identity};
use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter,
};

/// The password hash of an account made by campus sign-in: not a PHC string, so no password
/// ever matches it (as Django's "unusable password").
pub const UNUSABLE_PASSWORD: &str = "!sso";

/// The identity (`iss`, `sub`).
pub async fn find(
    db: &impl ConnectionTrait,
    iss: &str,
    sub: &str,
) -> Result<Option<user_identity::Model>, DbErr> {
    user_identity::Entity::find()
        .filter(user_identity::Column::Iss.eq(iss))
        .filter(user_identity::Column::Sub.eq(sub))
        .one(db)
        .await
}

/// The identities of the provider `iss` whose latest sign-in was in provider session `sid`.
pub async fn find_by_sid(
    db: &impl ConnectionTrait,
    iss: &str,
    sid: &str,
) -> Result<Vec<user_identity::Model>, DbErr> {
    user_identity::Entity::find()
        .filter(user_identity::Column::Iss.eq(iss))
        .filter(user_identity::Column::LastSid.eq(sid))
        .all(db)
        .await
}

/// The identities of account `user_id` (the most recently used first).
pub async fn for_user(
    db: &impl ConnectionTrait,
    user_id: i64,
) -> Result<Vec<user_identity::Model>, DbErr> {
    use sea_orm::QueryOrder;
    user_identity::Entity::find()
        .filter(user_identity::Column::UserId.eq(user_id))
        .order_by_desc(user_identity::Column::LastLoginAt)
        .all(db)
        .await
}

/// Links (`iss`, `sub`) to account `user_id`.
pub async fn insert(
    db: &impl ConnectionTrait,
    iss: &str,
    sub: &str,
    user_id: i64,
) -> Result<user_identity::Model, DbErr> {
    user_identity::ActiveModel {
        iss: Set(iss.to_owned()),
        sub: Set(sub.to_owned()),
        user_id: Set(user_id),
        last_sid: Set(None),
        created_at: Set(Utc::now()),
        last_login_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await
}

/// Records a sign-in through identity `id` now, in provider session `sid`.
pub async fn touch(db: &impl ConnectionTrait, id: i64, sid: Option<&str>) -> Result<(), DbErr> {
    user_identity::Entity::update_many()
        .col_expr(user_identity::Column::LastLoginAt, Expr::value(Utc::now()))
        .col_expr(
            user_identity::Column::LastSid,
            Expr::value(sid.map(str::to_owned)),
        )
        .filter(user_identity::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// A new account for a first campus sign-in: active, no usable password.
pub async fn create_user(
    db: &impl ConnectionTrait,
    email: &str,
    display_name: &str,
) -> Result<user::Model, DbErr> {
    let now = Utc::now();
    user::ActiveModel {
        email: Set(email.to_owned()),
        display_name: Set(display_name.to_owned()),
        password_hash: Set(UNUSABLE_PASSWORD.to_owned()),
        is_admin: Set(false),
        is_active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        last_login_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await
}

/// Replaces the email and display name of `user` with what the provider asserted now.
pub async fn refresh_profile(
    db: &impl ConnectionTrait,
    user: user::Model,
    email: &str,
    display_name: &str,
) -> Result<user::Model, DbErr> {
    if user.email == email && user.display_name == display_name {
        return Ok(user);
    }
    let mut active: user::ActiveModel = user.into();
    active.email = Set(email.to_owned());
    active.display_name = Set(display_name.to_owned());
    active.updated_at = Set(Utc::now());
    active.update(db).await
}
