//! Extractors that resolve the caller before a handler runs: `CurrentUser` (session cookie or
//! `Authorization: Bearer <personal access token with the api scope>`), `AdminUser` (a
//! session only: admin pages never accept a bearer token), and `MaybeUser` for pages that
//! anyone may see. A deactivated account is treated as logged out on its next request.

use super::{keys, session_store};
use crate::error::AppError;
use crate::models::Channel;
use crate::models::connections::SessionToConfirm;
use crate::models::entities::{api_token, user};
use crate::models::{sessions, users};
use crate::services::api_tokens::{self, Scope};
use crate::services::run_action::Caller;
use crate::state::AppState;
use actix_session::SessionExt;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use std::future::Future;
use std::pin::Pin;

/// A logged-in, active user, and the personal access token they came with (if any).
#[derive(Clone, Debug)]
pub struct CurrentUser {
    pub user: user::Model,
    pub token: Option<api_token::Model>,
}

impl CurrentUser {
    /// The caller of a connector action: this user through `channel`, naming the token
    /// they came with as the client.
    pub fn caller(&self, channel: Channel) -> Caller<'_> {
        Caller::new(&self.user, channel).with_client(self.token.as_ref().map(|t| t.name.as_str()))
    }
}

/// A logged-in, active administrator. Anyone else — a visitor, a user, a bearer token —
/// gets a 404 (admin pages do not exist for them).
#[derive(Clone, Debug)]
pub struct AdminUser(pub user::Model);

/// The caller of a request whose handler confirms the session in its own read (see
/// `session_store`): the user the session names and, when the session was served without
/// reading its row, the session to confirm. Hand [`ClaimedUser::to_confirm`] to that read
/// (`Call::prepare_for_files`), and take [`ClaimedUser::confirmed`] only once it has
/// answered. A bearer token, or a session whose row was read, has nothing left to confirm.
#[derive(Clone, Debug)]
pub struct ClaimedUser {
    current: CurrentUser,
    key_hash: Option<String>,
}

impl ClaimedUser {
    /// The user the session names, not yet confirmed.
    pub fn claimed(&self) -> &user::Model {
        &self.current.user
    }

    /// The session the handler's read must confirm, if any.
    pub fn to_confirm(&self) -> Option<SessionToConfirm<'_>> {
        self.key_hash
            .as_deref()
            .map(|key_hash| SessionToConfirm { key_hash })
    }

    /// The caller, once the read given [`Self::to_confirm`] has confirmed the session.
    pub fn confirmed(self) -> CurrentUser {
        self.current
    }
}

/// The user, if someone is logged in.
#[derive(Clone, Debug)]
pub struct MaybeUser(pub Option<user::Model>);

impl std::ops::Deref for CurrentUser {
    type Target = user::Model;
    fn deref(&self) -> &user::Model {
        &self.user
    }
}

impl std::ops::Deref for AdminUser {
    type Target = user::Model;
    fn deref(&self) -> &user::Model {
        &self.0
    }
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let v = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    (v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer ")).then(|| v[7..].trim().to_owned())
}

/// Who is calling: a bearer token (valid for the JSON API) or the session's user.
async fn resolve(req: HttpRequest) -> Result<Option<CurrentUser>, AppError> {
    let state = app_state(&req)?;
    if let Some(token) = bearer(&req) {
        // A bad bearer token is an error, not an anonymous request.
        let found = api_tokens::authenticate(&state.db, &token, Scope::Api)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        return Ok(Some(CurrentUser {
            user: found.user,
            token: Some(found.token),
        }));
    }
    Ok(session_user(&req, &state)
        .await?
        .map(|user| CurrentUser { user, token: None }))
}

fn app_state(req: &HttpRequest) -> Result<web::Data<AppState>, AppError> {
    Ok(req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| anyhow::anyhow!("AppState missing"))?
        .clone())
}

/// The active user of the request's session; a session of a deactivated account ends.
async fn session_user(
    req: &HttpRequest,
    state: &AppState,
) -> Result<Option<user::Model>, AppError> {
    let session = req.get_session();
    let Some(id) = session.get::<i64>(keys::USER_ID).ok().flatten() else {
        return Ok(None);
    };
    let user = match session_store::unconfirmed(&session) {
        // Served without its row being read: read it now (as the store would have).
        Some(key_hash) => sessions::find_live_with_user(&state.db, &state.reads, &key_hash)
            .await?
            .filter(|(row, _)| row.user_id == Some(id))
            .and_then(|(_, user)| user),
        // Read with the session (one query); looked up alone only when the store did not.
        None => match session_store::loaded_user(&session) {
            Some(user) if user.id == id => Some(user),
            _ => users::find(&state.db, id).await?,
        },
    };
    if user.as_ref().is_none_or(|u| !u.is_active) {
        session.purge();
    }
    Ok(user.filter(|u| u.is_active))
}

impl FromRequest for MaybeUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Ok(MaybeUser(resolve(req).await?.map(|c| c.user))) })
    }
}

impl FromRequest for ClaimedUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let session = req.get_session();
            if bearer(&req).is_none()
                && let Some(key_hash) = session_store::unconfirmed(&session)
                && let Some(user) = session_store::loaded_user(&session)
                && session.get::<i64>(keys::USER_ID).ok().flatten() == Some(user.id)
            {
                return Ok(ClaimedUser {
                    current: CurrentUser { user, token: None },
                    key_hash: Some(key_hash),
                });
            }
            let current = resolve(req).await?.ok_or(AppError::Unauthenticated)?;
            Ok(ClaimedUser {
                current,
                key_hash: None,
            })
        })
    }
}

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { resolve(req).await?.ok_or(AppError::Unauthenticated) })
    }
}

impl FromRequest for AdminUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            // Admin pages exist only for a signed-in administrator's browser session: to
            // anyone else (a bearer token, a visitor, a user) they are the same 404.
            if bearer(&req).is_some() {
                return Err(AppError::NotFound);
            }
            let state = app_state(&req)?;
            match session_user(&req, &state).await? {
                Some(u) if u.is_admin => Ok(AdminUser(u)),
                _ => Err(AppError::NotFound),
            }
        })
    }
}
