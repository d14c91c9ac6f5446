//! Extractors that resolve the caller before a handler runs: `CurrentUser` (session cookie or
//! `Authorization: Bearer <personal access token>`), `AdminUser`, and `MaybeUser` for pages
//! that anyone may see. A deactivated account is treated as logged out on its next request.

use super::keys;
use crate::error::AppError;
use crate::models::entities::user;
use crate::models::users;
use crate::services::api_tokens;
use crate::state::AppState;
use actix_session::SessionExt;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use std::future::Future;
use std::pin::Pin;

/// A logged-in, active user.
#[derive(Clone, Debug)]
pub struct CurrentUser(pub user::Model);

/// A logged-in, active administrator. Anyone else gets a 404 (admin pages do not exist for them).
#[derive(Clone, Debug)]
pub struct AdminUser(pub user::Model);

/// The user, if someone is logged in.
#[derive(Clone, Debug)]
pub struct MaybeUser(pub Option<user::Model>);

impl std::ops::Deref for CurrentUser {
    type Target = user::Model;
    fn deref(&self) -> &user::Model {
        &self.0
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

async fn resolve(req: HttpRequest) -> Result<Option<user::Model>, AppError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| anyhow::anyhow!("AppState missing"))?
        .clone();
    let user = if let Some(token) = bearer(&req) {
        // A bad bearer token is an error, not an anonymous request.
        Some(
            api_tokens::authenticate(&state.db, &token)
                .await?
                .ok_or(AppError::Unauthenticated)?,
        )
    } else {
        let session = req.get_session();
        let Some(id) = session.get::<i64>(keys::USER_ID).ok().flatten() else {
            return Ok(None);
        };
        let user = users::find(&state.db, id).await?;
        if user.as_ref().is_none_or(|u| !u.is_active) {
            session.purge();
        }
        user
    };
    Ok(user.filter(|u| u.is_active))
}

impl FromRequest for MaybeUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { resolve(req).await.map(MaybeUser) })
    }
}

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            resolve(req)
                .await?
                .map(CurrentUser)
                .ok_or(AppError::Unauthenticated)
        })
    }
}

impl FromRequest for AdminUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AppError>>>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            match resolve(req).await? {
                Some(u) if u.is_admin => Ok(AdminUser(u)),
                Some(_) => Err(AppError::NotFound),
                None => Err(AppError::Unauthenticated),
            }
        })
    }
}
