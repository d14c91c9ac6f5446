//! `GET /admin/changes/`: the trail of admin changes (`admin_audit_log`), newest first, with
//! filters by target and action and keyset paging on the id.

use super::templates::{ChangeRow, ChangesPage};
use super::{PAGE_SIZE, emails_of, fmt_time, pager, param};
use crate::auth::AdminUser;
use crate::error::AppResult;
use crate::models::entities::admin_audit_log;
use crate::models::keyset::{Keyset, Order};
use crate::services::admin_audit::{self, ChangeFilter};
use crate::state::AppState;
use crate::templates::PageCtx;
use crate::views::account::html;
use actix_session::Session;
use actix_web::{HttpResponse, web};
use sea_orm::DatabaseConnection;
use serde::Deserialize;

#[derive(Deserialize, Default)]
pub struct ChangesQuery {
    target_type: Option<String>,
    target_id: Option<String>,
    action: Option<String>,
    /// Keyset cursors: rows with a smaller id (next page) / a larger id (previous page).
    before: Option<String>,
    after: Option<String>,
}

/// `GET /admin/changes/`.
pub async fn list(
    state: web::Data<AppState>,
    session: Session,
    admin: AdminUser,
    q: web::Query<ChangesQuery>,
) -> AppResult<HttpResponse> {
    let q = q.into_inner();
    let filter = ChangeFilter {
        admin_user_id: None,
        action: param(&q.action).map(str::to_owned),
        target_type: param(&q.target_type).map(str::to_owned),
        target_id: param(&q.target_id).map(str::to_owned),
    };
    let keyset = Keyset::<i64>::parse(param(&q.before), param(&q.after))?;
    let window = admin_audit::page(&state.db, &filter, &keyset, PAGE_SIZE).await?;
    let pager = pager(
        &window,
        Order::Descending,
        |c| c.id,
        crate::paths::admin_changes(),
        &[
            ("target_type", param(&q.target_type).unwrap_or_default()),
            ("target_id", param(&q.target_id).unwrap_or_default()),
            ("action", param(&q.action).unwrap_or_default()),
        ],
    );
    let page = ChangesPage {
        ctx: PageCtx::new(&session, Some(&admin)),
        nav: "changes",
        target_type: param(&q.target_type).unwrap_or_default().to_owned(),
        target_id: param(&q.target_id).unwrap_or_default().to_owned(),
        action: param(&q.action).unwrap_or_default().to_owned(),
        rows: rows(&state.db, window.rows).await?,
        pager,
    };
    Ok(html(page, 200))
}

fn pretty(json: &str) -> String {
    serde_json::from_str::<serde_json::Value>(json)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| json.to_owned())
}

/// The rows as shown, with admin emails.
pub async fn rows(
    db: &DatabaseConnection,
    models: Vec<admin_audit_log::Model>,
) -> AppResult<Vec<ChangeRow>> {
    let emails = emails_of(db, models.iter().filter_map(|m| m.admin_user_id)).await?;
    Ok(models
        .into_iter()
        .map(|m| ChangeRow {
            id: m.id,
            created: fmt_time(m.created_at),
            admin: m
                .admin_user_id
                .and_then(|id| emails.get(&id).cloned())
                .unwrap_or_else(|| "(deleted account)".into()),
            target_link: match m.target_type.as_str() {
                "connector" => Some(crate::paths::admin_connector(&m.target_id)),
                "user" => Some(crate::paths::admin_users().search(&m.target_id).to_string()),
                "connection" => m
                    .target_id
                    .parse::<i64>()
                    .ok()
                    .map(crate::paths::admin_connection),
                _ => None,
            },
            action: m.action,
            target_type: m.target_type,
            target_id: m.target_id,
            before: pretty(&m.before),
            after: pretty(&m.after),
        })
        .collect())
}
