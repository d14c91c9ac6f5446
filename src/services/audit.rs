//! The audit trail: one `connector_audit_log` row per action execution, parameters redacted.

use crate::models::Channel;
use crate::models::connector_audit_logs::{self, NewAuditLog};
use sea_orm::DatabaseConnection;
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
    /// Where the call came from, and the program that made it.
    pub channel: Channel,
    pub client: Option<&'a str>,
}

/// Write the row. A failure to audit is logged loudly but does not undo the action.
pub async fn record(db: &DatabaseConnection, e: Entry<'_>) {
    let row = NewAuditLog {
        connection_id: e.connection_id,
        user_id: e.user_id,
        connector_slug: e.connector_slug.to_owned(),
        action: e.action.to_owned(),
        status: if e.error.is_some() {
            "error"
        } else {
            "success"
        }
        .to_owned(),
        request: e.request.to_string(),
        error_code: e.error.as_ref().map(|(c, _)| (*c).to_owned()),
        error: e.error.map(|(_, m)| m),
        duration_ms: e.duration.as_millis().min(i64::MAX as u128) as i64,
        channel: e.channel,
        client: e.client.map(|c| c.chars().take(200).collect()),
    };
    if let Err(err) = connector_audit_logs::insert(db, row).await {
        tracing::error!(connector.slug = e.connector_slug, action = e.action, error = %err, "writing the audit log failed");
    }
}
