//! `/settings`: the services a user can connect and the connections they have, with Test,
//! Reconnect and Disconnect as HTMX fragments (plain posts work too, without JavaScript).

use super::account::html;
use super::{is_htmx, see_other};
use crate::auth::CurrentUser;
use crate::error::AppResult;
use crate::models::connectors;
use crate::models::entities::{connection, connector};
use crate::services::connections;
use crate::services::disconnect::{self, Revocation};
use crate::state::AppState;
use crate::templates::{
    ConnectionRow, ConnectionRowFragment, ConnectorCard, DisconnectedRowFragment, PageCtx,
    SettingsPage, flash,
};
use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, web};
use campuscore_connectors::ConnectorKind;

/// `GET /settings`.
pub async fn settings(
    state: web::Data<AppState>,
    session: Session,
    user: CurrentUser,
) -> AppResult<HttpResponse> {
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
        .is_configured(&state)
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
    let connections = connections::list_mine(&state, user.id)
        .await?
        .iter()
        .map(|c| row_for(&state, c, catalog.iter().find(|k| k.id == c.connector_id)))
        .collect();
    Ok(html(
        SettingsPage {
            ctx: PageCtx::new(&session, Some(&user)),
            connectors,
            connections,
            assistants: super::assistants::section(&state, &session, user.id).await?,
        },
        200,
    ))
}

/// A settings row, with the query console offered where the connector has one.
fn row_for(
    state: &AppState,
    conn: &connection::Model,
    connector: Option<&connector::Model>,
) -> ConnectionRow {
    let mut row = ConnectionRow::new(conn, connector);
    row.can_query = connector
        .and_then(|k| state.registry.get(&k.slug))
        .is_some_and(|p| p.action("run_query").is_some());
    row
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
    let (conn, error) = connections::test(&state, user.id, path.into_inner()).await?;
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
    let done = disconnect::disconnect(&state, &state.queue, user.id, id).await?;
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
