//! The app's own shared secrets (`app_secret`), each a Fernet token the caller encrypts.

use super::entities::app_secret;
use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
};

/// The secret named `name`.
pub async fn find(
    db: &impl ConnectionTrait,
    name: &str,
) -> Result<Option<app_secret::Model>, DbErr> {
    app_secret::Entity::find()
        .filter(app_secret::Column::Name.eq(name))
        .one(db)
        .await
}

/// Stores `value` as `name` unless another instance stored one first (then theirs stands).
pub async fn insert_if_absent(
    db: &impl ConnectionTrait,
    name: &str,
    value: String,
) -> Result<(), DbErr> {
    app_secret::Entity::insert(app_secret::ActiveModel {
        name: Set(name.to_owned()),
        value: Set(value),
        created_at: Set(Utc::now()),
        ..Default::default()
    })
    .on_conflict_do_nothing_on([app_secret::Column::Name])
    .exec(db)
    .await?;
    Ok(())
}

/// Every secret, in id order (for key rotation; there are few).
pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<app_secret::Model>, DbErr> {
    app_secret::Entity::find()
        .order_by_asc(app_secret::Column::Id)
        .all(db)
        .await
}

/// Replaces secret `id`'s token with `new` if it is still `old`.
pub async fn swap_value(
    db: &impl ConnectionTrait,
    id: i64,
    old: &str,
    new: String,
) -> Result<bool, DbErr> {
    let res = app_secret::Entity::update_many()
        .col_expr(app_secret::Column::Value, Expr::value(new))
        .filter(app_secret::Column::Id.eq(id))
        .filter(app_secret::Column::Value.eq(old))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Stores `value` as `name`, replacing what was there (a secret an operator sets).
pub async fn put(db: &impl ConnectionTrait, name: &str, value: String) -> Result<(), DbErr> {
    app_secret::Entity::insert(app_secret::ActiveModel {
        name: Set(name.to_owned()),
        value: Set(value),
        created_at: Set(Utc::now()),
        ..Default::default()
    })
    .on_conflict(
        sea_orm::sea_query::OnConflict::column(app_secret::Column::Name)
            .update_column(app_secret::Column::Value)
            .to_owned(),
    )
    .exec(db)
    .await?;
    Ok(())
}
