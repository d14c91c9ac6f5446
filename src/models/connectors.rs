//! The connector catalog (`connector`): one row per connector the app has known, kept in step
//! with the registry by `services::catalog`; admins switch rows on and off.

use super::entities::connector;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, Select,
};

/// Every catalog row, in no particular order.
pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<connector::Model>, DbErr> {
    connector::Entity::find().all(db).await
}

/// Every catalog row, by slug.
pub async fn list_by_slug(db: &impl ConnectionTrait) -> Result<Vec<connector::Model>, DbErr> {
    connector::Entity::find()
        .order_by_asc(connector::Column::Slug)
        .all(db)
        .await
}

/// Every catalog row, by display name.
pub async fn list_by_name(db: &impl ConnectionTrait) -> Result<Vec<connector::Model>, DbErr> {
    connector::Entity::find()
        .order_by_asc(connector::Column::Name)
        .all(db)
        .await
}

/// The catalog row `id`.
pub async fn find(db: &impl ConnectionTrait, id: i64) -> Result<Option<connector::Model>, DbErr> {
    connector::Entity::find_by_id(id).one(db).await
}

/// The catalog row `slug`.
pub async fn find_by_slug(
    db: &impl ConnectionTrait,
    slug: &str,
) -> Result<Option<connector::Model>, DbErr> {
    by_slug(slug).one(db).await
}

/// The catalog row a URL names: a numeric catalog id, or else a slug.
pub async fn find_by_slug_or_id(
    db: &impl ConnectionTrait,
    slug_or_id: &str,
) -> Result<Option<connector::Model>, DbErr> {
    let query = match slug_or_id.parse::<i64>() {
        Ok(id) => connector::Entity::find_by_id(id),
        Err(_) => by_slug(slug_or_id),
    };
    query.one(db).await
}

fn by_slug(slug: &str) -> Select<connector::Entity> {
    connector::Entity::find().filter(connector::Column::Slug.eq(slug))
}

/// A catalog row to add (the `services::catalog` sync fills it from a plugin's spec), and the
/// fields a sync refreshes on an existing row.
pub struct NewConnector {
    pub slug: String,
    pub name: String,
    pub kind: String,
    pub scoping: String,
    pub icon: String,
    pub description: String,
}

/// Adds an enabled catalog row.
pub async fn insert(
    db: &impl ConnectionTrait,
    new: NewConnector,
    now: DateTime<Utc>,
) -> Result<connector::Model, DbErr> {
    connector::ActiveModel {
        slug: Set(new.slug),
        name: Set(new.name),
        kind: Set(new.kind),
        scoping: Set(new.scoping),
        icon: Set(new.icon),
        description: Set(new.description),
        is_enabled: Set(true),
        config_version: Set(0),
        agent_writes: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await
}

/// Refreshes a row's name, kind, scoping, icon and description from `spec` (its slug and
/// `is_enabled` stay).
pub async fn refresh(
    db: &impl ConnectionTrait,
    row: connector::Model,
    spec: NewConnector,
    now: DateTime<Utc>,
) -> Result<connector::Model, DbErr> {
    let mut active = row.into_active_model();
    active.name = Set(spec.name);
    active.kind = Set(spec.kind);
    active.scoping = Set(spec.scoping);
    active.icon = Set(spec.icon);
    active.description = Set(spec.description);
    active.updated_at = Set(now);
    active.update(db).await
}

/// Whether assistants may use connector `id`'s write tools.
pub async fn set_agent_writes(
    db: &impl ConnectionTrait,
    id: i64,
    allow: bool,
) -> Result<(), DbErr> {
    connector::Entity::update_many()
        .col_expr(connector::Column::AgentWrites, Expr::value(allow))
        .col_expr(connector::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(connector::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Turns connector `id` on or off.
pub async fn set_enabled(db: &impl ConnectionTrait, id: i64, enabled: bool) -> Result<(), DbErr> {
    connector::Entity::update_many()
        .col_expr(connector::Column::IsEnabled, Expr::value(enabled))
        .col_expr(connector::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(connector::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}
