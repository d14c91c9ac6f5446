//! The start page.

use crate::auth::CurrentUser;
use crate::error::AppResult;
use crate::models::entities::connection;
use crate::models::folders;
use crate::state::AppState;
use crate::templates::{HomePage, PageCtx};
use actix_session::Session;
use actix_web::{HttpResponse, web};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

pub async fn home(
    state: web::Data<AppState>,
    session: Session,
    user: CurrentUser,
) -> AppResult<HttpResponse> {
    let folders = folders::list_for_user(&state.db, user.id).await?.len();
    let connections = connection::Entity::find()
        .filter(connection::Column::UserId.eq(user.id))
        .count(&state.db)
        .await? as usize;
    Ok(super::account::html(
        HomePage {
            ctx: PageCtx::new(&session, Some(&user)),
            folders,
            connections,
        },
        200,
    ))
}
