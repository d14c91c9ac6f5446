//! What the connector list and the config page share: a catalog row found by slug, and its
//! summary with config completeness.

use super::templates::ConnectorSummary;
use crate::error::{AppError, AppResult};
use crate::models::connectors;
use crate::models::entities::connector;
use crate::services::connector_config;
use crate::state::AppState;

/// The summary of a catalog row (with its config completeness).
pub async fn summary(
    state: &AppState,
    row: &connector::Model,
    connections: u64,
    csrf: &str,
) -> AppResult<ConnectorSummary> {
    let plugin = state.registry.get(&row.slug);
    let missing_config = match plugin {
        Some(p) => connector_config::settings_for(&state.db, &state.keyring, row.id, p.as_ref())
            .await?
            .missing_required()
            .iter()
            .map(|k| (*k).to_owned())
            .collect(),
        None => Vec::new(),
    };
    Ok(ConnectorSummary {
        slug: row.slug.clone(),
        name: row.name.clone(),
        description: row.description.clone(),
        icon: row.icon.clone(),
        kind: row.kind.clone(),
        scoping: row.scoping.clone(),
        is_enabled: row.is_enabled,
        registered: plugin.is_some(),
        actions: plugin.map_or(0, |p| p.actions().len()),
        missing_config,
        connections,
        csrf: csrf.to_owned(),
        notice: None,
    })
}

/// The catalog row `slug`; unknown is a 404.
pub async fn find_row(state: &AppState, slug: &str) -> AppResult<connector::Model> {
    connectors::find_by_slug(&state.db, slug)
        .await?
        .ok_or(AppError::NotFound)
}
