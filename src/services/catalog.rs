//! Keeps the `connector` table in step with the registered plugins: new connectors are added
//! (enabled), known ones get their name/description/icon refreshed, and an admin's
//! `is_enabled` choice is never overwritten.

use crate::error::{AppError, AppResult};
use crate::models::connectors::{self, NewConnector};
use crate::models::entities::connector;
use campuscore_connectors::{Connector, Registry};
use chrono::Utc;
use sea_orm::DatabaseConnection;
use std::sync::Arc;

/// What a sync changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub added: Vec<String>,
    pub updated: Vec<String>,
    /// Rows whose plugin is no longer compiled in (kept, but unusable).
    pub orphaned: Vec<String>,
}

fn kind_str(c: &dyn Connector) -> String {
    serde_json::to_value(c.spec().kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn scoping_str(c: &dyn Connector) -> String {
    serde_json::to_value(c.spec().scoping)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Sync the registry into the catalog table.
pub async fn sync(db: &DatabaseConnection, registry: &Registry) -> AppResult<SyncReport> {
    let mut report = SyncReport::default();
    let existing = connectors::list(db).await?;
    let now = Utc::now();
    for plugin in registry.iter() {
        let spec = plugin.spec();
        let (kind, scoping) = (kind_str(plugin.as_ref()), scoping_str(plugin.as_ref()));
        let fields = |kind, scoping| NewConnector {
            slug: spec.slug.to_owned(),
            name: spec.name.to_owned(),
            kind,
            scoping,
            icon: crate::paths::connector_icon(spec.slug),
            description: spec.description.to_owned(),
        };
        match existing.iter().find(|r| r.slug == spec.slug) {
            None => {
                connectors::insert(db, fields(kind, scoping), now).await?;
                report.added.push(spec.slug.to_owned());
            }
            Some(row)
                if row.name != spec.name
                    || row.kind != kind
                    || row.scoping != scoping
                    || row.icon != crate::paths::connector_icon(spec.slug)
                    || row.description != spec.description =>
            {
                connectors::refresh(db, row.clone(), fields(kind, scoping), now).await?;
                report.updated.push(spec.slug.to_owned());
            }
            Some(_) => {}
        }
    }
    report.orphaned = existing
        .iter()
        .filter(|r| registry.get(&r.slug).is_none())
        .map(|r| r.slug.clone())
        .collect();
    if !report.orphaned.is_empty() {
        tracing::warn!(connector.slugs = ?report.orphaned, "catalog rows without a registered connector");
    }
    Ok(report)
}

/// Every catalog row, by slug.
pub async fn all(db: &DatabaseConnection) -> AppResult<Vec<connector::Model>> {
    Ok(connectors::list_by_slug(db).await?)
}

/// A catalog row and its plugin, by slug; unknown slugs are `NotFound`.
pub async fn find(
    db: &DatabaseConnection,
    registry: &Registry,
    slug: &str,
) -> AppResult<(connector::Model, Arc<dyn Connector>)> {
    let row = connectors::find_by_slug(db, slug)
        .await?
        .ok_or(AppError::NotFound)?;
    let plugin = registry.get(slug).cloned().ok_or(AppError::NotFound)?;
    Ok((row, plugin))
}
