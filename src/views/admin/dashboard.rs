//! `GET /admin/`: the dashboard — users, connections by status, actions and errors in the last
//! 24 h, connectors that need configuration, and the latest admin changes.

use super::changes;
use super::templates::{AdminConnectorRow, AdminDashboardPage, BreakerRow};
use crate::auth::AdminUser;
use crate::error::AppResult;
use crate::models::keyset::Keyset;
use crate::models::{connections, connector_audit_logs, users};
use crate::services::admin_audit::{self, ChangeFilter};
use crate::services::{catalog, connector_config};
use crate::state::AppState;
use crate::templates::PageCtx;
use crate::views::account::html;
use actix_session::Session;
use actix_web::{HttpResponse, web};
use chrono::Utc;

pub async fn dashboard(
    state: web::Data<AppState>,
    session: Session,
    admin: AdminUser,
) -> AppResult<HttpResponse> {
    let db = &state.db;
    let since = Utc::now() - chrono::Duration::hours(24);
    let users = users::count(db).await?;
    let admins = users::count_admins(db).await?;
    let inactive_users = users::count_inactive(db).await?;
    let mut connections_by_status: Vec<(String, i64)> = connections::count_by_status(db).await?;
    connections_by_status.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let connections = connections_by_status.iter().map(|(_, n)| *n as u64).sum();
    let (actions_24h, errors_24h) = connector_audit_logs::counts_since(db, since).await?;
    let mut connectors = Vec::new();
    for row in catalog::all(db).await? {
        let Some(plugin) = state.registry.get(&row.slug) else {
            continue;
        };
        let settings =
            connector_config::settings_for(db, &state.keyring, row.id, plugin.as_ref()).await?;
        connectors.push(AdminConnectorRow {
            slug: row.slug.clone(),
            name: row.name.clone(),
            kind: row.kind.clone(),
            scoping: row.scoping.clone(),
            is_enabled: row.is_enabled,
            actions: plugin.actions().len(),
            missing_config: settings
                .missing_required()
                .iter()
                .map(|k| k.to_string())
                .collect(),
        });
    }
    let recent_changes = admin_audit::page(db, &ChangeFilter::default(), &Keyset::default(), 5)
        .await?
        .rows;
    let breakers = state
        .http
        .breakers()
        .snapshot()
        .into_iter()
        .map(|b| BreakerRow {
            connector: connectors
                .iter()
                .find(|c| c.slug == b.connector)
                .map_or_else(|| b.connector.clone(), |c| c.name.clone()),
            host: b.host,
            state: b.state,
            recent_failures: b.recent_failures,
            retry_at: b.retry_at.map(campuscore_connectors::breaker::clock_time),
        })
        .collect();
    let page = AdminDashboardPage {
        ctx: PageCtx::new(&session, Some(&admin)),
        nav: "dashboard",
        users,
        admins,
        inactive_users,
        connections,
        connections_by_status: connections_by_status
            .into_iter()
            .map(|(s, n)| (s, n as u64))
            .collect(),
        connectors,
        actions_24h,
        errors_24h,
        errors_link: crate::paths::admin_audit()
            .status("error")
            .from(since.date_naive())
            .to_string(),
        recent_changes: changes::rows(db, recent_changes).await?,
        breakers,
    };
    Ok(html(page, 200))
}
