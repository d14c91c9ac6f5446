//! `/admin/connectors/`: every connector in the catalog with kind, scoping, actions and config
//! completeness; its detail page with each action's tags and schemas; and the enable switch.
//! A disabled connector disappears from /settings and its actions answer 403
//! `connector_disabled` (`services::connections` checks `is_enabled`); connections are kept.

use super::config;
use super::summary::{find_row, summary};
use super::templates::{ActionView, ConnectorPage, ConnectorSwitchFragment, ConnectorsPage};
use crate::auth::{AdminUser, csrf};
use crate::error::{AppError, AppResult};
use crate::models::{connections, connectors};
use crate::services::admin_audit::{self, Change};
use crate::services::agent_tools;
use crate::services::{catalog, oauth};
use crate::state::AppState;
use crate::templates::{PageCtx, flash};
use crate::views::account::html;
use crate::views::{is_htmx, see_other};
use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, web};
use campuscore_connectors::ConnectorKind;
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;

/// Connections per connector id.
async fn connection_counts(state: &AppState) -> AppResult<HashMap<i64, u64>> {
    let rows = connections::count_by_connector(&state.db).await?;
    Ok(rows.into_iter().map(|(id, n)| (id, n as u64)).collect())
}

/// `GET /admin/connectors/`.
pub async fn list(
    state: web::Data<AppState>,
    session: Session,
    admin: AdminUser,
) -> AppResult<HttpResponse> {
    let token = csrf::token(&session);
    let counts = connection_counts(&state).await?;
    let mut rows = Vec::new();
    for row in catalog::all(&state.db).await? {
        let n = counts.get(&row.id).copied().unwrap_or(0);
        rows.push(summary(&state, &row, n, &token).await?);
    }
    rows.sort_by_key(|r| r.name.to_lowercase());
    Ok(html(
        ConnectorsPage {
            ctx: PageCtx::new(&session, Some(&admin)),
            nav: "connectors",
            rows,
        },
        200,
    ))
}

/// `GET /admin/connectors/{slug}/`.
pub async fn show(
    state: web::Data<AppState>,
    session: Session,
    admin: AdminUser,
    slug: web::Path<String>,
) -> AppResult<HttpResponse> {
    let row = find_row(&state, &slug).await?;
    let counts = connection_counts(&state).await?;
    let s = summary(
        &state,
        &row,
        counts.get(&row.id).copied().unwrap_or(0),
        &csrf::token(&session),
    )
    .await?;
    let plugin = state.registry.get(&row.slug).cloned();
    let pretty = |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap_or_default();
    let actions = plugin
        .as_ref()
        .map(|p| {
            p.actions()
                .iter()
                .map(|a| ActionView {
                    name: a.name.to_owned(),
                    description: a.description.clone(),
                    tags: a.tags.iter().map(|t| t.as_str().to_owned()).collect(),
                    input_schema: pretty(&a.input_schema),
                    output_schema: pretty(&a.output_schema),
                    downloads: a.downloads,
                })
                .collect()
        })
        .unwrap_or_default();
    let (config, _) = match &plugin {
        Some(p) => config::fields(&state, &row, p.as_ref()).await?,
        None => (Vec::new(), Vec::new()),
    };
    let page = ConnectorPage {
        ctx: PageCtx::new(&session, Some(&admin)),
        nav: "connectors",
        version: plugin
            .as_ref()
            .map(|p| p.spec().version.to_owned())
            .unwrap_or_default(),
        redirect_uri: plugin
            .as_ref()
            .filter(|p| p.spec().kind == ConnectorKind::OAuth2)
            .map(|_| oauth::redirect_uri(&state, &row.slug)),
        agent_writes: row.agent_writes,
        write_actions: plugin
            .as_ref()
            .map(|p| {
                p.actions()
                    .iter()
                    .filter(|a| agent_tools::is_write_tool(a))
                    .map(|a| a.name.to_owned())
                    .collect()
            })
            .unwrap_or_default(),
        s,
        actions,
        config,
    };
    Ok(html(page, 200))
}

