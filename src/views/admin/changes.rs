//! `GET /admin/changes/`: the trail of admin changes (`admin_audit_log`), newest first, with
//! filters by target and action and keyset paging on the id.

use super::templates::{ChangeRow, ChangesPage, Pager};
use super::{PAGE_SIZE, emails_of, fmt_time, param, query_string};
use crate::auth::AdminUser;
use crate::error::{AppError, AppResult};
use crate::models::entities::admin_audit_log;
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
    /// Keyset cursor: show rows with a smaller id.
    before: Option<String>,
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
    let before = match param(&q.before) {
        Some(b) => Some(
            b.parse::<i64>()
                .map_err(|_| AppError::BadRequest("The page cursor is not valid.".into()))?,
        ),
        None => None,
    };
    let (models, next) = admin_audit::page(&state.db, &filter, before, PAGE_SIZE).await?;
    let keep = |before: &str| {
        format!(
            "/admin/changes/{}",
            query_string(&[
                ("target_type", param(&q.target_type).unwrap_or_default()),
                ("target_id", param(&q.target_id).unwrap_or_default()),
                ("action", param(&q.action).unwrap_or_default()),
                ("before", before),
            ])
        )
    };
    let pager = Pager {
        // Newest-first by id: "previous" is simply the first page again.
        prev: before.map(|_| keep("")),
        next: next.map(|id| keep(&id.to_string())),
        shown: models.len(),
    };
    let page = ChangesPage {
        ctx: PageCtx::new(&session, Some(&admin)),
        nav: "changes",
        target_type: param(&q.target_type).unwrap_or_default().to_owned(),
        target_id: param(&q.target_id).unwrap_or_default().to_owned(),
        action: param(&q.action).unwrap_or_default().to_owned(),
        rows: rows(&state.db, models).await?,
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
                "connector" => Some(format!("/admin/connectors/{}/", m.target_id)),
                "user" => Some(format!(
                    "/admin/users/{}",
                    query_string(&[("q", &m.target_id)])
                )),
                "connection" => Some(format!("/admin/connections/{}/", m.target_id)),
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
