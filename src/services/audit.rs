//! The audit trail: one `connector_audit_log` row per action execution, parameters redacted.

use crate::models::entities::connector_audit_log;
use chrono::Utc;
use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait};
use serde_json::Value;
use std::time::Duration;

/// What happened, for one row.
pub struct Entry<'a> {
    pub connection_id: Option<i64>,
    pub user_id: Option<i64>,
    pub connector_slug: &'a str,
    pub action: &'a str,
    /// Already redacted.
    pub request: &'a Value,
    /// `None` on success; `(code, message)` on failure.
    pub error: Option<(&'a str, String)>,
    pub duration: Duration,
}

/// Write the row. A failure to audit is logged loudly but does not undo the action.
pub async fn record(db: &DatabaseConnection, e: Entry<'_>) {
    let row = connector_audit_log::ActiveModel {
        connection_id: Set(e.connection_id),
        user_id: Set(e.user_id),
        connector_slug: Set(e.connector_slug.to_owned()),
        action: Set(e.action.to_owned()),
        status: Set(if e.error.is_some() {
            "error"
        } else {
            "success"
        }
        .to_owned()),
        request: Set(e.request.to_string()),
        error_code: Set(e.error.as_ref().map(|(c, _)| (*c).to_owned())),
        error: Set(e.error.map(|(_, m)| m)),
        duration_ms: Set(e.duration.as_millis().min(i64::MAX as u128) as i64),
        created_at: Set(Utc::now()),
        ..Default::default()
    };
    if let Err(err) = connector_audit_log::Entity::insert(row).exec(db).await {
        tracing::error!(connector.slug = e.connector_slug, action = e.action, error = %err, "writing the audit log failed");
    }
}