#[derive(Deserialize)]
pub struct EnabledForm {
    /// `true` to enable, `false` to disable (explicit, so a repeated post changes nothing).
    enabled: String,
}

/// `POST /admin/connectors/{slug}/enabled`: the enable switch. HTMX gets the switch back;
/// a plain form post is redirected to the connector list with a message.
pub async fn set_enabled(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    admin: AdminUser,
    slug: web::Path<String>,
    form: web::Form<EnabledForm>,
) -> AppResult<HttpResponse> {
    let enabled = crate::views::switch("enabled", &form.enabled)?;
    let row = find_row(&state, &slug).await?;
    if enabled && state.registry.get(&row.slug).is_none() {
        return Err(AppError::Conflict(format!(
            "{} is not available in this version and cannot be enabled.",
            row.name
        )));
    }
    let changed = row.is_enabled != enabled;
    if changed {
        connectors::set_enabled(&state.db, row.id, enabled).await?;
        admin_audit::record(
            &state.db,
            Change {
                admin_user_id: admin.id,
                action: if enabled {
                    "connector.enable"
                } else {
                    "connector.disable"
                },
                target_type: "connector",
                target_id: row.slug.clone(),
                before: json!({"is_enabled": row.is_enabled}),
                after: json!({"is_enabled": enabled}),
            },
        )
        .await?;
    }
    let message = match (changed, enabled) {
        (false, _) => format!(
            "{} was already {}.",
            row.name,
            if enabled { "enabled" } else { "disabled" }
        ),
        (true, true) => format!("{} is enabled: users can see and connect it.", row.name),
        (true, false) => format!(
            "{} is disabled: users no longer see it and its actions stop. Existing connections are kept.",
            row.name
        ),
    };
    if !is_htmx(&req) {
        flash(&session, "success", message);
        return Ok(see_other(crate::paths::admin_connectors()));
    }
    let row = find_row(&state, &slug).await?;
    let counts = connection_counts(&state).await?;
    let mut s = summary(
        &state,
        &row,
        counts.get(&row.id).copied().unwrap_or(0),
        &csrf::token(&session),
    )
    .await?;
    s.notice = Some(message);
    Ok(html(ConnectorSwitchFragment { s }, 200))
}

#[derive(Deserialize)]
pub struct AgentWritesForm {
    /// `true` to allow, `false` to stop (explicit, so a repeated post changes nothing).
    allow: String,
}

/// `POST /admin/connectors/{slug}/agent-writes`: whether assistants may use the connector's
/// write tools at all (each user must still switch it on per connection). Back to the
/// connector's page with a message.
pub async fn set_agent_writes(
    state: web::Data<AppState>,
    session: Session,
    admin: AdminUser,
    slug: web::Path<String>,
    form: web::Form<AgentWritesForm>,
) -> AppResult<HttpResponse> {
    let allow = crate::views::switch("allow", &form.allow)?;
    let row = find_row(&state, &slug).await?;
    if row.agent_writes != allow {
        connectors::set_agent_writes(&state.db, row.id, allow).await?;
        admin_audit::record(
            &state.db,
            Change {
                admin_user_id: admin.id,
                action: if allow {
                    "connector.agent_writes.allow"
                } else {
                    "connector.agent_writes.stop"
                },
                target_type: "connector",
                target_id: row.slug.clone(),
                before: json!({"agent_writes": row.agent_writes}),
                after: json!({"agent_writes": allow}),
            },
        )
        .await?;
    }
    let message = if allow {
        format!(
            "Assistants may now use {}'s actions that make changes, on connections whose users switch it on.",
            row.name
        )
    } else {
        format!(
            "Assistants can no longer make changes through {}.",
            row.name
        )
    };
    flash(&session, "success", message);
    Ok(see_other(&crate::paths::admin_connector(&row.slug)))
}
