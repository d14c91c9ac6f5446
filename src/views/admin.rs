//! `/admin/`: the dashboard (admins only; everyone else gets a 404).

use super::account::html;
use crate::auth::AdminUser;
use crate::error::AppResult;
use crate::models::entities::{connection, connector_audit_log, user};
use crate::services::{catalog, connector_config};
use crate::state::AppState;
use crate::templates::{AdminConnectorRow, AdminDashboardPage, PageCtx};
use actix_session::Session;
use actix_web::{HttpResponse, web};
use chrono::Utc;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

pub async fn dashboard(
    state: web::Data<AppState>,
    session: Session,
    admin: AdminUser,
) -> AppResult<HttpResponse> {
    let since = Utc::now() - chrono::Duration::hours(24);
    let users = user::Entity::find().count(&state.db).await?;
    let connections = connection::Entity::find().count(&state.db).await?;
    let recent = connector_audit_log::Entity::find()
        .filter(connector_audit_log::Column::CreatedAt.gte(since));
    let actions_24h = recent.clone().count(&state.db).await?;
    let errors_24h = recent
        .filter(connector_audit_log::Column::Status.eq("error"))
        .count(&state.db)
        .await?;
    let mut connectors = Vec::new();
    for row in catalog::all(&state.db).await? {
        let Some(plugin) = state.registry.get(&row.slug) else {
            continue;
        };
        let settings =
            connector_config::settings_for(&state.db, &state.keyring, row.id, plugin.as_ref())
                .await?;
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
    let page = AdminDashboardPage {
        ctx: PageCtx::new(&session, Some(&admin)),
        users,
        connections,
        connectors,
        actions_24h,
        errors_24h,
    };
    Ok(html(page, 200))
}
