//! The JSON API (session cookie or `Authorization: Bearer` personal access token): the
//! connector catalog with action schemas, OAuth initiation and completion, manual
//! connections, my credentials (list, revoke) and running an action on one of my
//! connections. Errors are JSON problem bodies with a stable `code`.

use crate::auth::CurrentUser;
use crate::error::{AppError, AppResult};
use crate::models::Channel;
use crate::models::connectors;
use crate::models::entities::{connection, connector};
use crate::services::oauth;
use crate::services::oauth_flows::{self, FlowOwner};
use crate::services::run_action::run_action;
use crate::services::{connections, disconnect, rate_limits};
use crate::state::AppState;
use actix_web::{HttpResponse, web};
use campuscore_connectors::form::form_input_from_json;
use campuscore_connectors::{ActionOutput, ConnectorKind};
use futures_util::TryStreamExt;
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// `GET /api/v1/connectors`: enabled connectors with kind, scoping, capabilities and schemas.
pub async fn list_connectors(
    state: web::Data<AppState>,
    _user: CurrentUser,
) -> AppResult<HttpResponse> {
    let rows = connectors::list(&state.db).await?;
    let mut out = Vec::new();
    for plugin in state.registry.iter() {
        let spec = plugin.spec();
        let Some(row) = rows.iter().find(|r| r.slug == spec.slug && r.is_enabled) else {
            continue;
        };
        let capabilities = capabilities(plugin.as_ref());
        out.push(json!({
            "id": row.id,
            "connector_id": spec.slug,
            "name": spec.name,
            "description": spec.description,
            "icon": crate::paths::connector_icon(spec.slug),
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
/// download actions stream the file. Each call counts against the user's API action budget
/// (`CAMPUSCORE_API_ACTIONS_PER_MINUTE`), since each may call an upstream service.
pub async fn execute(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(i64, String)>,
    body: Option<web::Json<Value>>,
) -> AppResult<HttpResponse> {
    let (connection_id, action) = path.into_inner();
    rate_limits::check(&state.writes, user.id, &state.settings.api_action_limit()).await?;
    let params = body.map(|b| b.into_inner()).unwrap_or(Value::Null);
    match run_action(
        &state,
        user.caller(Channel::Api),
        connection_id,
        &action,
        params,
    )
    .await?
    {
        ActionOutput::Json(result) => Ok(HttpResponse::Ok().json(json!({ "result": result }))),
        ActionOutput::Download(d) => {
            let mut res = HttpResponse::Ok();
            res.content_type(d.mime_type.clone());
            res.insert_header(("Content-Disposition", super::attachment(&d.name)));
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

/// The body of `POST /api/v1/connectors/{id}/auth`: empty (or `auth_method`, `redirect_uri`)
/// to initiate; `state` and `code` to complete.
#[derive(Deserialize, Default)]
pub struct AuthRequest {
    #[serde(default)]
    auth_method: Option<String>,
    #[serde(default)]
    redirect_uri: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    code: Option<String>,
    /// `POST …/auth` may renew one of my connections.
    #[serde(default)]
    credential_id: Option<i64>,
}

/// `POST /api/v1/connectors/{id}/auth`: OAuth initiation (`auth_url`, `state`, `expiry`)
/// or completion (`credential_id`, `status`, …). The redirect URI is always this app's
/// callback: codes are never sent anywhere else.
pub async fn auth(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<String>,
    body: Option<web::Json<AuthRequest>>,
) -> AppResult<HttpResponse> {
    let body = body.map(web::Json::into_inner).unwrap_or_default();
    let connector = connections::enabled_connector(&state, &id).await?;
    let slug = connector.row.slug.clone();
    if connector.plugin.spec().kind != ConnectorKind::OAuth2
        || body.auth_method.as_deref().is_some_and(|m| m != "oauth2")
    {
        return Err(AppError::BadRequest(format!(
            "{} connects with credentials: POST them to /api/v1/connectors/{slug}/connections.",
            connector.row.name
        )));
    }
    let redirect_uri = oauth::redirect_uri(&state, &slug);
    if body
        .redirect_uri
        .as_deref()
        .is_some_and(|r| r != redirect_uri)
    {
        return Err(AppError::Invalid(
            [(
                "redirect_uri".to_owned(),
                format!("Only this app's callback ({redirect_uri}) may receive codes."),
            )]
            .into_iter()
            .collect(),
        ));
    }
    let owner = FlowOwner {
        user_id: user.id,
        session_nonce: None,
    };
    match (body.state, body.code) {
        (Some(flow_state), Some(code)) => {
            let (conn, created) =
                connections::complete_oauth(&state, Channel::Api, &slug, owner, &flow_state, &code)
                    .await?;
            let capabilities = capabilities(connector.plugin.as_ref());
            let status = if created { 201 } else { 200 };
            Ok(HttpResponse::build(
                actix_web::http::StatusCode::from_u16(status).unwrap_or_default(),
            )
            .json(json!({
                "credential_id": conn.id,
                "status": conn.status,
                "expiry": conn.expires_at,
                "service_user_id": conn.service_identity,
                "capabilities": capabilities,
            })))
        }
        (None, None) => {
            if let Some(id) = body.credential_id {
                let conn = connections::find_mine(&state, user.id, id).await?;
                if conn.connector_id != connector.row.id {
                    return Err(AppError::NotFound);
                }
            }
            let client = connections::oauth_client(&state, &connector).await?;
            let flow =
                oauth_flows::start_flow(&state, &client, &slug, owner, body.credential_id).await?;
            Ok(HttpResponse::Ok().json(json!({
                "auth_url": flow.auth_url.as_str(),
                "state": flow.state,
                "expiry": flow.expires_at,
                "redirect_uri": redirect_uri,
            })))
        }
        _ => Err(AppError::BadRequest(
            "Send both `state` and `code` to complete a sign-in, or neither to start one.".into(),
        )),
    }
}

/// `POST /api/v1/connectors/{slug}/connections`: manual credentials as JSON (the fields of
/// the connector's form) → 201 `{"credential_id", "status"}` once checked with the service.
pub async fn create_connection(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<String>,
    body: web::Json<Map<String, Value>>,
) -> AppResult<HttpResponse> {
    let connector = connections::enabled_connector(&state, &id).await?;
    let input = form_input_from_json(&body);
    let done = connections::connect_manual(&state, Channel::Api, user.id, &connector, &input, None)
        .await?;
    let status = if done.created { 201 } else { 200 };
    Ok(
        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap_or_default())
            .json(json!({
                "credential_id": done.connection.id,
                "status": done.connection.status,
                "service_user_id": done.connection.service_identity,
                "warnings": done.warnings,
            })),
    )
}

/// `GET /api/v1/connector-credentials`: my connections, never a secret.
pub async fn list_credentials(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> AppResult<HttpResponse> {
    let catalog = connectors::list(&state.db).await?;
    let credentials: Vec<Value> = connections::list_mine(&state, user.id)
        .await?
        .iter()
        .map(|c| credential_json(c, catalog.iter().find(|k| k.id == c.connector_id)))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "credentials": credentials })))
}

fn credential_json(c: &connection::Model, k: Option<&connector::Model>) -> Value {
    let scopes: Vec<&str> = c
        .scopes
        .as_deref()
        .map(|s| s.split_whitespace().collect())
        .unwrap_or_default();
    json!({
        "credential_id": c.id,
        "connector_id": k.map(|k| k.slug.as_str()),
        "connector_name": k.map(|k| k.name.as_str()),
        "service_identifier": c.service_identity,
        "scopes": scopes,
        "issuance_time": c.created_at,
        "expiry": c.expires_at,
        "status": c.status,
        "last_used_at": c.last_used_at,
        "last_refresh_at": c.last_refresh_at,
    })
}

/// `DELETE /api/v1/connector-credentials/{id}`: deletes one of my connections and revokes
/// its tokens at the provider (`service_revocation_status`: confirmed, pending, unsupported).
pub async fn delete_credential(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let done = disconnect::disconnect(&state, &state.queue, Channel::Api, user.id, id.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(json!({
        "status": "revoked",
        "revocation_time": done.at,
        "service_revocation_status": done.revocation.as_str(),
    })))
}

fn capabilities(plugin: &dyn campuscore_connectors::Connector) -> Vec<&'static str> {
    let mut tags: Vec<&str> = plugin
        .actions()
        .iter()
        .flat_map(|a| a.tags.iter().map(|t| t.as_str()))
        .collect();
    tags.sort_unstable();
    tags.dedup();
    tags
}
