//! The one path every caller (page, fragment, JSON API, MCP, import worker) takes to run a
//! connector action: the connection must be the caller's, the connector enabled and
//! registered; credentials are decrypted, the action runs, and an audit row is written
//! whatever the outcome.

use super::{audit, connector_config, credentials};
use crate::error::{AppError, AppResult};
use crate::models::entities::{connection, connector, user};
use crate::state::AppState;
use campuscore_connectors::{ActionContext, ActionOutput, Credentials, redact_params};
use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;
use std::time::Instant;

/// The caller's connection `connection_id`; anyone else's is `NotFound`.
pub async fn find_connection(
    state: &AppState,
    user_id: i64,
    connection_id: i64,
) -> AppResult<connection::Model> {
    connection::Entity::find_by_id(connection_id)
        .filter(connection::Column::UserId.eq(user_id))
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound)
}

/// Run `action` with `params` on the user's connection.
pub async fn run_action(
    state: &AppState,
    user: &user::Model,
    connection_id: i64,
    action: &str,
    params: Value,
) -> AppResult<ActionOutput> {
    let conn = find_connection(state, user.id, connection_id).await?;
    let row = connector::Entity::find_by_id(conn.connector_id)
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound)?;
    if !row.is_enabled {
        return Err(AppError::Disabled(format!(
            "{} has been turned off by an administrator.",
            row.name
        )));
    }
    let plugin = state.registry.get(&row.slug).cloned().ok_or_else(|| {
        AppError::Disabled(format!("{} is not available in this version.", row.name))
    })?;
    let descriptor = plugin.action(action).ok_or(AppError::NotFound)?;
    let secret_fields: Vec<&str> = secret_fields(&descriptor.input_schema);
    let redacted = redact_params(&params, &secret_fields);

    let started = Instant::now();
    let outcome = async {
        let data = credentials::open(&state.keyring, &conn)?;
        let settings =
            connector_config::settings_for(&state.db, &state.keyring, row.id, plugin.as_ref())
                .await?;
        let ctx = ActionContext::new(Credentials::new(data), settings, state.http.clone());
        Ok::<_, AppError>(plugin.execute_action(action, &ctx, params).await?)
    }
    .await;
    let error = outcome.as_ref().err().map(|e| (e.code(), e.user_message()));
    audit::record(
        &state.db,
        audit::Entry {
            connection_id: Some(conn.id),
            user_id: Some(user.id),
            connector_slug: &row.slug,
            action,
            request: &redacted,
            error,
            duration: started.elapsed(),
        },
    )
    .await;
    connection::Entity::update_many()
        .col_expr(connection::Column::LastUsedAt, Expr::value(Utc::now()))
        .filter(connection::Column::Id.eq(conn.id))
        .exec(&state.db)
        .await?;
    tracing::info!(
        connection.id = conn.id,
        connector.slug = %row.slug,
        action,
        outcome = if outcome.is_ok() { "success" } else { "error" },
        duration_ms = started.elapsed().as_millis() as u64,
        "action run"
    );
    outcome
}

/// Input properties a schema marks as secret (`writeOnly`, or `format: password`).
fn secret_fields(schema: &Value) -> Vec<&str> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|props| {
            props
                .iter()
                .filter(|(_, p)| {
                    p.get("writeOnly") == Some(&Value::Bool(true))
                        || p.get("format").and_then(Value::as_str) == Some("password")
                })
                .map(|(k, _)| k.as_str())
                .collect()
        })
        .unwrap_or_default()
}
