//! The JSON API (session cookie or `Authorization: Bearer` personal access token): the
//! connector catalog with action schemas, and running an action on one of my connections.

use crate::auth::CurrentUser;
use crate::error::AppResult;
use crate::models::entities::connector;
use crate::services::run_action::run_action;
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use campuscore_connectors::ActionOutput;
use futures_util::TryStreamExt;
use sea_orm::EntityTrait;
use serde_json::{Value, json};

/// `GET /api/v1/connectors`: enabled connectors with kind, scoping, capabilities and schemas.
pub async fn list_connectors(
    state: web::Data<AppState>,
    _user: CurrentUser,
) -> AppResult<HttpResponse> {
    let rows = connector::Entity::find().all(&state.db).await?;
    let mut out = Vec::new();
    for plugin in state.registry.iter() {
        let spec = plugin.spec();
        let Some(row) = rows.iter().find(|r| r.slug == spec.slug && r.is_enabled) else {
            continue;
        };
        let mut capabilities: Vec<&str> = plugin
            .actions()
            .iter()
            .flat_map(|a| a.tags.iter().map(|t| t.as_str()))
            .collect();
        capabilities.sort_unstable();
        capabilities.dedup();
        out.push(json!({
            "id": row.id,
            "connector_id": spec.slug,
            "name": spec.name,
            "description": spec.description,
            "icon": format!("/static/icons/{}.svg", spec.icon),
            "kind": spec.kind,
            "scoping": spec.scoping,
            "authentication_methods": [spec.kind],
            "capabilities": capabilities,
            "version": spec.version,
            "actions": plugin.actions(),
        }));
    }
    Ok(HttpResponse::Ok().json(json!({ "connectors": out })))
}

/// `POST /api/v1/connections/{id}/actions/{action}`: JSON params in, `{"result": …}` out;
/// download actions stream the file.
pub async fn execute(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(i64, String)>,
    body: Option<web::Json<Value>>,
) -> AppResult<HttpResponse> {
    let (connection_id, action) = path.into_inner();
    let params = body.map(|b| b.into_inner()).unwrap_or(Value::Null);
    match run_action(&state, &user, connection_id, &action, params).await? {
        ActionOutput::Json(result) => Ok(HttpResponse::Ok().json(json!({ "result": result }))),
        ActionOutput::Download(d) => {
            let mut res = HttpResponse::Ok();
            res.content_type(d.mime_type.clone());
            let disposition = format!(
                "attachment; filename=\"{}\"",
                d.name.replace(['"', '\\', '\r', '\n'], "_")
            );
            res.insert_header(("Content-Disposition", disposition));
            if let Some(size) = d.size {
                res.no_chunking(size);
            }
            Ok(res.streaming(
                d.stream
                    .map_err(|e| actix_web::error::ErrorBadGateway(e.user_message())),
            ))
        }
    }
}
