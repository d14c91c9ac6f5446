//! `/admin/users/`: accounts, alphabetical by email with keyset paging, search and filters;
//! make or unmake administrator; deactivate (ending every session of the account at once) or
//! reactivate. An admin cannot demote or deactivate themself.

use super::templates::{UserRow, UserRowFragment, UsersPage};
use super::{PAGE_SIZE, fmt_opt, fmt_time, ilike, like_pattern, pager, param};
use crate::auth::session_store::end_all_sessions;
use crate::auth::{AdminUser, csrf};
use crate::error::{AppError, AppResult};
use crate::models::connections;
use crate::models::entities::user;
use crate::models::keyset::{Keyset, Order};
use crate::models::users;
use crate::services::admin_audit::{self, Change};
use crate::state::AppState;
use crate::templates::{PageCtx, flash};
use crate::views::account::html;
use crate::views::{is_htmx, see_other};
use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, web};
use sea_orm::{ColumnTrait, Condition};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;

#[derive(Deserialize, Default)]
pub struct UsersQuery {
    /// Searches email and name; a number also matches the id.
    q: Option<String>,
    /// `admin` or `user`.
    role: Option<String>,
    /// `active` or `inactive`.
    state: Option<String>,
    /// Next page: emails after this one. Previous page: emails before this one.
    after: Option<String>,
    before: Option<String>,
}

async fn connection_counts(state: &AppState, ids: &[i64]) -> AppResult<HashMap<i64, u64>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = connections::count_by_user(&state.db, ids).await?;
    Ok(rows.into_iter().map(|(id, n)| (id, n as u64)).collect())
}

fn row_view(u: &user::Model, me: i64, connections: u64, csrf: &str) -> UserRow {
    UserRow {
        id: u.id,
        email: u.email.clone(),
        display_name: u.display_name.clone(),
        is_admin: u.is_admin,
        is_active: u.is_active,
        is_self: u.id == me,
        created: fmt_time(u.created_at),
        last_login: fmt_opt(u.last_login_at),
        connections,
        csrf: csrf.to_owned(),
        notice: None,
    }
}

/// `GET /admin/users/`.
pub async fn list(
    state: web::Data<AppState>,
    session: Session,
    admin: AdminUser,
    q: web::Query<UsersQuery>,
) -> AppResult<HttpResponse> {
    let q = q.into_inner();
    let mut cond = Condition::all();
    if let Some(text) = param(&q.q) {
        let pattern = like_pattern(text);
        let mut any = Condition::any()
            .add(ilike(user::Column::Email, &pattern))
            .add(ilike(user::Column::DisplayName, &pattern));
        if let Ok(id) = text.parse::<i64>() {
            any = any.add(user::Column::Id.eq(id));
        }
        cond = cond.add(any);
    }
    match param(&q.role) {
        Some("admin") => cond = cond.add(user::Column::IsAdmin.eq(true)),
        Some("user") => cond = cond.add(user::Column::IsAdmin.eq(false)),
        _ => {}
    }
    match param(&q.state) {
        Some("active") => cond = cond.add(user::Column::IsActive.eq(true)),
        Some("inactive") => cond = cond.add(user::Column::IsActive.eq(false)),
        _ => {}
    }
    let keyset = Keyset::<String>::parse(param(&q.before), param(&q.after))?;
    let window = users::window(&state.db, cond, &keyset, PAGE_SIZE).await?;
    let pager = pager(
        &window,
        Order::Ascending,
        |u| u.email.clone(),
        &crate::paths::admin_users().to_string(),
        &[
            ("q", param(&q.q).unwrap_or_default()),
            ("role", param(&q.role).unwrap_or_default()),
            ("state", param(&q.state).unwrap_or_default()),
        ],
    );
    let ids: Vec<i64> = window.rows.iter().map(|u| u.id).collect();
    let counts = connection_counts(&state, &ids).await?;
    let token = csrf::token(&session);
    let rows: Vec<UserRow> = window
        .rows
        .iter()
        .map(|u| row_view(u, admin.id, counts.get(&u.id).copied().unwrap_or(0), &token))
        .collect();
    Ok(html(
        UsersPage {
            ctx: PageCtx::new(&session, Some(&admin)),
            nav: "users",
            q: param(&q.q).unwrap_or_default().to_owned(),
            role: param(&q.role).unwrap_or_default().to_owned(),
            state: param(&q.state).unwrap_or_default().to_owned(),
            rows,
            pager,
        },
        200,
    ))
}

