//! The admin trail: one `admin_audit_log` row per change an administrator makes on the admin
//! pages — who, what, on which target, and the state before and after. Secret values never
//! reach a row: callers pass them through [`secret`], which keeps only a `sha256:`
//! fingerprint (equal secrets give equal fingerprints, so a change is still visible).

use super::secrets::fingerprint;
use crate::error::AppResult;
use crate::models::admin_audit_logs::{self, NewAdminAuditLog};
use crate::models::entities::admin_audit_log;
use crate::models::keyset::{Keyset, Window};
use sea_orm::ConnectionTrait;

pub use crate::models::admin_audit_logs::ChangeFilter;
use serde_json::Value;

/// One admin change.
pub struct Change<'a> {
    /// The administrator making the change.
    pub admin_user_id: i64,
    /// Dotted verb, e.g. `connector.disable`.
    pub action: &'a str,
    /// `connector`, `connection` or `user`.
    pub target_type: &'a str,
    /// The connector slug or row id.
    pub target_id: String,
    /// State before (secrets already fingerprinted).
    pub before: Value,
    /// State after (secrets already fingerprinted).
    pub after: Value,
}

/// How a secret value is written into `before`/`after`: its fingerprint, or `null` if unset.
pub fn secret(plain: Option<&str>) -> Value {
    plain.map_or(Value::Null, |p| Value::String(fingerprint(p)))
}

/// Write the row. Unlike the action audit, an admin change that cannot be audited is an error
/// the admin sees (the change itself has been made; the log line says so).
pub async fn record<C: ConnectionTrait>(db: &C, change: Change<'_>) -> AppResult<()> {
    let row = NewAdminAuditLog {
        admin_user_id: change.admin_user_id,
        action: change.action.to_owned(),
        target_type: change.target_type.to_owned(),
        target_id: change.target_id.clone(),
        before: change.before.to_string(),
        after: change.after.to_string(),
    };
    if let Err(e) = admin_audit_logs::insert(db, row).await {
        tracing::error!(
            admin.id = change.admin_user_id,
            action = change.action,
            target.kind = change.target_type,
            target.id = %change.target_id,
            error = %e,
            "writing the admin audit log failed"
        );
        return Err(e.into());
    }
    tracing::info!(
        admin.id = change.admin_user_id,
        action = change.action,
        target.kind = change.target_type,
        target.id = %change.target_id,
        "admin change"
    );
    Ok(())
}

/// A page of admin changes, newest first (keyset paging on the id).
pub async fn page<C: ConnectionTrait>(
    db: &C,
    filter: &ChangeFilter,
    keyset: &Keyset<i64>,
    limit: u64,
) -> AppResult<Window<admin_audit_log::Model>> {
    admin_audit_logs::window(db, filter, keyset, limit).await
}
