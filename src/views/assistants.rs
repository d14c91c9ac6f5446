//! "Connected assistants" on `/settings`: the MCP grants a user gave, each with Revoke (an
//! HTMX swap of the section, or a plain post that comes back to the page). Revoking stops
//! every token of the grant at once.

use super::account::html;
use super::{is_htmx, see_other};
use crate::auth::{CurrentUser, csrf};
use crate::error::{AppError, AppResult};
use crate::services::mcp_auth;
use crate::services::mcp_grants::{self, AssistantGrant};
use crate::state::AppState;
use crate::templates::flash;
use crate::templates::mcp::{AssistantRow, Assistants, AssistantsFragment};
use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, web};

/// The section for `user_id`, as `/settings` shows it.
pub async fn section(state: &AppState, session: &Session, user_id: i64) -> AppResult<Assistants> {
    let grants = mcp_grants::list_live(&state.db, user_id).await?;
    Ok(Assistants {
        rows: grants.iter().map(row).collect(),
        mcp_url: mcp_auth::resource(&state.settings),
        csrf: csrf::token(session),
        notice: None,
    })
}

fn row(g: &AssistantGrant) -> AssistantRow {
    let when = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
    AssistantRow {
        id: g.id,
        name: g.client_name.clone(),
        host: g.client_host.clone(),
        verified: g.verified,
        tools: if g.write {
            "Read and make changes".into()
        } else {
            "Read".into()
        },
        connections: if g.connections.is_empty() {
            "none".into()
        } else {
            g.connections.join(", ")
        },
        created: when(g.created_at),
        last_used: g.last_used_at.map_or_else(|| "never".into(), when),
    }
}

/// `POST /settings/assistants/{grant_id}/revoke`: ends the grant; another user's is a 404.
pub async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let grant_id = path.into_inner();
    let name = mcp_grants::list_live(&state.db, user.id)
        .await?
        .into_iter()
        .find(|g| g.id == grant_id)
        .map(|g| g.client_name)
        .ok_or(AppError::NotFound)?;
    mcp_grants::revoke_mine(&state.db, user.id, grant_id).await?;
    let message = format!("{name} can no longer use your account.");
    if !is_htmx(&req) {
        flash(&session, "success", message);
        return Ok(see_other(crate::paths::settings()));
    }
    let mut assistants = section(&state, &session, user.id).await?;
    assistants.notice = Some(message);
    Ok(html(AssistantsFragment { assistants }, 200))
}
