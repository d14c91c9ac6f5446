//! The personal access tokens section of `/settings`: create (the token is shown once, in
//! the answer to the create request and nowhere else), list and revoke. HTMX swaps the
//! section; a plain form post gets the whole settings page back.

use super::account::html;
use super::is_htmx;
use super::settings::{section, settings_page};
use crate::auth::CurrentUser;
use crate::error::{AppError, AppResult};
use crate::services::api_tokens::{self, NewToken, Scope};
use crate::state::AppState;
use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    scope_api: Option<String>,
    #[serde(default)]
    scope_mcp: Option<String>,
    #[serde(default)]
    days: Option<String>,
}

/// `POST /settings/tokens`.
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    user: CurrentUser,
    form: web::Form<CreateForm>,
) -> AppResult<HttpResponse> {
    let form = form.into_inner();
    let scopes: Vec<Scope> = [
        (form.scope_api.is_some(), Scope::Api),
        (form.scope_mcp.is_some(), Scope::Mcp),
    ]
    .into_iter()
    .filter_map(|(on, scope)| on.then_some(scope))
    .collect();
    let days = match form.days.as_deref().map(str::trim) {
        None | Some("") => Ok(api_tokens::DEFAULT_DAYS),
        Some(text) => text.parse::<u32>().map_err(|_| {
            format!(
                "Expiry: a number of days from 1 to {}.",
                api_tokens::MAX_DAYS
            )
        }),
    };
    let outcome = match days {
        Ok(days) => {
            let new = NewToken {
                name: &form.name,
                scopes: &scopes,
                days,
            };
            match api_tokens::create(&state.db, user.id, new).await {
                Ok((row, token)) => {
                    tracing::info!(user.id = user.id, token.id = row.id, token.scopes = %row.scopes, "personal access token created");
                    Ok((row.name, token))
                }
                Err(AppError::BadRequest(message)) => Err(message),
                Err(e) => return Err(e),
            }
        }
        Err(message) => Err(message),
    };
    let (created, error) = match outcome {
        Ok(shown) => (Some(shown), None),
        Err(message) => (None, Some(message)),
    };
    let status = if error.is_some() { 422 } else { 200 };
    let tokens = section(&state, &session, user.id, created, error).await?;
    if is_htmx(&req) {
        return Ok(html(tokens, status));
    }
    Ok(html(
        settings_page(&state, &session, &user, tokens).await?,
        status,
    ))
}

/// `POST /settings/tokens/{id}/revoke`: anyone else's token is a 404.
pub async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    user: CurrentUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    api_tokens::revoke(&state.db, Some(user.id), id).await?;
    tracing::info!(
        user.id = user.id,
        token.id = id,
        "personal access token revoked"
    );
    let tokens = section(&state, &session, user.id, None, None).await?;
    if is_htmx(&req) {
        return Ok(html(tokens, 200));
    }
    crate::templates::flash(&session, "success", "Token revoked.");
    Ok(super::see_other(crate::paths::settings()))
}
