//! Campus sign-in (OpenID Connect) pages: the start (to the provider), the callback (back
//! from it), the provider's back-channel logout, and the one-time sign-in links of the
//! break-glass path. (Logging out of a campus session, RP-initiated logout included, is
//! `account::logout`; refusing passwords when they are off is `account::login`.) The protocol
//! lives in `services::oidc`, accounts in `services::oidc_accounts`, logout tokens in
//! `services::oidc_logout`.

use super::account::{html, start_session};
use crate::auth::keys;
use crate::crypto::random_token;
use crate::error::{AppError, AppResult};
use crate::services::{oidc_accounts, oidc_logout};
use crate::state::AppState;
use crate::templates::{LoginOptions, LoginPage, PageCtx, flash};
use actix_session::Session;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
pub struct StartQuery {
    #[serde(default)]
    next: String,
}

/// The session's flow nonce: sign-ins started in this session are bound to its hash.
fn session_nonce(session: &Session) -> AppResult<String> {
    if let Ok(Some(nonce)) = session.get::<String>(keys::OAUTH_NONCE) {
        return Ok(nonce);
    }
    let nonce = random_token(32);
    session
        .insert(keys::OAUTH_NONCE, &nonce)
        .map_err(|e| anyhow::anyhow!("session write failed: {e}"))?;
    Ok(nonce)
}

/// The login page again, with what went wrong.
fn login_with_error(
    state: &AppState,
    session: &Session,
    next: String,
    error: &AppError,
) -> HttpResponse {
    let status = match error {
        AppError::Forbidden(_) => 403,
        AppError::Unavailable(_) => 503,
        _ => 400,
    };
    let page = LoginPage {
        ctx: PageCtx::new(session, None),
        email: String::new(),
        next,
        error: Some(error.to_string()),
        options: LoginOptions::of(&state.settings),
    };
    html(page, status)
}

/// `GET /auth/oidc/start`: to the identity provider's sign-in page.
pub async fn start(
    state: web::Data<AppState>,
    session: Session,
    q: web::Query<StartQuery>,
) -> AppResult<HttpResponse> {
    if state.sso.settings().is_none() {
        return Err(AppError::NotFound);
    }
    let next = super::safe_next(&q.next).to_owned();
    let nonce = session_nonce(&session)?;
    match state
        .sso
        .start(&state.db, &state.keyring, &nonce, &next)
        .await
    {
        Ok(url) => Ok(super::see_other(&url)),
        Err(e @ (AppError::Unavailable(_) | AppError::FlowRejected(_))) => {
            Ok(login_with_error(&state, &session, q.next.clone(), &e))
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /auth/oidc/callback`: back from the provider with a code (or an error).
pub async fn callback(
    state: web::Data<AppState>,
    session: Session,
    q: web::Query<CallbackQuery>,
) -> AppResult<HttpResponse> {
    let Some(settings) = state.sso.settings() else {
        return Err(AppError::NotFound);
    };
    let q = q.into_inner();
    let outcome = match (&q.error, &q.code, &q.state) {
        (Some(error), _, flow_state) => {
            tracing::info!(oidc.error = %error, "campus sign-in: the provider sent an error");
            if let Some(flow_state) = flow_state {
                state.sso.discard(&state.db, flow_state).await?;
            }
            Err(AppError::FlowRejected(format!(
                "The sign-in with {} was cancelled or refused. Please try again.",
                settings.institution_name
            )))
        }
        (None, Some(code), Some(flow_state)) => {
            let nonce = session.get::<String>(keys::OAUTH_NONCE).ok().flatten();
            match state
                .sso
                .finish(
                    &state.db,
                    &state.keyring,
                    nonce.as_deref(),
                    code,
                    flow_state,
                )
                .await
            {
                Ok((asserted, next)) => oidc_accounts::sign_in(&state.db, settings, &asserted)
                    .await
                    .map(|user| (user, next)),
                Err(e) => Err(e),
            }
        }
        _ => Err(AppError::FlowRejected(
            "The identity provider's answer is incomplete. Please sign in again.".into(),
        )),
    };
    match outcome {
        Ok((user, next)) => {
            start_session(&state, &session, &user).await?;
            session
                .insert(keys::SSO, true)
                .map_err(|e| anyhow::anyhow!("session: {e}"))?;
            Ok(super::see_other(super::safe_next(&next)))
        }
        Err(
            e @ (AppError::FlowRejected(_) | AppError::Forbidden(_) | AppError::Unavailable(_)),
        ) => Ok(login_with_error(&state, &session, String::new(), &e)),
        Err(e) => Err(e),
    }
}

/// `POST /auth/oidc/backchannel-logout`: the provider ends a user's sessions. Answers as the
/// spec says: 200 on success, 400 `invalid_request` with the reason otherwise, never cached.
pub async fn backchannel_logout(
    state: web::Data<AppState>,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    if state.sso.settings().is_none() {
        return Err(AppError::NotFound);
    }
    let token = url::form_urlencoded::parse(&body)
        .find(|(k, _)| k == "logout_token")
        .map(|(_, v)| v.into_owned());
    let result = match token {
        Some(token) => oidc_logout::backchannel_logout(&state.sso, &state.db, &token).await,
        None => Err(AppError::BadRequest("logout_token is missing".into())),
    };
    let answer = |status: u16, body: serde_json::Value| {
        HttpResponse::build(
            actix_web::http::StatusCode::from_u16(status)
                .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST),
        )
        .insert_header(("Cache-Control", "no-store"))
        .json(body)
    };
    match result {
        Ok(done) => Ok(answer(200, json!({"sessions_ended": done.sessions}))),
        Err(AppError::BadRequest(reason)) => {
            tracing::warn!(reason = %reason, "campus sign-in: logout token refused");
            Ok(answer(
                400,
                json!({"error": "invalid_request", "error_description": reason}),
            ))
        }
        Err(AppError::Unavailable(reason)) => Ok(answer(
            503,
            json!({"error": "temporarily_unavailable", "error_description": reason}),
        )),
        Err(e) => Err(e),
    }
}

/// `GET /auth/link/{token}`: a one-time sign-in link (`campuscore sso signin-link`).
pub async fn signin_link(
    state: web::Data<AppState>,
    session: Session,
    token: web::Path<String>,
) -> AppResult<HttpResponse> {
    let user = oidc_accounts::redeem_signin_link(&state.db, &token).await?;
    start_session(&state, &session, &user).await?;
    flash(&session, "success", "Signed in with a one-time link.");
    tracing::warn!(user.id = user.id, "signed in with a one-time sign-in link");
    Ok(super::see_other(if user.is_admin {
        crate::paths::admin()
    } else {
        crate::paths::home()
    }))
}
