//! The start page.

use crate::auth::CurrentUser;
use crate::error::AppResult;
use crate::models::{connections, folders};
use crate::state::AppState;
use crate::templates::{HomePage, PageCtx};
use actix_session::Session;
use actix_web::{HttpResponse, web};

pub async fn home(
    state: web::Data<AppState>,
    session: Session,
    user: CurrentUser,
) -> AppResult<HttpResponse> {
    let folders = folders::list_for_user(&state.db, user.id).await?.len();
    let connections = connections::count_for_user(&state.db, user.id).await? as usize;
    Ok(super::account::html(
        HomePage {
            ctx: PageCtx::new(&session, Some(&user)),
            folders,
            connections,
        },
        200,
    ))
}
