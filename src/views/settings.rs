//! `/settings`: the services a user can connect and the connections they have.

use super::account::html;
use crate::auth::CurrentUser;
use crate::error::AppResult;
use crate::models::entities::{connection, connector};
use crate::state::AppState;
use crate::templates::{ConnectionRow, ConnectorCard, PageCtx, SettingsPage};
use actix_session::Session;
use actix_web::{HttpResponse, web};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

pub async fn settings(
    state: web::Data<AppState>,
    session: Session,
    user: CurrentUser,
) -> AppResult<HttpResponse> {
    let catalog = connector::Entity::find()
        .order_by_asc(connector::Column::Name)
        .all(&state.db)
        .await?;
    let connectors = catalog
        .iter()
        .filter(|c| c.is_enabled && state.registry.get(&c.slug).is_some())
        .map(|c| ConnectorCard {
            slug: c.slug.clone(),
            name: c.name.clone(),
            description: c.description.clone(),
            icon: c.icon.clone(),
            kind: if c.kind == "oauth2" {
                "Sign in with the service".into()
            } else {
                "Enter your own credentials".into()
            },
        })
        .collect();
    let mine = connection::Entity::find()
        .filter(connection::Column::UserId.eq(user.id))
        .order_by_asc(connection::Column::Id)
        .all(&state.db)
        .await?;
    let fmt = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|| "never".into())
    };
    let connections = mine
        .into_iter()
        .map(|c| ConnectionRow {
            id: c.id,
            connector: catalog
                .iter()
                .find(|k| k.id == c.connector_id)
                .map(|k| k.name.clone())
                .unwrap_or_default(),
            identity: c.service_identity.clone().unwrap_or_else(|| "—".into()),
            status: c.status.clone(),
            connected: fmt(Some(c.created_at)),
            last_used: fmt(c.last_used_at),
        })
        .collect();
    Ok(html(
        SettingsPage {
            ctx: PageCtx::new(&session, Some(&user)),
            connectors,
            connections,
        },
        200,
    ))
}
