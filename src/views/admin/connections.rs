//! `/admin/connections/`: every user's connections, filtered by connector, status and user,
//! with free-text search and keyset paging on the id (newest first); a detail page with the
//! refresh bookkeeping (never a token: credentials are not even decrypted here); and Revoke,
//! which takes the same path as the user's own Disconnect (`services::disconnect::disconnect`:
//! delete, revoke at the provider, audit).

use super::templates::{
    AdminConnectionRow, AuditRowView, ConnectionPage, ConnectionRevokedFragment, ConnectionsPage,
};
use super::{
    PAGE_SIZE, UserFilter, audit, emails_of, fmt_opt, fmt_time, ilike, like_pattern, pager, param,
    user_filter, users_matching,
};
use crate::auth::{AdminUser, csrf};
use crate::error::{AppError, AppResult};
use crate::models::Channel;
use crate::models::entities::{connection, connector};
use crate::models::keyset::{Keyset, Order, Window};
use crate::models::{connections, connector_audit_logs, connectors};
use crate::services::admin_audit::{self, Change};
use crate::services::disconnect::{self, Revocation};
use crate::state::AppState;
use crate::templates::{PageCtx, flash};
use crate::views::account::html;
use crate::views::{is_htmx, see_other};
use actix_session::Session;
use actix_web::{HttpRequest, HttpResponse, web};
use sea_orm::{ColumnTrait, Condition};
use serde::Deserialize;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};

/// The statuses a connection can have.
pub const STATUSES: [&str; 3] = ["active", "needs_reauth", "error"];

#[derive(Deserialize, Default)]
pub struct ConnectionsQuery {
    connector: Option<String>,
    status: Option<String>,
    /// A user id or email.
    user: Option<String>,
    /// Searches the connected account, the user's email and name, and the id.
    q: Option<String>,
    /// Keyset cursors: rows with an id below `before` (next page) / above `after` (previous).
    before: Option<String>,
    after: Option<String>,
}

fn row_view(
    c: &connection::Model,
    connectors: &HashMap<i64, connector::Model>,
    emails: &HashMap<i64, String>,
    csrf: &str,
) -> AdminConnectionRow {
    let k = connectors.get(&c.connector_id);
    AdminConnectionRow {
        id: c.id,
        user_id: c.user_id,
        user_email: emails
            .get(&c.user_id)
            .cloned()
            .unwrap_or_else(|| format!("user {}", c.user_id)),
        connector_slug: k.map(|k| k.slug.clone()).unwrap_or_default(),
        connector_name: k.map(|k| k.name.clone()).unwrap_or_default(),
        identity: c.service_identity.clone().unwrap_or_else(|| "—".into()),
        status: c.status.as_str().to_owned(),
        created: fmt_time(c.created_at),
        last_used: fmt_opt(c.last_used_at),
        expires: c.expires_at.map(fmt_time).unwrap_or_else(|| "—".into()),
        csrf: csrf.to_owned(),
    }
}

async fn catalog_by_id(state: &AppState) -> AppResult<HashMap<i64, connector::Model>> {
    Ok(connectors::list(&state.db)
        .await?
        .into_iter()
        .map(|k| (k.id, k))
        .collect())
}

/// `GET /admin/connections/`.
pub async fn list(
    state: web::Data<AppState>,
    session: Session,
    admin: AdminUser,
    q: web::Query<ConnectionsQuery>,
) -> AppResult<HttpResponse> {
    let q = q.into_inner();
    let catalog = catalog_by_id(&state).await?;
    let mut errors = BTreeMap::new();
    let mut cond = Condition::all();
    let mut nothing = false;
    if let Some(slug) = param(&q.connector) {
        match catalog.values().find(|k| k.slug == slug) {
            Some(k) => cond = cond.add(connection::Column::ConnectorId.eq(k.id)),
            None => {
                errors.insert("connector".into(), "No such connector.".into());
            }
        }
    }
    if let Some(status) = param(&q.status) {
        if STATUSES.contains(&status) {
            cond = cond.add(connection::Column::Status.eq(status));
        } else {
            errors.insert("status".into(), "No such status.".into());
        }
    }
    match user_filter(&state.db, param(&q.user)).await? {
        UserFilter::Any => {}
        UserFilter::Id(id) => cond = cond.add(connection::Column::UserId.eq(id)),
        UserFilter::Nobody => nothing = true,
    }
    if let Some(text) = param(&q.q) {
        let mut any = Condition::any().add(ilike(
            connection::Column::ServiceIdentity,
            &like_pattern(text),
        ));
        let users = users_matching(&state.db, text, 1000).await?;
        if !users.is_empty() {
            any = any.add(connection::Column::UserId.is_in(users));
        }
        if let Ok(id) = text.parse::<i64>() {
            any = any.add(connection::Column::Id.eq(id));
        }
        cond = cond.add(any);
    }
    let keyset = Keyset::<i64>::parse(param(&q.before), param(&q.after))?;
    let window = if nothing || !errors.is_empty() {
        Window {
            rows: Vec::new(),
            has_prev: false,
            has_next: false,
        }
    } else {
        connections::window(&state.db, cond, &keyset, PAGE_SIZE).await?
    };
    let pager = pager(
        &window,
        Order::Descending,
        |c| c.id,
        &crate::paths::admin_connections().to_string(),
        &[
            ("connector", param(&q.connector).unwrap_or_default()),
            ("status", param(&q.status).unwrap_or_default()),
            ("user", param(&q.user).unwrap_or_default()),
            ("q", param(&q.q).unwrap_or_default()),
        ],
    );
    let token = csrf::token(&session);
    let emails = emails_of(&state.db, window.rows.iter().map(|c| c.user_id)).await?;
    let rows: Vec<AdminConnectionRow> = window
        .rows
        .iter()
        .map(|c| row_view(c, &catalog, &emails, &token))
        .collect();
    let mut connectors: Vec<(String, String)> = catalog
        .values()
        .map(|k| (k.slug.clone(), k.name.clone()))
        .collect();
    connectors.sort();
    let status = if errors.is_empty() { 200 } else { 422 };
    let page = ConnectionsPage {
        ctx: PageCtx::new(&session, Some(&admin)),
        nav: "connections",
        connector: param(&q.connector).unwrap_or_default().to_owned(),
        status: param(&q.status).unwrap_or_default().to_owned(),
        user: param(&q.user).unwrap_or_default().to_owned(),
        q: param(&q.q).unwrap_or_default().to_owned(),
        connectors,
        statuses: STATUSES.to_vec(),
        rows,
        pager,
        errors,
    };
    Ok(html(page, status))
}

