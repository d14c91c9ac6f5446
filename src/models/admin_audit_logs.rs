//! The admin trail (`admin_audit_log`): one row per change an administrator makes, written by
//! `services::admin_audit` (which keeps secrets out of it) and paged newest first.

use super::entities::admin_audit_log;
use super::keyset::{self, Keyset, Order, Window};
use crate::error::AppResult;
use chrono::Utc;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

/// One row to write (`before` and `after` as JSON text, secrets already fingerprinted).
pub struct NewAdminAuditLog {
    pub admin_user_id: i64,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub before: String,
    pub after: String,
}

/// Writes a row, timestamped now.
pub async fn insert(db: &impl ConnectionTrait, new: NewAdminAuditLog) -> Result<(), DbErr> {
    let row = admin_audit_log::ActiveModel {
        admin_user_id: Set(Some(new.admin_user_id)),
        action: Set(new.action),
        target_type: Set(new.target_type),
        target_id: Set(new.target_id),
        before: Set(new.before),
        after: Set(new.after),
        created_at: Set(Utc::now()),
        ..Default::default()
    };
    admin_audit_log::Entity::insert(row).exec(db).await?;
    Ok(())
}

/// Filters of the admin-changes page.
#[derive(Clone, Debug, Default)]
pub struct ChangeFilter {
    pub admin_user_id: Option<i64>,
    pub action: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
}

/// A page of admin changes matching `filter`, newest first (keyset paging on the id).
pub async fn window(
    db: &impl ConnectionTrait,
    filter: &ChangeFilter,
    keyset: &Keyset<i64>,
    limit: u64,
) -> AppResult<Window<admin_audit_log::Model>> {
    let mut q = admin_audit_log::Entity::find();
    if let Some(id) = filter.admin_user_id {
        q = q.filter(admin_audit_log::Column::AdminUserId.eq(id));
    }
    if let Some(a) = &filter.action {
        q = q.filter(admin_audit_log::Column::Action.eq(a.as_str()));
    }
    if let Some(t) = &filter.target_type {
        q = q.filter(admin_audit_log::Column::TargetType.eq(t.as_str()));
    }
    if let Some(t) = &filter.target_id {
        q = q.filter(admin_audit_log::Column::TargetId.eq(t.as_str()));
    }
    keyset::window(
        db,
        q,
        admin_audit_log::Column::Id,
        Order::Descending,
        keyset,
        limit,
    )
    .await
}
