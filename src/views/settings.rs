//! `/settings`: the services a user can connect and the connections they have, with Test,
//! Reconnect and Disconnect as HTMX fragments (plain posts work too, without JavaScript).

use super::account::html;
use super::{is_htmx, see_other};
use crate::auth::{CurrentUser, csrf};
use crate::error::{AppError, AppResult};
use crate::models;
use crate::models::Channel;
use crate::models::connectors;
use crate::models::entities::{connection, connector};
use crate::services::agent_tools;
use crate::services::api_tokens;
use crate::services::audit;
use crate::services::connections;
use crate::services::disconnect::{self, Revocation};
use crate::state::AppState;
use crate::templates::{
    AssistantWrites, ConnectionRow, ConnectionRowFragment, ConnectorCard, DisconnectedRowFragment,
    PageCtx, SettingsPage, TokenRow, TokensSection, flash,
};
use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, web};
use campuscore_connectors::ConnectorKind;
use chrono::{DateTime, Utc};
use serde::Deserialize;

/// `GET /settings`.
pub async fn settings(
    state: web::Data<AppState>,
    session: Session,
    user: CurrentUser,
) -> AppResult<HttpResponse> {
    let tokens = section(&state, &session, user.id, None, None).await?;
    Ok(html(
        settings_page(&state, &session, &user, tokens).await?,
        200,
    ))
}

/// The tokens section for `user`, with a token just created or a create error.
pub async fn section(
    state: &AppState,
    session: &Session,
    user_id: i64,
    created: Option<(String, String)>,
    error: Option<String>,
) -> AppResult<TokensSection> {
    let day = |t: Option<DateTime<Utc>>| {
        t.map_or_else(|| "never".into(), |t| t.format("%Y-%m-%d").to_string())
    };
    let now = Utc::now();
    let rows = api_tokens::list(&state.db, user_id)
        .await?
        .into_iter()
        .map(|t| TokenRow {
            id: t.id,
            name: t.name.clone(),
            scopes: t.scopes.replace(',', ", "),
            created: day(Some(t.created_at)),
            expires: day(t.expires_at),
            expired: t.expires_at.is_some_and(|at| at <= now),
            last_used: day(t.last_used_at),
        })
        .collect();
    Ok(TokensSection {
        csrf: csrf::token(session),
        rows,
        created,
        error,
    })
}

/// The settings page with `tokens` as its tokens section.
pub async fn settings_page(
    state: &AppState,
    session: &Session,
    user: &CurrentUser,
    tokens: TokensSection,
) -> AppResult<SettingsPage> {
    let catalog = connectors::list_by_name(&state.db).await?;
    let mut connectors = Vec::new();
    for row in catalog.iter().filter(|c| c.is_enabled) {
        let Some(plugin) = state.registry.get(&row.slug) else {
            continue;
        };
        let spec = plugin.spec();
        let configured = connections::ResolvedConnector {
            row: row.clone(),
            plugin: plugin.clone(),
        }
        .is_configured(state)
        .await?;
        connectors.push(ConnectorCard {
            slug: row.slug.clone(),
            name: row.name.clone(),
            description: row.description.clone(),
            icon: row.icon.clone(),
            kind: match spec.kind {
                ConnectorKind::OAuth2 => "Sign in with the service".into(),
                ConnectorKind::Manual => "Enter your own credentials".into(),
            },
            configured,
        });
    }
    let connections = connections::list_mine(state, user.id)
        .await?
        .iter()
        .map(|c| row_for(state, c, catalog.iter().find(|k| k.id == c.connector_id)))
        .collect();
    Ok(SettingsPage {
        ctx: PageCtx::new(session, Some(user)),
        connectors,
        connections,
        tokens,
        assistants: super::assistants::section(state, session, user.id).await?,
    })
}