/// The reply to a change: the row (HTMX) or the list with a message.
async fn reply(
    req: &HttpRequest,
    state: &AppState,
    session: &Session,
    admin: &AdminUser,
    u: &user::Model,
    level: &str,
    message: String,
) -> AppResult<HttpResponse> {
    if !is_htmx(req) {
        flash(session, level, message);
        return Ok(see_other(
            &crate::paths::admin_users().search(&u.email).to_string(),
        ));
    }
    let counts = connection_counts(state, &[u.id]).await?;
    let mut row = row_view(
        u,
        admin.id,
        counts.get(&u.id).copied().unwrap_or(0),
        &csrf::token(session),
    );
    row.notice = Some((level.to_owned(), message));
    Ok(html(UserRowFragment { u: row }, 200))
}

async fn find_user(state: &AppState, id: i64) -> AppResult<user::Model> {
    users::find(&state.db, id).await?.ok_or(AppError::NotFound)
}

#[derive(Deserialize)]
pub struct AdminForm {
    is_admin: String,
}

/// `POST /admin/users/{id}/admin`: make or unmake an administrator.
pub async fn set_admin(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    admin: AdminUser,
    path: web::Path<i64>,
    form: web::Form<AdminForm>,
) -> AppResult<HttpResponse> {
    let wanted = crate::views::switch("is_admin", &form.is_admin)?;
    let u = find_user(&state, path.into_inner()).await?;
    if u.id == admin.id && !wanted {
        let msg = "You cannot remove your own administrator rights; ask another administrator.";
        return reply(&req, &state, &session, &admin, &u, "error", msg.into()).await;
    }
    if u.is_admin == wanted {
        let msg = format!(
            "{} {} an administrator already.",
            u.email,
            if wanted { "is" } else { "is not" }
        );
        return reply(&req, &state, &session, &admin, &u, "info", msg).await;
    }
    let before = u.is_admin;
    let u = users::set_admin(&state.db, u, wanted).await?;
    admin_audit::record(
        &state.db,
        Change {
            admin_user_id: admin.id,
            action: if wanted {
                "user.make_admin"
            } else {
                "user.unmake_admin"
            },
            target_type: "user",
            target_id: u.id.to_string(),
            before: json!({"email": u.email, "is_admin": before}),
            after: json!({"email": u.email, "is_admin": wanted}),
        },
    )
    .await?;
    let msg = if wanted {
        format!("{} is now an administrator.", u.email)
    } else {
        format!("{} is no longer an administrator.", u.email)
    };
    reply(&req, &state, &session, &admin, &u, "success", msg).await
}

#[derive(Deserialize)]
pub struct ActiveForm {
    is_active: String,
}

/// `POST /admin/users/{id}/active`: deactivate (ending every session at once) or reactivate.
pub async fn set_active(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    admin: AdminUser,
    path: web::Path<i64>,
    form: web::Form<ActiveForm>,
) -> AppResult<HttpResponse> {
    let wanted = crate::views::switch("is_active", &form.is_active)?;
    let u = find_user(&state, path.into_inner()).await?;
    if u.id == admin.id && !wanted {
        let msg = "You cannot deactivate your own account; ask another administrator.";
        return reply(&req, &state, &session, &admin, &u, "error", msg.into()).await;
    }
    if u.is_active == wanted {
        let msg = format!(
            "{} is {} already.",
            u.email,
            if wanted { "active" } else { "deactivated" }
        );
        return reply(&req, &state, &session, &admin, &u, "info", msg).await;
    }
    let before = u.is_active;
    // The flag first: from here on the extractors treat the account as logged out, even if
    // ending its sessions below failed.
    let u = users::set_active(&state.db, u, wanted).await?;
    let ended = if wanted {
        0
    } else {
        end_all_sessions(&state.db, u.id).await?
    };
    admin_audit::record(
        &state.db,
        Change {
            admin_user_id: admin.id,
            action: if wanted {
                "user.reactivate"
            } else {
                "user.deactivate"
            },
            target_type: "user",
            target_id: u.id.to_string(),
            before: json!({"email": u.email, "is_active": before}),
            after: json!({"email": u.email, "is_active": wanted, "sessions_ended": ended}),
        },
    )
    .await?;
    let msg = if wanted {
        format!("{} can log in again.", u.email)
    } else {
        format!(
            "{} is deactivated; {ended} session(s) ended. Their connections are kept.",
            u.email
        )
    };
    reply(&req, &state, &session, &admin, &u, "success", msg).await
}
