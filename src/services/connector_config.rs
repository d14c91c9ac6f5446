//! Admin-managed connector configuration (`connector_config`). Keys a connector declares as
//! secret (and any key set with `--secret`) are stored as Fernet tokens and only ever shown
//! masked. `settings_for` decrypts them into the `ConnectorSettings` a connector runs with.

use super::secrets::{Keyring, mask};
use crate::error::{AppError, AppResult};
use crate::models::entities::{connector, connector_config};
use campuscore_connectors::{Connector, ConnectorSettings};
use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
};
use std::collections::{BTreeMap, HashMap};

/// One configured key as it may be shown to an admin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShownEntry {
    pub key: String,
    /// The value, or its mask for secrets.
    pub shown: String,
    pub is_secret: bool,
}

/// Whether `key` is a well-formed config key (`UPPER_SNAKE_CASE`, at most 128 characters).
pub fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 128
        && key.starts_with(|c: char| c.is_ascii_uppercase())
        && key
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// Set `key` for a connector. Declared-secret keys are always encrypted.
pub async fn set(
    db: &DatabaseConnection,
    keyring: &Keyring,
    connector: &connector::Model,
    plugin: &dyn Connector,
    key: &str,
    value: &str,
    secret: bool,
) -> AppResult<ShownEntry> {
    if !valid_key(key) {
        let mut e = BTreeMap::new();
        e.insert(
            "key".into(),
            "Use UPPER_SNAKE_CASE letters, digits and underscores.".into(),
        );
        return Err(AppError::Invalid(e));
    }
    let declared_secret = plugin
        .spec()
        .config_keys
        .iter()
        .any(|k| k.key == key && k.secret);
    let is_secret = secret || declared_secret;
    let stored = if is_secret {
        keyring.encrypt_str(value)
    } else {
        value.to_owned()
    };
    let now = Utc::now();
    connector_config::Entity::insert(connector_config::ActiveModel {
        connector_id: Set(connector.id),
        key: Set(key.to_owned()),
        value: Set(stored),
        is_secret: Set(is_secret),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([
            connector_config::Column::ConnectorId,
            connector_config::Column::Key,
        ])
        .update_columns([
            connector_config::Column::Value,
            connector_config::Column::IsSecret,
            connector_config::Column::UpdatedAt,
        ])
        .to_owned(),
    )
    .exec(db)
    .await?;
    tracing::info!(connector.slug = %connector.slug, config.key = key, config.secret = is_secret, "connector config set");
    Ok(ShownEntry {
        key: key.to_owned(),
        shown: shown_value(value, is_secret),
        is_secret,
    })
}

fn shown_value(plain: &str, is_secret: bool) -> String {
    if is_secret {
        mask(plain)
    } else {
        plain.to_owned()
    }
}

/// Every configured key of a connector, secrets masked.
pub async fn list(
    db: &DatabaseConnection,
    keyring: &Keyring,
    connector_id: i64,
) -> AppResult<Vec<ShownEntry>> {
    let rows = connector_config::Entity::find()
        .filter(connector_config::Column::ConnectorId.eq(connector_id))
        .order_by_asc(connector_config::Column::Key)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let shown = if r.is_secret {
                keyring
                    .decrypt_str(&r.value)
                    .map(|v| mask(&v))
                    .unwrap_or_else(|_| "(undecryptable: wrong key?)".into())
            } else {
                r.value.clone()
            };
            ShownEntry {
                key: r.key,
                shown,
                is_secret: r.is_secret,
            }
        })
        .collect())
}

/// The settings a connector runs with: stored values (secrets decrypted) over its defaults.
pub async fn settings_for(
    db: &DatabaseConnection,
    keyring: &Keyring,
    connector_id: i64,
    plugin: &dyn Connector,
) -> AppResult<ConnectorSettings> {
    let rows = connector_config::Entity::find()
        .filter(connector_config::Column::ConnectorId.eq(connector_id))
        .all(db)
        .await?;
    let mut values = HashMap::new();
    for r in rows {
        let value = if r.is_secret {
            keyring.decrypt_str(&r.value).map_err(|_| {
                anyhow::anyhow!(
                    "config key {} of connector {} cannot be decrypted with the configured keys",
                    r.key,
                    connector_id
                )
            })?
        } else {
            r.value
        };
        values.insert(r.key, value);
    }
    Ok(ConnectorSettings::new(plugin.spec(), values))
}
