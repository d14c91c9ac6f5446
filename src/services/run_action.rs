//! The one path every caller (page, fragment, JSON API, MCP, import worker) takes to run a
//! connector action: the connection must be the caller's, the connector enabled and
//! registered; credentials are decrypted, the action runs, and an audit row is written
//! whatever the outcome.

use super::{audit, connections};
use crate::error::{AppError, AppResult};
use crate::models::entities::user;
use crate::state::AppState;
use campuscore_connectors::{ActionOutput, ConnectorError, ConnectorKind, redact_params};
use serde_json::Value;
use std::time::Instant;

/// Run `action` with `params` on the user's connection.
pub async fn run_action(
    state: &AppState,
    user: &user::Model,
    connection_id: i64,
    action: &str,
    params: Value,
) -> AppResult<ActionOutput> {
    let conn = connections::find_mine(state, user.id, connection_id).await?;
    let connector = connections::connector_by_id(state, conn.connector_id).await?;
    let descriptor = connector.plugin.action(action).ok_or(AppError::NotFound)?;
    let secret_fields: Vec<&str> = secret_fields(&descriptor.input_schema);
    let redacted = redact_params(&params, &secret_fields);

    let started = Instant::now();
    let outcome = async {
        let ctx = connections::action_context(state, &conn, &connector).await?;
        Ok::<_, AppError>(
            connector
                .plugin
                .execute_action(action, &ctx, params)
                .await?,
        )
    }
    .await;
    let error = outcome.as_ref().err().map(|e| (e.code(), e.user_message()));
    audit::record(
        &state.db,
        audit::Entry {
            connection_id: Some(conn.id),
            user_id: Some(user.id),
            connector_slug: &connector.row.slug,
            action,
            request: &redacted,
            error,
            duration: started.elapsed(),
        },
    )
    .await;
    connections::touch(state, &conn, outcome.is_ok()).await?;
    // Manual credentials the service rejects will not start working again by themselves.
    if let Err(AppError::Connector(e @ ConnectorError::AuthExpired { .. })) = &outcome
        && connector.plugin.spec().kind == ConnectorKind::Manual
    {
        connections::mark_rejected(state, &conn, &e.user_message()).await?;
    }
    tracing::info!(
        connection.id = conn.id,
        connector.slug = %connector.row.slug,
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