/// A settings row, with the query console offered where the connector has one and the
/// assistants switch where it can make changes.
fn row_for(
    state: &AppState,
    conn: &connection::Model,
    connector: Option<&connector::Model>,
) -> ConnectionRow {
    let mut row = ConnectionRow::new(conn, connector);
    let plugin = connector.and_then(|k| state.registry.get(&k.slug));
    row.can_query = plugin.is_some_and(|p| p.action("run_query").is_some());
    let can_write = plugin.is_some_and(|p| p.actions().iter().any(agent_tools::is_write_tool));
    row.assistant_writes = connector.filter(|_| can_write).map(|k| AssistantWrites {
        on: conn.agent_writes,
        allowed: k.agent_writes,
    });
    row
}

#[derive(Debug, Deserialize)]
pub struct AgentWritesForm {
    /// `true` to let assistants make changes, `false` to stop them (explicit, so a repeated
    /// post changes nothing).
    allow: String,
}

/// `POST /settings/connections/{id}/agent-writes`: the user's "let assistants make changes"
/// switch for one connection (recorded in the audit log).
pub async fn set_agent_writes(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    user: CurrentUser,
    path: web::Path<i64>,
    form: web::Form<AgentWritesForm>,
) -> AppResult<HttpResponse> {
    let allow = super::switch("allow", &form.allow)?;
    let conn = connections::find_mine(&state, user.id, path.into_inner()).await?;
    let connector = connectors::find(&state.db, conn.connector_id)
        .await?
        .ok_or(AppError::NotFound)?;
    models::connections::set_agent_writes(&state.db, user.id, conn.id, allow).await?;
    audit::record(
        &state.audit,
        audit::Entry {
            connection_id: Some(conn.id),
            user_id: Some(user.id),
            connector_slug: &connector.slug,
            action: "connection.agent_writes",
            request: &serde_json::json!({ "allow": allow }),
            error: None,
            duration: std::time::Duration::ZERO,
            channel: Channel::Web,
            client: None,
        },
    )
    .await;
    let message = if allow {
        format!(
            "Assistants you connect may now make changes in {} through this connection.",
            connector.name
        )
    } else {
        format!(
            "Assistants can no longer make changes in {} through this connection.",
            connector.name
        )
    };
    if !is_htmx(&req) {
        flash(&session, "success", message);
        return Ok(see_other(crate::paths::settings()));
    }
    let conn = connections::find_mine(&state, user.id, conn.id).await?;
    let mut row = row_for(&state, &conn, Some(&connector));
    row.notice = Some(("success".to_owned(), message));
    Ok(html(ConnectionRowFragment { c: row }, 200))
}

/// `POST /settings/connections/{id}/test`: checks the connection live; the row comes back
/// with the result (HTMX) or the page with a message.
pub async fn test_connection(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let (conn, error) = connections::test(&state, Channel::Web, user.id, path.into_inner()).await?;
    let notice = match &error {
        None => ("success".to_owned(), "Connection works.".to_owned()),
        Some(e) => ("error".to_owned(), e.user_message()),
    };
    if !is_htmx(&req) {
        flash(&session, &notice.0, notice.1);
        return Ok(see_other(crate::paths::settings()));
    }
    let connector = connectors::find(&state.db, conn.connector_id).await?;
    let mut row = row_for(&state, &conn, connector.as_ref());
    row.notice = Some(notice);
    Ok(html(ConnectionRowFragment { c: row }, 200))
}

/// `POST /settings/connections/{id}/disconnect`: deletes the connection and revokes its
/// tokens at the provider where possible.
pub async fn disconnect(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let done = disconnect::disconnect(&state, &state.queue, Channel::Web, user.id, id).await?;
    let message = format!(
        "{} disconnected. {}",
        done.connector_name,
        match done.revocation {
            Revocation::Confirmed => "The service confirmed the sign-in is revoked.",
            Revocation::Pending => {
                "The service could not be reached to revoke the sign-in; we will keep trying."
            }
            Revocation::Unsupported => "The saved credentials were deleted.",
        }
    );
    if is_htmx(&req) {
        Ok(html(DisconnectedRowFragment { id, message }, 200))
    } else {
        flash(&session, "success", message);
        Ok(see_other(crate::paths::settings()))
    }
}