/// `GET /admin/connections/{id}/`.
pub async fn show(
    state: web::Data<AppState>,
    session: Session,
    admin: AdminUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let c = connections::find(&state.db, path.into_inner())
        .await?
        .ok_or(AppError::NotFound)?;
    let catalog = catalog_by_id(&state).await?;
    let recent_models = connector_audit_logs::recent_for_connection(&state.db, c.id, 10).await?;
    let mut ids = vec![c.user_id];
    ids.extend(recent_models.iter().filter_map(|r| r.user_id));
    let emails = emails_of(&state.db, ids).await?;
    let recent: Vec<AuditRowView> = recent_models
        .iter()
        .map(|r| audit::view(r, &emails))
        .collect();
    let lease = match (&c.refresh_lease_until, &c.refresh_lease_owner) {
        (Some(until), _) if *until > chrono::Utc::now() => {
            format!("held until {}", fmt_time(*until))
        }
        _ => "free".into(),
    };
    let page = ConnectionPage {
        ctx: PageCtx::new(&session, Some(&admin)),
        nav: "connections",
        c: row_view(&c, &catalog, &emails, &csrf::token(&session)),
        scopes: c.scopes.clone().unwrap_or_else(|| "—".into()),
        updated: fmt_time(c.updated_at),
        last_refresh: fmt_opt(c.last_refresh_at),
        refresh_failures: c.refresh_failures,
        refresh_lease: lease,
        last_error: c.last_error.clone(),
        credentials_version: c.credentials_version,
        rows: recent,
        audit_link: crate::paths::admin_audit().search(c.id).to_string(),
    };
    Ok(html(page, 200))
}

/// `POST /admin/connections/{id}/revoke`: the user's Disconnect, done by an admin. HTMX gets
/// the row replaced by a message; a plain post goes back to the list with a flash.
pub async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    admin: AdminUser,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let c = connections::find(&state.db, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let slug = connectors::find(&state.db, c.connector_id)
        .await?
        .map(|k| k.slug)
        .unwrap_or_default();
    let done = disconnect::disconnect(&state, &state.queue, Channel::Web, c.user_id, c.id).await?;
    admin_audit::record(
        &state.db,
        Change {
            admin_user_id: admin.id,
            action: "connection.revoke",
            target_type: "connection",
            target_id: c.id.to_string(),
            before: json!({
                "user_id": c.user_id,
                "connector": slug,
                "service_identity": c.service_identity,
                "status": c.status,
            }),
            after: json!({
                "deleted": true,
                "service_revocation_status": done.revocation.as_str(),
            }),
        },
    )
    .await?;
    let message = format!(
        "Connection {id} ({}) revoked. {}",
        done.connector_name,
        match done.revocation {
            Revocation::Confirmed => "The service confirmed the sign-in is revoked.",
            Revocation::Pending => {
                "The service could not be reached; the revocation will be retried."
            }
            Revocation::Unsupported => "The saved credentials were deleted.",
        }
    );
    if is_htmx(&req) {
        Ok(html(ConnectionRevokedFragment { id, message }, 200))
    } else {
        flash(&session, "success", message);
        Ok(see_other(&crate::paths::admin_connections().to_string()))
    }
}
